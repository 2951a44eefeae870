"""Notebook 06's official-protocol section: the driver on a tiny run, the paired margins of its
claims on hand-made curves, and bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ntkpaper.experiments import nb06_neural_tangent_transfer as official  # noqa: E402


def _curves(gaps, early_gaps=None):
    """Two methods, three seeds, iterations 0, 100 and 200: ``ntt`` above ``random`` by
    ``gaps[seed]`` at the end and ``early_gaps[seed]`` at iteration 100."""
    early_gaps = early_gaps or gaps
    rows = []
    for seed, (g, e) in enumerate(zip(gaps, early_gaps)):
        for it, base in ((0, 0.1), (100, 0.5), (200, 0.8)):
            rows.append(dict(method="random", density=0.03, seed=seed, iteration=it,
                             test_acc=base))
            extra = {0: 0.0, 100: e, 200: g}[it]
            rows.append(dict(method="ntt", density=0.03, seed=seed, iteration=it,
                             test_acc=base + extra))
    return pd.DataFrame(rows)


def test_paired_margin_decides_the_claims():
    beats = official._beats(["random"])
    text, ok = beats(_curves([0.02, 0.03, 0.025]), [0.03])
    assert ok and "+0.0250" in text
    # a mean gap inside 2 standard errors of the paired differences fails
    _, ok = beats(_curves([0.05, -0.04, 0.01]), [0.03])
    assert not ok
    early = official._beats(["random"], until=100)
    _, ok = early(_curves([0.0, 0.0, 0.0], early_gaps=[0.1, 0.12, 0.11]), [0.03])
    assert ok
    text, ok = official._beats(["snip"])(_curves([0.1, 0.1, 0.1]), [0.03])
    assert ok is None and "missing" in text


def test_official_study_runs_end_to_end_on_a_tiny_budget():
    curves, log, title = official.compute_official(
        "mnist", [0.1], ["ntt", "ntt_output_only", "random", "snip_layerwise"], n_train=128,
        n_test=64, n_seeds=2, seed=0, ntt_steps=4, train_steps=4, record_every=2, n_val=16,
        n_eval=32)
    assert set(curves.method) == {"dense", "ntt", "ntt_output_only", "random", "snip_layerwise"}
    assert sorted(curves.iteration.unique()) == [0, 2, 4]
    assert set(log.method) == {"ntt", "ntt_output_only"} and set(log.step) == {0, 4}
    summary = official.official_summary(curves, until=4)
    transfer = official.transfer_summary(log)
    values = official.official_values(summary, transfer)
    assert "official_acc_ntt_d0.1" in values and "official_kernel_kept_last_ntt_d0.1" in values
    assert values["official_dead_outputs_dense_d1"] == 0
    fig = official.plot_official(curves, log, 0.1, "MNIST, profile test")
    plt.close(fig)
    assert "MNIST" in title


def test_unknown_methods_and_architectures_are_refused_before_any_work():
    with pytest.raises(ValueError, match="unknown methods"):
        official.compute_official("mnist", [0.1], ["ntt", "grasp"], 64, 64, 1, 0, 1, 1)
    with pytest.raises(ValueError, match="arch must be"):
        official.compute_official("mnist", [0.1], ["ntt"], 64, 64, 1, 0, 1, 1, arch="vgg")


def test_dead_outputs_counts_output_units_without_weights():
    import numpy as np

    out = np.array([[1, 0, 0], [0, 0, 1]], np.float32)  # unit 1 has no incoming weight
    assert official.dead_outputs([np.ones((4, 2)), out]) == 1
    assert official.dead_outputs(None) == 0
