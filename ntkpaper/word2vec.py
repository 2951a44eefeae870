"""CBOW Word2Vec with negative sampling in abc-parametrizations, its muP limit, word analogies.

The model (Mikolov et al. 2013, the variant in TP4 Sec. 9): a vocabulary of ``V`` words, input
embeddings ``w1`` (V, n) and output embeddings ``w2`` (V, n). For a centre word with context
words ``C`` (up to ``window`` on each side), ``h = m1 * mean_{i in C} w1[i]`` and the score of
word ``j`` is ``s_j = m2 * <w2[j], h>``; the loss is ``-log sig(s_centre) - sum_neg log
sig(-s_neg)`` with ``negative`` words drawn from the unigram distribution to the power 3/4.
Multipliers, initial scales and learning rates come from :mod:`ntkpaper.parametrization` with one
hidden layer and a one-hot input (fan-in 1): ``m_l = n^{-a_l}``, ``w_l ~ N(0, n^{-2 b_l})``,
SGD learning rate ``eta n^{-c}`` with the learning rate decayed linearly to 0 (as word2vec does).

**muP and its limit.** In muP (``a = (-1/2, 1/2)``, ``b = (1/2, 1/2)``) ``m1 m2 = 1``, so the
model is word2vec in the trainable coordinates themselves: rows of ``w1`` start as Gaussian
vectors of norm ~1 and every update is width-independent. With the readout started at zero
(TP4's choice for Word2Vec, ``readout_zero=True``), every row of ``w1`` and ``w2`` stays in the
span of the initial rows of ``w1``, and the dynamics depend on them only through their Gram
matrix ``w1_0 w1_0^T``, which tends to the identity as ``n -> inf``. The infinite-width limit is
therefore the same model in dimension ``V`` started at ``w1 = I`` (orthonormal rows), exactly
(TP4's code does the same). ``scales(..., width=None)`` gives it; it costs what a width ``V``
network costs.

**Engine.** Every parametrization is plain word2vec in the coordinates ``sqrt(m1 m2) w`` (see
:func:`scales`), so training uses gensim's C implementation of word2vec (CBOW, negative sampling,
sub-sampling of frequent words, linear learning-rate decay) with the tables initialised by us; a
jax version of the same loop was 8x slower on CPU (XLA's scatter-add).

**Kernel limits.** In NTP (``a = (0, 1/2)``, ``b = (0, 0)``) each input-embedding coordinate moves
by O(n^{-1/2}): as ``n -> inf`` the embeddings stay at their random initialisation (the GP/NTK
limit learns a function of the context but no embeddings), so analogies are answered at chance.
:func:`relative_change` measures how far the embeddings moved, so that the slope can be fitted.

Shapes: ``ids`` (T,) int32 token indices; embeddings (V, n); analogy questions (Q, 4) indices
``a b c d`` ("a is to b as c is to d").
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ntkpaper import parametrization as P
from ntkpaper.progress import progress


@dataclass(frozen=True)
class Vocabulary:
    """``words`` most frequent first, their ``counts`` (V,), and ``index`` word -> position."""

    words: tuple[str, ...]
    counts: np.ndarray

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)


def build_vocab(text: str, max_size: int | None = None, min_count: int = 1) -> Vocabulary:
    """The ``max_size`` most frequent words seen at least ``min_count`` times (ties by word)."""
    counts = Counter(text.split())
    if not counts:
        raise ValueError("the corpus is empty: build_vocab needs space-separated words")
    items = sorted(((c, w) for w, c in counts.items() if c >= min_count),
                   key=lambda t: (-t[0], t[1]))
    if max_size is not None:
        items = items[:max_size]
    if len(items) < 2:
        raise ValueError(f"only {len(items)} words pass min_count={min_count}; lower it")
    return Vocabulary(tuple(w for _, w in items), np.asarray([c for c, _ in items], np.int64))


def encode(text: str, vocab: Vocabulary) -> np.ndarray:
    """(T,) int32 indices of the corpus words in ``vocab`` (others dropped, as word2vec does)."""
    idx = vocab.index
    return np.fromiter((idx[w] for w in text.split() if w in idx), np.int32)


# ---------------------------------------------------------------------------------------------
# Training (gensim's word2vec engine in the coordinates of an abc-parametrization)


PARAMETRIZATIONS = ("mup", "ntp", "sp", "sp_lr")


@dataclass(frozen=True)
class Scales:
    """What word2vec needs to run an abc-parametrization: the dimension ``n``, the initial
    standard deviations of the input and output tables (``std_out = 0``: zero readout) and the
    learning rate ``alpha``; ``limit`` marks the exact infinite-width muP limit (``w1 = I``)."""

    n: int
    std_in: float
    std_out: float
    alpha: float
    limit: bool = False


def scales(parametrization: str, width: int | None, eta: float, vocab_size: int,
           readout_zero: bool | None = None) -> Scales:
    """Map an abc-parametrization of CBOW to plain word2vec (one learning rate, no multipliers).

    With ``s_j = m1 m2 <w2[j], mean w1[C]>`` and SGD rate ``eta n^{-c}`` on ``w1, w2``, the
    coordinates ``w_hat = sqrt(m1 m2) w`` give ``s_j = <w_hat2[j], mean w_hat1[C]>`` and plain SGD
    with rate ``alpha = eta n^{-c} m1 m2`` (each table's step scales by ``sqrt(m1 m2)^2``), so
    ``std_l = sqrt(m1 m2) n^{-b_l}``. muP: ``m1 m2 = 1``, rows of norm ~1, ``alpha = eta``; NTP:
    ``m1 m2 = n^{-1/2}``, ``alpha = eta / sqrt(n)``; SP: input rows of norm ~sqrt(n),
    ``alpha = eta``. ``readout_zero`` (default True for muP, as TP4, else False) starts ``w2`` at 0.
    ``width=None``: the muP limit, dimension ``V`` with ``w1 = I`` (see the module docstring).
    """
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"unknown parametrization {parametrization!r}; choose one of "
                         f"{PARAMETRIZATIONS}")
    if not eta > 0:
        raise ValueError(f"eta must be > 0, got {eta}")
    if readout_zero is None:
        readout_zero = parametrization == "mup"
    abc = P.named(parametrization, n_hidden=1)
    if width is None:
        if parametrization != "mup" or not readout_zero:
            raise ValueError("width=None (the infinite-width limit) is computed for muP with a "
                             "zero readout only; the NTP/SP limits are kernel limits whose "
                             "embeddings do not move")
        return Scales(int(vocab_size), 1.0, 0.0, float(eta), limit=True)
    if int(width) < 1:
        raise ValueError(f"width must be a positive integer or None, got {width}")
    n = int(width)
    m = P.multipliers(abc, n, d_in=1)
    mm = float(m[0] * m[1])
    std = [np.sqrt(mm) * n ** (-b) for b in abc.b]
    return Scales(n, float(std[0]), 0.0 if readout_zero else float(std[1]),
                  P.learning_rate(abc, eta, n) * mm)


def _sentences(ids: np.ndarray, vocab: Vocabulary, length: int = 1000) -> list[list[str]]:
    words = np.asarray(vocab.words, dtype=object)[ids]
    return [list(words[i:i + length]) for i in range(0, len(words), length)]


def train(ids: np.ndarray, vocab: Vocabulary, sc: Scales | None, *, window: int = 5,
          negative: int = 5, sample: float = 1e-4, epochs: int = 15, seed: int = 0,
          workers: int = 1, dim: int = 100) -> dict:
    """Train CBOW with negative sampling with gensim's word2vec (the context is averaged, the
    learning rate decays linearly to ``alpha / 10^4``).

    ``sc``: the tables' initial scales and learning rate from :func:`scales`; ``None`` runs
    gensim's own defaults (dimension ``dim``, its initialisation, ``alpha=0.025``) as an outside
    reference. ``workers=1`` is deterministic; more workers are faster but race (Hogwild), so
    results vary slightly from run to run (as TP4's README says of its code).

    Returns a dict: ``embeddings`` and ``initial`` (V, n), the input tables in ``vocab`` order;
    ``seconds``; ``n``.
    """
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    V = len(vocab)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= V:
        raise ValueError(f"token indices must be non-empty and lie in [0, {V}); encode the corpus "
                         "with this vocabulary")
    if sc is not None and sc.limit and sc.n != V:
        raise ValueError(f"the limit's dimension must equal the vocabulary size {V}, got {sc.n}")
    t0 = time.perf_counter()
    sents = _sentences(ids, vocab)
    common = dict(window=window, negative=negative, sample=sample, min_count=1, sg=0,
                  cbow_mean=1, epochs=epochs, workers=workers, seed=seed)
    if sc is None:
        model = Word2Vec(vector_size=dim, **common)
        model.build_vocab(sents)
    else:
        model = Word2Vec(vector_size=sc.n, alpha=sc.alpha, min_alpha=sc.alpha * 1e-4, **common)
        model.build_vocab(sents)
        rng = np.random.default_rng(seed)
        vec = model.wv.vectors
        if sc.limit:
            order = np.asarray([vocab.index[w] for w in model.wv.index_to_key])
            vec[:] = np.eye(sc.n, dtype=np.float32)[order]
        else:
            vec[:] = rng.standard_normal(vec.shape, dtype=np.float32) * sc.std_in
        model.syn1neg[:] = (rng.standard_normal(model.syn1neg.shape, dtype=np.float32)
                            * sc.std_out if sc.std_out > 0 else 0.0)
    gather = np.asarray([model.wv.key_to_index[w] for w in vocab.words])
    initial = np.array(model.wv.vectors[gather])

    class EpochBar(CallbackAny2Vec):  # gensim runs the epochs; it tells us when one ends
        def on_epoch_end(self, model):
            bar.update()

    with progress(desc=f"word2vec epoch (n={model.wv.vector_size})", total=epochs,
                  unit="epoch", delay=5) as bar:
        model.train(sents, total_examples=len(sents), epochs=epochs, callbacks=[EpochBar()])
    emb = np.array(model.wv.vectors[gather])
    if not np.all(np.isfinite(emb)):
        raise FloatingPointError(f"training with {sc} diverged (non-finite embeddings); lower eta")
    return dict(embeddings=emb, initial=initial, seconds=time.perf_counter() - t0,
                n=emb.shape[1])


# ---------------------------------------------------------------------------------------------
# Evaluation


def analogy_indices(questions: pd.DataFrame,
                    vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(Q, 4) indices of the questions whose four words are in ``vocab`` and their sections."""
    idx = vocab.index
    cols = questions[["a", "b", "c", "d"]]
    keep = cols.isin(list(vocab.words)).all(axis=1).to_numpy()
    q = np.vectorize(idx.__getitem__, otypes=[np.int64])(cols[keep].to_numpy()) if keep.any() \
        else np.zeros((0, 4), np.int64)
    return q, questions["section"].to_numpy()[keep]


def analogy_predictions(emb: np.ndarray, q: np.ndarray, block: int = 1024) -> np.ndarray:
    """(Q,) predicted ``d`` for each question: argmax over words of the cosine with
    ``b - a + c`` on unit-normalised embeddings, excluding ``a``, ``b`` and ``c`` (as word2vec's
    ``compute-accuracy``)."""
    e = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    preds = np.empty(len(q), np.int64)
    for s in range(0, len(q), block):
        qq = q[s:s + block]
        target = e[qq[:, 1]] - e[qq[:, 0]] + e[qq[:, 2]]
        sim = target @ e.T
        rows = np.arange(len(qq))[:, None]
        sim[rows, qq[:, :3]] = -np.inf
        preds[s:s + block] = sim.argmax(1)
    return preds


def analogy_accuracy(emb: np.ndarray, q: np.ndarray) -> float:
    """Fraction of questions (Q, 4) answered exactly (see :func:`analogy_predictions`)."""
    if len(q) == 0:
        raise ValueError("no analogy questions in vocabulary: enlarge the vocabulary")
    return float(np.mean(analogy_predictions(emb, q) == q[:, 3]))


def relative_change(after: np.ndarray, before: np.ndarray) -> float:
    """``||after - before||_F / ||before||_F`` (how far the embeddings moved)."""
    return float(np.linalg.norm(after - before) / np.linalg.norm(before))
