"""training.train_mse_grid: per-member learning rates and L2 strengths in one vmapped run."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkpaper import architectures, nt, training
from ntkpaper.nt import stax


def _problem():
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 5)), rng.normal(size=(12, 3)), rng.normal(size=(7, 5))


def test_grid_matches_one_ensemble_per_learning_rate():
    x, y, xt = _problem()
    init_fn, apply_fn, _ = architectures.fc(1, width=16, W_std=math.sqrt(2.0), b_std=0.2,
                                            out_dim=3)
    params = training.init_ensemble(init_fn, jax.random.PRNGKey(1), 2, (5,))
    both = jax.tree_util.tree_map(lambda a: jnp.concatenate([a, a]), params)
    grid = training.train_mse_grid(apply_fn, both, x, y, xt, [0.1, 0.1, 0.4, 0.4], [0, 3, 6],
                                   centre=True)
    for i, lr in enumerate((0.1, 0.4)):
        one = training.train_mse_ensemble(apply_fn, params, x, y, xt, lr, [0, 3, 6], centre=True)
        np.testing.assert_allclose(grid["eval"][:, 2 * i:2 * i + 2], one["test"], atol=1e-5)
        np.testing.assert_allclose(grid["train_loss"][:, 2 * i:2 * i + 2], one["train_loss"],
                                   rtol=1e-5)
    assert np.abs(grid["eval"][0]).max() < 1e-5  # centred: zero at initialisation


def test_weight_decay_is_l2_on_the_parameters():
    # linear model f = x w: one step by hand, theta - lr (grad + wd theta)
    x, y, xt = _problem()
    w0 = np.random.default_rng(1).normal(size=(2, 5, 3))
    out = training.train_mse_grid(lambda w, a: a @ w, jnp.asarray(w0), x, y, xt, [0.05, 0.05],
                                  [1], weight_decays=[0.0, 2.0])
    for e, wd in enumerate((0.0, 2.0)):
        grad = x.T @ (x @ w0[e] - y) / len(x)
        w1 = w0[e] - 0.05 * (grad + wd * w0[e])
        np.testing.assert_allclose(out["eval"][0, e], xt @ w1, rtol=1e-4, atol=1e-5)


def test_per_array_weight_decay_takes_a_pytree():
    x, y, xt = _problem()
    init_fn, apply_fn, _ = architectures.fc(1, width=6, b_std=0.2, out_dim=3)
    params = training.init_ensemble(init_fn, jax.random.PRNGKey(2), 2, (5,))
    same = training.train_mse_grid(apply_fn, params, x, y, xt, [0.1, 0.1], [2],
                                   weight_decays=[0.0, 0.5])
    tree = jax.tree_util.tree_map(lambda _: np.array([0.0, 0.5]), params)
    as_tree = training.train_mse_grid(apply_fn, params, x, y, xt, [0.1, 0.1], [2],
                                      weight_decays=tree)
    np.testing.assert_allclose(same["eval"], as_tree["eval"], rtol=1e-6)
    with pytest.raises(ValueError, match="one weight decay per member"):
        training.train_mse_grid(apply_fn, params, x, y, xt, [0.1, 0.1], [1],
                                weight_decays=[0.0, 0.5, 1.0])


def test_layerwise_l2_is_standard_l2_on_the_function_weights():
    # NTK parameterisation with the layer-wise strengths (lam W_std^2 / fan_in, lam b_std^2)
    # against its derivation: gradient descent on the function's weights W = W_std omega /
    # sqrt(fan_in), b = b_std beta with plain L2 lam and per-layer rates lr W_std^2 / fan_in
    # (weights) and lr b_std^2 (biases), written out by hand for a 5 -> 7 -> 3 -> 2 network
    rng = np.random.default_rng(3)
    x, y, xt = rng.normal(size=(9, 5)), rng.normal(size=(9, 2)), rng.normal(size=(4, 5))
    w_std, b_std, lr, lam, steps = 1.3, 0.4, 0.05, 0.7, 6
    init_fn, apply_fn, _ = architectures.fc(2, width=7, W_std=w_std, b_std=b_std, out_dim=2)
    _, one = init_fn(jax.random.PRNGKey(4), (5,))
    one = [one[0], (), (one[2][0][:, :3], one[2][1][:3]), (), (one[4][0][:3], one[4][1])]
    init_fn, apply_fn, _ = stax.serial(stax.Dense(7, w_std, b_std), stax.Relu(),
                                       stax.Dense(3, w_std, b_std), stax.Relu(),
                                       stax.Dense(2, w_std, b_std))
    ens = jax.tree_util.tree_map(lambda a: a[None], one)
    wd = training.layerwise_l2(ens, w_std, b_std, [lam])
    out = training.train_mse_grid(apply_fn, ens, x, y, xt, [lr], [steps], weight_decays=wd)

    layers = [(np.asarray(w, np.float64) * w_std / np.sqrt(w.shape[0]),
               np.asarray(b, np.float64) * b_std) for w, b in (one[0], one[2], one[4])]

    def f(ps, a):
        for i, (w, b) in enumerate(ps):
            a = a @ w + b
            if i < len(ps) - 1:
                a = jnp.maximum(a, 0)
        return a

    loss = lambda ps: 0.5 * jnp.mean(jnp.sum((f(ps, x) - y) ** 2, axis=-1))
    with nt.x64():
        ps = [(jnp.asarray(w), jnp.asarray(b)) for w, b in layers]
        for _ in range(steps):
            g = jax.grad(loss)(ps)
            ps = [(w - lr * w_std**2 / w.shape[0] * (gw + lam * w),
                   b - lr * b_std**2 * (gb + lam * b)) for (w, b), (gw, gb) in zip(ps, g)]
        expected = np.asarray(f(ps, xt))
    np.testing.assert_allclose(out["eval"][-1, 0], expected, rtol=2e-4, atol=2e-5)
    # plain L2 on omega is a different (width-growing) penalty: it must not agree
    plain = training.train_mse_grid(apply_fn, ens, x, y, xt, [lr], [steps],
                                    weight_decays=[lam])
    assert np.abs(plain["eval"][-1, 0] - expected).max() > 1e-3
    with pytest.raises(ValueError, match="dense weights"):
        training.layerwise_l2({"w": np.zeros((1, 3, 3, 2, 4))}, 1.0, 1.0, [1.0])
