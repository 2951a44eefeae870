"""CBOW Word2Vec with negative sampling under TP4's own training rule, compiled with numba.

TP4 (Yang & Hu 2021, Sec. 9) trains Word2Vec with a modified copy of Google's word2vec C code
(edwardjhu/TP4 ``Word2Vec/src/word2vec.c``; brief with line numbers in
``docs/protocols/tp4.md`` Sec. 2). Its rule differs from gensim's in ways gensim cannot express,
so this module implements it (our code, written from the brief; nothing is copied):

* **context mean, error split**: ``h = mean_{c in C} in_vec[c]`` (``cw = |C|`` words) and every
  context word receives ``neu1e / cw`` (``error_split="mean"``). The original word2vec and
  gensim's ``cbow_mean=1`` add the whole ``neu1e`` to every context word
  (``error_split="full"``, kept so that the two can be compared);
* **update**, for the centre word (label 1) and each of ``negative`` words drawn from the unigram
  distribution to the power 3/4 (label 0; a draw equal to the centre word is skipped, not
  redrawn): ``f = <h, out_vec[t]>``; ``p = sigmoid(f)``, with ``p = 1`` above ``max_exp`` and 0
  below ``-max_exp`` (TP4: 12; word2vec: 6); ``g = (label - p) alpha``; ``neu1e += g out_vec[t]``
  (the row *before* its update); ``out_vec[t] <- (1 - alpha wd) out_vec[t] + g h``. Then every
  context word: ``in_vec[c] <- (1 - alpha wd) in_vec[c] + neu1e / cw``;
* **weight decay** ``wd`` is lazy: only the rows used at a step decay, by ``1 - alpha wd``;
* **window**: for each centre word a half-width ``window - b``, ``b`` uniform in
  ``0 .. window - 1``; windows do not cross sentence ends (sentences of ``sentence_length`` kept
  words, as word2vec's ``MAX_SENTENCE_LENGTH``);
* **sub-sampling**: a word of count ``c`` is kept with probability
  ``(sqrt(c / (s T)) + 1) s T / c`` (``s = sample``, ``T`` words in the corpus);
* **learning rate**: ``alpha0 (1 - words_read / (epochs T + 1))``, floor ``1e-4 alpha0``,
  updated at every sentence (word2vec: every 500,000 words read over all threads);
* **initialisation** (:func:`init_tables`): ``in_vec`` uniform in ``±sqrt(3/n)`` (variance
  ``1/n``), ``out_vec = 0``; the **muP limit** is ``in_vec = I`` (one-hot rows, dimension ``V``),
  the exact limit because all rows stay in the span of the initial ``in_vec`` rows and the
  dynamics see them only through their Gram matrix (``ntkpaper.word2vec``'s docstring). TP4 used
  dimension ``2V`` with the second half never touched; ``V`` computes the same.

Differences from TP4's code, all deliberate: the exact sigmoid by default (``sigmoid="exact"``)
instead of TP4's 1,000-entry table. That table is not the sigmoid it looks like: the C code
indexes it by ``(int)((f + MAX_EXP) * (EXP_TABLE_SIZE / MAX_EXP / 2))``, and with integer
constants ``1000 / 12 / 2 = 41``, not the 41.67 the table was built for, so it returns about
``sigmoid(0.984 f - 0.19)`` (0.452 at ``f = 0``; word2vec's MAX_EXP 6 gives 83 vs 83.3, a smaller
shift). ``sigmoid="tp4_table"`` reproduces the lookup exactly (:func:`sigmoid_table`). Also: the
exact unigram distribution (binary search on its cumulative sum) instead of a 10^8-entry table;
numba's per-thread random generator instead of C's ``rand()``; the rate updated per sentence; one
thread per model by default (deterministic), where TP4 ran 68 threads whose interleaving depends
on the machine (its code holds mutexes around table reads and writes; its README says results
depend on the machine). ``workers > 1`` splits the corpus into that many contiguous parts
trained concurrently without locks (Hogwild), so results vary from run to run. (TP4's threads
also drop each chunk's last sentence in every epoch; one sentence in 68 chunks, not reproduced.)
The update is compiled with ``fastmath`` (reassociated sums): results are deterministic on one
machine and build, and may differ in the last bits between machines; a non-finite table is still
caught after every epoch.

Shapes: ``ids`` (T,) int32 token indices in ``[0, V)``; ``counts`` (V,) int64 word counts;
``in_vec`` and ``out_vec`` (V, n) float32, C-contiguous, trained in place.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

try:  # numba compiles the loop; the module still imports without it (to say what is missing)
    import numba
except ImportError:  # pragma: no cover - numba is in requirements.lock
    numba = None

ERROR_SPLITS = ("mean", "full")
SIGMOIDS = ("exact", "tp4_table")
EXP_TABLE_SIZE = 1000  # TP4's (and word2vec's) sigmoid table


@dataclass(frozen=True)
class CBOWConfig:
    """One CBOW run's settings; the defaults are TP4's text8 run (``train-text8.sh``: window 8,
    negative 25, sample 1e-4, 15 epochs, rate 0.05 (``--lr``), weight decay 0.001 (``--wd``);
    ``MAX_EXP`` 12; min-count 5 is applied when the vocabulary is built)."""

    window: int = 8
    negative: int = 25
    sample: float = 1e-4
    alpha: float = 0.05
    weight_decay: float = 0.001
    epochs: int = 15
    max_exp: float = 12.0
    error_split: str = "mean"
    sentence_length: int = 1000
    min_alpha_fraction: float = 1e-4
    sigmoid: str = "exact"

    def __post_init__(self):
        problems = []
        if self.sigmoid not in SIGMOIDS:
            problems.append(f"sigmoid must be one of {SIGMOIDS}, got {self.sigmoid!r}")
        elif self.sigmoid == "tp4_table" and float(self.max_exp) != int(self.max_exp):
            problems.append(f"sigmoid='tp4_table' needs an integer max_exp (a C #define), got "
                            f"{self.max_exp}")
        for name in ("window", "epochs", "sentence_length"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.negative) < 1:
            problems.append(f"negative must be >= 1 (negative sampling needs negatives), got "
                            f"{self.negative}")
        if not self.alpha > 0:
            problems.append(f"alpha must be > 0, got {self.alpha}")
        if self.sample < 0 or self.weight_decay < 0 or not self.max_exp > 0:
            problems.append("sample and weight_decay must be >= 0 and max_exp > 0, got "
                            f"{self.sample}, {self.weight_decay}, {self.max_exp}")
        if not self.alpha * self.weight_decay < 1:
            problems.append(f"alpha * weight_decay must be < 1 (the decay factor "
                            f"1 - alpha wd would flip signs), got {self.alpha * self.weight_decay}")
        if self.error_split not in ERROR_SPLITS:
            problems.append(f"error_split must be one of {ERROR_SPLITS}, got {self.error_split!r}")
        if problems:
            raise ValueError("bad CBOWConfig: " + "; ".join(problems))


TP4_TEXT8 = CBOWConfig()


def init_tables(vocab_size: int, width: int | None, seed: int = 0,
                dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``(in_vec, out_vec)``, both (V, n): TP4's initialisation. ``width=None``: the muP limit,
    ``in_vec = I`` (V, V); otherwise ``in_vec ~ U(-sqrt(3/n), sqrt(3/n))`` i.i.d. (variance
    ``1/n``: rows of norm ~1). ``out_vec = 0`` in both."""
    V = int(vocab_size)
    if V < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
    if width is None:
        return np.eye(V, dtype=dtype), np.zeros((V, V), dtype)
    n = int(width)
    if n < 1:
        raise ValueError(f"width must be a positive integer or None (the limit), got {width}")
    rng = np.random.default_rng(seed)
    a = math.sqrt(3.0 / n)
    return rng.uniform(-a, a, (V, n)).astype(dtype), np.zeros((V, n), dtype)


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """(V,) word2vec's sub-sampling keep probability ``(sqrt(c/(sT)) + 1) sT / c`` (capped at 1;
    ``sample=0``: all ones), ``T = counts.sum()``."""
    c = np.asarray(counts, np.float64)
    if sample <= 0:
        return np.ones_like(c)
    st = sample * c.sum()
    return np.minimum((np.sqrt(c / st) + 1.0) * st / c, 1.0)


def sigmoid_table(max_exp: int) -> tuple[np.ndarray, int]:
    """TP4's sigmoid lookup: the (1000,) float32 table ``e^x / (e^x + 1)`` at
    ``x = (i / 1000 * 2 - 1) max_exp`` and the C code's integer index scale
    ``1000 // max_exp // 2`` (index ``int((f + max_exp) * scale)``; see the module docstring)."""
    m = int(max_exp)
    if m < 1 or m != max_exp:
        raise ValueError(f"max_exp must be a positive integer, got {max_exp}")
    x = (np.arange(EXP_TABLE_SIZE, dtype=np.float32) / np.float32(EXP_TABLE_SIZE) * 2 - 1) * m
    e = np.exp(x.astype(np.float32))
    return (e / (e + 1)).astype(np.float32), EXP_TABLE_SIZE // m // 2


def negative_cdf(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """(V,) cumulative unigram^power distribution from which negatives are drawn."""
    p = np.asarray(counts, np.float64) ** power
    return np.cumsum(p / p.sum())


# ---------------------------------------------------------------------------------------------
# the compiled loop


def _njit(**kw):
    if numba is None:  # pragma: no cover
        def missing(*_a, **_k):
            raise ImportError("ntkpaper.cbow needs numba: install the environment with `make env`")
        return lambda f: missing
    return numba.njit(cache=True, nogil=True, **kw)


@_njit(fastmath=True)
def cbow_update(in_vec, out_vec, context, cw, targets, labels, alpha, wd, max_exp, split_mean,
                h, neu1e, table, table_scale):
    """One CBOW step in place (see the module docstring). ``context`` (>= cw,) int64 rows of
    ``in_vec``, the first ``cw`` used; ``targets``/``labels`` (k,) the centre word (label 1) and
    negatives (label 0); ``h``/``neu1e`` (n,) float32 scratch; ``table``/``table_scale`` from
    :func:`sigmoid_table` (``table_scale = 0``: the exact sigmoid). Returns the step's loss
    ``-sum log sigmoid(+-f)`` (float64; 0 and 1 probabilities clipped at 1e-10 as TP4 logs)."""
    n = in_vec.shape[1]
    decay = np.float32(1.0 - alpha * wd)
    a32 = np.float32(alpha)
    for j in range(n):
        h[j] = 0.0
        neu1e[j] = 0.0
    for i in range(cw):
        row = context[i]
        for j in range(n):
            h[j] += in_vec[row, j]
    inv = np.float32(1.0 / cw)
    for j in range(n):
        h[j] *= inv
    loss = 0.0
    for d in range(targets.shape[0]):
        t = targets[d]
        f = np.float32(0.0)
        for j in range(n):
            f += h[j] * out_vec[t, j]
        if f > max_exp:
            p = 1.0
        elif f < -max_exp:
            p = 0.0
        elif table_scale > 0:
            p = table[int((f + max_exp) * table_scale)]
        else:
            p = 1.0 / (1.0 + math.exp(-f))
        lab = labels[d]
        loss -= math.log((p if lab == 1 else 1.0 - p) + 1e-10)
        g = np.float32((lab - p) * a32)
        for j in range(n):  # neu1e uses the row before its update
            o = out_vec[t, j]
            neu1e[j] += g * o
            out_vec[t, j] = o * decay + g * h[j]
    if split_mean:
        for j in range(n):
            neu1e[j] *= inv
    for i in range(cw):
        row = context[i]
        for j in range(n):
            in_vec[row, j] = in_vec[row, j] * decay + neu1e[j]
    return loss


@_njit()
def _draw_negative(cdf):
    u = np.random.random() * cdf[-1]
    return min(np.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1)


@_njit()
def _train_epoch(ids, keep, cdf, in_vec, out_vec, window, negative, alpha0, min_alpha, wd,
                 max_exp, split_mean, sentence_length, table, table_scale, ep, epochs, total,
                 workers, seed):
    """One epoch over ``ids`` (one worker's part, in sentences of kept words). The rate's
    progress is this part's share times ``workers`` (the parts are of equal length). Returns
    ``(summed loss, updates)``."""
    np.random.seed(seed)
    n = in_vec.shape[1]
    h = np.empty(n, np.float32)
    neu1e = np.empty(n, np.float32)
    sen = np.empty(sentence_length, np.int64)
    context = np.empty(2 * window, np.int64)
    targets = np.empty(negative + 1, np.int64)
    labels = np.empty(negative + 1, np.int64)
    T = ids.shape[0]
    loss = 0.0
    updates = 0
    pos = 0
    while pos < T:
        length = 0  # one sentence of kept words
        while pos < T and length < sentence_length:
            w = ids[pos]
            pos += 1
            if keep[w] < 1.0 and keep[w] < np.random.random():
                continue
            sen[length] = w
            length += 1
        alpha = alpha0 * (1.0 - (ep * T + pos) * workers / (epochs * total + 1.0))
        if alpha < min_alpha:
            alpha = min_alpha
        for s in range(length):
            word = sen[s]
            b = np.random.randint(0, window)
            cw = 0
            for a in range(b, 2 * window + 1 - b):
                c = s - window + a
                if a == window or c < 0 or c >= length:
                    continue
                context[cw] = sen[c]
                cw += 1
            if cw == 0:
                continue
            targets[0] = word
            labels[0] = 1
            k = 1
            for _ in range(negative):
                t = _draw_negative(cdf)
                if t == word:  # skipped, not redrawn (as word2vec)
                    continue
                targets[k] = t
                labels[k] = 0
                k += 1
            loss += cbow_update(in_vec, out_vec, context, cw, targets[:k], labels[:k], alpha, wd,
                                max_exp, split_mean, h, neu1e, table, table_scale)
            updates += 1
    return loss, updates


def train(ids: np.ndarray, counts: np.ndarray, in_vec: np.ndarray, out_vec: np.ndarray,
          cfg: CBOWConfig = TP4_TEXT8, *, seed: int = 0, workers: int = 1,
          on_epoch: Callable[[int], None] | None = None) -> dict:
    """Train ``in_vec``/``out_vec`` (V, n) in place under ``cfg`` (see the module docstring).

    Args:
        ids: (T,) int token indices in ``[0, V)`` (the corpus, out-of-vocabulary words removed).
        counts: (V,) word counts (sub-sampling and the negatives' distribution).
        seed: seed of the windows, sub-sampling and negatives.
        workers: threads; 1 is deterministic, more train contiguous parts of the corpus
            concurrently without locks (Hogwild), so results vary from run to run.
        on_epoch: called with the epoch's number (1-based) after each epoch, e.g. to evaluate
            ``in_vec`` as TP4 does after every epoch.

    Returns:
        dict with ``loss`` (epochs,) mean loss per update in each epoch, ``updates`` (epochs,),
        ``seconds`` (training only, callbacks excluded).
    """
    if numba is None:  # pragma: no cover
        raise ImportError("ntkpaper.cbow needs numba: install the environment with `make env`")
    ids = np.ascontiguousarray(ids, np.int64)
    counts = np.asarray(counts, np.int64)
    V = len(counts)
    if in_vec.shape != out_vec.shape or in_vec.ndim != 2 or in_vec.shape[0] != V:
        raise ValueError(f"in_vec and out_vec must both be (V, n) with V = len(counts) = {V}; got "
                         f"{in_vec.shape} and {out_vec.shape}")
    for name, a in (("in_vec", in_vec), ("out_vec", out_vec)):
        if a.dtype != np.float32 or not a.flags.c_contiguous or not a.flags.writeable:
            raise ValueError(f"{name} must be a writeable C-contiguous float32 array (it is "
                             "trained in place); use np.ascontiguousarray(x, np.float32)")
    if ids.size == 0 or ids.min() < 0 or ids.max() >= V:
        raise ValueError(f"token indices must be non-empty and lie in [0, {V}); encode the corpus "
                         "with this vocabulary")
    if np.any(counts <= 0):
        raise ValueError("every word needs a positive count (build the vocabulary from the corpus)")
    if int(workers) < 1 or int(workers) > len(ids):
        raise ValueError(f"workers must be in [1, {len(ids)}], got {workers}")
    workers = int(workers)
    keep = keep_probability(counts, cfg.sample)
    cdf = negative_cdf(counts)
    parts = [np.ascontiguousarray(p) for p in np.array_split(ids, workers)]
    if cfg.sigmoid == "tp4_table":
        table, table_scale = sigmoid_table(int(cfg.max_exp))
    else:
        table, table_scale = np.zeros(1, np.float32), 0
    fixed = (int(cfg.window), int(cfg.negative), float(cfg.alpha),
             float(cfg.alpha * cfg.min_alpha_fraction), float(cfg.weight_decay),
             float(cfg.max_exp), cfg.error_split == "mean", int(cfg.sentence_length), table,
             table_scale)
    losses = np.zeros((cfg.epochs, workers))
    updates = np.zeros((cfg.epochs, workers), np.int64)
    seconds = 0.0
    for ep in range(cfg.epochs):
        def work(i, ep=ep):
            losses[ep, i], updates[ep, i] = _train_epoch(
                parts[i], keep, cdf, in_vec, out_vec, *fixed, ep, int(cfg.epochs), len(ids),
                workers, (int(seed) * 1_000_003 + ep * workers + i) % 2**32)

        t0 = time.perf_counter()
        if workers == 1:
            work(0)
        else:
            threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        seconds += time.perf_counter() - t0
        if not (np.all(np.isfinite(in_vec)) and np.all(np.isfinite(out_vec))):
            raise FloatingPointError(f"CBOW training diverged (non-finite tables) in epoch "
                                     f"{ep + 1} with {asdict(cfg)}")
        if on_epoch is not None:
            on_epoch(ep + 1)
    u = updates.sum(1)
    return dict(loss=losses.sum(1) / np.maximum(u, 1), updates=u, seconds=seconds)
