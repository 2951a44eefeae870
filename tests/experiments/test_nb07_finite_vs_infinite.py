"""Notebook 07's driver: CNN-VEC kernels against Monte Carlo, the float32 path, the nested
subsets, ridge vs early stopping, the ensemble variance, the claims' tests and the figures, on
tiny synthetic inputs (the real data sets run in the notebook's smoke test)."""

import math

import matplotlib

matplotlib.use("Agg")

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ntkpaper import architectures, kernels, nt
from ntkpaper.experiments import nb07_finite_vs_infinite as exp

SHAPE = (4, 4, 1)


def _split(n, seed=0, shape=SHAPE, tag="x"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, int(np.prod(shape))))
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    y = np.arange(n) % 3
    return exp.Split(x, y, np.eye(3)[y] - 0.1, shape, {"n": n, "seed": seed, "tag": tag})


def _setup(fc=(10, 20, 30), cnn=(10, 20)):
    return exp.setup(2, 2, fc, cnn, 2.0, 0.05, [1e-3, 1e-1, 1.0])


# ---- kernels -----------------------------------------------------------------------------------

def test_cnn_vec_kernels_match_monte_carlo_of_a_wide_cnn():
    """The analytic CNN-VEC NNGP and NTK (through compute_kernels, on 6x6 images) against
    neural-tangents' Monte Carlo estimate over 96 initialisations of a 64-channel CNN; the
    tolerance is 4 standard errors of the estimate (12 independent groups of 8) plus 3% of the
    kernel's scale for the finite width. The FC kernel of the same inputs fails the same test."""
    shape = (6, 6, 1)
    sp = _split(4, seed=1, shape=shape, tag="mc")
    st = exp.setup(2, 2, [4], [4], 2.0, 0.05, [1e-3])
    analytic = exp.compute_kernels(st, "cnn", sp, [])
    init_fn, apply_fn, _ = architectures.cnn(2, channels=64, W_std=math.sqrt(2.0),
                                             b_std=math.sqrt(0.05), readout="flatten")
    groups, size = 12, 8
    counts = [size * (g + 1) for g in range(groups)]
    mc = nt.monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.PRNGKey(10), n_samples=counts)
    sums = [{k: np.asarray(v, np.float64) * c for k, v in zip(exp.KINDS, out)}
            for c, out in zip(counts, mc(sp.inputs("cnn").astype(np.float32), None, exp.KINDS))]
    fc = exp.compute_kernels(st, "fc", sp, [])
    for kind in exp.KINDS:
        est = np.stack([(sums[g][kind] - (sums[g - 1][kind] if g else 0)) / size
                        for g in range(groups)])
        mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(groups)
        exact = analytic.train[kind]
        assert exact.shape == (4, 4) and exact.dtype == np.float64
        tol = 4 * se + 0.03 * np.abs(exact).max()
        assert np.all(np.abs(mean - exact) <= tol), (kind, np.abs(mean - exact) / tol)
        assert np.any(np.abs(mean - fc.train[kind]) > tol), kind  # the test can fail


def test_nested_order_balances_every_prefix():
    y = np.random.default_rng(0).permutation(np.repeat(np.arange(4), 25))
    order = exp.nested_order(y, 4)
    assert sorted(order) == list(range(100))
    for n in range(1, 101):
        counts = np.bincount(y[order[:n]], minlength=4)
        assert counts.max() - counts.min() <= 1
    # within a class the original order is kept
    first = order[y[order] == 2]
    assert list(first) == list(np.flatnonzero(y == 2))


def test_kernels_are_computed_once_and_sliced(tmp_path):
    splits = {"toy": (_split(30, 0, tag="pool"), _split(12, 1, tag="val"),
                      _split(15, 2, tag="test"))}
    st = _setup()
    shared = exp.compute_shared_kernels(splits, st)
    assert set(shared) == {("toy", "fc"), ("toy", "cnn")}
    cnn = shared[("toy", "cnn")]
    assert cnn.train["ntk"].shape == (20, 20) and cnn.others[1]["ntk"].shape == (15, 20)
    pool, val, test = splits["toy"]
    direct = exp.compute_kernels(st, "cnn", pool.head(10), [val, test])
    head = cnn.head(10)
    for kind in exp.KINDS:
        np.testing.assert_allclose(head.train[kind], direct.train[kind], rtol=1e-12)
        np.testing.assert_allclose(head.others[1][kind], direct.others[1][kind], rtol=1e-12)
    with pytest.raises(ValueError, match="between 1 and"):
        pool.head(31)


# ---- ridge vs early stopping -------------------------------------------------------------------

def test_fit_cell_tunes_each_knob_on_validation():
    train, val, test = _split(20, 0), _split(12, 1), _split(15, 2)
    kfn = _setup().kernel_fn("fc")
    k = kernels.analytic_kernels(kfn, train.x)["ntk"]
    kv = kernels.analytic_kernels(kfn, val.x, train.x)["ntk"]
    kt = kernels.analytic_kernels(kfn, test.x, train.x)["ntk"]
    regs = [1e-3, 1e-1, 1.0]
    out = exp.fit_cell(k, kv, kt, train.t, val.y, test.y, regs)
    solver = kernels.EigenSolver(k, np.vstack([kv, kt]), train.t)
    for method in exp.METHODS:
        r = out[method]
        i = regs.index(r["reg"])
        assert r["val_acc"] == r["curve"].max() and r["curve"][i] == r["val_acc"]
        assert i == int(np.argmax(r["curve"]))  # the first of the best
        if method == "ridge":
            pred = kernels.kernel_regression(k, kt, train.t, r["reg"])
        else:  # the time whose filter crosses the ridge's at the same eigenvalue
            assert r["time"] == pytest.approx(20 / (r["reg"] * np.mean(np.diag(k))))
            pred = solver.gradient_flow(r["time"])[12:]
        np.testing.assert_array_equal(r["correct"], pred.argmax(1) == test.y)
    with pytest.raises(ValueError, match="positive"):
        exp.fit_cell(k, kv, kt, train.t, val.y, test.y, [0.0, 1.0])


def _regression():
    splits = {"toy": (_split(30, 0, tag="pool"), _split(12, 1, tag="val"),
                      _split(15, 2, tag="test"))}
    st = _setup()
    shared = exp.compute_shared_kernels(splits, st)
    return splits, st, shared, exp.compute_regression(shared, splits, st)


def test_regression_tables_and_paired_differences():
    splits, st, shared, reg = _regression()
    # (fc: 3 sizes + cnn: 2 sizes) x 2 kernels x 2 methods
    assert len(reg.table) == 5 * 2 * 2
    assert len(reg.curves) == len(reg.table) * 3
    pairs = exp.nngp_vs_ntk(reg)
    assert len(pairs) == 5
    row = pairs[(pairs.arch == "cnn") & (pairs.n == 20)].iloc[0]
    assert row["diff"] == pytest.approx(row.nngp - row.ntk)
    es = exp.ridge_vs_early_stopping(reg)
    assert len(es) == 10 and es.largest.sum() == 4
    assert set(es[es.largest].n) == {30, 20}
    r = es.iloc[0]
    assert r["diff"] == pytest.approx(r.early_stopping - r.ridge)
    rec = exp.regression_records(reg, pairs)
    assert "acc_ntk_cnn_toy_n20" in rec and "nngp_minus_ntk_fc_toy_n30" in rec
    assert set(exp.early_stopping_records(es)) == {
        f"es_minus_ridge_{k}_{a}_toy" for k in exp.KINDS for a in exp.ARCHS}
    # the ridge chosen at the largest computed size at or below n
    t = reg.table
    at20 = t[(t.arch == "fc") & (t.kernel == "ntk") & (t.n == 20) & (t.method == "ridge")]
    assert exp.chosen_reg(reg, "toy", "fc", "ntk", 25) == at20.diag_reg.iloc[0]


# ---- float32 vs float64 ------------------------------------------------------------------------

def test_float32_path_computes_kernels_and_solve_in_float32():
    splits, st, shared, reg = _regression()
    prec = exp.compute_precision("toy", splits["toy"], shared, reg, st, [10, 30])
    assert len(prec) == (2 + 2) * 2  # (fc sizes + cnn sizes) x (no ridge, validation ridge)
    assert set(prec.kernel_dtype) == {"float32"} and set(prec.pred_dtype) == {"float32"}
    # computed in float32, not cast: the float32 kernel is not the rounded float64 one
    assert (prec.frac_kernel_differs > 0).all() and (prec.max_rel_kernel_diff < 1e-2).all()
    pool, _, test = splits["toy"]
    k32 = exp.compute_kernels(st, "fc", pool.head(30), [test], x64=False)
    assert k32.train["ntk"].dtype == np.float32 and k32.others[0]["ntk"].dtype == np.float32
    measured, holds = exp.CLAIMS["float32_path_is_float32"].evaluate(prec)
    assert holds is True and "float32" in measured


def test_float32_solve_loses_an_ill_conditioned_system():
    """The solve runs in float32: on a kernel with condition number ~1e9 float32 Cholesky fails
    (or gives other predictions), float64 does not; cond_estimate sees the ill conditioning."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    k = (q * np.logspace(0, -9, 40)) @ q.T
    kt = rng.normal(size=(7, 40)) @ k
    y = np.eye(3)[np.arange(40) % 3] - 0.1
    cell = exp.precision_cell(k, kt, k.astype(np.float32), kt.astype(np.float32), y,
                              np.arange(7) % 3, 0.0)
    assert not cell["f64_failed"]
    assert cell["f32_failed"] or cell["acc_f32"] != cell["acc_f64"] or cell["diff"] != 0
    assert 1e8 < cell["cond"] < 1e11
    well = (q * np.linspace(1, 2, 40)) @ q.T
    assert exp.cond_estimate(well, 0.0) == pytest.approx(np.linalg.cond(well, 1), rel=0.5)
    assert exp.cond_estimate(-well, 0.0) == math.inf


def _prec(diffs, ses, failed=()):
    rows = []
    for arch in exp.ARCHS:
        for i, n in enumerate([100, 200, 400]):
            bad = (arch, n) in failed
            rows.append({"arch": arch, "n": n, "ridge": "none", "diag_reg": 0.0,
                         "cond": 10.0 ** (3 + i), "f32_failed": bad, "f64_failed": False,
                         "diff": np.nan if bad else diffs[i], "se": ses[i],
                         "kernel_dtype": "float32", "pred_dtype": "float32",
                         "max_rel_kernel_diff": 1e-4, "frac_kernel_differs": 0.5})
    return pd.DataFrame(rows)


def test_critical_size_claim():
    claim = exp.CLAIMS["float32_critical_size"]
    measured, holds = claim.evaluate(_prec([0.0, -0.001, 0.0], [0.001] * 3))
    assert holds is None and "not reached" in measured  # inconclusive, never failed
    assert exp.critical_sizes(_prec([0.0, -0.01, -0.03], [0.002] * 3)) == {"fc": 200,
                                                                          "cnn": 200}
    measured, holds = claim.evaluate(_prec([0.0, 0.0, 0.0], [0.0] * 3, failed={("cnn", 400)}))
    assert holds is True and "CNN-VEC n* = 400" in measured
    rec = exp.precision_records(_prec([0.0, 0.0, 0.0], [0.001] * 3))
    assert math.isnan(rec["critical_n_fc"]) and rec["cond_no_ridge_cnn_n400"] == 1e5


# ---- ZCA ---------------------------------------------------------------------------------------

def test_zca_study_compares_with_the_shared_kernels(monkeypatch):
    splits, st, shared, _ = _regression()
    monkeypatch.setattr(exp, "load_split", lambda name, split, n, seed: _split(n, 9))
    table, correct = exp.compute_zca("toy", splits["toy"], shared, st, 20, [0.1, 1.0], 50, 0)
    assert len(table) == 3 * 2 * 2 and table.zca_strength.isna().sum() == 4
    effects = exp.zca_effects(table, correct)
    assert len(effects) == 2 * 2 * 2 and effects.chosen.sum() == 4
    rec = exp.zca_records(effects)
    assert set(rec) == {f"zca_{f}_{k}_{a}" for f in ("strength", "minus_none")
                        for k in exp.KINDS for a in exp.ARCHS}
    # the no-ZCA rows are the shared kernels' regression at the same n
    reg = exp.compute_regression(shared, splits, st)
    t = reg.table
    none = table[table.zca_strength.isna() & (table.arch == "cnn") & (table.kernel == "ntk")]
    same = t[(t.arch == "cnn") & (t.kernel == "ntk") & (t.n == 20) & (t.method == "ridge")]
    assert none.test_acc.iloc[0] == same.test_acc.iloc[0]


def test_zca_claim_needs_both_kernels_beyond_two_se():
    def eff(d_nngp, d_ntk):
        return pd.DataFrame({"arch": "cnn", "kernel": ["nngp", "ntk"], "zca_strength": 0.1,
                             "test_acc": 0.8, "none_acc": 0.7, "diff": [d_nngp, d_ntk],
                             "se": 0.01, "chosen": True})
    assert exp.CLAIMS["zca_helps_cnn"].evaluate(eff(0.05, 0.03))[1] is True
    assert exp.CLAIMS["zca_helps_cnn"].evaluate(eff(0.05, 0.015))[1] is False


# ---- centred and ensembled networks ------------------------------------------------------------

def test_member_variance_of_an_ensemble_mean_is_one_over_e():
    """Known answer: members i.i.d. with variance 4 -> member_variance ~ 4, and the variance of
    the mean of E members (over many ensembles) ~ 4 / E."""
    rng = np.random.default_rng(0)
    e, groups = 8, 4000
    f = 2.0 * rng.normal(size=(groups, e, 50))
    assert exp.member_variance(f[0]) == pytest.approx(4.0, rel=0.15)
    means = f.mean(axis=1)  # (groups, 50)
    assert exp.member_variance(means) == pytest.approx(4.0 / e, rel=0.05)
    assert exp.member_variance(np.array([[1.0, 3.0], [3.0, 1.0]])) == 2.0
    with pytest.raises(ValueError, match="two members"):
        exp.member_variance(f[0, :1])


def test_centred_ensembles_on_a_tiny_problem(monkeypatch):
    data = {"train": _split(24, 0, shape=(16,)), "test": _split(10, 1, shape=(16,))}
    monkeypatch.setattr(exp, "load_split", lambda name, split, n, seed: data[split])
    members, ensembles, limits = exp.compute_centred_ensembles(
        "toy", 24, 10, [8, 32], 3, 5, 0.5, 2.0, 0.05, 0)
    assert len(members) == 2 * 2 * 3 and len(ensembles) == 4
    assert limits.t.iloc[0] == 2.5
    summary = exp.summarise_finite(members, ensembles)
    assert np.allclose(summary.ratio, summary.dist_ensemble / summary.dist_single)
    # centring removes the random f0: far less spread across initialisations
    var = summary.pivot_table(index="width", columns="variant", values="var_members")
    assert (var.centred < var.plain).all()
    slopes = exp.distance_slopes(members)
    assert set(slopes.index) == {"plain", "centred"}
    rec = exp.finite_records(summary, slopes)
    assert {"dist_slope_centred", "var_slope_centred",
            "ensemble_over_single_centred_w32"} <= set(rec)


def _summary(ratio_widest=0.36, var_ratio=0.01, e=8):
    rows = []
    for w in (64, 256, 1024):
        for variant in ("plain", "centred"):
            centred = variant == "centred"
            single = (w / 64) ** -0.5 if centred else 3.0
            ratio = (ratio_widest if w == 1024 else 0.5) if centred else 1 / math.sqrt(e)
            rows.append({"variant": variant, "width": w, "acc_mean": 0.8, "acc_sd": 0.01,
                         "dist_single": single, "acc_ensemble": 0.81,
                         "dist_ensemble": single * ratio, "ratio": ratio,
                         "var_members": var_ratio / w if centred else 1.0,
                         "n_members": e})
    return pd.DataFrame(rows)


def test_finite_claims():
    slopes = pd.Series({"plain": 0.05, "centred": -0.5})
    s = _summary()
    assert exp.CLAIMS["centring_reduces_variance"].evaluate(s)[1] is True
    assert exp.CLAIMS["centring_reduces_variance"].evaluate(_summary(var_ratio=100.0))[1] is False
    assert exp.CLAIMS["centred_converge_ntk"].evaluate(slopes) == ("slope -0.50", True)
    measured, holds = exp.CLAIMS["ensemble_variance_dominated"].evaluate(s)
    assert holds is True and "1/sqrt(8) = 0.354" in measured
    # a bias (ratio near 1) or a ratio far below 1/sqrt(E) both fail
    assert exp.CLAIMS["ensemble_variance_dominated"].evaluate(_summary(0.9))[1] is False
    assert exp.CLAIMS["ensemble_variance_dominated"].evaluate(_summary(0.2))[1] is False
    assert exp.CLAIMS["uncentred_no_converge"].evaluate(s, slopes) == (
        "slope 0.05, distance at widest 3.00", True)


# ---- claims on the kernels, and the figures ----------------------------------------------------

def _pairs(diffs, se=0.005):
    return pd.DataFrame({"dataset": "mnist", "arch": ["fc", "fc", "cnn", "cnn"],
                         "n": [100, 200, 100, 200], "nngp": 0.8, "ntk": 0.8,
                         "diff": diffs, "se": se})


def test_nngp_vs_ntk_claim_is_about_a_majority():
    claim = exp.CLAIMS["nngp_vs_ntk"]
    measured, holds = claim.evaluate(_pairs([0.02, 0.001, 0.002, -0.001]))
    assert holds is True
    assert measured == ("NNGP ahead in 3/4 cells (FC 2/2, CNN-VEC 1/2); beyond 2 paired s.e.: "
                        "NNGP 1, NTK 0")
    assert claim.evaluate(_pairs([0.02, 0.001, -0.002, -0.001]))[1] is False  # not a majority
    assert claim.evaluate(_pairs([0.001, 0.001, 0.002, -0.05]))[1] is False  # NTK's win is real


def test_ridge_vs_early_stopping_claim_uses_the_interval():
    es = pd.DataFrame({"dataset": "mnist", "arch": ["fc", "cnn"], "kernel": "ntk",
                       "n": [400, 200], "ridge": 0.8, "early_stopping": 0.8,
                       "diff": [0.004, -0.006], "se": [0.004, 0.005], "largest": True})
    measured, holds = exp.CLAIMS["ridge_like_early_stopping"].evaluate(es)
    assert holds is True and measured.startswith("2/2 cells within +-0.02")
    es.loc[1, "se"] = 0.008  # -0.006 - 1.96 x 0.008 < -0.02
    assert exp.CLAIMS["ridge_like_early_stopping"].evaluate(es)[1] is False


def test_checks_claims_and_sources():
    checks = {k for k, c in exp.CLAIMS.items() if c.kind == "check"}
    assert checks == {"float32_path_is_float32", "uncentred_no_converge"}
    for c in exp.CLAIMS.values():
        if c.kind == "claim":  # the abstract's clause, never a section number that was not read
            assert "Lee et al. 2020, abstract (arXiv:2007.15801)" in c.source
            assert "Sec." not in c.source and "Fig." not in c.source


def test_figures_draw_from_the_tables(monkeypatch):
    splits, st, shared, reg = _regression()
    pairs, es = exp.nngp_vs_ntk(reg), exp.ridge_vs_early_stopping(reg)
    prec = exp.compute_precision("toy", splits["toy"], shared, reg, st, [10, 30])
    monkeypatch.setattr(exp, "load_split", lambda name, split, n, seed: _split(n, 9))
    effects = exp.zca_effects(*exp.compute_zca("toy", splits["toy"], shared, st, 20, [0.1, 1.0],
                                               50, 0))
    s = _summary()
    limits = pd.DataFrame([{"t": 50.0, "test_acc_t": 0.8, "test_acc_inf": 0.85}])
    figs = [exp.plot_kernels(reg, pairs, "toy, profile test"),
            exp.plot_ridge_vs_early_stopping(reg, es, "toy, profile test"),
            exp.plot_precision(prec, "toy, profile test"),
            exp.plot_zca(effects, 20, "toy, profile test"),
            exp.plot_centred_ensembles(s, pd.Series({"plain": 0.0, "centred": -0.5}), limits,
                                       256, "toy, profile test")]
    for fig in figs:
        assert "profile test" in fig.get_suptitle()
        plt.close(fig)
    assert exp.data_title(["mnist", "fashion_mnist"]) == (
        "MNIST and Fashion-MNIST (stand-in for CIFAR-10)")
    assert exp.pool_size([125, 250], [100], [4000]) == 4000


# ---- trained FC networks (section 6) -------------------------------------------------------------

def test_top_ntk_eigenvalue_matches_the_jacobian():
    init_fn, apply_fn, _ = architectures.fc(2, width=8, W_std=math.sqrt(2.0), b_std=0.2,
                                            out_dim=3)
    params = init_fn(jax.random.PRNGKey(0), (5,))[1]
    x = np.random.default_rng(0).normal(size=(6, 5))
    jac = jax.jacobian(lambda p: apply_fn(p, jax.numpy.asarray(x, "float32")))(params)
    rows = np.hstack([np.asarray(j).reshape(18, -1) for j in jax.tree_util.tree_leaves(jac)])
    exact = np.linalg.eigvalsh(rows @ rows.T)[-1]
    assert exp.top_ntk_eigenvalue(apply_fn, params, x, iters=200) == pytest.approx(exact,
                                                                                 rel=1e-3)


def test_interpolation_threshold_counts_parameters():
    split = (_split(20, shape=(16,)), None, None)
    threshold, width = exp.interpolation_threshold(split, 20, 3)
    assert threshold == 60
    # 16 inputs, 3 hidden layers of width w, 3 outputs, biases included
    assert exp._fc_params(16, width, 3, 3) == pytest.approx(60, abs=1e-6)
    assert exp.net_record_steps(300) == [0, 19, 38, 75, 150, 300]


def test_trained_network_study_on_a_tiny_problem():
    splits, st, shared, reg = _regression()
    study = exp.compute_width_study(splits["toy"], 20, [4, 8], [0.5, 1.0], 2, 2, 2, 2.0, 0.05,
                                    0)
    records = len(exp.net_record_steps(2))
    assert len(study.runs) == 2 * 2 * 2 * 2 * 2 * records
    # the standard parameterisation's edge of stability is at a smaller learning rate
    lam = study.runs.groupby(["param", "width"]).lambda_max.first()
    assert (lam["standard"] > lam["ntk"]).all()
    chosen, correct = exp.choose_networks(study)
    assert len(chosen) == 8 and (chosen.step > 0).all()
    assert chosen.last_step.dtype == bool and "budget_limited" in exp.kernel_vs_network(
        reg, "toy", 20, chosen, correct)
    assert {len(v) for v in correct.values()} == {15}
    kvn = exp.kernel_vs_network(reg, "toy", 20, chosen, correct)
    assert kvn["diff"].iloc[0] == pytest.approx(kvn.kernel_acc.iloc[0] - kvn.net_acc.iloc[0])
    with pytest.raises(ValueError, match="FC_N_TRAIN_SIZES"):
        exp.kernel_vs_network(reg, "toy", 25, chosen, correct)
    pp = exp.parameterisation_pairs(chosen, correct)
    assert len(pp) == 4 and np.allclose(pp["diff"], pp.ntk - pp.standard)
    steps = exp.width_steps(chosen, correct, 60)
    assert len(steps) == 4 and steps.above_threshold.all()
    decay = exp.compute_decay_study(splits["toy"], shared[("toy", "fc")], 20, 8, [0.1, 1.0],
                                    [0.01], 10, 2, 2, 2.0, 0.05, 0)
    assert len(decay) == 3 * 2
    assert np.allclose(decay.t, decay.t.iloc[0], rtol=0.1)  # the same time t for every setting
    assert decay[decay.lr_frac == 1.0].steps.iloc[0] == 1
    contrasts = exp.decay_contrasts(decay)
    assert len(contrasts) == 2 + 2 and (contrasts.groupby("kind")["diff"].first() == 0).all()
    rec = exp.network_records(kvn, chosen, pp, contrasts)
    assert {"kernel_minus_fc_net", "net_acc_ntk_plain_w8", "ntk_minus_sp_centred_w4",
            "decay_dist_l2_0.01", "decay_dist_lr_1"} <= set(rec)
    fig = exp.plot_trained_networks(chosen, kvn, pp, contrasts, 3.5, 20, 8, "toy, profile test")
    assert "profile test" in fig.get_suptitle()
    plt.close(fig)


def test_trained_network_claims():
    kvn = pd.DataFrame([{"kernel": "nngp", "kernel_acc": 0.9, "net": "x", "net_acc": 0.8,
                         "diff": 0.1, "se": 0.01}])
    assert exp.CLAIMS["kernel_beats_fc_net"].evaluate(kvn)[1] is True
    assert exp.CLAIMS["kernel_beats_fc_net"].evaluate(kvn.assign(diff=0.015))[1] is False
    measured, holds = exp.CLAIMS["kernel_beats_fc_net"].evaluate(kvn.assign(budget_limited=True))
    assert holds is True and "budget-limited" in measured

    def pp(diffs, se=0.01):
        return pd.DataFrame({"variant": "plain", "width": [64, 256, 1024], "ntk": 0.8,
                             "standard": 0.8, "diff": diffs, "se": se})
    claim = exp.CLAIMS["ntk_param_beats_sp"]
    assert claim.evaluate(pp([-0.5, 0.0, 0.03]))[1] is True  # beyond 2 s.e. at the widest
    assert claim.evaluate(pp([-0.5, 0.001, 0.002]))[1] is True  # ahead at both widest
    assert claim.evaluate(pp([0.0, -0.03, 0.05]))[1] is False
    assert claim.evaluate(pp([0.0, 0.01, -0.01]))[1] is None

    def steps(drop_above):
        return pd.DataFrame({"variant": "plain", "param": "ntk", "narrow": [4, 16],
                             "wide": [16, 64], "diff": [0.1, -0.05], "se": 0.01,
                             "above_threshold": [False, drop_above]})
    assert exp.CLAIMS["width_non_monotone"].evaluate(steps(True))[1] is True
    # a drop below the interpolation threshold is what double descent would explain
    assert exp.CLAIMS["width_non_monotone"].evaluate(steps(False))[1] is False

    def contrasts(lr_diff):
        return pd.DataFrame({"kind": ["lr", "lr", "l2", "l2"], "value": [0.1, 1.8, 0.0, 0.1],
                             "dist": [0.3, 0.3 + lr_diff, 0.3, 2.0], "dist_sd": 0.01,
                             "acc": 0.8, "diff": [0.0, lr_diff, 0.0, 1.7], "se": 0.01})
    claim = exp.CLAIMS["decay_lr_break_correspondence"]
    assert claim.evaluate(contrasts(1.0))[1] is True
    assert claim.evaluate(contrasts(0.01))[1] is False
    assert claim.evaluate(contrasts(math.inf))[1] is True  # diverged: no correspondence left


def test_layerwise_study_on_a_tiny_problem():
    splits, *_ = _regression()
    study = exp.compute_layerwise_study(splits["toy"], 20, 8, 1.0, [1e-3, 1e-2], [0.1], 4, 2, 2,
                                        2.0, 0.05, 0)
    records = len(exp.net_record_steps(4))
    assert len(study.runs) == (1 + 2 + 1) * 2 * records
    assert set(study.runs.param) == {"none", "plain_l2", "layerwise_l2"}
    lw = exp.layerwise_contrast(study)
    assert list(lw.method) == ["none", "plain_l2", "layerwise_l2"]
    assert lw.l2.iloc[0] == 0 and lw["diff"].notna().sum() == 1
    # the layer-wise pick is among its own grid plus 0
    assert lw.l2.iloc[2] in (0.0, 0.1) and lw.l2.iloc[1] in (0.0, 1e-3, 1e-2)
    curves = exp.l2_curves(study)
    assert len(curves) == 4
    fig = exp.plot_layerwise_l2(curves, lw, 8, "toy")
    plt.close(fig)


def test_pooled_images_and_the_cnn_study_on_a_tiny_problem():
    splits = {s: _split(n, seed=i, shape=(4, 4, 1), tag=s)
              for i, (s, n) in enumerate((("pool", 24), ("val", 12), ("test", 15)))}
    small = exp.pooled(splits["pool"], 2)
    assert small.shape == (2, 2, 1) and small.x.shape == (24, 4)
    np.testing.assert_allclose(small.x.mean(1), 0, atol=1e-12)
    with pytest.raises(ValueError, match="must divide"):
        exp.pooled(splits["pool"], 3)
    split = tuple(exp.pooled(splits[s], 1) for s in ("pool", "val", "test"))
    study = exp.compute_cnn_study(split, 20, [2, 4], [0.5, 1.0], 2, 2, 2, 2.0, 0.05, 0)
    assert len(study.runs) == 2 * 2 * 2 * 2 * len(exp.net_record_steps(2))
    local = study.runs[study.runs.param == "local"].n_params.max()
    shared = study.runs[study.runs.param == "shared"].n_params.max()
    assert local > shared  # 16 positions, one filter each
    assert exp._cnn_params((4, 4, 1), 4, 2, 3, False) == (9 + 1) * 4 + (36 + 1) * 4 + 65 * 3
    chosen, correct = exp.choose_networks(study)
    st = _setup(cnn=(20,))
    cells = exp.cnn_kernel_cells(st, split, 20)
    assert set(cells) == set(exp.KINDS)
    kvc = exp.kernel_vs_cnn(cells, chosen, correct)
    assert kvc["diff"].iloc[0] == pytest.approx(kvc.net_acc.iloc[0] - kvc.kernel_acc.iloc[0])
    gaps = exp.sharing_gaps(chosen, correct)
    assert len(gaps) == 2 and np.isfinite(gaps.shrink.iloc[-1])
    assert gaps.shrink.iloc[-1] == pytest.approx(gaps["diff"].iloc[0] - gaps["diff"].iloc[-1])
    fig = exp.plot_trained_cnns(chosen, kvc, gaps, 20, (4, 4, 1), "toy")
    plt.close(fig)


def test_cnn_and_layerwise_claims():
    kvc = pd.DataFrame([{"kernel": "ntk", "kernel_acc": 0.8, "net": "16 channels",
                         "net_acc": 0.85, "diff": 0.05, "se": 0.01}])
    claim = exp.CLAIMS["cnn_net_beats_kernel"]
    assert claim.evaluate(kvc)[1] is True
    assert claim.evaluate(kvc.assign(diff=-0.05))[1] is False

    def gaps(narrow, shrink):
        return pd.DataFrame({"width": [4, 64], "shared": 0.8, "local": 0.7,
                             "diff": [narrow, narrow - shrink], "se": 0.01,
                             "shrink": [np.nan, shrink], "shrink_se": [np.nan, 0.012]})
    claim = exp.CLAIMS["sharing_helps_narrow_only"]
    assert claim.evaluate(gaps(0.1, 0.08))[1] is True
    assert claim.evaluate(gaps(0.1, 0.01))[1] is False  # the benefit does not fade
    assert claim.evaluate(gaps(0.01, 0.03))[1] is False  # no benefit at the narrowest

    def lw(diff):
        return pd.DataFrame({"method": ["none", "plain_l2", "layerwise_l2"],
                             "l2": [0.0, 1e-3, 1.0], "step": 300, "val_acc": 0.8,
                             "test_acc": 0.8, "edge": False, "diff": [np.nan, np.nan, diff],
                             "se": [np.nan, np.nan, 0.01]})
    claim = exp.CLAIMS["layerwise_l2_beats_plain"]
    assert claim.evaluate(lw(0.03))[1] is True
    assert claim.evaluate(lw(-0.03))[1] is False
    assert claim.evaluate(lw(0.01))[1] is None
