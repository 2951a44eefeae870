"""Tests of notebook 03's driver (ntkpaper.experiments.nb03_mup_word2vec_fewshot)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ntkpaper.experiments import nb03_mup_word2vec_fewshot as exp


def _w2v(mup=(0.06, 0.13, 0.17, 0.173), limit=0.178, kernel=0.0011) -> pd.DataFrame:
    """A table like compute_word2vec's (muP widths 16..1024, NTP/SP 64..1024, limits, gensim)."""
    rows = [dict(model=f"mup {n}", parametrization="mup", width=float(n), accuracy=a,
                 movement=5.0 * n ** 0.08) for n, a in zip((16, 64, 256, 1024), mup)]
    rows += [dict(model=f"{p} {n}", parametrization=p, width=float(n), accuracy=0.01,
                  movement=7.0 * n ** -0.4) for p in ("ntp", "sp") for n in (64, 256, 1024)]
    rows += [dict(model="muP limit", parametrization="mup", width=np.inf, accuracy=limit,
                  movement=7.0),
             dict(model="GP/NTK limit", parametrization="ntp", width=np.inf, accuracy=kernel,
                  movement=0.0),
             dict(model="gensim default (100-d)", parametrization="gensim", width=100.0,
                  accuracy=0.04, movement=52.0)]
    return pd.DataFrame(rows).assign(seconds=0.0)


def _fs(limit=0.597, kernel=0.589, before=0.588, relu=0.548) -> pd.DataFrame:
    """A table like compute_fewshot's accuracy table."""
    rows = [dict(model=f"muP {n}", activation="identity", width=float(n), acc=a, stderr=0.007,
                 acc_before=a - 0.05, acc_last=a)
            for n, a in ((16, 0.357), (64, 0.503), (256, 0.58), (1024, 0.59))]
    rows += [dict(model="muP limit", activation="identity", width=np.inf, acc=limit,
                  stderr=0.007, acc_before=before, acc_last=limit)]
    rows += [dict(model=m, activation=act, width=np.inf, acc=kernel, stderr=0.007,
                  acc_before=kernel, acc_last=kernel)
             for act in ("identity", "relu") for m in ("GP limit", "NTK limit")]
    rows += [dict(model=f"muP {n}", activation="relu", width=float(n), acc=a, stderr=0.007,
                  acc_before=a - 0.05, acc_last=a) for n, a in ((16, 0.25), (1024, relu))]
    return pd.DataFrame(rows).assign(best_step=1000, seconds=0.0)


def test_claims_have_sources_and_the_kernel_limit_one_is_a_check():
    assert set(exp.CLAIMS) == {
        "w2v_mup_improves_with_width", "w2v_mup_approaches_limit", "w2v_limit_beats_kernel",
        "w2v_ntp_embeddings_freeze", "fs_mup_limit_beats_kernels", "fs_mup_approaches_limit",
        "fs_meta_training_helps_limit", "fs_relu_mup_beats_ntk", "fs_tp4_limit_beats_kernels",
        "fs_tp4_approach_by_meta_training", "w2v_tp4_improves_with_width",
        "w2v_tp4_approaches_limit"}
    for c in exp.CLAIMS.values():
        assert c.source.startswith("Yang & Hu 2021 (TP4)") and c.criterion and not c.history
    # the GP/NTK limit's embeddings do not move by construction: a check, not a claim
    assert [c.id for c in exp.CLAIMS.values() if c.kind == "check"] == ["w2v_limit_beats_kernel"]


def test_word2vec_claims_read_as_before_and_can_fail():
    w2v, info = _w2v(), {"chance": 1 / 2997}
    c = exp.CLAIMS
    assert c["w2v_mup_improves_with_width"].evaluate(w2v) == (
        "16: 0.060, 64: 0.130, 256: 0.170, 1024: 0.173", True)
    assert c["w2v_mup_approaches_limit"].evaluate(w2v) == (
        "limit 0.178; widest 0.173, narrowest 0.060", True)
    assert c["w2v_limit_beats_kernel"].evaluate(w2v, info) == (
        "muP limit 0.178, GP/NTK limit 0.0011 (chance 0.0003)", True)
    slopes = exp.movement_slopes(w2v)
    assert slopes["mup"] == pytest.approx(0.08) and slopes["ntp"] == pytest.approx(-0.4)
    assert c["w2v_ntp_embeddings_freeze"].evaluate(slopes) == ("slopes NTP -0.40, muP +0.08",
                                                               True)
    # a drop of more than 0.01 between widths, a limit out of reach, a limit at chance
    assert not c["w2v_mup_improves_with_width"].evaluate(_w2v(mup=(0.06, 0.15, 0.13, 0.17)))[1]
    assert not c["w2v_mup_approaches_limit"].evaluate(_w2v(limit=0.2))[1]
    assert not c["w2v_limit_beats_kernel"].evaluate(_w2v(limit=0.004), info)[1]
    assert not c["w2v_ntp_embeddings_freeze"].evaluate({"ntp": -0.1, "mup": 0.0})[1]


def _w2v_tp4(accs=None, Q=400, seeds=2):
    """A TP4Word2Vec with given per-model accuracies: the first ``round(acc Q)`` questions right
    (so that answers are nested: paired differences are all of one sign)."""
    accs = accs or {64.0: 0.09, 256.0: 0.135, 1024.0: 0.159, np.inf: 0.1625}
    correct = {(w, s): np.arange(Q) < round(a * Q) for w, a in accs.items() for s in range(seeds)}
    curves = pd.DataFrame([dict(width=w, seed=s, epoch=e, accuracy=a * e / 2, loss=1.0)
                           for w, a in accs.items() for s in range(seeds) for e in (1, 2)])
    return exp.TP4Word2Vec(curves, correct, 0.0, {k: 1.0 for k in correct},
                           dict(vocab=3000, tokens=1000, questions=Q, chance=1 / 2997,
                                corpus_words=1200))


def test_word2vec_tp4_claims_summary_and_table():
    c, res = exp.CLAIMS, _w2v_tp4()
    text, holds = c["w2v_tp4_improves_with_width"].evaluate(res)
    assert holds and text.startswith("width 1024 - width 64: +0.070 +- 0.013")
    text, holds = c["w2v_tp4_approaches_limit"].evaluate(res)
    assert holds and "limit - width 1024: +0.003" in text
    # no rise with width; a widest net as far from the limit as the narrowest's half; a limit
    # beaten by the widest net
    flat = {64.0: 0.15, 256.0: 0.15, 1024.0: 0.15, np.inf: 0.16}
    assert not c["w2v_tp4_improves_with_width"].evaluate(_w2v_tp4(flat))[1]
    far = {64.0: 0.09, 256.0: 0.1, 1024.0: 0.12, np.inf: 0.16}
    assert not c["w2v_tp4_approaches_limit"].evaluate(_w2v_tp4(far))[1]
    beaten = {64.0: 0.09, 256.0: 0.1, 1024.0: 0.2, np.inf: 0.16}
    assert not c["w2v_tp4_approaches_limit"].evaluate(_w2v_tp4(beaten))[1]
    summary = exp.w2v_tp4_summary(res)
    assert summary.model.tolist() == ["muP 64", "muP 256", "muP 1024", "muP limit"]
    assert summary.tp4_text8.tolist() == pytest.approx([0.334, 0.416, 0.426, 0.433])
    assert summary.gap_to_limit.iloc[0] == pytest.approx(0.0725)
    table = exp.w2v_tp4_table(summary, res)
    assert table.loc["muP limit", "TP4, text8 (%)"] == 43.3
    assert table.loc["muP 64", "gap to limit, TP4"] == pytest.approx(9.9)
    records = exp.w2v_tp4_records(summary, res)
    assert records["acc_muP_1024"] == pytest.approx(0.159) and records["questions"] == 400
    plt.close(exp.plot_word2vec_tp4(res, "caption"))


def test_fewshot_claims_read_as_before_and_can_fail():
    c = exp.CLAIMS
    assert c["fs_mup_limit_beats_kernels"].evaluate(_fs()) == (
        "muP limit 0.597 +- 0.007; best kernel limit 0.589", False)
    assert c["fs_mup_limit_beats_kernels"].evaluate(_fs(limit=0.61))[1]
    assert c["fs_mup_approaches_limit"].evaluate(_fs()) == (
        "16: 0.357, 64: 0.503, 256: 0.580, 1024: 0.590; limit 0.597", True)
    assert not c["fs_mup_approaches_limit"].evaluate(_fs(limit=0.2))[1]
    assert c["fs_meta_training_helps_limit"].evaluate(_fs()) == ("after - before = +0.009",
                                                                 False)
    assert c["fs_meta_training_helps_limit"].evaluate(_fs(before=0.5))[1]
    assert c["fs_relu_mup_beats_ntk"].evaluate(_fs()) == (
        "muP 1024: 0.548 +- 0.007; NTK limit 0.589", False)
    assert c["fs_relu_mup_beats_ntk"].evaluate(_fs(relu=0.62))[1]


def test_ledger_records_keep_the_notebooks_keys():
    w2v = _w2v()
    rec = exp.word2vec_records(w2v)
    assert rec["acc_muP_limit"] == 0.178 and rec["move_GP/NTK_limit"] == 0.0
    assert "acc_gensim_default_(100-d)" in rec and len(rec) == 2 * len(w2v)
    fs = _fs()
    rec = exp.fewshot_records(fs)
    assert rec["identity_muP_limit_acc"] == 0.597
    assert rec["identity_muP_limit_acc_before_meta"] == 0.588
    assert rec["relu_NTK_limit_acc_last_step"] == 0.589 and len(rec) == 3 * len(fs)


def test_table2_lays_out_rows_like_tp4():
    t = exp.table2(_fs(), [16, 64, 256, 1024], "5-way 1-shot")
    assert list(t.index) == ["GP limit", "NTK limit", "muP 16", "muP 64", "muP 256",
                             "muP 1024", "muP limit"]
    assert t.loc["muP limit", "identity"] == "59.7 +- 0.7"
    assert t.loc["muP limit", "relu"] == "not computed" and t.columns.name == "5-way 1-shot"


def test_plots_return_figures():
    w2v = _w2v()
    fig = exp.plot_word2vec(w2v, {"questions": 937, "vocab": 3000}, exp.movement_slopes(w2v),
                            "stand-in, profile smoke")
    assert len(fig.axes) == 2
    plt.close(fig)
    curves = pd.DataFrame(dict(model=["muP 16"] * 3 + ["muP limit"] * 3,
                               activation="identity", step=[1, 2, 3] * 2, loss=1.6))
    fig = exp.plot_fewshot(_fs(), curves, "5-way 1-shot", "stand-in, profile smoke")
    assert len(fig.axes) == 3
    plt.close(fig)


def test_validation_characters_are_held_out():
    chars = np.arange(40 * 2).reshape(40, 2)
    train, val = exp.split_validation(chars, 0.15, seed=1)
    assert len(val) == 6 and len(train) == 34
    assert not set(train[:, 0]) & set(val[:, 0])
    assert set(train[:, 0]) | set(val[:, 0]) == set(chars[:, 0])
    with pytest.raises(ValueError, match="validation fraction"):
        exp.split_validation(chars, 1.0)


def test_fewshot_drivers_share_tasks_and_the_checkpoint_table_starts_untrained():
    rng = np.random.default_rng(0)
    bg, ev = rng.random((20, 4, 4, 4)), rng.random((10, 4, 4, 4))
    common = dict(ways=3, shots=1, queries=1, inner_lr=1.0, inner_steps=1, outer_lr=0.5,
                  batch=4, test_tasks=30, val_tasks=10, val_fraction=0.2)
    acc, curves, grid = exp.compute_fewshot(bg, ev, [8], ["identity"], meta_steps=4,
                                            val_every=2, kernel_lrs=[1.0], kernel_steps=[1],
                                            **common)
    assert list(acc.model) == ["muP 8", "muP limit", "GP limit", "NTK limit"]
    assert set(acc.best_step[:2]) <= {2, 4} and curves.val_acc.notna().sum() == 4
    ck = exp.compute_fewshot_checkpoints(bg, ev, [8], ["identity"], [3, 1], **common)
    assert list(ck.meta_steps) == [0, 1, 3, 0, 1, 3]
    start = ck[ck.meta_steps == 0].set_index("model").test_acc
    assert start["muP 8"] == pytest.approx(acc.set_index("model").acc_before["muP 8"])
    assert start["muP limit"] == pytest.approx(acc.set_index("model").acc_before["muP limit"])
    with pytest.raises(ValueError, match="meta-step counts"):
        exp.compute_fewshot_checkpoints(bg, ev, [8], ["identity"], [-1], **common)


def test_tp4_protocol_driver_on_a_tiny_problem():
    rng = np.random.default_rng(0)
    bg, ev = (rng.random((20, 4, 4, 4)) > 0.6) * 1.0, (rng.random((10, 4, 4, 4)) > 0.6) * 1.0
    tp4 = exp.compute_fewshot_tp4(bg, ev, [2, 8], 2, ways=3, shots=1, queries=1, meta_steps=4,
                                  test_tasks=30, val_tasks=10, val_every=2, val_fraction=0.2,
                                  kernel_lrs=[0.1, 1.0], inner_lrs=[0.1, 0.4], select_steps=3,
                                  seed=0)
    assert len(tp4.inner) == 2 and tp4.inner.chosen.sum() == 1
    a = tp4.acc
    assert len(a) == 2 * 3 + 4 and set(a[a.seed == -1].activation) == {"identity", "relu"}
    assert {len(v) for v in tp4.tasks.values()} == {30}
    summary = exp.tp4_summary(tp4)
    assert list(summary.model[:3]) == ["muP limit", "muP", "muP"]
    lim = summary[summary.model == "muP limit"].iloc[0]
    assert lim.gap_to_limit == 0 and lim.n_seeds == 2 and lim.tp4 == pytest.approx(0.664)
    assert summary[summary.width == 8].tp4.iloc[0] == pytest.approx(0.645)
    nets = summary[summary.model == "muP"]
    np.testing.assert_allclose(nets.meta_gain, nets.acc - nets.acc_before, atol=1e-12)
    rec = exp.tp4_records(summary, tp4.inner)
    assert {"identity_muP_limit_acc", "identity_muP_2_acc", "relu_NTK_limit_acc", "inner_lr",
            "select_val_acc_inner_0.4"} <= set(rec)
    fig = exp.plot_fewshot_tp4(summary, tp4.curves, "toy")
    plt.close(fig)


def _tp4_summary(gap_kernel=0.2, gap_se=0.01, lim_sd=0.01, narrow_gap=0.1, wide_gap=0.0,
                 gain=0.2):
    rows = [("muP limit", "identity", np.inf, 0.66, lim_sd, 0.45, 0.0, 0.0, gain, 0.01),
            ("muP", "identity", 2, 0.66 - narrow_gap, 0.01, 0.4, narrow_gap, 0.01, gain, 0.01),
            ("muP", "identity", 128, 0.66 - wide_gap, 0.01, 0.4, wide_gap, 0.01, gain, 0.01),
            ("NTK limit", "relu", np.inf, 0.66 - gap_kernel, np.nan, 0.45, gap_kernel, gap_se,
             np.nan, np.nan),
            ("GP limit", "relu", np.inf, 0.3, np.nan, 0.3, 0.36, gap_se, np.nan, np.nan)]
    cols = ["model", "activation", "width", "acc", "acc_sd", "acc_before", "gap_to_limit",
            "gap_se", "meta_gain", "meta_gain_se"]
    return pd.DataFrame(rows, columns=cols).assign(n_seeds=3)


def test_tp4_claims_can_fail():
    beats = exp.CLAIMS["fs_tp4_limit_beats_kernels"]
    assert beats.evaluate(_tp4_summary())[1] is True
    assert beats.evaluate(_tp4_summary(gap_kernel=0.02))[1] is False
    # a seed spread as large as the gap: not a win
    assert beats.evaluate(_tp4_summary(gap_kernel=0.05, gap_se=0.005, lim_sd=0.05))[1] is False
    approach = exp.CLAIMS["fs_tp4_approach_by_meta_training"]
    assert approach.evaluate(_tp4_summary())[1] is True
    assert approach.evaluate(_tp4_summary(narrow_gap=0.01))[1] is False
    assert approach.evaluate(_tp4_summary(gain=0.01))[1] is False
