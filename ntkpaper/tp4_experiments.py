"""Drivers of notebook 03 (TP4's showcase experiments): Word2Vec widths and limits, few-shot
MAML widths and limits. Each returns a tidy DataFrame; the notebook plots and checks claims.
"""

from __future__ import annotations

import time

import jax
import numpy as np
import pandas as pd

from ntkpaper import architectures as A
from ntkpaper import fewshot as F
from ntkpaper import parametrization as P
from ntkpaper import word2vec as W


def compute_word2vec(text: str, questions: pd.DataFrame, vocab_size: int, mup_widths,
                     other_widths, eta: float, *, epochs: int, window: int, negative: int,
                     sample: float, workers: int, seed: int = 0, reference_dim: int = 100):
    """Analogy accuracy and embedding movement for muP (widths + the exact limit), NTP and SP
    (``other_widths``), the kernel limit (the embeddings at initialisation: they do not move) and
    gensim's own word2vec (its initialisation, ``reference_dim`` dimensions, same rate).

    Returns ``(df, info)``: rows model, parametrization, width (``inf`` for limits), accuracy,
    movement, seconds; ``info``: vocabulary size, tokens, questions.
    """
    vocab = W.build_vocab(text, max_size=vocab_size)
    ids = W.encode(text, vocab)
    q, _ = W.analogy_indices(questions, vocab)
    common = dict(epochs=epochs, window=window, negative=negative, sample=sample,
                  workers=workers, seed=seed)
    rows = []

    def add(model, param, width, res):
        rows.append(dict(model=model, parametrization=param, width=width,
                         accuracy=W.analogy_accuracy(res["embeddings"], q),
                         movement=W.relative_change(res["embeddings"], res["initial"]),
                         seconds=res["seconds"]))

    for name, widths in (("mup", mup_widths), ("ntp", other_widths), ("sp", other_widths)):
        for n in widths:
            add(f"{name} {n}", name, float(n),
                W.train(ids, vocab, W.scales(name, int(n), eta, len(vocab)), **common))
    lim = W.train(ids, vocab, W.scales("mup", None, eta, len(vocab)), **common)
    add("muP limit", "mup", np.inf, lim)
    # kernel (GP/NTK) limit: embeddings stay at their random initialisation (exact as n -> inf);
    # evaluated with a wide random table
    rng = np.random.default_rng(seed)
    emb0 = rng.standard_normal((len(vocab), 4096)).astype(np.float32)
    rows.append(dict(model="GP/NTK limit", parametrization="ntp", width=np.inf,
                     accuracy=W.analogy_accuracy(emb0, q), movement=0.0, seconds=0.0))
    ref = W.train(ids, vocab, None, dim=reference_dim, **common)
    add(f"gensim default ({reference_dim}-d)", "gensim", float(reference_dim), ref)
    info = dict(vocab=len(vocab), tokens=int(len(ids)), questions=int(len(q)),
                chance=1.0 / (len(vocab) - 3))
    return pd.DataFrame(rows), info


def compute_fewshot(background: np.ndarray, evaluation: np.ndarray, widths, activations, *,
                    ways: int, shots: int, queries: int, inner_lr: float, inner_steps: int,
                    outer_lr: float, meta_steps: int, batch: int, test_tasks: int,
                    val_tasks: int, kernel_lrs, kernel_steps, seed: int = 0):
    """Meta-test accuracy of first-order MAML in muP per width and activation, of the linear
    net's exact muP limit, and of the GP/NTK limits (inner-loop rate and steps chosen on
    background-split validation tasks; see :mod:`ntkpaper.fewshot`).

    ``background``/``evaluation``: (C, D, S, S) characters of the two splits (disjoint
    alphabets). Returns ``(acc, curves, kernel_grid)``: rows model, activation, width, acc, sem,
    acc_before (before meta-training); meta-training losses; the kernel grid.
    """
    test = F.sample_episodes(evaluation, test_tasks, ways, shots, queries,
                             np.random.default_rng(seed + 1))
    val = F.sample_episodes(background, val_tasks, ways, shots, queries,
                            np.random.default_rng(seed + 2))
    d = background.shape[2] * background.shape[3]
    abc = P.named("mup", 1)
    kw = dict(inner_lr=inner_lr, inner_steps=inner_steps)
    rows, curves, grids = [], [], []
    for act in activations:
        runs = [(f"muP {n}", float(n), P.init(jax.random.PRNGKey(seed), abc, d, int(n), ways))
                for n in widths]
        if act == "identity":
            runs.append(("muP limit", np.inf, F.limit_params(d, ways)))
        for model, width, p in runs:
            t0 = time.perf_counter()
            before = F.maml_accuracy(p, abc, test, activation=act, **kw)
            p, losses = F.maml_train(p, abc, background, ways=ways, shots=shots, queries=queries,
                                     outer_lr=outer_lr, meta_steps=meta_steps, batch=batch,
                                     activation=act, seed=seed, **kw)
            acc = F.maml_accuracy(p, abc, test, activation=act, **kw)
            rows.append(dict(model=model, activation=act, width=width, acc=acc.mean(),
                             stderr=acc.std() / np.sqrt(len(acc)), acc_before=before.mean(),
                             seconds=time.perf_counter() - t0))
            curves.append(pd.DataFrame(dict(model=model, activation=act, width=width,
                                            step=np.arange(1, len(losses) + 1), loss=losses)))
        _, _, kernel_fn = A.fc(1, W_std=1.0, b_std=None, activation=act, out_dim=ways)
        grid = F.kernel_grid(kernel_fn, val, ways, kernel_lrs, kernel_steps).assign(activation=act)
        grids.append(grid)
        for kind, g in grid.groupby("kind"):
            best = g.loc[g.acc.idxmax()]
            acc = F.kernel_accuracy(kernel_fn, test, kind, float(best.lr), int(best.steps), ways)
            rows.append(dict(model="GP limit" if kind == "nngp" else "NTK limit", activation=act,
                             width=np.inf, acc=acc.mean(), stderr=acc.std() / np.sqrt(len(acc)),
                             acc_before=acc.mean(), seconds=0.0,
                             lr=float(best.lr), steps=int(best.steps)))
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True), pd.concat(grids,
                                                                               ignore_index=True)
