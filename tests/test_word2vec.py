"""Word2Vec in abc-parametrizations: the mapping to plain word2vec, kernel-regime embeddings that
stop moving, the muP limit, and the analogy metric."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkpaper import parametrization as P
from ntkpaper import word2vec as W


def _corpus(n_tokens=20000, seed=0):
    """Two topics of 12 words each; sentences stay within a topic, so contexts carry signal."""
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(12)], [f"b{i}" for i in range(12)]]
    words = []
    while len(words) < n_tokens:
        t = topics[rng.integers(2)]
        words += list(rng.choice(t, 10))
    return " ".join(words)


def test_vocabulary_orders_by_count_and_encodes():
    v = W.build_vocab("b a c a b a d", min_count=2)
    assert v.words == ("a", "b") and v.counts.tolist() == [3, 2]
    assert W.encode("a x b a", v).tolist() == [0, 1, 0]
    assert W.build_vocab("a a b c", max_size=2).words == ("a", "b")  # ties broken by word
    with pytest.raises(ValueError, match="empty"):
        W.build_vocab("   ")
    with pytest.raises(ValueError, match="lower it"):
        W.build_vocab("a b c", min_count=2)


def test_scales_follow_the_abc_exponents():
    n, eta = 256, 0.05
    mup, ntp, sp = (W.scales(p, n, eta, 100) for p in ("mup", "ntp", "sp"))
    assert mup.std_in == pytest.approx(n ** -0.5) and mup.std_out == 0 and mup.alpha == eta
    assert ntp.std_in == pytest.approx(n ** -0.25) == pytest.approx(ntp.std_out)
    assert ntp.alpha == pytest.approx(eta / n ** 0.5)
    assert sp.std_in == pytest.approx(1.0) and sp.std_out == pytest.approx(n ** -0.5)
    assert sp.alpha == eta and W.scales("sp_lr", n, eta, 100).alpha == pytest.approx(eta / n)
    lim = W.scales("mup", None, eta, 100)
    assert lim.limit and lim.n == 100
    with pytest.raises(ValueError, match="unknown parametrization"):
        W.scales("xyz", 8, eta, 100)
    with pytest.raises(ValueError, match="kernel limits"):
        W.scales("ntp", None, eta, 100)
    with pytest.raises(ValueError, match="eta must be > 0"):
        W.scales("mup", 8, 0.0, 100)


@pytest.mark.parametrize("name", ["mup", "ntp", "sp"])
def test_one_sgd_step_in_abc_coordinates_equals_plain_word2vec_with_scales(name):
    """The reparametrization behind :func:`scales`: an SGD step on (w1, w2) with multipliers and
    rate eta n^-c is the plain step with rate alpha on w_hat = sqrt(m1 m2) w."""
    n, V, eta = 64, 10, 0.3
    abc = P.named(name, 1)
    m = P.multipliers(abc, n, d_in=1)
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    w1 = jax.random.normal(k1, (V, n)) * n ** -abc.b[0]
    w2 = jax.random.normal(k2, (V, n)) * n ** -abc.b[1]
    ctx, out, sign = jnp.array([1, 2, 3]), jnp.array([4, 7, 8]), jnp.array([1.0, -1.0, -1.0])

    def loss(a, b, mult1, mult2):
        h = mult1 * a[ctx].mean(0)
        return -jax.nn.log_sigmoid(sign * (mult2 * b[out] @ h)).sum()

    g1, g2 = jax.grad(loss, argnums=(0, 1))(w1, w2, m[0], m[1])
    lr = P.learning_rate(abc, eta, n)
    new1, new2 = w1 - lr * g1, w2 - lr * g2
    s = np.sqrt(m[0] * m[1])
    sc = W.scales(name, n, eta, V, readout_zero=False)
    h1, h2 = s * w1, s * w2
    assert float(jnp.std(h1)) == pytest.approx(sc.std_in, rel=0.1)
    q1, q2 = jax.grad(loss, argnums=(0, 1))(h1, h2, 1.0, 1.0)
    np.testing.assert_allclose(h1 - sc.alpha * q1, s * new1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2 - sc.alpha * q2, s * new2, rtol=1e-5, atol=1e-6)


def _train(vocab, ids, name, width, **kw):
    sc = W.scales(name, width, 0.05, len(vocab))
    return W.train(ids, vocab, sc, epochs=2, sample=0, workers=1, **kw)


def test_ntp_embeddings_freeze_with_width_while_mup_embeddings_keep_moving():
    text = _corpus()
    vocab = W.build_vocab(text)
    ids = W.encode(text, vocab)
    move = {(p, n): W.relative_change(r["embeddings"], r["initial"])
            for p in ("ntp", "mup") for n in (64, 1024)
            for r in [_train(vocab, ids, p, n)]}
    # NTP: each coordinate moves by O(n^-1/2): 16x the width -> ~1/4 of the movement
    assert move["ntp", 1024] / move["ntp", 64] < 0.5
    assert move["mup", 1024] / move["mup", 64] > 0.7


def test_wide_mup_nets_approach_the_computed_limit():
    text = _corpus()
    vocab = W.build_vocab(text)
    ids = W.encode(text, vocab)
    lim = _train(vocab, ids, "mup", None)
    np.testing.assert_array_equal(lim["initial"], np.eye(len(vocab)))

    def gram(e):
        return e @ e.T

    ref = gram(lim["embeddings"])
    err = {n: np.linalg.norm(gram(_train(vocab, ids, "mup", n)["embeddings"]) - ref)
           / np.linalg.norm(ref) for n in (64, 4096)}
    assert err[4096] < 0.5 * err[64]


def test_gensim_engine_is_deterministic_with_one_worker_and_checks_input():
    text = _corpus(4000)
    vocab = W.build_vocab(text)
    ids = W.encode(text, vocab)
    a, b = (_train(vocab, ids, "mup", 32)["embeddings"] for _ in range(2))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="encode the corpus"):
        W.train(ids + len(vocab), vocab, W.scales("mup", 8, 0.05, len(vocab)))


def test_analogy_accuracy_on_constructed_embeddings():
    words = ("king", "queen", "man", "woman", "apple", "pear")
    vocab = W.Vocabulary(words, np.ones(len(words), np.int64))
    e = np.zeros((6, 4))
    e[0] = [1, 1, 0, 0]        # king = royal + male
    e[1] = [1, 0, 1, 0]        # queen = royal + female
    e[2] = [0, 1, 0, 0.1]      # man
    e[3] = [0, 0, 1, 0.1]      # woman
    e[4] = [0, 0, 0, 1]
    e[5] = [0.1, 0, 0, 1]
    import pandas as pd
    qs = pd.DataFrame([["family", "man", "woman", "king", "queen"],
                       ["family", "king", "queen", "man", "woman"],
                       ["family", "man", "king", "woman", "apple"],   # wrong answer on purpose
                       ["family", "man", "woman", "king", "prince"]],  # out of vocabulary
                      columns=["section", "a", "b", "c", "d"])
    q, sections = W.analogy_indices(qs, vocab)
    assert q.shape == (3, 4) and list(sections) == ["family"] * 3
    assert W.analogy_predictions(e, q)[:2].tolist() == [1, 3]
    assert W.analogy_accuracy(e, q) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no analogy questions"):
        W.analogy_accuracy(e, q[:0])
