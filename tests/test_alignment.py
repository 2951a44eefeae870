"""Alignment measures, spectra and the recording training loop."""

import jax
import numpy as np
import pytest

from ntkpaper import alignment as al
from ntkpaper import entk, training
from ntkpaper import parametrization as pz


def _problem(n=10, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, rng.normal(size=(n, k)).astype(np.float32)


def test_alignment_limits():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(20, 2))
    assert al.alignment(y @ y.T, y) == pytest.approx(1.0)
    assert al.alignment(5.0 * y @ y.T + 0.0, y, centered=False) == pytest.approx(1.0)
    # a kernel along a direction orthogonal to the (centred) targets: alignment 0
    yc = y[:, :1] - y[:, :1].mean()
    v = rng.normal(size=(20, 1))
    v -= v.mean()
    v -= yc * (yc.T @ v) / (yc.T @ yc)
    assert abs(al.alignment(v @ v.T, yc)) < 1e-12
    # centring removes a constant offset that dominates the uncentred alignment
    k = np.ones((20, 20)) * 10 + yc @ yc.T
    assert al.alignment(k, yc) == pytest.approx(1.0)
    assert al.alignment(k, yc, centered=False) < 0.5
    assert al.kernel_distance(3 * k, k) == pytest.approx(0.0, abs=1e-12)
    assert al.kernel_distance(np.eye(20), k) > 0.5


def test_spectral_measures():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(15, 15))
    k = a @ a.T
    s, v = al.spectrum(k)
    assert np.all(np.diff(s) <= 0)
    y = rng.normal(size=(15, 3))
    e = al.energy_captured(v, y, range(1, 16))
    assert np.all(np.diff(e) >= -1e-12) and e[-1] == pytest.approx(1.0)
    assert al.energy_captured(v, v[:, 2], [2, 3]) == pytest.approx([0.0, 1.0], abs=1e-12)
    assert al.effective_rank(np.ones(7)) == pytest.approx(7.0)
    assert al.effective_rank(np.array([3.0, 0, 0])) == pytest.approx(1.0)
    assert al.log_steps(1000, 5) == [0, 1, 10, 100, 1000]


def test_bad_input_is_clear():
    with pytest.raises(ValueError, match="square"):
        al.alignment(np.ones((3, 4)), np.ones(3))
    with pytest.raises(ValueError, match="3 rows"):
        al.alignment(np.eye(4), np.ones(3))
    with pytest.raises(ValueError, match="constant targets"):
        al.alignment(np.eye(4), np.ones(4))


def test_fit_with_recorder_matches_scan_training():
    x, y = _problem(n=16)
    abc = pz.named("mup", 2)
    p0 = pz.init(jax.random.PRNGKey(0), abc, x.shape[1], 32, y.shape[1])
    steps = al.log_steps(30, 4)
    rec = al.Recorder(lambda p: entk.mlp_layer_kernels(p, abc, x), y, steps,
                      outputs=lambda p: pz.forward(p, abc, x), ks=(1, 16), tags={"run": "t"})
    p1, losses, lengths = training.fit(lambda p: pz.mse(p, abc, x, y), p0,
                                       pz.optimizer(abc, 0.5, 32), 30, callback=rec)
    p_scan, losses_scan = pz.train(p0, abc, x, y, 0.5, 30)
    for a, b in zip(p1, p_scan):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(losses, losses_scan[:-1], rtol=1e-4)
    assert losses[-1] < 0.5 * losses[0] and np.all(lengths > 0)
    df = rec.frame()
    assert sorted(df.step.unique()) == steps and set(df.run) == {"t"}
    m = df.set_index(["step", "layer", "metric"]).value
    assert m[(0, "all", "distance_from_init")] == pytest.approx(0.0, abs=1e-12)
    assert m[(30, "all", "distance_from_init")] > 0
    assert m[(30, "all", "energy_target_top16")] == pytest.approx(1.0)
    traces = sum(m[(30, str(i), "trace")] for i in (1, 2, 3))
    assert traces == pytest.approx(m[(30, "all", "trace")])
    # training aligns the kernel with the targets in muP
    assert m[(30, "all", "alignment")] > m[(0, "all", "alignment")]


def test_path_complexity_sums_update_norms_times_kernel_scale():
    lengths = np.full(10, 0.5)
    c = al.path_complexity(lengths, [0, 4, 10], [4.0, 16.0, 100.0], n=2)
    # 4 steps at sqrt(4)=2, then 6 steps at sqrt(16)=4: 0.5*4*2/2 = 2, + 0.5*6*4/2 = 6
    np.testing.assert_allclose(c, [0.0, 2.0, 8.0])
    with pytest.raises(ValueError, match="increase from 0"):
        al.path_complexity(lengths, [1, 4], [1.0, 1.0], n=2)


def _stax_relu_mlp(d=5, k=3, width=16):
    from ntkpaper import nt
    stax = nt.stax
    init_fn, apply_fn, _ = stax.serial(stax.Dense(width, b_std=0.1), stax.Relu(),
                                       stax.Dense(width, b_std=0.1), stax.Relu(), stax.Dense(k))
    return apply_fn, init_fn(jax.random.PRNGKey(0), (-1, d))[1]


def _dict_mlp(d=5, k=3, width=16):  # flax-shaped parameters
    rng = np.random.default_rng(0)
    dense = lambda a, b: {"kernel": jax.numpy.asarray(rng.normal(size=(a, b)) / np.sqrt(a),
                                                      np.float32),
                          "bias": jax.numpy.zeros(b, np.float32)}
    params = {"params": {"Dense_0": dense(d, width), "Dense_1": dense(width, k)}}
    apply_fn = lambda v, x: (jax.nn.relu(x @ v["params"]["Dense_0"]["kernel"]
                                         + v["params"]["Dense_0"]["bias"])
                             @ v["params"]["Dense_1"]["kernel"] + v["params"]["Dense_1"]["bias"])
    return apply_fn, params


@pytest.mark.parametrize("family,names", [("stax", ["[0]", "[2]", "[4]"]),
                                          ("flax_like_dict", ["params/Dense_0",
                                                              "params/Dense_1"])])
def test_recorder_for_model_during_ones_own_adam_training(family, names):
    """The issue's case: a stax ReLU MLP (empty Relu groups) trained with optax Adam, the
    recorder built from apply_fn alone; rows carry the group names."""
    import optax
    apply_fn, params = (_stax_relu_mlp if family == "stax" else _dict_mlp)()
    x, _ = _problem(n=12, d=5)
    y = np.eye(3, dtype=np.float32)[np.arange(12) % 3]
    rec = al.Recorder.for_model(apply_fn, x, y, [0, 2, 4], full_alignment=True, ks=(1, 12),
                                tags={"run": family})
    loss = lambda p: jax.numpy.mean((apply_fn(p, x) - y) ** 2)
    p_end, losses, _ = training.fit(loss, params, optax.adam(1e-2), 4, callback=rec)
    assert losses[-1] < losses[0]
    df = rec.frame()
    assert set(df.layer) == {"all", *names} and sorted(df.step.unique()) == [0, 2, 4]
    m = df.set_index(["step", "layer", "metric"]).value
    # the rows are the measures of the named groups' kernels at the final parameters
    got, kernels = entk.layer_kernels(apply_fn, p_end, x)
    assert got == names
    for name, k in zip(names, kernels):
        assert m[(4, name, "alignment")] == pytest.approx(al.alignment(k, y), rel=1e-6)
        assert m[(4, name, "trace")] == pytest.approx(np.trace(k), rel=1e-6)
    assert m[(4, "all", "trace")] == pytest.approx(sum(m[(4, n, "trace")] for n in names))
    full = entk.layer_tangent_alignment(apply_fn, p_end, x, y)
    np.testing.assert_allclose([m[(4, n, "alignment_full")] for n in [*names, "all"]],
                               full.values, rtol=1e-6)
    assert m[(0, "all", "distance_from_init")] == pytest.approx(0.0, abs=1e-12)
    assert m[(4, "all", "distance_from_init")] > 0
    assert m[(4, "all", "energy_target_top12")] == pytest.approx(1.0)


def test_recorder_names_the_degenerate_group_and_step():
    """What the issue's user hit: per-group kernels with an all-zero one (as from a stax
    activation layer's empty group); the error names the group, the step and the cause."""
    x, _ = _problem(n=8, d=5)
    y = np.eye(2)[np.arange(8) % 2]
    apply_fn, params = _stax_relu_mlp(k=2)
    good = entk.layer_kernels(apply_fn, params, x).kernels
    with_zero = lambda p: np.stack([good[0], np.zeros_like(good[0]), good[1], good[2]])
    with pytest.raises(ValueError, match=r"Recorder at step 0, group '2': alignment is "
                                         r"undefined for a zero kernel.*stax activation layer"):
        al.Recorder(with_zero, y, [0])(0, params)
    rec = al.Recorder(with_zero, y, [0, 3], names=["[0]", "[1]", "[2]", "[4]"])
    with pytest.raises(ValueError, match=r"step 0, group '\[1\]'"):
        rec(0, params)
    # names from a (names, kernels) result, and the kernels' own errors get the step
    dead = [(params[0][0], params[0][1] - 100.0), *params[1:]]  # every first-layer ReLU off
    rec = al.Recorder(lambda p: entk.layer_kernels(apply_fn, p, x), y, [0, 5])
    with pytest.raises(ValueError, match=r"Recorder at step 5: group '\[0\]' gives an all-zero"):
        rec(5, dead)
    rec(0, params)
    assert set(rec.frame().layer) == {"all", "[0]", "[2]", "[4]"}
    with pytest.raises(ValueError, match="constant targets"):
        al.alignment(np.eye(3), np.ones(3))
    with pytest.raises(ValueError, match="undefined for a zero kernel"):
        al.alignment(np.ones((3, 3)), np.arange(3.0))


def test_recorder_for_model_bad_input_is_clear():
    apply_fn, _ = _stax_relu_mlp()
    x = np.zeros((6, 5), np.float32)
    y = np.eye(3)[np.arange(6) % 3]
    with pytest.raises(ValueError, match=r"y_probe must be \(N,\) or \(N, k\) with N = "
                                         r"len\(x_probe\) = 6"):
        al.Recorder.for_model(apply_fn, x, y[:5], [0])
    with pytest.raises(ValueError, match="y_probe is the same for every probe example"):
        al.Recorder.for_model(apply_fn, x, np.ones((6, 3)), [0])
    with pytest.raises(ValueError, match="steps must be a non-empty list of integers"):
        al.Recorder.for_model(apply_fn, x, y, [])
    with pytest.raises(TypeError, match="apply_fn must be callable"):
        al.Recorder.for_model(None, x, y, [0])
