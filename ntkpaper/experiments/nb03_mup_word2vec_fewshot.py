"""Drivers of notebook 03 (TP4's showcase experiments): Word2Vec widths and limits, few-shot
MAML widths and limits. Each returns a tidy DataFrame; the notebook plots and checks claims.
"""

from __future__ import annotations

import time

import jax
import numpy as np
import pandas as pd

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


def split_validation(background: np.ndarray, fraction: float, seed: int = 0):
    """Hold out ``fraction`` of the background characters (whole characters, drawn at random)
    for meta-validation, as torchmeta's Omniglot split does. (C, D, ...) -> (train, val)."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(background))
    n_val = max(1, round(fraction * len(background)))
    return background[np.sort(order[n_val:])], background[np.sort(order[:n_val])]


def _fewshot_tasks(background, evaluation, ways, shots, queries, test_tasks, val_tasks,
                   val_fraction, seed):
    """(meta-training characters, validation episodes, test episodes) for both drivers."""
    train_chars, val_chars = split_validation(background, val_fraction, seed)
    test = F.sample_episodes(evaluation, test_tasks, ways, shots, queries,
                             np.random.default_rng(seed + 1))
    val = F.sample_episodes(val_chars, val_tasks, ways, shots, queries,
                            np.random.default_rng(seed + 2))
    return train_chars, val, test


def _fewshot_models(widths, activation, background, ways, seed, limit):
    """[(model name, width, initial muP parameters)]: each width, then the linear limit."""
    d = background.shape[2] * background.shape[3]
    abc = P.named("mup", 1)
    runs = [(f"muP {n}", float(n), P.init(jax.random.PRNGKey(seed), abc, d, int(n), ways))
            for n in widths]
    if activation == "identity" and limit:
        runs.append(("muP limit", np.inf, F.limit_params(d, ways)))
    return runs


def compute_fewshot(background: np.ndarray, evaluation: np.ndarray, widths, activations, *,
                    ways: int, shots: int, queries: int, inner_lr: float, inner_steps: int,
                    outer_lr: float, meta_steps: int, batch: int, test_tasks: int,
                    val_tasks: int, kernel_lrs, kernel_steps, val_fraction: float = 0.15,
                    val_every: int = 0, seed: int = 0, kernels: bool = True,
                    limit: bool = True):
    """Meta-test accuracy of first-order MAML in muP per width and activation, of the linear
    net's exact muP limit, and of the GP/NTK limits (see :mod:`ntkpaper.fewshot`).

    ``background``/``evaluation``: (C, D, S, S) characters of the two splits (disjoint
    alphabets). ``val_fraction`` of the background characters are held out; ``val_tasks``
    tasks drawn from them choose the kernel limits' inner-loop rate and steps and, with
    ``val_every > 0``, the best meta-training checkpoint (evaluated every ``val_every`` steps,
    as TP4 kept the best model on its validation split).

    Returns ``(acc, curves, kernel_grid)``: rows model, activation, width, acc, stderr,
    acc_before (before meta-training), acc_last (after the last step), best_step; per-step
    meta-training losses with ``val_acc`` at the checkpoints (NaN elsewhere); the kernel grid
    (empty without ``kernels``, which skips the GP/NTK limits; ``limit=False`` skips the linear
    muP limit).
    """
    train_chars, val, test = _fewshot_tasks(background, evaluation, ways, shots, queries,
                                            test_tasks, val_tasks, val_fraction, seed)
    abc = P.named("mup", 1)
    kw = dict(inner_lr=inner_lr, inner_steps=inner_steps)
    rows, curves, grids = [], [], []
    for act in activations:
        for model, width, p in _fewshot_models(widths, act, background, ways, seed, limit):
            t0 = time.perf_counter()
            before = F.maml_accuracy(p, abc, test, activation=act, **kw)
            res = F.maml_train(p, abc, train_chars, ways=ways, shots=shots, queries=queries,
                               outer_lr=outer_lr, meta_steps=meta_steps, batch=batch,
                               activation=act, seed=seed, val=val, val_every=val_every, **kw)
            acc = F.maml_accuracy(res.params, abc, test, activation=act, **kw)
            last = (acc if res.best_step == meta_steps else
                    F.maml_accuracy(res.last, abc, test, activation=act, **kw))
            rows.append(dict(model=model, activation=act, width=width, acc=acc.mean(),
                             stderr=acc.std() / np.sqrt(len(acc)), acc_before=before.mean(),
                             acc_last=last.mean(), best_step=res.best_step,
                             seconds=time.perf_counter() - t0))
            val_acc = np.full(len(res.losses), np.nan)
            val_acc[res.val_steps - 1] = res.val_acc
            curves.append(pd.DataFrame(dict(model=model, activation=act, width=width,
                                            step=np.arange(1, len(res.losses) + 1),
                                            loss=res.losses, val_acc=val_acc)))
        if not kernels:
            continue
        from ntkpaper import architectures as A  # neural-tangents: only for the kernel limits
        _, _, kernel_fn = A.fc(1, W_std=1.0, b_std=None, activation=act, out_dim=ways)
        grid = F.kernel_grid(kernel_fn, val, ways, kernel_lrs, kernel_steps).assign(activation=act)
        grids.append(grid)
        for kind, g in grid.groupby("kind"):
            best = g.loc[g.acc.idxmax()]
            acc = F.kernel_accuracy(kernel_fn, test, kind, float(best.lr), int(best.steps), ways)
            rows.append(dict(model="GP limit" if kind == "nngp" else "NTK limit", activation=act,
                             width=np.inf, acc=acc.mean(), stderr=acc.std() / np.sqrt(len(acc)),
                             acc_before=acc.mean(), acc_last=acc.mean(), best_step=0,
                             seconds=0.0, lr=float(best.lr), steps=int(best.steps)))
    grid = pd.concat(grids, ignore_index=True) if grids else pd.DataFrame()
    curves = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["model", "activation", "width", "step", "loss", "val_acc"])
    return pd.DataFrame(rows), curves, grid


def fewshot_checkpoints(background: np.ndarray, evaluation: np.ndarray, widths, activations,
                        checkpoints, *, ways: int, shots: int, queries: int, inner_lr: float,
                        inner_steps: int, outer_lr: float, batch: int, test_tasks: int,
                        val_tasks: int, val_fraction: float = 0.15, seed: int = 0,
                        limit: bool = True) -> pd.DataFrame:
    """Meta-test and validation accuracy during meta-training, without checkpoint selection.

    Same tasks and initial networks as :func:`compute_fewshot`; MAML runs from one checkpoint
    (cumulative meta-steps, ``0`` included) to the next, each segment with a fresh task stream
    (seed ``seed + k`` for the k-th segment). Returns rows model, activation, width, meta_steps,
    test_acc, test_stderr, val_acc.
    """
    if any(int(c) < 0 for c in checkpoints):
        raise ValueError(f"checkpoints are meta-step counts >= 0, got {list(checkpoints)}")
    train_chars, val, test = _fewshot_tasks(background, evaluation, ways, shots, queries,
                                            test_tasks, val_tasks, val_fraction, seed)
    abc = P.named("mup", 1)
    kw = dict(inner_lr=inner_lr, inner_steps=inner_steps)
    rows = []
    for act in activations:
        for model, width, p in _fewshot_models(widths, act, background, ways, seed, limit):
            done = 0
            for k, target in enumerate(sorted({0, *map(int, checkpoints)})):
                if target > done:
                    p = F.maml_train(p, abc, train_chars, ways=ways, shots=shots,
                                     queries=queries, outer_lr=outer_lr,
                                     meta_steps=target - done, batch=batch, activation=act,
                                     seed=seed + k, **kw).last
                    done = target
                acc = F.maml_accuracy(p, abc, test, activation=act, **kw)
                rows.append(dict(model=model, activation=act, width=width, meta_steps=done,
                                 test_acc=acc.mean(), test_stderr=acc.std() / np.sqrt(len(acc)),
                                 val_acc=F.maml_accuracy(p, abc, val, activation=act,
                                                         **kw).mean()))
    return pd.DataFrame(rows)
