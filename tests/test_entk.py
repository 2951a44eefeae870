"""The empirical NTK (ntkpaper.entk): per-layer kernels against neural-tangents, the analytic
limit at large width, masked kernels and clear errors."""

import jax
import numpy as np
import pytest

from ntkpaper import architectures, entk, kernels
from ntkpaper import parametrization as pz


def _problem(n=10, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, rng.normal(size=(n, k)).astype(np.float32)


@pytest.mark.parametrize("name,activation", [("ntp", "relu"), ("mup", "tanh")])
def test_layer_kernels_match_neural_tangents(name, activation):
    x, y = _problem()
    abc = pz.named(name, 2)
    params = pz.init(jax.random.PRNGKey(1), abc, x.shape[1], 24, y.shape[1])
    ours = entk.mlp_layer_kernels(params, abc, x, activation=activation, block=4)  # blocks too
    f = lambda p, inputs: pz.forward(p, abc, inputs, activation)
    per_group = entk.nt_layer_kernels(f, params, x, implementation=1)
    whole = entk.empirical_ntk(f, params, x, implementation=2)
    assert ours.shape == (3, 10, 10)
    np.testing.assert_allclose(ours, per_group, rtol=2e-4, atol=1e-5 * np.abs(whole).max())
    np.testing.assert_allclose(ours.sum(0), whole, rtol=2e-4, atol=1e-5 * np.abs(whole).max())
    x2 = x[:3] + 0.1
    cross = entk.mlp_layer_kernels(params, abc, x, x2, activation=activation)
    np.testing.assert_allclose(cross.sum(0), entk.empirical_ntk(f, params, x, x2),
                               rtol=2e-4, atol=1e-5 * np.abs(whole).max())


def test_wide_network_at_init_matches_the_analytic_ntk():
    x, _ = _problem(n=8, d=16)
    x = x / np.linalg.norm(x, axis=1, keepdims=True) * 4.0
    analytic = kernels.analytic_kernels(architectures.fc(2, W_std=1.0, b_std=0.0)[2], x)["ntk"]
    abc = pz.named("ntp", 2)
    err = {}
    for width in (64, 4096):
        p = pz.init(jax.random.PRNGKey(0), abc, 16, width, 4)
        k = entk.mlp_layer_kernels(p, abc, x).sum(0)
        err[width] = np.linalg.norm(k - analytic) / np.linalg.norm(analytic)
    # fluctuations ~ width^-1/2: 64x wider -> about 8x closer
    assert err[4096] < 0.1 and 4 < err[64] / err[4096] < 16, err


def test_bad_input_is_clear():
    abc = pz.named("ntp", 1)
    p = pz.init(jax.random.PRNGKey(0), abc, 5, 8, 2)
    with pytest.raises(ValueError, match=r"x must be \(N, 5\)"):
        entk.mlp_layer_kernels(p, abc, np.ones((3, 4)))
    with pytest.raises(ValueError, match="unknown activation"):
        entk.mlp_layer_kernels(p, abc, np.ones((3, 5)), activation="gelu")
    with pytest.raises(ValueError, match="implementation must be 1 or 2"):
        entk.empirical_ntk(lambda q, x: pz.forward(q, abc, x), p, np.ones((3, 5)),
                           implementation=3)


def test_masked_kernel_drops_pruned_features_and_jacobian_agrees():
    """A mask that keeps everything gives the dense kernel; the Jacobian route (any model)
    equals the structured one on a masked MLP."""
    x, _ = _problem(n=6, d=5, k=3)
    rng = np.random.default_rng(0)
    params = [jax.numpy.asarray(rng.normal(size=s).astype(np.float32) / np.sqrt(s[0]))
              for s in ((5, 7), (7, 3))]
    ones = [np.ones(p.shape, np.float32) for p in params]
    np.testing.assert_allclose(entk.masked_mlp_entk(params, ones, x),
                               entk.masked_mlp_entk(params, None, x), rtol=1e-5)
    masks = [(rng.random(p.shape) < 0.4).astype(np.float32) for p in params]

    def apply(p, xb):
        w = [a * m for a, m in zip(p, masks)]
        return pz.forward_multiplied(w, jax.numpy.ones(2), xb, jax.nn.relu)[0]

    np.testing.assert_allclose(entk.jacobian_entk(apply, params, x),
                               entk.masked_mlp_entk(params, masks, x), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,activation", [("sp", "tanh"), ("mup", "relu")])
def test_full_tangent_alignment_matches_centred_jacobians_by_brute_force(name, activation):
    """Baratin et al.'s definition (tfjgeorge/ntk_alignment): Jacobians of every output centred
    over the examples, K their (N k) x (N k) Gram, y one-hot centred and flattened."""
    x, _ = _problem(n=9, d=6, k=3)
    labels = np.arange(9) % 3
    y = np.eye(3, dtype=np.float32)[labels]
    abc = pz.named(name, 2)
    params = pz.init(jax.random.PRNGKey(2), abc, 6, 7, 3)
    ours = entk.mlp_layer_tangent_alignment(params, abc, x, y, activation)
    yc = (y - y.mean(0)).ravel()  # (N k,) example-major

    def align(jac):  # jac (N, k, P): per-example, per-output Jacobian of a group
        j = np.asarray(jac, np.float64)
        j = (j - j.mean(0)).reshape(9 * 3, -1)
        k = j @ j.T
        return yc @ k @ yc / (np.linalg.norm(k) * yc @ yc)

    f = lambda p, xi: pz.forward(p, abc, xi[None], activation)[0]
    jac = jax.vmap(jax.jacrev(f), in_axes=(None, 0))(params, x)  # [(N, k, fan_in, fan_out)]
    per_layer = [align(np.asarray(j).reshape(9, 3, -1)) for j in jac]
    whole = align(np.concatenate([np.asarray(j).reshape(9, 3, -1) for j in jac], axis=2))
    np.testing.assert_allclose(ours, per_layer + [whole], rtol=2e-4)
    # it is not the output-averaged centred alignment (Cortes et al.), the other definition
    from ntkpaper import alignment
    cka = alignment.alignment(entk.mlp_layer_kernels(params, abc, x, activation=activation)
                              .sum(0), y)
    assert abs(cka - whole) > 0.05
    with pytest.raises(ValueError, match="constant targets"):
        entk.mlp_layer_tangent_alignment(params, abc, x, np.ones_like(y), activation)
    with pytest.raises(ValueError, match=r"y must be \(N, k\) = \(9, 3\)"):
        entk.mlp_layer_tangent_alignment(params, abc, x, y[:, :2], activation)


def test_full_tangent_alignment_with_biases_matches_brute_force():
    """Biases stored as each matrix's last row: each layer's kernel covers weights and bias."""
    x, _ = _problem(n=9, d=6, k=3)
    y = np.eye(3, dtype=np.float32)[np.arange(9) % 3]
    rng = np.random.default_rng(3)
    params = [rng.normal(size=s).astype(np.float32) / np.sqrt(s[0])
              for s in ((7, 5), (6, 5), (6, 3))]
    abc = pz.named("sp", 2)
    ours = entk.mlp_layer_tangent_alignment(params, abc, x, y, "tanh", bias=True)

    m = pz.multipliers(abc, 5, 6)  # SP here: 1/sqrt(d) on the input layer, 1 elsewhere

    def f(p, xi):  # the bias shares its layer's multiplier
        h = m[0] * (jax.numpy.append(xi, 1.0) @ p[0])
        for mi, w in zip(m[1:], p[1:]):
            h = mi * (jax.numpy.append(jax.numpy.tanh(h), 1.0) @ w)
        return h

    jac = jax.vmap(jax.jacrev(f), in_axes=(None, 0))(params, x)
    yc = (y - y.mean(0)).ravel()

    def align(j):
        j = np.asarray(j, np.float64).reshape(9, 3, -1)
        j = (j - j.mean(0)).reshape(27, -1)
        k = j @ j.T
        return yc @ k @ yc / (np.linalg.norm(k) * yc @ yc)

    want = [align(j) for j in jac] + [align(np.concatenate(
        [np.asarray(j).reshape(9, 3, -1) for j in jac], axis=2))]
    np.testing.assert_allclose(ours, want, rtol=2e-4)
