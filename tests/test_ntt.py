"""ntkpaper.ntt: Neural Tangent Transfer as the official code runs it, checked against
brute-force Jacobians and hand computations on tiny networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkpaper import ntt

KEY = jax.random.PRNGKey(0)


def _tiny(dims=(6, 5, 4, 3)):
    return ntt.init_lenet300(KEY, dims)


def _jacobian_kernel(f, params, x1, x2):
    """(N1, N2, k, k) kernel from explicit Jacobians of f(params, x) over every leaf."""
    j1 = jax.jacrev(f)(params, x1)
    j2 = jax.jacrev(f)(params, x2)
    flat = [jnp.einsum("na...,mb...->nmab", a, b) for a, b in
            zip(jax.tree_util.tree_leaves(j1), jax.tree_util.tree_leaves(j2))]
    return sum(flat)


@pytest.mark.parametrize("kernel", ["code", "kept"])
def test_mlp_kernel_matches_brute_force_jacobians(kernel):
    p = _tiny()
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 6))
    masks = ntt.magnitude_masks(p, 0.5)
    got = ntt.full_entk(p, masks, x[:2], x[2:], kernel)
    if kernel == "code":  # derivatives w.r.t. every weight, at the masked weights
        ref = _jacobian_kernel(ntt._mlp_forward, ntt.masked(p, masks), x[:2], x[2:])
    else:  # derivatives w.r.t. the parameters of the masked network: pruned ones get zero
        ref = _jacobian_kernel(lambda q, xx: ntt.apply(q, masks, xx), p, x[:2], x[2:])
    assert got.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_dense_kernel_is_the_same_under_both_definitions():
    p = _tiny()
    x = jax.random.normal(jax.random.PRNGKey(2), (4, 6))
    np.testing.assert_allclose(ntt.full_entk(p, None, x[:2], x[2:], "code"),
                               ntt.full_entk(p, None, x[:2], x[2:], "kept"), rtol=1e-6)


def test_kept_kernel_is_smaller_than_the_codes_when_weights_are_pruned():
    p = _tiny()
    x = jax.random.normal(jax.random.PRNGKey(3), (4, 6))
    masks = ntt.magnitude_masks(p, 0.3)
    code = ntt.full_entk(p, masks, x, x, "code")
    kept = ntt.full_entk(p, masks, x, x, "kept")
    # on the diagonal (x = x', a = b) each term is a square: dropping pruned weights lowers it
    diag = jnp.arange(4)
    d_kept = jnp.diagonal(kept[diag, diag], axis1=1, axis2=2)
    d_code = jnp.diagonal(code[diag, diag], axis1=1, axis2=2)
    assert bool(jnp.all(d_kept <= d_code + 1e-6)) and float(d_kept.sum()) < float(d_code.sum())


def test_lenet5_caffe_shapes_and_parameter_count():
    p = ntt.init_lenet5_caffe(KEY)
    assert [w.shape for w, _ in p] == [(5, 5, 1, 20), (5, 5, 20, 50), (800, 500), (500, 10)]
    assert [b.shape for _, b in p] == [(20,), (50,), (500,), (10,)]
    # 520 + 25,050 + 400,500 + 5,010 (conv 5x5x1x20, conv 5x5x20x50, dense 800-500, 500-10)
    assert ntt.n_parameters(p) == 431_080
    assert ntt.apply(p, None, jnp.ones((3, 784))).shape == (3, 10)


def test_lenet5_caffe_kernel_matches_brute_force_on_small_images():
    p = ntt.init_lenet5_caffe(KEY, side=16, n_classes=3)
    x = jax.random.normal(jax.random.PRNGKey(4), (3, 256))
    masks = ntt.magnitude_masks(p, 0.2)
    got = ntt.full_entk(p, masks, x[:1], x[1:], "kept")
    ref = _jacobian_kernel(lambda q, xx: ntt.apply(q, masks, xx), p, x[:1], x[1:])
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_glorot_and_bias_initialisation_scales():
    w, b = ntt.init_lenet300(KEY, (400, 600, 2))[0]
    assert abs(float(jnp.var(w)) * (400 + 600) / 2 - 1) < 0.05
    assert abs(float(jnp.std(b)) - 0.01) < 0.002


def test_magnitude_mask_keeps_strictly_above_the_order_statistic():
    w = jnp.arange(1.0, 11.0).reshape(2, 5)
    params = [(w, jnp.zeros(5))]
    (m,) = ntt.magnitude_masks(params, 0.3)
    # int(0.7 * 10) = 7: the threshold is the 8th smallest (8.0); kept: 9 and 10 (the code's rule)
    np.testing.assert_array_equal(m.ravel(), [0] * 8 + [1, 1])
    (m,) = ntt.magnitude_masks(params, 1.0)
    assert m.sum() == 9  # the code keeps weights strictly above the smallest one at density 1


def test_pooled_and_random_masks():
    params = [(jnp.arange(1.0, 5.0).reshape(2, 2), jnp.zeros(2)),
              (jnp.arange(5.0, 9.0).reshape(2, 2), jnp.zeros(2))]
    pooled = ntt.magnitude_masks(params, 0.5, layerwise=False)
    assert pooled[0].sum() == 0 and pooled[1].sum() == 3  # the largest weights, pooled
    big = ntt.init_lenet300(KEY, (50, 40, 10))
    rnd = ntt.random_masks(KEY, big, 0.1)
    assert [int(m.sum()) for m in rnd] == [200, 40]


def test_snip_masks_use_the_saliency_and_keep_ties():
    p = _tiny()
    x = jax.random.normal(jax.random.PRNGKey(5), (8, 6))
    y = jnp.arange(8) % 3
    masks = ntt.snip_masks(p, x, y, 0.25, n_classes=3)
    onehot = jax.nn.one_hot(y, 3)
    g = jax.grad(ntt._cross_entropy)(p, None, x, onehot, 0.0)
    for (gw, _), (w, _), m in zip(g, p, masks):
        s = np.abs(np.asarray(gw * w)).ravel()
        thresh = np.sort(s)[int(0.75 * s.size)]
        np.testing.assert_array_equal(m.ravel(), (s >= thresh).astype(np.float32))
    with pytest.raises(ValueError, match="density"):
        ntt.snip_masks(p, x, y, 0.0, n_classes=3)


def test_transfer_loss_matches_a_hand_computation():
    teacher = _tiny()
    keys = jax.random.split(jax.random.PRNGKey(6), 3)
    student = [(w + 0.1 * jax.random.normal(k, w.shape), b) for (w, b), k in zip(teacher, keys)]
    masks = ntt.magnitude_masks(student, 0.5)
    x = jax.random.normal(jax.random.PRNGKey(7), (4, 6))
    lam_ker, lam_l2, rho = 1e-3, 1e-4, 0.5
    sparse = ntt.masked(student, masks)
    k_s = _jacobian_kernel(ntt._mlp_forward, sparse, x[:2], x[2:])
    k_t = _jacobian_kernel(ntt._mlp_forward, teacher, x[:2], x[2:])
    f_s, f_t = ntt._mlp_forward(sparse, x), ntt._mlp_forward(teacher, x)
    by_hand = (jnp.sum((f_s - f_t) ** 2) / f_s.size
               + lam_ker * jnp.sum((k_s - k_t) ** 2) / k_t.size
               + lam_l2 / rho * sum(jnp.sum(w**2) for w, _ in sparse))
    got = ntt.transfer_loss(student, masks, teacher, x, rho, lam_ker, lam_l2)
    np.testing.assert_allclose(got, by_hand, rtol=1e-5)


def _toy_data(n=128, d=16, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, :k].argmax(1)).astype(np.int64)
    return x, y


def test_transfer_lowers_the_kernel_distance_and_keeps_the_density():
    x, _ = _toy_data()
    teacher = ntt.init_lenet300(KEY, (16, 32, 32, 3))
    student, masks, log = ntt.transfer(teacher, 0.2, x, KEY, 60, x[:16], batch=16,
                                       mask_every=20, log_every=20, lr=5e-3)
    assert list(log.step) == [0, 20, 40, 60]
    assert log.ker_dist.iloc[-1] < log.ker_dist.iloc[0]
    for (w, _), m in zip(student, masks):
        assert float(jnp.abs(w * (1 - m)).max()) == 0.0  # pruned weights are zero
        assert abs(m.mean() - 0.2) < 0.05
    with pytest.raises(ValueError, match="even"):
        ntt.transfer(teacher, 0.2, x, KEY, 5, x[:15])
    with pytest.raises(ValueError, match="batch"):
        ntt.transfer(teacher, 0.2, x, KEY, 5, x[:16], batch=7)


def test_output_only_transfer_ignores_the_kernel():
    x, _ = _toy_data()
    teacher = ntt.init_lenet300(KEY, (16, 32, 32, 3))
    _, _, with_k = ntt.transfer(teacher, 0.2, x, KEY, 40, x[:16], batch=16, lam_ker=1.0,
                                lr=5e-3, log_every=40)
    _, _, without = ntt.transfer(teacher, 0.2, x, KEY, 40, x[:16], batch=16, lam_ker=0.0,
                                 lr=5e-3, log_every=40)
    assert without.target_dist.iloc[-1] <= with_k.target_dist.iloc[-1]
    assert with_k.ker_dist.iloc[-1] < without.ker_dist.iloc[-1]


def test_train_keeps_the_mask_and_learns():
    x, y = _toy_data(256)
    p = ntt.init_lenet300(KEY, (16, 32, 3))
    masks = ntt.random_masks(KEY, p, 0.5)
    curve, trained = ntt.train(p, masks, x, y, x, y, 200, KEY, n_classes=3, batch=32,
                               lr=1e-2, record_every=100)
    assert list(curve.iteration) == [0, 100, 200]
    assert curve.test_acc.iloc[-1] > 0.8
    for (w, _), m in zip(trained, masks):
        assert float(jnp.abs(w * (1 - m)).max()) == 0.0


def test_standardise_uses_the_training_statistics():
    a = np.array([[0.0, 1.0], [1.0, 2.0]], np.float32)
    b = np.array([[1.0, 1.0]], np.float32)
    sa, sb = ntt.standardise(a, b)
    assert abs(float(sa.mean())) < 1e-6 and abs(float(sa.std()) - 1) < 1e-6
    np.testing.assert_allclose(sb, (b - 1.0) / np.std(a), rtol=1e-6)
    with pytest.raises(ValueError, match="constant"):
        ntt.standardise(np.ones((2, 2)))


def test_max_pool_equals_reduce_window():
    h = jax.random.normal(KEY, (2, 9, 8, 3))
    ref = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    np.testing.assert_array_equal(ntt._max_pool(h), ref)
