"""Notebook 02's drivers: feature movement, learning-rate sweeps, limit comparisons, claims."""

import jax
import numpy as np
import pandas as pd
import pytest

from ntkpaper import data, stats
from ntkpaper import parametrization as pz
from ntkpaper.experiments import nb02_mup_feature_learning as exp


def _data(n=8, d=16, k=4, seed=0):
    """Random inputs standardised like the notebook's images (squared norm d), random targets."""
    rng = np.random.default_rng(seed)
    return data.standardize_per_example(rng.normal(size=(n, d))), rng.normal(size=(n, k))


def test_sweep_equals_single_runs():
    x, y = _data()
    abc = pz.named("mup", 2)
    sweep = exp.compute_lr_sweep(abc, [32], [0.1, 0.4], x, y, steps=5, optimizer="adam")
    p0 = pz.init(jax.random.PRNGKey(0), abc, x.shape[1], 32, y.shape[1])
    for eta, loss in zip(sweep.eta, sweep.loss):
        single = float(pz.train(p0, abc, x, y, eta, 5, optimizer="adam")[1][-1])
        assert loss == pytest.approx(single, rel=1e-4)
    assert sweep.loss.iloc[0] != pytest.approx(sweep.loss.iloc[1], rel=1e-3)


def test_lr_transfer_sweeps_every_grid_in_order_and_marks_divergence():
    x, y = _data()
    grids = {"sgd": {"sp": [-2, 8]}, "adam": {"mup": [-3, -1]}}
    sweep = exp.compute_lr_transfer(x, y, 2, [16], grids, steps=3, seeds=1)
    assert list(zip(sweep.optimizer, sweep.parametrization, sweep.eta)) == [
        ("sgd", "sp", 0.25), ("sgd", "sp", 256.0), ("adam", "mup", 0.125), ("adam", "mup", 0.5)]
    assert np.all(np.isfinite(sweep.loss))  # the ReLUs die at lr 256: a finite loss
    linear = exp.compute_lr_sweep(pz.named("sp", 2), [16], [0.25, 256.0], x, y, 3,
                                  activation="identity")
    assert np.isfinite(linear.loss.iloc[0]) and np.isnan(linear.loss.iloc[1])  # diverged


def test_best_learning_rates_flags_grid_edges_and_shift():
    grids = {"sgd": {"sp": [-3, -2, -1], "mup": [0, 1, 2]}}
    rows = []
    for width, (sp_loss, mup_loss) in {64: ([0.3, 0.1, 0.2], [0.5, 0.1, 0.4]),
                                       1024: ([0.1, 0.2, np.nan], [0.6, 0.2, 0.3])}.items():
        for name, losses, grid in (("sp", sp_loss, grids["sgd"]["sp"]),
                                   ("mup", mup_loss, grids["sgd"]["mup"])):
            rows += [{"optimizer": "sgd", "parametrization": name, "width": width,
                      "eta": 2.0**k, "seed": 0, "loss": v} for k, v in zip(grid, losses)]
    best = exp.best_learning_rates(pd.DataFrame(rows), grids)
    got = best.set_index(["parametrization", "width"])
    assert got.log2_eta.to_dict() == {("mup", 64): 1, ("mup", 1024): 1, ("sp", 64): -2,
                                      ("sp", 1024): -3}
    assert got.on_edge.to_dict() == {("mup", 64): False, ("mup", 1024): False,
                                     ("sp", 64): False, ("sp", 1024): True}
    shift, edge, text = exp.lr_shift(best, [64, 1024], "sgd", "sp")
    assert (shift, edge) == (-1, True) and text.endswith("a bound)")
    assert exp.CLAIMS["lr_drift_sp_sgd"].evaluate(best, [64, 1024])[1] is True
    assert exp.CLAIMS["lr_transfer_mup_sgd"].evaluate(best, [64, 1024]) == (
        "log2 eta* moves by +0 from width 64 to 1024", True)
    assert exp.best_ledger(best)["best_log2_eta_sgd_sp_w1024"] == -3


def test_coord_slopes_are_power_law_slopes_per_parametrization_and_layer():
    x, y = _data()
    coord = exp.compute_coord_check(x, y, 2, [128, 2048], 0.05, 1, 2, names=("ntp", "mup"))
    slopes = exp.coord_slopes(coord)
    assert set(slopes.index) == {(nm, layer) for nm in ("ntp", "mup")
                                 for layer in ("1", "2", "out")}
    g = coord[(coord.parametrization == "ntp") & (coord.layer == "2")].groupby("width").dh.mean()
    assert slopes[("ntp", "2")] == stats.fit_power_law(g.index, g.to_numpy())[0]
    assert -0.65 < slopes[("ntp", "2")] < -0.35 and abs(slopes[("mup", "2")]) < 0.15
    ledger = exp.coord_ledger(slopes)
    assert ledger["coord_slope_ntp_layer2"] == slopes[("ntp", "2")] and len(ledger) == 6
    assert exp.CLAIMS["coord_ntp"].evaluate(slopes, 2)[1] is True
    assert exp.CLAIMS["coord_mup"].evaluate(slopes, 2)[1] is True


def test_feature_movement_ntp_shrinks_and_mup_does_not():
    x, y = _data(n=16)
    fm = exp.compute_feature_movement(x, y, 2, [64, 1024], eta=0.5, steps=5, seeds=1,
                                      ntk_probe=4)
    assert set(fm.columns) >= {"parametrization", "width", "seed", "rel_change",
                               "ntk_rel_change", "final_loss"}
    slopes = exp.feature_slopes(fm)
    assert slopes.rel_change["ntp"] < -0.3 and slopes.rel_change["mup"] > -0.15, slopes
    assert slopes.ntk_rel_change["ntp"] < -0.25 and slopes.ntk_rel_change["mup"] > -0.15, slopes
    assert set(exp.feature_ledger(slopes)) == {"feature_slope_ntp", "feature_slope_mup",
                                               "ntk_change_slope_ntp", "ntk_change_slope_mup"}


def test_finite_linear_nets_approach_the_computed_limit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 6))
    y = x @ rng.normal(size=(6, 3)) / np.sqrt(6)
    xt = rng.normal(size=(5, 6))
    nets, limit = exp.compute_linear_limit_convergence(x, y, xt, [64, 1024], 0.3, 20, seeds=3)
    assert limit.shape == (5, 3)
    mean = nets.groupby("width").rel_dist.mean()
    assert mean[1024] < mean[64] / 2 and exp.linear_slope(nets) < -0.3
    summary = exp.compute_linear_limits(x, y, xt, np.array([0, 1, 2, 0, 1]), limit, 0.3, 20)
    assert summary["limit_G_A_rel_change"] > 0.01
    assert all(0 <= summary[k] <= 1 for k in ("acc_mup", "acc_ntk", "acc_nngp"))
    measured, holds = exp.CLAIMS["linear_limit_convergence"].evaluate(nets)
    assert "distance at width 1024" in measured and holds == (-0.75 <= exp.linear_slope(nets)
                                                               <= -0.25)


def test_relu_ntp_converges_to_ntk_and_mup_does_not():
    """Centred NTP ReLU nets approach NTK gradient flow like width^-1/2; muP nets stay away from
    it but agree more and more with a much wider muP net (the limit we do not compute)."""
    x, y = _data(n=16, d=16, k=2)
    xt, _ = _data(n=8, d=16, k=2, seed=1)
    df = exp.compute_relu_limits(x, y, xt, [128, 512, 2048], eta=0.5, steps=20, seeds=3,
                                 ref_width=16384, labels_test=np.array([0, 1] * 4))
    m = df.groupby(["parametrization", "width"])[["dist_ntk", "dist_ref"]].mean()
    ntp = m.loc["ntp"].dist_ntk
    s_ntp = np.polyfit(np.log(ntp.index), np.log(ntp.to_numpy()), 1)[0]
    assert -0.7 < s_ntp < -0.3, ntp.to_dict()
    mup = m.loc["mup"]
    assert mup.dist_ntk.min() > 3 * ntp.min(), m
    s_ref = np.polyfit(np.log(mup.index), np.log(mup.dist_ref.to_numpy()), 1)[0]
    assert s_ref < -0.3, mup.to_dict()
    assert exp.relu_slopes(df)["ntp_to_ntk"] == pytest.approx(s_ntp, abs=1e-12)
    acc = exp.relu_accuracies(df)
    assert {"ntk_limit_winf", "nngp_limit_winf", "mup_ref_w16384", "ntp_w128"} <= set(acc)
    assert exp.CLAIMS["relu_ntp_to_ntk"].evaluate(df)[1] is True


def test_claims_have_sources_criteria_and_can_fail():
    assert all(c.source and c.criterion for c in exp.CLAIMS.values())
    assert [c.id for c in exp.CLAIMS.values() if c.kind == "check"] == [
        "coord_sp", "coord_ntp", "coord_mup", "linear_limit_learns_features"]
    slopes = pd.Series({("sp", "2"): 0.9, ("ntp", "2"): -0.5, ("mup", "2"): 0.0})
    assert exp.CLAIMS["coord_sp"].evaluate(slopes, 2) == ("slope 0.90", False)
    fm = pd.DataFrame({"rel_change": [-0.2, -0.5], "ntk_rel_change": [-0.16, -0.2]},
                      index=["mup", "ntp"])
    assert exp.CLAIMS["features_ntp"].evaluate(fm) == ("slope -0.50", True)
    assert exp.CLAIMS["features_mup"].evaluate(fm) == ("slope -0.20", False)
    assert exp.CLAIMS["ntk_moves_mup"].evaluate(fm)[1] is False
    measured, holds = exp.CLAIMS["ntk_frozen_ntp"].evaluate(fm)
    assert holds is False and "width^-1/2" in measured and "O(1/width)" in measured
    assert exp.CLAIMS["linear_limit_learns_features"].evaluate(0.005)[1] is False
