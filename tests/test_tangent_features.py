"""Fixed and adaptive tangent-feature models: equivalences and errors."""

import jax
import numpy as np
import pytest

from ntkpaper import entk, kernels
from ntkpaper import parametrization as pz
from ntkpaper import tangent_features as tf


def _tiny(n=6, d=4, width=3, k=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.normal(size=(n, k)).astype(np.float32)
    abc = pz.named("ntp", 1)
    return x, y, tf.TangentModel(pz.init(jax.random.PRNGKey(seed), abc, d, width, k), abc)


def test_regulariser_equals_schatten_quasi_norm_on_random_matrices():
    rng = np.random.default_rng(0)
    for shape in [(5, 3), (3, 7), (6, 6)]:
        v = rng.normal(size=shape)
        p, b, q = tf.balanced_factors(v)
        assert p.shape == (shape[0],) * 2 and q.shape == (shape[1],) * 2
        np.testing.assert_allclose(p.T @ b @ q.T, v, atol=1e-10)
        assert tf.factored_penalty(p, b, q) == pytest.approx(tf.schatten_quasi_norm(v), rel=1e-10)
        # any other factorisation costs more (Hoelder + AM-GM)
        g = rng.normal(size=(shape[0],) * 2)
        other = (np.linalg.inv(g) @ p, g.T @ b, q)  # (G^-1 P)^T (G^T B) Q^T = P^T B Q^T
        np.testing.assert_allclose(other[0].T @ other[1] @ other[2].T, v, atol=1e-8)
        assert tf.factored_penalty(*other) > tf.schatten_quasi_norm(v)
    # low rank is cheap: rank one with the same Frobenius norm costs less than full rank
    u = rng.normal(size=(6, 1))
    w = rng.normal(size=(1, 6))
    low = u @ w
    full = np.eye(6) * np.linalg.norm(low) / np.sqrt(6)
    assert tf.schatten_quasi_norm(low) < tf.schatten_quasi_norm(full)


def test_fixed_model_is_entk_ridge_regression():
    x, y, m = _tiny(n=8)
    xt = np.random.default_rng(5).normal(size=(5, 4)).astype(np.float32)
    lam = 1e-2
    j = tf.jacobian_matrix(m, x)  # primal solve of the ridge problem
    r = (y - np.asarray(m.f0(x))).ravel()
    w = np.linalg.solve(j.T @ j / len(x) + lam * np.eye(j.shape[1]), j.T @ r / len(x))
    v, off = [], 0
    for s in m.shapes:
        v.append(w[off:off + int(np.prod(s))].reshape(s).astype(np.float32))
        off += int(np.prod(s))
    primal = np.asarray(m.apply(v, xt))
    f = lambda p, inputs: pz.forward(p, m.abc, inputs)
    k_tr = entk.empirical_ntk(f, m.params0, x)
    k_te = entk.empirical_ntk(f, m.params0, xt, x)
    dual = np.asarray(m.f0(xt)) + kernels.kernel_regression(k_tr, k_te, y - np.asarray(m.f0(x)),
                                                            len(x) * lam, relative=False)
    np.testing.assert_allclose(primal, dual, rtol=1e-3, atol=1e-4)
    # and the Adam fit of the fixed model gets there
    v_adam, losses = tf.fit_fixed(m, x, y, lam, steps=3000, lr=1e-2)
    np.testing.assert_allclose(np.asarray(m.apply(v_adam, xt)), dual, rtol=2e-2, atol=2e-3)


def test_full_kernel_is_the_jacobian_gram_with_cross_output_blocks():
    x, _, m = _tiny(n=5, k=3, width=4)
    j = tf.jacobian_matrix(m, x)
    np.testing.assert_allclose(tf.full_kernel(m, x), j @ j.T, rtol=1e-4, atol=1e-5)


def test_closed_form_fixed_model_equals_the_primal_ridge_solution():
    x, y, m = _tiny(n=7, k=2, width=5)
    lams = [1e-3, 1e-1]
    solved = tf.solve_fixed(m, x, y, lams)
    j = tf.jacobian_matrix(m, x)
    r = (y - np.asarray(m.f0(x))).ravel()
    for lam in lams:
        w = np.linalg.solve(j.T @ j / len(x) + lam * np.eye(j.shape[1]), j.T @ r / len(x))
        got = np.concatenate([np.asarray(a, np.float64).ravel() for a in solved[lam]])
        np.testing.assert_allclose(got, w, rtol=1e-3, atol=1e-5)
        assert tf.fixed_stationarity(m, solved[lam], x, y, lam) < 1e-3
    # an unconverged point is not stationary
    assert tf.fixed_stationarity(m, m.zeros(), x, y, 1e-3) > 0.5
    with pytest.raises(ValueError, match="penalties > 0"):
        tf.solve_fixed(m, x, y, [0.0])


def test_factored_and_regularised_forms_agree():
    x, y, m = _tiny()
    lam = 1e-2
    factors, _ = tf.fit_adaptive(m, x, y, lam, steps=4000, lr=1e-2)
    v = tf.adaptive_v(factors)
    j_fac = tf.objective_factored(m, factors, x, y, lam)
    j_reg = tf.objective_regularised(m, v, x, y, lam)
    assert j_reg == pytest.approx(j_fac, rel=1e-3)  # factors balanced at the optimum
    # IRLS on the regularised form, started there, finds nothing better: a common stationary point
    v_irls = tf.fit_schatten_irls(m, x, y, lam, iters=200, v0=v)
    assert tf.objective_regularised(m, v_irls, x, y, lam) == pytest.approx(j_reg, rel=2e-3)
    np.testing.assert_allclose(np.asarray(m.apply([a.astype(np.float32) for a in v_irls], x)),
                               np.asarray(m.apply(v, x)), atol=2e-2)
    # the adaptive solution is low rank, the fixed (ridge) one is not
    v_fixed, _ = tf.fit_fixed(m, x, y, lam, steps=3000, lr=1e-2)
    assert tf.rank_at(tf.singular_values(v)[0], 0.99) < tf.rank_at(
        tf.singular_values(v_fixed)[0], 0.99)


def test_adapted_kernel_at_identity_is_the_entk():

    x, y, m = _tiny(n=7, k=3)
    kl = tf.adapted_layer_kernels(m, tf.identity_factors(m), x)
    np.testing.assert_allclose(kl, entk.mlp_layer_kernels(m.params0, m.abc, x), rtol=1e-5,
                               atol=1e-7)


def test_bad_input_is_clear():
    x, y, m = _tiny()
    with pytest.raises(ValueError, match="must match the layer shapes"):
        m.apply([np.zeros((4, 3))], x)
    with pytest.raises(ValueError, match=r"x must be \(N, 4\)"):
        tf.fit_fixed(m, x[:, :3], y, 1e-2, 1)
    with pytest.raises(ValueError, match=r"y must be \(N, k\)"):
        tf.fit_adaptive(m, x, y[:3], 1e-2, 1)
    with pytest.raises(ValueError, match="unknown activation"):
        tf.TangentModel(m.params0, m.abc, activation="swish")
    with pytest.raises(ValueError, match="has 2 layers but params0 has 1"):
        tf.TangentModel(m.params0[:1], m.abc)
