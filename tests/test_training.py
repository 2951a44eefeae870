"""training.train_mse_grid: per-member learning rates and L2 strengths in one vmapped run."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from ntkpaper import architectures, training


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
