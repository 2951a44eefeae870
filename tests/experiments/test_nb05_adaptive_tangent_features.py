"""Tests of notebook 05's driver (ntkpaper.experiments.nb05_adaptive_tangent_features)."""

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ntkpaper import alignment, entk, parametrization
from ntkpaper.experiments import nb05_adaptive_tangent_features as exp


def _curves(fixed: dict, adaptive: dict, seeds=(0,), gap: float = 0.0,
            noise: float = 0.0) -> pd.DataFrame:
    """A table like certified_curve's from ``{n: test error}`` per model, the same for every
    seed up to ``noise`` x seed; adaptive fits with objective gap ``gap``."""
    rows = [{"n": n, "seed": s, "model": m, "test_error": e + noise * s, "train_error": 0.0,
             "certificate": gap if m == "adaptive" else 1e-6}
            for s in seeds for m, errs in (("fixed", fixed), ("adaptive", adaptive))
            for n, e in errs.items()]
    return pd.DataFrame(rows)


def test_claims_are_declared_with_sources_and_checks_are_marked():
    ids = set(exp.CLAIMS)
    assert {"kernel_change_predicted", "alignment_rises_top", "alignment_rises_low",
            "adaptive_low_rank", "adaptive_beats_fixed_mnist",
            "order_of_magnitude_fashion_mnist", "network_beats_linearisation_mnist"} <= ids
    for c in exp.CLAIMS.values():
        assert c.criterion
        assert c.source.startswith("LeJeune & Alemohammad") or c.kind == "check"
    assert exp.CLAIMS["adaptive_low_rank"].kind == "check"
    assert {c.id for c in exp.CLAIMS.values() if c.kind == "check"} == {
        "adaptive_low_rank", "network_beats_linearisation_mnist",
        "network_beats_linearisation_fashion_mnist", "network_beats_linearisation_cifar10",
        "network_beats_linearisation_subspace"}


def test_matched_error_ratio_recovers_a_known_tenfold_shift():
    ns = [10, 100, 1000, 10000]
    fixed = {n: n ** -0.5 for n in ns}
    adaptive = {n: (10 * n) ** -0.5 for n in ns}  # the adaptive model at n = fixed at 10 n
    rt = exp.matched_error_ratio(_curves(fixed, adaptive))
    assert list(rt.n) == ns
    np.testing.assert_allclose(rt.ratio[:3], 10.0, rtol=1e-9)
    assert np.isnan(rt.ratio.iloc[3])  # 1e5 samples: beyond the fixed model's measured range
    sc = _curves(fixed, adaptive, seeds=(0, 1, 2))
    per_seed = exp.paired_ratio_intervals(sc)
    assert list(per_seed.seeds_matched) == [3, 3, 3, 0]
    np.testing.assert_allclose(per_seed.ratio_median[:3], 10.0, rtol=1e-9)
    measured, holds = exp.CLAIMS["order_of_magnitude_mnist"].evaluate(per_seed, sc)
    assert holds is True and measured.startswith("median over sizes of the seed-median ratio "
                                                 "10.00 (3 of 4 sizes matched")


def test_sample_complexity_verdicts_need_margins_and_optima():
    seeds = (0, 1, 2)
    better = _curves({10: 0.5, 30: 0.4}, {10: 0.4, 30: 0.3}, seeds, noise=0.001)
    measured, holds = exp.CLAIMS["adaptive_beats_fixed_mnist"].evaluate(better)
    assert holds is True and measured.startswith("fixed minus adaptive test error beyond 2 s.e. "
                                                 "at 2 of 2 sizes")
    mixed = _curves({10: 0.5, 30: 0.4}, {10: 0.4, 30: 0.45}, seeds)
    assert exp.CLAIMS["adaptive_beats_fixed_mnist"].evaluate(mixed)[1] is False
    # an adaptive fit whose two objectives disagree by more than 5% makes it inconclusive
    unfit = _curves({10: 0.5, 30: 0.4}, {10: 0.4, 30: 0.3}, seeds, gap=0.2)
    measured, holds = exp.CLAIMS["adaptive_beats_fixed_mnist"].evaluate(unfit)
    assert holds is None and "did not reach its optimum in 6 of 6 fits" in measured
    never = pd.DataFrame({"n": [10, 30], "ratio_median": [np.nan, np.nan],
                          "ratio_min": np.nan, "ratio_max": np.nan})
    measured, holds = exp.CLAIMS["order_of_magnitude_mnist"].evaluate(never, better)
    assert holds is False and "(0 of 2 sizes matched" in measured


def test_network_check_compares_with_the_linearisation_at_the_largest_size():
    rows = [{"n": n, "seed": s, "model": m, "test_error": e + 0.001 * s}
            for s in range(3) for n in (10, 100)
            for m, e in (("fixed", 0.3), ("network", 0.2 if n == 100 else 0.4))]
    measured, holds = exp.CLAIMS["network_beats_linearisation_mnist"].evaluate(pd.DataFrame(rows))
    assert holds is True and measured.startswith("n=100: fixed 0.301, network 0.201")


def test_rank_table_values_and_the_low_rank_check():
    eye, one = np.eye(4), np.outer(np.arange(1.0, 5.0), np.ones(3))
    fits = {"top": {"v_fixed": [eye, eye, one], "v_adaptive": [one, one, one],
                    "delta_w": [eye, one, one]}}
    ranks = exp.rank_table(fits, 0.9)
    assert len(ranks) == 9
    got = ranks.set_index(["model", "layer"])["rank"]
    assert got["fixed", 1] == 4 and got["adaptive", 1] == 1 and got["network", 2] == 1
    values = exp.rank_values(ranks)
    assert values["rank90_top_fixed_layer1"] == 4 and len(values) == 9
    assert exp.mean_hidden_ranks(ranks).to_dict() == {"adaptive": 1.0, "fixed": 4.0,
                                                      "network": 2.5}
    measured, holds = exp.CLAIMS["adaptive_low_rank"].evaluate(ranks)
    assert holds is True and "adaptive 1.0, fixed 4.0, network change 2.5" in measured


def test_eigen_targets_have_unit_rms_and_live_in_their_band():
    x = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    targets = exp.eigen_targets(x, 16, 1, {"top": [0, 3], "low": [10, 13]}, seed=0)
    abc = parametrization.named("ntp", 1)
    p0 = parametrization.init(jax.random.PRNGKey(0), abc, 2, 16, 1)
    _, v = alignment.spectrum(entk.mlp_layer_kernels(p0, abc, x).sum(0))
    for name, (i, j) in (("top", (0, 3)), ("low", (10, 13))):
        t = targets[name]
        assert t.shape == (30, 1) and t.dtype == np.float32
        assert np.sqrt(np.mean(t.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-5)
        inside = v[:, i:j] @ (v[:, i:j].T @ t)
        assert np.linalg.norm(inside) / np.linalg.norm(t) == pytest.approx(1.0, abs=1e-4)


def test_kernel_change_on_a_tiny_problem():
    x = np.random.default_rng(1).normal(size=(12, 2)).astype(np.float32)
    targets = exp.eigen_targets(x, 8, 1, {"top": [0, 2], "low": [5, 7]}, seed=0)
    kc, fits = exp.compute_kernel_change(x, targets, 8, 1, 1e-3, 3, 1e-2, seed=0)
    assert list(kc.kernel[:5]) == ["initial", "network", "adaptive", "change cosine",
                                   "projected change cosine"]
    assert (kc[kc.kernel == "initial"].rel_change == 0).all()
    assert (kc[kc.kernel.str.contains("cosine")].alignment.abs() <= 1 + 1e-9).all()
    assert kc.network_rel_loss.notna().all()
    values = exp.kernel_change_values(kc, fits)
    assert len(values) == 2 * 3 + 2 * 5 + 2 * 3  # losses, alignments, finite rel. changes
    assert {"kernel_top_change_cosine_alignment",
            "kernel_low_projected_change_cosine_alignment"} <= set(values)
    assert "reg_final_loss_low_adaptive" in values
    for fig in (exp.plot_kernel_change(kc, "toy, profile test"),
                exp.plot_singular_values(fits, "toy, profile test")):
        assert len(fig.axes) == 2
        plt.close(fig)


def test_certified_curve_on_a_tiny_problem():
    rng = np.random.default_rng(2)
    x, labels = rng.normal(size=(30, 5)).astype(np.float32), np.arange(30) % 3
    sc = exp.certified_curve(x, labels, x[20:], labels[20:], x[20:], labels[20:], [10, 20], 3,
                             8, 1, [1e-3, 1e-2], 4, 2, 1e-2, seeds=2)
    assert len(sc) == 2 * 2 * 3 and sc.test_error.between(0, 1).all()
    fixed = sc[sc.model == "fixed"]
    assert (fixed.certificate < 1e-3).all()  # the closed form is at its optimum
    assert set(fixed.lam) <= {1e-3, 1e-2}
    assert sc[sc.model == "network"].certificate.isna().all()
    sc["data"], sc["dataset"] = "Toy set", "toy"
    ratio = exp.paired_ratio_intervals(sc).assign(data="Toy set", dataset="toy")
    values = exp.sample_complexity_values(sc, ratio)
    assert {"test_error_toy_fixed_n10", "train_error_toy_network_n20",
            "certificate_toy_adaptive_n10", "lam_toy_fixed_n20"} <= set(values)
    fig = exp.plot_sample_complexity(sc, "MLP 1x8, profile test")
    assert fig.axes[0].get_title() == "Toy set, MLP 1x8, profile test"
    plt.close(fig)


def test_predict_refuses_an_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        exp.predict({"model": None}, "ridge", np.zeros((1, 2)))


def test_subspace_task_labels_follow_a_hidden_plane():
    x, lab, xv, lv, xt, lt = exp.subspace_task(400, 50, 60, 6, seed=3)
    assert x.shape == (400, 6) and x.dtype == np.float32 and lab.dtype == np.int64
    assert (len(xv), len(xt)) == (50, 60) and 0.4 < lab.mean() < 0.6
    u, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(6, 2)))  # the task's plane
    for xs, ls in ((x, lab), (xv, lv), (xt, lt)):
        z = xs @ u
        np.testing.assert_array_equal(ls, (z[:, 0] > 0) ^ (z[:, 1] > 0))
    # moving an input orthogonally to the plane never changes its label
    shift = np.random.default_rng(0).normal(size=6)
    shift -= u @ (u.T @ shift)
    z = (x + 5 * shift) @ u
    np.testing.assert_array_equal(lab, (z[:, 0] > 0) ^ (z[:, 1] > 0))
    with pytest.raises(ValueError, match="d must be"):
        exp.subspace_task(10, 10, 10, 1)


def test_closes_gap_verdict():
    rows = [{"n": 100, "seed": s, "model": m, "test_error": e, "certificate": 0.0}
            for s in range(2) for m, e in (("fixed", 0.3), ("adaptive", 0.18), ("network", 0.1))]
    text, ok = exp.CLAIMS["adaptive_closes_gap_subspace"].evaluate(pd.DataFrame(rows))
    assert ok is True and "closes 60% of the gap" in text
    rows = [dict(r, test_error=0.35) if r["model"] == "network" else r for r in rows]
    assert exp.CLAIMS["adaptive_closes_gap_subspace"].evaluate(pd.DataFrame(rows))[1] is None
