"""Analytic kernels against Monte Carlo and closed forms; solvers against known answers."""

import math

import jax
import numpy as np
import pytest

from ntkpaper import architectures, entk, kernels, nt, training


def _inputs(n=6, d=12, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True) * math.sqrt(d)


@pytest.mark.parametrize("depth,activation", [(1, "relu"), (3, "relu"), (2, "erf")])
def test_analytic_fc_matches_monte_carlo(depth, activation):
    """NNGP: covariance of the outputs over 200 random nets; NTK: mean empirical NTK of 8 nets."""
    x = _inputs()
    init_fn, apply_fn, kernel_fn = architectures.fc(depth, width=512, activation=activation,
                                                    b_std=0.3)
    exact = kernels.analytic_kernels(kernel_fn, x)
    params = training.init_ensemble(init_fn, jax.random.PRNGKey(1), 200, x.shape[1:])
    f = np.asarray(jax.vmap(lambda p: apply_fn(p, x.astype(np.float32)))(params))  # (200, n, 10)
    nngp_mc = np.einsum("snk,smk->nm", f, f) / (f.shape[0] * f.shape[2])
    members = [jax.tree_util.tree_map(lambda a, i=i: a[i], params) for i in range(8)]
    ntk_mc = np.mean([entk.empirical_ntk(apply_fn, p, x) for p in members], axis=0)
    # 200 nets x 10 outputs: the NNGP estimate's std is ~ sqrt(2 / 2000) ~ 3% per entry; the
    # NTK self-averages over the width too: ~ 1/sqrt(512 * 8) ~ 1.6% per entry
    # (relative NTK fluctuations grow like depth / width, Hanin & Nica 2019: scale the tolerance)
    for name, est, tol in (("nngp", nngp_mc, 0.12), ("ntk", ntk_mc, 0.04 * depth**0.5 + 0.02)):
        rel = np.abs(est - exact[name]).max() / np.abs(exact[name]).max()
        assert rel < tol, (name, rel)
    # and the check has teeth: a different depth gives a visibly different kernel
    other = kernels.analytic_kernels(architectures.fc(depth + 3, activation=activation,
                                                      b_std=0.3)[2], x)
    assert np.abs(other["ntk"] - exact["ntk"]).max() / np.abs(exact["ntk"]).max() > 0.1


def test_neural_tangents_monte_carlo_agrees():
    x = _inputs()
    init_fn, apply_fn, kernel_fn = architectures.fc(1, width=1024, b_std=0.3)
    exact = kernels.analytic_kernels(kernel_fn, x)["ntk"]
    mc_fn = nt.monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.PRNGKey(1), n_samples=16,
                                     trace_axes=(-1,))
    mc = np.asarray(mc_fn(x.astype(np.float32), None, "ntk"))  # NT averages over outputs
    assert np.abs(mc - exact).max() / np.abs(exact).max() < 0.03


def test_relu_closed_form_matches_neural_tangents():
    x1, x2 = _inputs(7, 9, 0), _inputs(5, 9, 1)
    closed = kernels.relu_fc_kernels(x1, x2, [0, 1, 4], weight_var=1.7, bias_var=0.2)
    for depth in (0, 1, 4):
        ref = kernels.analytic_kernels(architectures.fc(depth, W_std=math.sqrt(1.7),
                                                        b_std=math.sqrt(0.2))[2], x1, x2)
        for name in ("nngp", "ntk"):
            np.testing.assert_allclose(closed[depth][name], ref[name], rtol=1e-10, atol=1e-12)


def test_arc_cosine_hand_value():
    # orthogonal inputs of squared norm D, one hidden ReLU layer, sigma_w^2 = 2, sigma_b = 0:
    # K1 = 2 x.x'/D -> q = 2 on the diagonal, 0 off it; theta = pi/2;
    # K2 = 2 * q/(2 pi) * (sin + (pi - theta) cos) = 2 * 2 / (2 pi) = 2/pi
    # Theta2 = K2 + 2 * (pi - pi/2)/(2 pi) * K1(x, x') = 2/pi + 0.5 * 0
    x = np.eye(4) * 2.0  # squared norm 4 = D
    k = kernels.relu_fc_kernels(x, None, [1], 2.0, 0.0)[1]
    assert k["nngp"][0, 1] == pytest.approx(2 / math.pi, rel=1e-12)
    assert k["ntk"][0, 1] == pytest.approx(2 / math.pi, rel=1e-12)
    # diagonal: theta = 0: K2 = 2 * q/(2 pi) * pi = q = 2, Theta2 = 2 + 2 * 1/2 * 2 = 4
    assert k["nngp"][0, 0] == pytest.approx(2.0)
    assert k["ntk"][0, 0] == pytest.approx(4.0)


def test_batched_kernels_with_padding_equal_unbatched():
    x1, x2 = _inputs(11, 5, 0), _inputs(7, 5, 1)
    kfn = architectures.fc(2)[2]
    a = kernels.analytic_kernels(kfn, x1, x2, batch_size=4)
    b = kernels.analytic_kernels(kfn, x1, x2, batch_size=100)
    for name in ("nngp", "ntk"):
        assert a[name].shape == (11, 7)
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12)
    with pytest.raises(ValueError, match="unknown kernel"):
        kernels.analytic_kernels(kfn, x1, get=("nngp", "cntk"))


def test_kernel_regression_known_answers():
    k_train = np.eye(3) * 2.0
    k_test = np.array([[2.0, 0, 0], [0, 1.0, 0]])
    y = np.array([[1.0], [2.0], [3.0]])
    # relative ridge 0.5 * mean diag 2 = 1: alpha = y / 3
    np.testing.assert_allclose(kernels.kernel_regression(k_train, k_test, y, 0.5),
                               [[2 / 3], [2 / 3]])
    np.testing.assert_allclose(kernels.kernel_regression(k_train, k_test, y, 1.0, relative=False),
                               [[2 / 3], [2 / 3]])
    # interpolation reproduces training targets
    x = _inputs(5, 8)
    k = kernels.relu_fc_kernels(x, None, [2], 2.0, 0.1)[2]["nngp"]
    yy = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(kernels.kernel_regression(k, k, yy, 0.0), yy, atol=1e-8)
    mean, var = kernels.gp_posterior(k, k, np.diag(k), yy, 0.0)
    np.testing.assert_allclose(var, 0, atol=1e-8)
    with pytest.raises(ValueError, match="must have 5 rows"):
        kernels.kernel_regression(k, k, yy[:4])
    with pytest.raises(ValueError, match="diag_reg must be >= 0"):
        kernels.kernel_regression(k, k, yy, -1.0)


def test_eigen_solver_matches_cholesky_and_neural_tangents():
    x, xt = _inputs(8, 6, 0), _inputs(4, 6, 1)
    ks = kernels.relu_fc_kernels(x, None, [2], 2.0, 0.1)[2]["ntk"]
    kt = kernels.relu_fc_kernels(xt, x, [2], 2.0, 0.1)[2]["ntk"]
    y = np.random.default_rng(0).normal(size=(8, 3))
    s = kernels.EigenSolver(ks, kt, y)
    np.testing.assert_allclose(s.ridge(1e-2), kernels.kernel_regression(ks, kt, y, 1e-2),
                               rtol=1e-8)
    np.testing.assert_allclose(s.gradient_flow(np.inf), kernels.kernel_regression(ks, kt, y, 0),
                               rtol=1e-6)
    # NT normalises the MSE by n * k, we by n: NT's time = ours * k
    predict = nt.predict.gradient_descent_mse(ks, y, learning_rate=1.0)
    for t in (0.5, 5.0, 50.0):
        _, ft = predict(t * y.shape[1], np.zeros_like(y), np.zeros((4, 3)), kt)
        np.testing.assert_allclose(s.gradient_flow(t), np.asarray(ft), rtol=1e-5, atol=1e-5)
    assert np.allclose(s.gradient_flow(0.0), 0.0)


def test_empirical_ntk_converges_to_analytic_with_width():
    x = _inputs(5, 10).astype(np.float32)
    _, _, kfn = architectures.fc(2, b_std=0.2)
    exact = kernels.analytic_kernels(kfn, x)["ntk"]
    errs = []
    widths = [32, 128, 512, 2048]
    for w in widths:
        init_fn, apply_fn, _ = architectures.fc(2, width=w, b_std=0.2)
        e = []
        for seed in range(3):
            params = init_fn(jax.random.PRNGKey(seed), x.shape)[1]
            k = entk.empirical_ntk(apply_fn, params, x, implementation=2)
            e.append(np.linalg.norm(k - exact) / np.linalg.norm(exact))
        errs.append(np.mean(e))
    slope = np.polyfit(np.log(widths), np.log(errs), 1)[0]
    assert errs[-1] < 0.1
    assert -0.8 < slope < -0.3, (errs, slope)  # fluctuations ~ width^-1/2


def test_empirical_ntk_implementations_agree_and_3_is_refused():
    x = _inputs(4, 6).astype(np.float32)
    init_fn, apply_fn, _ = architectures.fc(1, width=32)
    params = init_fn(jax.random.PRNGKey(0), x.shape)[1]
    k1 = entk.empirical_ntk(apply_fn, params, x, implementation=1)
    k2 = entk.empirical_ntk(apply_fn, params, x, implementation=2, batch_size=3)
    np.testing.assert_allclose(k1, k2, rtol=1e-4)
    with pytest.raises(ValueError, match="broken"):
        entk.empirical_ntk(apply_fn, params, x, implementation=3)


def test_standard_parameterisation_limit_kernel():
    """SP tangent kernel x sigma_w^2 / width -> NNGP minus readout bias variance."""
    x = _inputs(5, 10).astype(np.float32)
    w_std, b_std = math.sqrt(2.0), 0.3
    _, _, kfn = architectures.fc(1, W_std=w_std, b_std=b_std)
    target = kernels.sp_limit_kernel(kernels.analytic_kernels(kfn, x)["nngp"], b_std)
    errs = []
    for width in (256, 8192):
        init_fn, apply_fn, _ = architectures.fc(1, width=width, W_std=w_std, b_std=b_std,
                                                parameterization="standard")
        params = init_fn(jax.random.PRNGKey(0), x.shape)[1]
        k = entk.empirical_ntk(apply_fn, params, x) * w_std**2 / width
        errs.append(np.linalg.norm(k - target) / np.linalg.norm(target))
    assert errs[1] < 0.05 and errs[1] < errs[0], errs


def test_wide_network_training_follows_ntk_gradient_flow():
    """Centred wide NTK-parameterised nets track the kernel prediction; narrow ones less so."""
    rng = np.random.default_rng(0)
    x, xt = _inputs(16, 8, 0).astype(np.float32), _inputs(8, 8, 1).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    _, _, kfn = architectures.fc(1, b_std=0.1, out_dim=2)
    ks, kt = kernels.analytic_kernels(kfn, x), kernels.analytic_kernels(kfn, xt, x)
    steps, lr = 50, 0.5
    limit = kernels.EigenSolver(ks["ntk"], kt["ntk"], y).gradient_flow(lr * steps)
    dists = []
    for width in (32, 2048):
        init_fn, apply_fn, _ = architectures.fc(1, width=width, b_std=0.1, out_dim=2)
        params = training.init_ensemble(init_fn, jax.random.PRNGKey(0), 4, x.shape[1:])
        out = training.train_mse_ensemble(apply_fn, params, x, y, xt, lr, [0, steps],
                                          centre=True)
        assert (out["train_loss"][-1] < out["train_loss"][0]).all()
        f = out["test"][-1].mean(axis=0)
        dists.append(np.linalg.norm(f - limit) / np.linalg.norm(limit))
    assert dists[1] < 0.1 and dists[1] < dists[0] / 2, dists
    with pytest.raises(ValueError, match="increasing"):
        training.train_mse_ensemble(apply_fn, params, x, y, xt, lr, [5, 1])


def test_architecture_errors():
    with pytest.raises(ValueError, match="unknown activation"):
        architectures.fc(1, activation="swishy")
    with pytest.raises(ValueError, match="parameterization"):
        architectures.fc(1, parameterization="mup")
    with pytest.raises(ValueError, match="readout"):
        architectures.cnn(1, readout="max")


def test_cnn_vec_kernel_shape_and_symmetry():
    x = np.random.default_rng(0).normal(size=(3, 6, 6, 1))
    kfn = architectures.cnn(2, readout="flatten")[2]
    k = kernels.analytic_kernels(kfn, x, pair_cost=36)
    assert k["ntk"].shape == (3, 3)
    np.testing.assert_allclose(k["ntk"], k["ntk"].T, rtol=1e-10)
    assert np.all(np.linalg.eigvalsh(k["nngp"]) > 0)


def test_fit_power_law_recovers_exponent_and_rejects_bad_input():
    from ntkpaper.stats import fit_power_law

    w = np.array([64, 256, 1024, 4096])
    a, c = fit_power_law(w, 3.0 * w**-0.5)
    assert a == pytest.approx(-0.5) and c == pytest.approx(3.0)
    with pytest.raises(ValueError, match="positive"):
        fit_power_law(w, [1.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="two or more"):
        fit_power_law([1.0], [1.0])
