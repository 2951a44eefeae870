"""ntkpaper.signal_propagation: mean-field maps against closed forms, the balance rule's L^(3/5)
for ReLU at He initialisation, and the measured quantities on networks where they are known."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkpaper import entk
from ntkpaper import parametrization as pz
from ntkpaper import signal_propagation as sp


def test_quadrature_matches_the_relu_arc_cosine_kernel_and_the_identity():
    for q, c in ((1.0, 0.0), (2.0, 0.3), (0.5, 0.9)):
        relu = sp.gaussian_pair_mean(lambda u, v: np.maximum(u, 0) * np.maximum(v, 0), q, c)
        closed = sp._post_moments(q, c, "relu")[1]
        assert abs(relu - closed) < 5e-3 * q  # the kink limits Gauss-Hermite's accuracy
        assert abs(sp.gaussian_pair_mean(lambda u, v: u * v, q, c) - q * c) < 1e-10


def test_relu_maps_at_he_initialisation():
    # sigma_w^2 = 2, sigma_b = 0: the variance is preserved after layer 1, f(0) = 1/pi,
    # f'(c) = 1 - arccos(c)/pi
    r = sp.mean_field(3, np.sqrt(2.0), 0.0, "relu", q_input=1.0, c_input=0.0)
    np.testing.assert_allclose(r["q"], 2.0, rtol=1e-12)  # sigma_w^2 |x|^2 / d, then preserved
    assert abs(r["c"][1] - 1 / np.pi) < 1e-12
    chi, chi_c = sp._chis(1.0, 0.5, np.sqrt(2.0), "relu")
    assert chi == pytest.approx(1.0) and chi_c == pytest.approx(1 - np.arccos(0.5) / np.pi)


def test_linear_networks_lose_no_information():
    r = sp.mean_field(6, 1.3, 0.0, "identity", q_input=2.0, c_input=0.4)
    np.testing.assert_allclose(r["forward"], 0.6, rtol=1e-12)  # correlations are preserved
    np.testing.assert_allclose(r["backward"], 1.0, rtol=1e-12)  # so are gradient correlations


def test_balance_rule_gives_lou_et_al_exponent_for_relu():
    depths = np.array([400, 1600, 6400])
    layers = []
    for L in depths:
        r = sp.mean_field(int(L), np.sqrt(2.0), 0.0, "relu", 1.0, 0.5)
        layers.append(sp.balanced_layer(r["forward"], r["backward"]))
    slope = np.polyfit(np.log(depths), np.log(layers), 1)[0]
    assert abs(slope - 0.6) < 0.05  # L^(3/5), reached slowly (about 0.9 at L = 10-100)
    # the prefactor approaches (9 pi^2 / 2)^(1/5) = 2.13
    assert 1.8 < layers[-1] / depths[-1] ** 0.6 < 2.3


def test_balanced_layer_is_the_crossing_and_rejects_bad_shapes():
    forward = np.array([0.9, 0.5, 0.2, 0.05])
    backward = np.array([0.01, 0.1, 0.3, 1.0])
    assert sp.balanced_layer(forward, backward) == 3  # log 0.2 vs log 0.3: the closest pair
    with pytest.raises(ValueError, match="one length"):
        sp.balanced_layer(forward, backward[:3])
    with pytest.raises(ValueError, match="activation"):
        sp.mean_field(3, 1.0, 0.0, "gelu")


def test_measured_information_on_a_linear_network_at_initialisation():
    # identity activation, no bias: every backward signal is the same matrix for all inputs
    # (backward = 1), and layer 1's forward information is 1 - the inputs' mean cosine
    abc = pz.named("sp", 3)
    x = jax.random.normal(jax.random.PRNGKey(0), (20, 8))
    params = pz.init(jax.random.PRNGKey(1), abc, 8, 32, 3)
    mults = jnp.asarray(pz.multipliers(abc, 32, 8))
    info = sp.measured(*entk.signals_fn("identity")(params, mults, x))
    np.testing.assert_allclose(info["backward"], 1.0, atol=1e-5)
    xn = np.asarray(x) / np.linalg.norm(np.asarray(x), axis=1, keepdims=True)
    cos = xn @ xn.T
    expected = 1 - (cos.sum() - 20) / (20 * 19)
    assert info["forward"][0] == pytest.approx(expected, rel=1e-5)
    assert info["forward"].shape == (4,)


def test_measured_drops_the_bias_column_and_checks_lengths():
    a = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    d = np.ones((2, 1, 2))
    info = sp.measured([a], [d])
    assert info["forward"][0] == pytest.approx(1.0)  # orthogonal once the constant 1 is dropped
    with pytest.raises(ValueError, match="backward signals"):
        sp.measured([a, a], [d])
