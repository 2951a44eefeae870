"""TP4's CBOW rule (ntkpaper.cbow): one step against a hand computation, the exactness of the
one-hot muP limit against a finite net started from orthonormal rows, determinism, inputs."""

import numpy as np
import pytest

from ntkpaper import cbow


def _exact(f, max_exp):
    return 1 / (1 + np.exp(-f))


def _tp4_table(f, max_exp):
    """word2vec.c lines 585-587 and 762-765 (edwardjhu/TP4), with C's integer division."""
    i = int((f + max_exp) * (1000 // int(max_exp) // 2))
    x = (i / 1000 * 2 - 1) * max_exp
    return np.exp(x) / (np.exp(x) + 1)


def _hand_step(in_vec, out_vec, context, targets, labels, alpha, wd, max_exp, split_mean,
               sigmoid=_exact):
    """TP4's word2vec.c CBOW step (docs/protocols/tp4.md Sec. 2.2) written out in float64."""
    iv, ov = in_vec.astype(np.float64), out_vec.astype(np.float64)
    h = iv[context].mean(0)
    neu1e = np.zeros_like(h)
    loss = 0.0
    for t, lab in zip(targets, labels):
        f = h @ ov[t]
        p = 1.0 if f > max_exp else 0.0 if f < -max_exp else sigmoid(f, max_exp)
        loss -= np.log((p if lab else 1 - p) + 1e-10)
        g = (lab - p) * alpha
        neu1e += g * ov[t]
        ov[t] = ov[t] * (1 - alpha * wd) + g * h
    for c in context:  # a repeated context word is updated twice, in turn
        iv[c] = iv[c] * (1 - alpha * wd) + (neu1e / len(context) if split_mean else neu1e)
    return iv, ov, loss


@pytest.mark.parametrize("split_mean,sigmoid", [(True, "exact"), (False, "exact"),
                                                (True, "tp4_table")])
def test_one_cbow_step_matches_tp4s_rule_by_hand(split_mean, sigmoid):
    rng = np.random.default_rng(0)
    V, n = 6, 4
    in_vec = rng.normal(size=(V, n)).astype(np.float32)
    out_vec = rng.normal(size=(V, n)).astype(np.float32) * 0.5
    out_vec[5] = 40 * in_vec[[1, 2, 1]].mean(0)  # f > max_exp for this negative: p clipped to 1
    out_vec[4] = -40 * in_vec[[1, 2, 1]].mean(0)  # f < -max_exp for a centre word: p = 0
    context = np.array([1, 2, 1, 0], np.int64)  # cw = 3 used; word 1 twice
    # 0 twice (centre, then negative); 4 as a second positive, whose logit is clipped at -max_exp
    targets, labels = np.array([0, 3, 5, 0, 4]), np.array([1, 0, 0, 0, 1])
    alpha, wd, max_exp = 0.1, 0.01, 6.0
    hand_sigmoid = _exact if sigmoid == "exact" else _tp4_table
    want_in, want_out, want_loss = _hand_step(in_vec, out_vec, context[:3], targets, labels,
                                              alpha, wd, max_exp, split_mean, hand_sigmoid)
    h, e = np.empty(n, np.float32), np.empty(n, np.float32)
    table, scale = (cbow.sigmoid_table(6) if sigmoid == "tp4_table"
                    else (np.zeros(1, np.float32), 0))
    loss = cbow.cbow_update(in_vec, out_vec, context, 3, targets, labels, alpha, wd, max_exp,
                            split_mean, h, e, table, scale)
    np.testing.assert_allclose(in_vec, want_in, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_vec, want_out, rtol=1e-5, atol=1e-6)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert np.isclose(want_loss, -np.log(1e-10), rtol=0.1) or want_loss > 20  # the clipped term


def _corpus(T=3000, V=8, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, T)
    ids[::7] = 0  # one frequent word, so that sub-sampling acts
    return ids, np.bincount(ids, minlength=V)


def test_one_hot_limit_equals_a_net_started_from_orthonormal_rows():
    """The limit's claim: with in_vec_0 = Q (orthonormal rows, n >= V) every table stays A_t Q
    where A_t are the one-hot (V-dimensional) run's tables, same random stream."""
    ids, counts = _corpus()
    cfg = cbow.CBOWConfig(window=3, negative=4, epochs=2, alpha=0.2, sample=1e-2)
    in_lim, out_lim = cbow.init_tables(len(counts), None)
    cbow.train(ids, counts, in_lim, out_lim, cfg, seed=3)
    Q = np.linalg.qr(np.random.default_rng(1).normal(size=(20, 8)))[0].T  # (8, 20), Q Q^T = I
    in_n, out_n = Q.astype(np.float32).copy(), np.zeros((8, 20), np.float32)
    cbow.train(ids, counts, in_n, out_n, cfg, seed=3)
    assert np.abs(in_lim - np.eye(8)).max() > 0.1  # the limit did learn
    np.testing.assert_allclose(in_n, in_lim @ Q, atol=2e-4)
    np.testing.assert_allclose(out_n, out_lim @ Q, atol=2e-4)


def test_training_is_deterministic_learns_and_reports_per_epoch():
    ids, counts = _corpus()
    cfg = cbow.CBOWConfig(window=2, negative=3, epochs=3, alpha=0.1)
    runs, seen = [], []
    for _ in range(2):
        iv, ov = cbow.init_tables(len(counts), 16, seed=0)
        res = cbow.train(ids, counts, iv, ov, cfg, seed=5, on_epoch=seen.append)
        runs.append(iv)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert seen == [1, 2, 3, 1, 2, 3]
    assert res["loss"].shape == (3,) and res["loss"][-1] < res["loss"][0]
    assert (res["updates"] > 0).all()
    iv, ov = cbow.init_tables(len(counts), 16, seed=0)
    cbow.train(ids, counts, iv, ov, cfg, seed=5, workers=2)  # Hogwild: runs, stays finite
    assert np.isfinite(iv).all() and not np.array_equal(iv, cbow.init_tables(8, 16, 0)[0])


def test_initialisation_subsampling_and_negatives_follow_word2vec():
    iv, ov = cbow.init_tables(500, 64, seed=0)
    assert np.abs(iv).max() <= np.sqrt(3 / 64) and iv.var() == pytest.approx(1 / 64, rel=0.05)
    assert not ov.any() and iv.dtype == np.float32
    lim, out = cbow.init_tables(5, None)
    np.testing.assert_array_equal(lim, np.eye(5)) and not out.any()
    counts = np.array([1000, 10, 1])
    st = 1e-2 * counts.sum()
    np.testing.assert_allclose(cbow.keep_probability(counts, 1e-2),
                               [(np.sqrt(1000 / st) + 1) * st / 1000, 1.0, 1.0])
    assert (cbow.keep_probability(counts, 0) == 1).all()
    p = counts ** 0.75
    np.testing.assert_allclose(np.diff(cbow.negative_cdf(counts), prepend=0), p / p.sum())


def test_bad_settings_and_inputs_are_refused_before_training():
    with pytest.raises(ValueError, match="window must be >= 1.*error_split"):
        cbow.CBOWConfig(window=0, error_split="sum")
    with pytest.raises(ValueError, match="alpha \\* weight_decay"):
        cbow.CBOWConfig(alpha=1.0, weight_decay=2.0)
    ids, counts = _corpus()
    iv, ov = cbow.init_tables(8, 4)
    with pytest.raises(ValueError, match="V = len\\(counts\\) = 8"):
        cbow.train(ids, counts, iv[:5], ov[:5])
    with pytest.raises(ValueError, match="float32"):
        cbow.train(ids, counts, iv.astype(np.float64), ov)
    with pytest.raises(ValueError, match="lie in \\[0, 8\\)"):
        cbow.train(ids + 1, counts, iv, ov)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        cbow.init_tables(8, 0)


def test_tp4s_sigmoid_table_is_shifted_by_cs_integer_division():
    table, scale = cbow.sigmoid_table(12)
    assert scale == 41  # 1000 / 12 / 2 in C integers (41.67 in reals)
    assert table.shape == (1000,) and table.dtype == np.float32
    p0 = table[int(12 * scale)]  # f = 0
    assert p0 == pytest.approx(0.4522, abs=1e-3)  # sigmoid(-0.192), not 0.5
    # across the range it is about sigmoid(0.984 f - 0.19)
    f = np.linspace(-11, 11, 23)
    got = np.array([table[int((v + 12) * scale)] for v in f])
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-(0.984 * f - 0.19))), atol=0.02)
    with pytest.raises(ValueError, match="integer"):
        cbow.sigmoid_table(6.5)
    with pytest.raises(ValueError, match="integer max_exp"):
        cbow.CBOWConfig(sigmoid="tp4_table", max_exp=6.5)


def test_negative_sampling_needs_negatives():
    with pytest.raises(ValueError, match="negative must be >= 1"):
        cbow.CBOWConfig(negative=0)
    with pytest.raises(ValueError, match="sigmoid must be"):
        cbow.CBOWConfig(sigmoid="fast")
