"""The driver of notebook 04 (ntkpaper.experiments.nb04_ntk_alignment): its computations on tiny
problems, the tables and ledgers it derives, its figures and the criteria of its claims."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ntkpaper import data  # noqa: E402
from ntkpaper.experiments import nb04_ntk_alignment as exp  # noqa: E402


def _classes(n=24, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    x = rng.normal(size=(n, d)).astype(np.float32) + 2 * np.eye(k, d)[labels]
    return x.astype(np.float32), labels


@pytest.fixture(scope="module")
def spectrum():
    x, y = data.regression_task(20, seed=0)
    return exp.compute_spectrum_alignment(x, y, width=8, depth=1, lr=1e-2, steps=8, record=3,
                                          decay_at=3, seeds=2)


@pytest.fixture(scope="module")
def labels_run():
    x, labels = _classes()
    x_te, labels_te = _classes(seed=1)
    return exp.compute_label_alignment(x, labels, x_te, labels_te, 3, [0.0, 1.0], width=8,
                                       depth=2, lr=1e-2, steps=6, record=3, probe=12, seeds=2)


def test_spectrum_runs_agree_until_the_decay_and_record_loss(spectrum):
    spec, spectra = spectrum
    table = exp.spectrum_table(spec)
    c, d = table.loc["constant lr"], table.loc["lr decay"]
    assert 3 in c.index and list(c.index) == list(d.index) == sorted(spectra["constant lr"])
    # same seed, same rate before the decay step: identical kernels up to it, different after
    pd.testing.assert_frame_equal(c.loc[:3], d.loc[:3])
    assert c.top_eigenvalue.iloc[-1] != d.top_eigenvalue.iloc[-1]
    assert all(s.shape == (20,) for s in spectra["lr decay"].values())
    assert np.all(c.loss > 0) and c.loss.iloc[-1] < c.loss.iloc[0]
    summary = exp.spectrum_summary(spec, 3)
    assert list(summary.columns) == exp.SPECTRUM_COLUMNS
    assert summary.index.get_level_values("step").tolist() == [0, 3, 8] * 2
    ledger = exp.spectrum_ledger(summary)
    assert len(ledger) == 18
    assert ledger["top_eigenvalue_lr_decay_step8"] == d.top_eigenvalue[8]


def test_label_alignment_adds_gap_and_path_complexity(labels_run):
    la = labels_run
    assert set(la.random_fraction) == {0.0, 1.0} and set(la.seed) == {0, 1}
    m = la[(la.layer == "all") & (la.random_fraction == 0.0) & (la.seed == 0)].pivot_table(
        index="step", columns="metric", values="value")
    np.testing.assert_allclose(m.gap, m.train_acc - m.test_acc)
    assert m.path_complexity.iloc[0] == 0 and np.all(np.diff(m.path_complexity) > 0)
    # per-layer rows for the three weight layers of a depth-2 MLP
    assert set(la.layer) == {"all", "1", "2", "3"}
    # Baratin et al.'s alignment per layer and whole; on corrupted examples only with some
    full = la[la.metric == "alignment_full"]
    assert set(full.layer) == {"all", "1", "2", "3"} and full.value.between(-1, 1).all()
    assert "alignment_full_corrupted" not in set(la[la.random_fraction == 0.0].metric)
    assert "alignment_full_test" in set(la.metric)
    summary = exp.label_summary(la)
    assert list(summary.columns) == exp.LABEL_COLUMNS
    ledger = exp.label_ledger(summary)
    assert ledger["gap_all_rand1_step6"] == pytest.approx(
        summary.loc[(1.0, 6), ("gap", "all")])
    assert len(ledger) == 4 * len(exp.LABEL_COLUMNS) - 2  # no corrupted examples at 0 random


def test_deep_nets_with_biases_have_the_stated_scales():
    params = exp.deep_init(0, 30, 400, 2, 10, sigma_w=1.5, sigma_b=0.3)
    assert [p.shape for p in params] == [(31, 400), (401, 400), (401, 10)]
    mults = exp.pz.multipliers(exp.pz.named("sp", 2), 400, 30)
    w_eff = [np.std(p[:-1]) * m * np.sqrt(p.shape[0] - 1) for p, m in zip(params, mults)]
    b_eff = [np.std(p[-1]) * m for p, m in zip(params, mults)]
    np.testing.assert_allclose(w_eff[:2], 1.5, rtol=0.05)  # sigma_w / sqrt(fan_in)
    np.testing.assert_allclose(b_eff[:2], 0.3, rtol=0.15)
    x = np.random.default_rng(0).normal(size=(5, 30)).astype(np.float32)
    assert exp.deep_forward(params, mults, x).shape == (5, 10)


def test_layer_hierarchy_rows_and_peaks():
    x, labels = _classes()
    hier = exp.compute_layer_hierarchy(x, labels, [0.5, 1.5], width=8, depth=2, lr=1e-2,
                                       steps=4, probe=12, seeds=2, depths=[1, 2],
                                       sigma_w_depths=1.5, n_classes=3)
    al = hier[hier.metric == "alignment_full"]
    assert set(al.step) == {0, 4} and set(al.seed) == {0, 1}
    assert sorted(al[al.depth == 2].layer.unique()) == [1, 2, 3]
    # configurations: both sigma_w at depth 2, and depth 1 at sigma_w 1.5 (depth 2 not twice)
    configs = set(zip(al.sigma_w, al.depth))
    assert configs == {(0.5, 2), (1.5, 2), (1.5, 1)}
    assert len(hier[hier.metric == "loss"]) == 3 * 2
    a0 = al[(al.step == 0) & (al.depth == 2)].groupby("sigma_w").value.mean()
    assert a0[0.5] != a0[1.5]  # the weight scale changes the network at initialisation
    peaks = exp.hierarchy_peaks(hier)
    assert set(peaks.index) == configs and (peaks.n_seeds == 2).all()
    assert {"peak_layer_sigma0.5_depth2", "margin_se_sigma1.5_depth1"} <= set(
        exp.hierarchy_ledger(peaks))


def test_hierarchy_peaks_take_the_seed_mean_and_the_margin_over_the_ends():
    rows = [{"sigma_w": 1.0, "depth": 2, "seed": s, "step": st, "layer": layer,
             "metric": "alignment_full", "value": v}
            for st in (0, 10) for s, vals in enumerate(([.1, .9, .3], [.5, .6, .4]))
            for layer, v in zip((1, 2, 3), vals if st == 10 else (1.0, 0.0, 0.0))]
    rows += [{"sigma_w": 1.0, "depth": 2, "seed": s, "step": 10, "layer": 0, "metric": "loss",
              "value": v} for s, v in enumerate((0.2, 0.4))]
    peaks = exp.hierarchy_peaks(pd.DataFrame(rows))
    # seed means at step 10: 0.3, 0.75, 0.35 -> layer 2 (step 0 would give layer 1); margins
    # over the larger end per seed: 0.9 - 0.3 = 0.6 and 0.6 - 0.5 = 0.1
    r = peaks.loc[(1.0, 2)]
    assert r.peak_layer == 2 and r.peak_alignment == pytest.approx(0.75)
    assert r.margin == pytest.approx(0.35) and r.margin_se == pytest.approx(0.25)
    assert r.final_loss == pytest.approx(0.3)


def _width_frame():
    rows = []
    for name, a in (("ntp", -0.5), ("mup", 0.0)):
        for w in (16, 64, 256):
            for seed, noise in enumerate((0.9, 1.1)):
                for metric, v in (("rel_change_from_init", w ** a), ("distance_from_init",
                                                                     2 * w ** (2 * a)),
                                  ("alignment", 0.5), ("alignment_init", 0.3)):
                    rows.append({"parametrization": name, "width": w, "seed": seed,
                                 "metric": metric, "value": v * noise})
    return pd.DataFrame(rows)


def test_width_slopes_and_ledger():
    wid = _width_frame()
    slopes = exp.width_slopes(wid)
    assert list(slopes.index) == ["ntp", "mup"]
    np.testing.assert_allclose(slopes.loc["ntp"], [-0.5, -1.0], atol=1e-12)
    np.testing.assert_allclose(slopes.loc["mup"], [0.0, 0.0], atol=1e-12)
    ledger = exp.width_ledger(wid)
    assert list(ledger)[:3] == ["slope_rel_change_from_init_ntp", "slope_distance_from_init_ntp",
                                "alignment_ntp_w16"]
    assert ledger["alignment_mup_w256"] == pytest.approx(0.5)


def test_width_study_rows():
    x, labels = _classes(n=16)
    wid = exp.compute_width_study(x, exp.targets(labels, 3), ["ntp", "mup"], [8], depth=1,
                                  lr=0.5, steps=3, probe=8)
    assert len(wid) == 2 * 4 and list(wid.parametrization.unique()) == ["ntp", "mup"]
    moved = wid[wid.metric == "rel_change_from_init"].value
    assert np.all(moved > 0)


def test_plots_return_figures(spectrum, labels_run):
    spec, spectra = spectrum
    hier = pd.DataFrame([{"sigma_w": sw, "depth": L, "seed": 0, "step": st, "layer": layer,
                          "metric": "alignment_full", "value": 0.1 * layer + sw}
                         for sw, L in ((0.7, 2), (1.5, 2), (1.5, 4)) for st in (0, 5)
                         for layer in range(1, L + 2)])
    figs = [exp.plot_spectrum_alignment(spec, spectra, 3, "toy"),
            exp.plot_label_alignment(labels_run, "toy"),
            exp.plot_layer_hierarchy(hier, 2, 1.5, "toy"),
            exp.plot_width(_width_frame(), 200, "toy")]
    assert [len(f.axes) for f in figs] == [3, 6, 3, 2]
    assert figs[3].axes[0].get_legend().get_texts()[0].get_text() == "NTP (slope -0.50)"
    for f in figs:
        plt.close(f)


# ---------------------------------------------------------------------------------------------
# claims

def _spec(target10, output50, lam_constant, lam_decay, residual10=(0.5, 0.3, 0.1),
          steps=(0, 10, 100), seeds=2):
    """Spectrum rows: seed s adds 0.01 s to every energy (per-seed values differ a little)."""
    rows = []
    for seed in range(seeds):
        for run, lam in (("constant lr", lam_constant), ("lr decay", lam_decay)):
            for i, st in enumerate(steps):
                for metric, v in (("energy_target_top10", target10[i] + 0.01 * seed),
                                  ("energy_output_top50", output50[i] - 0.01 * seed),
                                  ("energy_residual_top10", residual10[i] + 0.01 * seed),
                                  ("top_eigenvalue", lam[i]), ("loss", 1.0 / (1 + st))):
                    rows.append({"run": run, "seed": seed, "step": st, "layer": "all",
                                 "metric": metric, "value": v})
    return pd.DataFrame(rows)


def _labels(rise, clean_minus_corrupt, complexity, gap, seeds=3):
    """Label-study rows: full alignment 0.02 at step 0 and 0.02 + rise[f] + 0.001 seed at the
    end; clean / corrupted / test subsets; complexity and gap at the end."""
    rows = []
    for frac in rise:
        for seed in range(seeds):
            jitter = 0.001 * seed
            for st, full, clean, test in ((0, 0.02, 0.03, 0.01),
                                          (50, 0.02 + rise[frac] + jitter,
                                           0.03 + clean_minus_corrupt + jitter,
                                           0.01 + rise[0.0] / 2 + jitter)):
                rows += [{"random_fraction": frac, "seed": seed, "step": st, "layer": "all",
                          "metric": m, "value": v}
                         for m, v in (("alignment_full", full), ("alignment_full_test", test),
                                      ("alignment_full_clean", clean),
                                      ("alignment_full_corrupted", 0.03))]
            rows += [{"random_fraction": frac, "seed": seed, "step": 50, "layer": "all",
                      "metric": m, "value": v[frac]}
                     for m, v in (("path_complexity", complexity), ("gap", gap))]
    return pd.DataFrame(rows)


def test_spectrum_claims_can_hold_and_fail():
    c = exp.CLAIMS
    good = _spec([0.3, 0.5, 0.4], [1.0, 0.99, 0.97], [1, 2, 4], [1, 2, 2.5])
    bad = _spec([0.3, 0.5, 0.33], [1.0, 0.99, 0.9], [1, 2, 4], [1, 2, 3.8], (0.5, 0.4, 0.3))
    measured, holds = c["target_energy_grows"].evaluate(good)
    assert holds and measured.startswith("0.305 at step 0 -> 0.405 at step 100 (seed means; "
                                         "rise per seed +0.100, +0.100")
    assert c["target_energy_grows"].evaluate(bad)[1] is False
    measured, holds = c["output_in_top_span"].evaluate(good, n=500)
    assert holds and measured == ("share in the top 50 (of 500): min 0.960 over steps >= 1 "
                                  "and 2 seeds")
    assert c["output_in_top_span"].evaluate(bad, n=500)[1] is False
    measured, holds = c["residual_leaves_top_space"].evaluate(good)
    assert holds and "ratio per seed 0.20, 0.22" in measured
    assert c["residual_leaves_top_space"].evaluate(bad)[1] is False
    measured, holds = c["lr_decay_changes_spectrum"].evaluate(good, decay_at=10)
    assert holds and measured == ("lambda_1 from step 10 to 100: constant lr 2 -> 4, "
                                  "decayed 2 -> 2.5")
    assert c["lr_decay_changes_spectrum"].evaluate(bad, decay_at=10)[1] is False


def test_label_claims_can_hold_and_fail():
    c = exp.CLAIMS
    fr = (0.0, 0.5, 1.0)
    good = _labels(dict(zip(fr, (0.02, 0.01, 0.0))), 0.01, dict(zip(fr, (5.0, 7.0, 9.0))),
                   dict(zip(fr, (0.1, 0.3, 0.5))))
    bad = _labels(dict(zip(fr, (0.0, 0.01, 0.02))), -0.01, dict(zip(fr, (9.0, 7.0, 8.0))),
                  dict(zip(fr, (0.1, 0.3, 0.5))))
    measured, holds = c["tangent_alignment_rises"].evaluate(good)
    assert holds and measured == "0.0200 -> 0.0410 (rise +0.0210 +- 0.0006 over 3 seeds)"
    assert c["tangent_alignment_rises"].evaluate(bad)[1] is False
    measured, holds = c["true_labels_align_more"].evaluate(good)
    assert holds and measured.endswith("0 minus 1 random: +0.0200 +- 0.0000 (paired by seed)")
    assert c["true_labels_align_more"].evaluate(bad)[1] is False
    measured, holds = c["clean_examples_align_more"].evaluate(good)
    assert holds and measured.startswith("0.5 random: clean 0.0300 -> 0.0410, corrupted 0.0300 "
                                         "-> 0.0300 (rise clean - rise corrupted +0.0110")
    assert c["clean_examples_align_more"].evaluate(bad)[1] is False
    assert c["test_alignment_rises"].evaluate(good)[1] is True
    assert c["test_alignment_rises"].evaluate(bad)[1] is False
    measured, holds = c["complexity_ranks_gap"].evaluate(good)
    assert holds and measured.endswith("Spearman 1.00")
    assert c["complexity_ranks_gap"].evaluate(bad)[1] is False
    two = good[good.random_fraction < 1]
    assert c["complexity_ranks_gap"].evaluate(two)[1] is None  # too few shares to rank


def test_hierarchy_and_width_claims_can_hold_and_fail():
    c = exp.CLAIMS

    def peaks(layers, margins=(0.02, 0.02, 0.02), se=0.005):
        idx = pd.MultiIndex.from_product([[0.7, 1.0, 1.5], [12]], names=["sigma_w", "depth"])
        return pd.DataFrame({"peak_layer": layers, "peak_alignment": 0.5, "margin": margins,
                             "margin_se": se, "n_seeds": 4, "final_loss": 0.1}, index=idx)

    measured, holds = c["hierarchy_peak_inside"].evaluate(peaks([10, 10, 9]), depth=12)
    assert holds and measured.startswith("sigma_w=0.7: layer 10 of 13, +0.0200 +- 0.0050 above")
    assert c["hierarchy_peak_inside"].evaluate(peaks([10, 13, 9]), depth=12)[1] is False
    assert c["hierarchy_peak_inside"].evaluate(peaks([10, 10, 9], (0.02, 0.005, 0.02)),
                                               depth=12)[1] is False  # a plateau
    assert c["peak_moves_with_init"].evaluate(peaks([10, 10, 9]), depth=12) == (
        "peak layers [10, 10, 9] for sigma_w [0.7, 1.0, 1.5] (ordered -> chaotic: -1 layers)",
        False)
    assert c["peak_moves_with_init"].evaluate(peaks([10, 9, 8]), depth=12)[1] is True
    assert c["ntp_kernel_freezes"].evaluate(-0.75) == ("slope -0.75", True)
    assert c["ntp_kernel_freezes"].evaluate(-0.2)[1] is False
    assert c["mup_kernel_moves"].evaluate(0.19) == ("slope 0.19", True)
    assert c["mup_kernel_moves"].evaluate(-0.15)[1] is False


def test_every_claim_has_a_source_and_is_stated_in_the_notebook():
    text = (Path(__file__).parents[2] / "notebooks" / "04_ntk_alignment.py").read_text()
    assert [cid for cid in exp.CLAIMS if f'"{cid}"' not in text] == []
    for claim in exp.CLAIMS.values():
        assert claim.source.strip() and claim.criterion.strip()
        assert (claim.kind == "check") == (claim.id == "lr_decay_changes_spectrum")


def test_equilibrium_claims_on_hand_made_tables():
    idx = pd.MultiIndex.from_tuples([("relu", 1.41, 8), ("relu", 1.41, 16), ("relu", 1.41, 32)],
                                    names=["activation", "sigma_w", "depth"])
    table = pd.DataFrame({"predicted_layer": [4, 6, 10], "mean_field_layer": [4, 7, 12],
                          "peak_layer": [5, 8, 12]}, index=idx)
    assert exp.eh_tolerance(8) == 2 and exp.eh_tolerance(32) == 5
    text, ok = exp.CLAIMS["eh_predicts_peak"].evaluate(table)
    assert ok is True and "predicted 10, measured 12 of 33 (within 5)" in text
    text, ok = exp.CLAIMS["peak_scales_like_l35"].evaluate(table)
    slope = np.polyfit(np.log([8, 16, 32]), np.log([5, 8, 12]), 1)[0]
    assert ok is True and f"slope {slope:.2f}" in text
    far = table.assign(peak_layer=[9, 17, 33])  # the readout every time: slope ~0.9
    assert exp.CLAIMS["eh_predicts_peak"].evaluate(far)[1] is False
    assert exp.CLAIMS["peak_scales_like_l35"].evaluate(far)[1] is False
    assert exp.CLAIMS["peak_scales_like_l35"].evaluate(table.iloc[:2])[1] is None
