"""abc-parametrizations: exponents, initial scales and one-step update scales vs width."""

import jax
import numpy as np
import pytest

from ntkpaper import parametrization as pz
from ntkpaper import stats

WIDTHS = [128, 512, 2048]


def _data(n=8, d=16, k=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x = x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(d)
    return x, rng.normal(size=(n, k))


def test_named_exponents_match_tp4_table():
    assert pz.named("mup", 3) == pz.ABC("mup", (-0.5, 0.0, 0.0, 0.5), (0.5,) * 4, 0.0,
                                        c_adam=(0.5, 1.0, 1.0, 0.5))
    assert pz.named("ntp", 2) == pz.ABC("ntp", (0.0, 0.5, 0.5), (0.0, 0.0, 0.0), 0.0)
    assert pz.named("sp", 2) == pz.ABC("sp", (0.0, 0.0, 0.0), (0.0, 0.5, 0.5), 0.0)
    assert pz.named("sp_lr", 2).c == 1.0
    assert pz.named("mfp", 1) == pz.ABC("mfp", (0.0, 1.0), (0.0, 0.0), -1.0)


def test_bad_names_and_shapes_are_clear():
    with pytest.raises(ValueError, match="unknown parametrization 'mup2'.*custom"):
        pz.named("mup2")
    with pytest.raises(ValueError, match="one hidden layer"):
        pz.named("mfp", 2)
    with pytest.raises(ValueError, match="same length"):
        pz.custom([0, 0.5], [0, 0, 0], 0)
    abc = pz.named("mup", 2)
    params = pz.init(jax.random.PRNGKey(0), abc, 4, 8, 2)
    with pytest.raises(ValueError, match="has 3 layers but params has 2"):
        pz.forward(params[:2], abc, np.ones((1, 4)))
    with pytest.raises(ValueError, match="unknown activation"):
        pz.forward(params, abc, np.ones((1, 4)), activation="swish")


def test_initial_output_scale():
    """muP outputs vanish like n^-1/2 at initialisation; SP and NTP outputs stay O(1)."""
    x, y = _data()
    for name, lo, hi in (("mup", -0.6, -0.4), ("ntp", -0.1, 0.1), ("sp", -0.1, 0.1)):
        df = pz.compute_coord_check(pz.named(name), WIDTHS, x, y, eta=0.0, steps=0, seeds=4)
        s = stats.power_law_slopes(df, "width", "h0", "layer")
        assert lo < s["out"] < hi, (name, s.to_dict())
        assert abs(s["1"]) < 0.1 and abs(s["2"]) < 0.1, (name, s.to_dict())  # hidden O(1)


@pytest.mark.parametrize("name,expected", [("mup", 0.0), ("ntp", -0.5), ("sp", 0.5),
                                           ("sp_lr", -0.5)])
def test_one_step_update_of_last_hidden_layer(name, expected):
    """Coordinate check: Delta h^L after one SGD step scales as width^expected."""
    x, y = _data()
    df = pz.compute_coord_check(pz.named(name), WIDTHS, x, y, eta=0.05, steps=1, seeds=3)
    slope = stats.power_law_slopes(df, "width", "dh", "layer")["2"]
    assert abs(slope - expected) < 0.15, (name, slope)


def test_mup_output_update_is_order_one_and_sp_blows_up():
    x, y = _data()
    s_mup, s_sp = (stats.power_law_slopes(pz.compute_coord_check(pz.named(name), WIDTHS, x, y,
                                                                 0.05), "width", "dh", "layer")
                   ["out"] for name in ("mup", "sp"))
    assert abs(s_mup) < 0.15 and s_sp > 0.8, (s_mup, s_sp)


@pytest.mark.parametrize("name,expected", [("mup", {"1": 0.0, "2": 0.0, "out": 0.0}),
                                           ("sp", {"1": 0.0, "2": 1.0, "out": 1.5})])
def test_adam_coordinate_check(name, expected):
    """One Adam step: muP's per-layer lrs keep every layer's update Theta(1). SP with one global
    lr: Adam's step ignores the gradient's scale, so Delta h^2 = Delta W^2 phi(h^1) ~ lr n, and
    the readout W^3 (entries n^-1/2) meets Delta h^2, which is aligned with W^3 (the gradient of
    W^2 carries W^3), in a coherent sum: n * n^-1/2 * n = n^3/2."""
    x, y = _data()
    df = pz.compute_coord_check(pz.named(name), WIDTHS, x, y, eta=0.01, steps=1, seeds=3,
                                optimizer="adam")
    slopes = stats.power_law_slopes(df, "width", "dh", "layer")
    for layer, want in expected.items():
        assert abs(slopes[layer] - want) < 0.2, (name, slopes.to_dict())


def test_learning_rates_and_their_errors():
    mup = pz.named("mup", 2)
    assert pz.learning_rates(mup, 1.0, 256, "sgd") == [1.0, 1.0, 1.0]
    assert pz.learning_rates(mup, 1.0, 256, "adam") == [1 / 16, 1 / 256, 1 / 16]
    assert pz.learning_rates(pz.named("sp", 2), 0.5, 256, "adam") == [0.5] * 3
    assert pz.custom([0, 0], [0, 0.5], 0, c_adam="maximal").c_adam == (0.0, 1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'"):
        pz.learning_rates(mup, 1.0, 8, "adamw")
    with pytest.raises(ValueError, match="one exponent per weight matrix"):
        pz.custom([0, 0], [0, 0.5], 0, c_adam=[1.0])
    with pytest.raises(ValueError, match="'maximal'"):
        pz.custom([0, 0], [0, 0.5], 0, c_adam="max")


def _linear_problem(n=12, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, x @ rng.normal(size=(d, k)) / np.sqrt(d), rng.normal(size=(5, d))


def test_linear_recursion_reproduces_the_finite_network_exactly():
    """The (M, G_A, G_B) recursion started from a finite net's state is that net's training."""
    x, y, xt = _linear_problem()
    abc = pz.named("mup", 1)
    p0 = pz.init(jax.random.PRNGKey(0), abc, x.shape[1], 64, y.shape[1])
    p1, losses = pz.train(p0, abc, x, y, eta=0.3, steps=20, activation="identity")
    out_net = np.asarray(pz.forward(p1, abc, xt.astype(np.float32), "identity"))
    rec = pz.linear_limit_train(pz.linear_state(p0), x, y, 0.3, 20, xt)
    # the network trains in float32, the recursion runs in float64: agreement to ~1e-6
    np.testing.assert_allclose(rec["test"][-1], out_net, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rec["loss"][-1], float(losses[-1]), rtol=1e-5)
    st = pz.linear_state(p1)
    for key in ("M", "G_A", "G_B"):
        np.testing.assert_allclose(rec[key], st[key], rtol=1e-4, atol=1e-6)
    # a different step count gives visibly different outputs (the check has teeth)
    other = pz.linear_limit_train(pz.linear_state(p0), x, y, 0.3, 19, xt)["test"][-1]
    assert np.abs(other - out_net).max() > 1e-3


def test_finite_mup_linear_nets_converge_to_the_limit():
    x, y, xt = _linear_problem()
    limit = pz.linear_limit_train(pz.linear_limit_state(6, 3), x, y, 0.3, 30, xt)["test"][-1]
    widths, dists = [64, 256, 1024, 4096], []
    for width in widths:
        d = []
        for seed in range(4):
            p0 = pz.init(jax.random.PRNGKey(seed), pz.named("mup", 1), 6, width, 3)
            out = pz.linear_limit_train(pz.linear_state(p0), x, y, 0.3, 30, xt)["test"][-1]
            d.append(np.linalg.norm(out - limit) / np.linalg.norm(limit))
        dists.append(np.mean(d))
    slope = np.polyfit(np.log(widths), np.log(dists), 1)[0]
    assert -0.7 < slope < -0.3 and dists[-1] < 0.05, (dists, slope)
    # and the limit learns: the features (G_A) moved, unlike in the kernel regime
    st = pz.linear_limit_train(pz.linear_limit_state(6, 3), x, y, 0.3, 30)
    assert np.linalg.norm(st["G_A"] - np.eye(6) / 6) > 0.05
    with pytest.raises(ValueError, match="one hidden layer"):
        pz.linear_state([np.ones((2, 2))] * 3)
