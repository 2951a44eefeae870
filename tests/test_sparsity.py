"""Masks, pruning baselines and Neural Tangent Transfer on tiny networks."""

import jax
import numpy as np
import pytest

from ntkpaper import entk
from ntkpaper import sparsity as sp


def _data(n=32, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, rng.integers(0, k, n)


def test_masks_keep_their_density_and_hold_in_training():
    params = sp.init_mlp(jax.random.PRNGKey(0), [12, 40, 20, 3])
    for method in ("random", "magnitude"):
        masks = sp.prune(method, params, 0.1, jax.random.PRNGKey(1))
        for m, p in zip(masks[:-1], params[:-1]):
            assert m.shape == p.shape and m.sum() == np.ceil(0.1 * p.size)
        assert masks[-1].all()  # the output layer stays dense
    x, y = _data()
    masks = sp.prune("snip", params, 0.1, jax.random.PRNGKey(1), x, y, 3)
    assert abs(sp.density(masks) - 0.1) < 0.01
    log, trained = sp.train_sparse(params, masks, x, y, x, y, 3, epochs=3, batch=8, lr=1e-2,
                                   key=jax.random.PRNGKey(2))
    for p, m in zip(trained, masks):
        assert np.all(np.asarray(p)[m == 0] == 0) and np.any(np.asarray(p)[m == 1] != 0)
    assert log.train_loss.iloc[-1] < log.train_loss.iloc[0]
    # layer-wise SNIP: the largest saliencies of each layer, at the density in every layer
    layer = sp.prune("snip_layerwise", params, 0.1, jax.random.PRNGKey(1), x, y, 3)
    scores = sp.snip_scores(params, x, y, 3)
    for m, sc in zip(layer[:-1], scores[:-1]):
        assert m.sum() == np.ceil(0.1 * m.size) and sc[m == 1].min() >= sc[m == 0].max()
    assert layer[-1].all()
    # magnitude keeps exactly the largest weights
    mag = sp.prune("magnitude", params, 0.25, jax.random.PRNGKey(0))[0]
    w = np.abs(np.asarray(params[0]))
    assert w[mag == 1].min() >= w[mag == 0].max()


def test_snip_scores_match_a_hand_computation():
    """One hidden ReLU layer, two classes: dL/dw by central differences, times w."""
    params = sp.init_mlp(jax.random.PRNGKey(3), [3, 4, 2])
    x, y = _data(n=5, d=3, k=2, seed=1)
    scores = sp.snip_scores(params, x, y, 2)

    def loss(ps):
        out = np.asarray(sp.apply(ps, None, x), np.float64)
        out -= out.max(1, keepdims=True)
        logp = out - np.log(np.exp(out).sum(1, keepdims=True))
        return -np.mean(logp[np.arange(len(y)), y])

    h = 1e-3
    for layer in range(2):
        base = [np.asarray(p, np.float64) for p in params]
        hand = np.zeros_like(base[layer])
        for idx in np.ndindex(*hand.shape):
            up = [b.copy() for b in base]
            dn = [b.copy() for b in base]
            up[layer][idx] += h
            dn[layer][idx] -= h
            hand[idx] = (loss([u.astype(np.float32) for u in up])
                         - loss([d.astype(np.float32) for d in dn])) / (2 * h)
        np.testing.assert_allclose(scores[layer], np.abs(hand * base[layer]), rtol=2e-2,
                                   atol=2e-4)


def test_masked_entk_is_the_kernel_of_the_kept_weights():
    params = sp.init_mlp(jax.random.PRNGKey(0), [12, 16, 8, 3])
    x, _ = _data(n=6)
    masks = sp.prune("random", params, 0.3, jax.random.PRNGKey(4))
    f_dense = lambda p, xx: sp.apply(p, None, xx)
    np.testing.assert_allclose(sp.entk(params, None, x), entk.empirical_ntk(f_dense, params, x),
                               rtol=1e-4, atol=1e-5)
    f_masked = lambda p, xx: sp.apply(p, masks, xx)  # d/dw of f(w * m): features times m
    np.testing.assert_allclose(sp.entk(params, masks, x),
                               entk.empirical_ntk(f_masked, params, x), rtol=1e-4, atol=1e-5)


def test_ntt_reduces_the_ntk_distance_without_labels():
    params = sp.init_mlp(jax.random.PRNGKey(0), [12, 64, 32, 3])
    x, _ = _data(n=128)
    student, masks, log = sp.neural_tangent_transfer(params, 0.1, x, jax.random.PRNGKey(1),
                                                     steps=300, batch=32, lr=3e-3, mask_every=50)
    assert abs(sp.density(masks) - 0.1) < 0.01
    # step 0 is the magnitude-pruned network: transfer must improve on it in both terms
    assert log.ntk_loss.iloc[-1] < 0.9 * log.ntk_loss.iloc[0], log
    assert log.output_loss.iloc[-1] < 0.5 * log.output_loss.iloc[0], log


def test_bad_input_is_clear():
    params = sp.init_mlp(jax.random.PRNGKey(0), [4, 5, 2])
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        sp.prune("random", params, 0.0, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="unknown pruning method 'lottery'"):
        sp.prune("lottery", params, 0.1, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="labelled batch"):
        sp.prune("snip", params, 0.1, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="dims must list"):
        sp.init_mlp(jax.random.PRNGKey(0), [4])


def test_jacobian_entk_equals_the_structured_one_on_mlps():
    params = sp.init_mlp(jax.random.PRNGKey(0), [12, 16, 8, 3])
    x, _ = _data(n=6)
    masks = sp.prune("magnitude", params, 0.3, jax.random.PRNGKey(4))
    for m in (None, masks):
        by_jacobian = entk.jacobian_entk(lambda p, xb, m=m: sp.apply(p, m, xb), params, x)
        np.testing.assert_allclose(by_jacobian, entk.masked_mlp_entk(params, m, x),
                                   rtol=1e-4, atol=1e-5)


def test_lenet5_shapes_masks_and_kernel():
    params = sp.init_lenet5(jax.random.PRNGKey(0), side=16, n_classes=3)
    assert [p.shape for p in params] == [(5, 5, 1, 6), (5, 5, 6, 16), (64, 120), (120, 84),
                                         (84, 3)]
    x, y = _data(n=5, d=256)
    assert sp.apply(params, None, x).shape == (5, 3)
    masks = sp.prune("random", params, 0.2, jax.random.PRNGKey(1))
    assert abs(sp.density(masks) - 0.2) < 0.01 and masks[0].shape == (5, 5, 1, 6)
    f_masked = lambda p, xx: sp.apply(p, masks, xx)
    np.testing.assert_allclose(sp.entk(params, masks, x),
                               entk.empirical_ntk(f_masked, params, x), rtol=1e-4, atol=1e-4)
    snip = sp.prune("snip", params, 0.2, jax.random.PRNGKey(1), x, y, 3)
    assert abs(sp.density(snip) - 0.2) < 0.01
    with pytest.raises(ValueError, match="side >= 12"):
        sp.init_lenet5(jax.random.PRNGKey(0), side=8)

