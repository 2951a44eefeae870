"""Notebook 01's driver: hyper-parameter choice, ledger entries, the claims' tests and figures, on
tiny synthetic inputs (the real data sets run in the notebook's smoke test)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ntkpaper import kernels
from ntkpaper.experiments import nb01_infinite_width_baselines as exp


def _split(n, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.arange(n) % 3
    t = np.eye(3)[y] - 0.1
    return exp.Split(x, y, t, {"n": n, "seed": seed})


def _tuning():
    rows = []
    for name, best in (("mnist", (2, 0.05, 1e-3)), ("fashion_mnist", (1, 0.0, 1e-2))):
        for kind in exp.KINDS:
            for depth in (1, 2):
                for bias in (0.0, 0.05):
                    for reg in (1e-3, 1e-2):
                        acc = 0.9 if (depth, bias, reg) == best else 0.5 + 0.01 * depth
                        rows.append({"dataset": name, "kernel": kind, "depth": depth,
                                     "weight_var": 2.0, "bias_var": bias, "diag_reg": reg,
                                     "val_acc": acc})
    return pd.DataFrame(rows)


def test_choose_configs_per_data_set_with_a_shared_bias():
    configs = exp.choose_configs(_tuning())
    assert list(configs) == ["mnist", "fashion_mnist"]
    assert configs["mnist"]["nngp"] == {"depth": 2, "weight_var": 2.0, "bias_var": 0.05,
                                        "diag_reg": 1e-3, "val_acc": 0.9}
    assert configs["fashion_mnist"]["ntk"]["bias_var"] == 0.0
    rec = exp.config_records(configs)
    assert rec["mnist_ntk_depth"] == 2 and rec["fashion_nngp_diag_reg"] == 1e-2
    assert len(rec) == 2 * 2 * 3
    assert len(exp.chosen_table(configs)) == 4


def test_best_config_breaks_ties_by_the_first_row():
    df = pd.DataFrame({"kernel": "ntk", "depth": [1, 2], "weight_var": 2.0, "bias_var": 0.0,
                       "diag_reg": [1e-3, 1e-4], "val_acc": [0.7, 0.7]})
    assert exp.best_config(df, "ntk")["depth"] == 1


def test_tuning_and_depth_on_a_tiny_problem():
    train, val, test = _split(12, seed=1), _split(9, seed=2), _split(7, seed=3)
    splits = {"mnist": (train, val, test)}
    tuning = exp.compute_tuning(splits, [1, 2], 2.0, [0.0, 0.1], [1e-3, 1e-1])
    assert len(tuning) == 2 * 2 * 2 * 2  # bias x depth x kernel x ridge
    assert tuning.val_acc.between(0, 1).all()
    depth = exp.compute_depth(tuning, splits)
    assert sorted(zip(depth.kernel, depth.depth)) == [("nngp", 1), ("nngp", 2), ("ntk", 1),
                                                      ("ntk", 2)]
    # the test accuracy is the kernel regression at the validation-chosen configuration
    row = depth[(depth.kernel == "ntk") & (depth.depth == 2)].iloc[0]
    k = kernels.relu_fc_kernels(train.x, None, [2], 2.0, row.bias_var)[2]["ntk"]
    kt = kernels.relu_fc_kernels(test.x, train.x, [2], 2.0, row.bias_var)[2]["ntk"]
    pred = kernels.kernel_regression(k, kt, train.t, row.diag_reg)
    assert row.test_acc == np.mean(pred.argmax(1) == test.y)


def _acc(rows=None):
    sizes = [100, 1000, 10000]
    base = {"nngp": [0.80, 0.93, 0.977], "ntk": [0.79, 0.92, 0.975]}
    rows = rows or [{"dataset": d, "kernel": k, "n": n, "test_acc": a}
                    for d in ("mnist", "fashion_mnist") for k in exp.KINDS
                    for n, a in zip(sizes, base[k])]
    return pd.DataFrame(rows)


def _pairs(diffs, ses=(0.004, 0.004, 0.004)):
    return pd.DataFrame([{"dataset": d, "n": n, "diff": x, "se": s}
                         for d in ("mnist", "fashion_mnist")
                         for n, x, s in zip([100, 1000, 10000], diffs, ses)])


def test_accuracy_claims_and_records():
    acc = _acc()
    rec = exp.accuracy_records(acc)
    assert rec["nngp_acc_mnist_n100"] == 0.80 and rec["ntk_acc_fashion_n10000"] == 0.975
    pairs = _pairs([0.01, 0.01, 0.002])
    assert exp.accuracy_records(acc, pairs)["nngp_minus_ntk_fashion_n1000"] == 0.01
    assert exp.CLAIMS["lee18_nngp_mnist_1000"].evaluate(acc) == ("0.9300", True)
    assert exp.CLAIMS["lee18_nngp_mnist_10000"].evaluate(acc)[1] is True
    assert exp.CLAIMS["more_data_mnist"].evaluate(acc) == (
        "NNGP 0.800 -> 0.977, NTK 0.790 -> 0.975 (n 100 -> 10000)", True)
    # NNGP ahead at 3/3 sizes, beyond 2 s.e. at two of them
    assert exp.CLAIMS["nngp_vs_ntk_fashion"].evaluate(pairs) == (
        "NNGP - NTK +0.0100, +0.0100, +0.0020 (n 100 -> 10000): NNGP ahead at 3/3 sizes; "
        "beyond 2 paired s.e.: NNGP 2, NTK 0", True)
    # ahead at the largest n only (the old criterion's reading) is not a majority
    assert exp.CLAIMS["nngp_vs_ntk_mnist"].evaluate(_pairs([-0.01, -0.001, 0.002]))[1] is False
    # a majority, but NTK's wins are the significant ones
    assert exp.CLAIMS["nngp_vs_ntk_mnist"].evaluate(_pairs([-0.02, 0.001, 0.002]))[1] is False
    assert exp.CLAIMS["nngp_vs_ntk_mnist"].history  # judged at every n since issue 16: disclosed
    # a drop beyond the slack, a published number missed
    worse = acc.copy()
    worse.loc[(worse.dataset == "mnist") & (worse.kernel == "nngp") & (worse.n == 1000),
              "test_acc"] = 0.99
    assert exp.CLAIMS["more_data_mnist"].evaluate(worse)[1] is False
    assert exp.CLAIMS["lee18_nngp_mnist_1000"].evaluate(worse) == ("0.9900", False)
    # a size the profile does not run, a data set not in DATASETS: inconclusive
    small = acc[acc.n < 1000]
    assert exp.CLAIMS["lee18_nngp_mnist_1000"].evaluate(small)[1] is None
    assert exp.CLAIMS["more_data_fashion"].evaluate(acc[acc.dataset == "mnist"])[1] is None
    assert exp.CLAIMS["nngp_vs_ntk_fashion"].evaluate(pairs[pairs.dataset == "mnist"])[1] is None
    table = exp.published_table(acc)
    assert table.loc[1000, "nngp (ours)"] == 0.93 and np.isnan(table.loc[100, "nngp_lee2018"])


def test_accuracy_vs_n_pairs_the_kernels_on_the_test_points(monkeypatch):
    train_pool, test = _split(40, seed=1), _split(15, seed=3)
    configs = {k: {"depth": 1, "weight_var": 2.0, "bias_var": 0.05, "diag_reg": 1e-3}
               for k in exp.KINDS}
    monkeypatch.setattr(exp, "load_split", lambda name, split, n, seed: exp.Split(
        train_pool.x[:n], train_pool.y[:n], train_pool.t[:n], {"n": n}))
    acc, pairs = exp.accuracy_vs_n_dataset("mnist", configs, [20, 40], test, 0)
    assert list(pairs.n) == [20, 40]
    for n in (20, 40):
        a = acc[acc.n == n].set_index("kernel").test_acc
        row = pairs[pairs.n == n].iloc[0]
        assert row["diff"] == pytest.approx(a["nngp"] - a["ntk"])
        k = kernels.relu_fc_kernels(train_pool.x[:n], None, [1], 2.0, 0.05)[1]
        kt = kernels.relu_fc_kernels(test.x, train_pool.x[:n], [1], 2.0, 0.05)[1]
        c = {kind: kernels.kernel_regression(k[kind], kt[kind], train_pool.t[:n], 1e-3)
             .argmax(1) == test.y for kind in exp.KINDS}
        d = c["nngp"].astype(float) - c["ntk"]
        assert row.se == pytest.approx(np.std(d, ddof=1) / np.sqrt(len(d)))


def test_checks_and_claims_are_declared_apart():
    checks = {k for k, c in exp.CLAIMS.items() if c.kind == "check"}
    assert checks == {"more_data_mnist", "more_data_fashion"}
    assert len(exp.CLAIMS) == 6
    # what moved to notebook 07 (issue 16) is gone from here
    assert not {"zca_helps", "float64_needed", "wider_is_better", "ensembles_closer"} & set(
        exp.CLAIMS)


def test_figures_draw_from_the_tables():
    acc = _acc()
    depth = acc.assign(depth=acc.n.map({100: 1, 1000: 2, 10000: 3}))
    figs = [exp.plot_accuracy_vs_n(acc, "MNIST, profile test"),
            exp.plot_depth(depth, 1000, "MNIST, profile test")]
    for fig in figs:
        assert "profile test" in fig.get_suptitle() + " ".join(a.get_title() for a in fig.axes)
        plt.close(fig)
    assert exp.data_title(["mnist", "fashion_mnist"]) == "MNIST and Fashion-MNIST"
