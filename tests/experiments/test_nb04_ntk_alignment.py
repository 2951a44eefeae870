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
                                          decay_at=3)


@pytest.fixture(scope="module")
def labels_run():
    x, labels = _classes()
    x_te, labels_te = _classes(seed=1)
    return exp.compute_label_alignment(x, labels, x_te, labels_te, 3, [0.0, 1.0], width=8,
                                       depth=2, lr=1e-2, steps=6, record=3, probe=12)


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
    assert set(la.random_fraction) == {0.0, 1.0}
    m = la[(la.layer == "all") & (la.random_fraction == 0.0)].pivot_table(
        index="step", columns="metric", values="value")
    np.testing.assert_allclose(m.gap, m.train_acc - m.test_acc)
    assert m.path_complexity.iloc[0] == 0 and np.all(np.diff(m.path_complexity) > 0)
    # per-layer rows for the three weight layers of a depth-2 MLP
    assert set(la.layer) == {"all", "1", "2", "3"}
    summary = exp.label_summary(la)
    assert list(summary.columns) == exp.LABEL_COLUMNS
    ledger = exp.label_ledger(summary)
    assert ledger["gap_all_rand1_step6"] == pytest.approx(
        summary.loc[(1.0, 6), ("gap", "all")])
    assert len(ledger) == 4 * len(exp.LABEL_COLUMNS)


def test_layer_hierarchy_rows_and_peaks():
    x, labels = _classes()
    hier = exp.compute_layer_hierarchy(x, exp.targets(labels, 3), [0.5, 1.5], width=8, depth=2,
                                       lr=1e-2, steps=4, probe=12)
    al = hier[hier.metric == "alignment"]
    assert sorted(al.layer.unique()) == [1, 2, 3] and set(al.step) == {0, 4}
    assert len(al) == 2 * 2 * 3 and len(hier[hier.metric == "loss"]) == 2
    # the weight scale changes the network: different kernels at initialisation
    a0 = al[al.step == 0].groupby("sigma_w").value.mean()
    assert a0[0.5] != a0[1.5]
    peaks = exp.hierarchy_peaks(hier)
    assert list(peaks.index) == [0.5, 1.5]
    assert set(exp.hierarchy_ledger(peaks)) == {f"{c}_sigma{s}" for s in ("0.5", "1.5") for c in
                                                ("peak_layer", "peak_alignment", "final_loss")}


def test_hierarchy_peaks_take_the_seed_mean_after_training():
    rows = [{"sigma_w": 1.0, "seed": s, "step": st, "layer": layer, "metric": "alignment",
             "value": v} for st in (0, 10) for s, vals in enumerate(([.1, .9, .3], [.5, .2, .4]))
            for layer, v in zip((1, 2, 3), vals if st == 10 else (1.0, 0.0, 0.0))]
    rows += [{"sigma_w": 1.0, "seed": s, "step": 10, "layer": 0, "metric": "loss", "value": v}
             for s, v in enumerate((0.2, 0.4))]
    peaks = exp.hierarchy_peaks(pd.DataFrame(rows))
    # seed means at step 10: 0.3, 0.55, 0.35 -> layer 2 (step 0 would give layer 1)
    assert peaks.loc[1.0, "peak_layer"] == 2
    assert peaks.loc[1.0, "peak_alignment"] == pytest.approx(0.55)
    assert peaks.loc[1.0, "final_loss"] == pytest.approx(0.3)


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
    hier = pd.DataFrame([{"sigma_w": sw, "seed": 0, "step": st, "layer": layer,
                          "metric": "alignment", "value": 0.1 * layer + sw}
                         for sw in (0.7, 1.5) for st in (0, 5) for layer in (1, 2, 3)])
    figs = [exp.plot_spectrum_alignment(spec, spectra, 3, "toy"),
            exp.plot_label_alignment(labels_run, "toy"), exp.plot_layer_hierarchy(hier, "toy"),
            exp.plot_width(_width_frame(), 200, "toy")]
    assert [len(f.axes) for f in figs] == [3, 4, 2, 2]
    assert figs[3].axes[0].get_legend().get_texts()[0].get_text() == "NTP (slope -0.50)"
    for f in figs:
        plt.close(f)


# ---------------------------------------------------------------------------------------------
# claims

def _spec(target10, output50, lam_constant, lam_decay, steps=(0, 10, 100)):
    rows = []
    for run, lam in (("constant lr", lam_constant), ("lr decay", lam_decay)):
        for i, st in enumerate(steps):
            for metric, v in (("energy_target_top10", target10[i]),
                              ("energy_output_top50", output50[i]), ("top_eigenvalue", lam[i])):
                rows.append({"run": run, "step": st, "layer": "all", "metric": metric,
                             "value": v})
    return pd.DataFrame(rows)


def _labels(align0, align_end, per_layer, complexity, gap):
    rows = []
    for frac in (0.0, 0.5):
        rows += [{"random_fraction": frac, "step": st, "layer": "all", "metric": "alignment",
                  "value": v} for st, v in ((0, align0[frac]), (50, align_end[frac]))]
        rows += [{"random_fraction": frac, "step": 50, "layer": "all", "metric": m,
                  "value": v[frac]} for m, v in (("path_complexity", complexity), ("gap", gap))]
    rows += [{"random_fraction": 0.0, "step": 50, "layer": str(i + 1), "metric": "alignment",
              "value": v} for i, v in enumerate(per_layer)]
    return pd.DataFrame(rows)


def test_spectrum_claims_can_hold_and_fail():
    c = exp.CLAIMS
    good = _spec([0.3, 0.5, 0.4], [1.0, 0.99, 0.96], [1, 2, 4], [1, 2, 2.5])
    bad = _spec([0.3, 0.5, 0.33], [1.0, 0.99, 0.9], [1, 2, 4], [1, 2, 3.8])
    measured, holds = c["target_energy_grows"].evaluate(good)
    assert holds and measured == ("0.300 at step 0 -> 0.400 at step 100 (max 0.500; "
                                  "with lr decay 0.400)")
    assert c["target_energy_grows"].evaluate(bad)[1] is False
    measured, holds = c["output_in_top_span"].evaluate(good, n=500)
    assert holds and measured == "share in the top 50 (of 500): min 0.960 over steps >= 1"
    assert c["output_in_top_span"].evaluate(bad, n=500)[1] is False
    measured, holds = c["lr_decay_changes_spectrum"].evaluate(good, decay_at=10)
    assert holds and measured == ("lambda_1 from step 10 to 100: constant lr 2 -> 4, "
                                  "decayed 2 -> 2.5")
    assert c["lr_decay_changes_spectrum"].evaluate(bad, decay_at=10)[1] is False


def test_label_claims_can_hold_and_fail():
    c = exp.CLAIMS
    good = _labels({0.0: 0.3, 0.5: 0.1}, {0.0: 0.5, 0.5: 0.15}, [0.2, 0.3, 0.5],
                   {0.0: 5.0, 0.5: 9.0}, {0.0: 0.1, 0.5: 0.5})
    bad = _labels({0.0: 0.3, 0.5: 0.1}, {0.0: 0.25, 0.5: 0.15}, [0.4, 0.45, 0.47],
                  {0.0: 9.0, 0.5: 5.0}, {0.0: 0.1, 0.5: 0.5})
    assert c["alignment_rises"].evaluate(good) == ("0.300 -> 0.500", True)
    assert c["alignment_rises"].evaluate(bad)[1] is False
    assert c["alignment_true_vs_random"].evaluate(good) == (
        "rise 0 random: +0.200, 0.5 random: +0.050", True)
    assert c["alignment_true_vs_random"].evaluate(bad)[1] is False
    assert c["layers_differ"].evaluate(good) == (
        "layer 1: 0.200, layer 2: 0.300, layer 3: 0.500", True)
    assert c["layers_differ"].evaluate(bad)[1] is False
    assert c["complexity_tracks_gap"].evaluate(good) == (
        "0 random: complexity 5, gap 0.100; 0.5 random: complexity 9, gap 0.500", True)
    assert c["complexity_tracks_gap"].evaluate(bad)[1] is False


def test_hierarchy_and_width_claims_can_hold_and_fail():
    c = exp.CLAIMS

    def peaks(layers):
        return pd.DataFrame({"peak_layer": layers, "peak_alignment": 0.5, "final_loss": 0.1},
                            index=pd.Index([0.7, 1.0, 1.5], name="sigma_w"))

    assert c["hierarchy_peak_inside"].evaluate(peaks([10, 10, 9]), depth=12) == (
        "sigma_w=0.7: layer 10, sigma_w=1: layer 10, sigma_w=1.5: layer 9", True)
    assert c["hierarchy_peak_inside"].evaluate(peaks([10, 13, 9]), depth=12)[1] is False
    assert c["hierarchy_peak_inside"].evaluate(peaks([1, 5, 9]), depth=12)[1] is False
    assert c["peak_moves_with_init"].evaluate(peaks([10, 10, 9])) == (
        "peak layers [10, 10, 9] for sigma_w [0.7, 1.0, 1.5] (ordered -> chaotic: -1 layers)",
        False)
    assert c["peak_moves_with_init"].evaluate(peaks([10, 9, 8]))[1] is True
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
