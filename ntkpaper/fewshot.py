"""Few-shot learning with first-order MAML in muP, and its infinite-width limits (TP4 Sec. 9.1).

Tasks are N-way K-shot episodes from a :class:`ntkpaper.data.glyphs.CharacterSet`: ``ways``
characters of one split, labels assigned in random order, ``shots`` support and ``queries`` query
drawings per character. Networks are one-hidden-layer MLPs (identity or ReLU) of
:mod:`ntkpaper.parametrization`; first-order MAML (Finn et al. 2017; Nichol et al. 2018) adapts a
copy of the parameters with ``inner_steps`` SGD steps on the support set's cross-entropy and moves
the meta-parameters by SGD with the query-loss gradient taken at the adapted parameters.

**The muP limit of the linear network.** With identity activation, every row of ``w1`` and
column of ``w2`` stays in the span of the ``d + k`` initial rows/columns, and the dynamics (inner
steps, meta-gradients and all) depend on them only through their Gram matrix, which tends to the
identity in muP as ``n -> inf``. So the limit is exactly the same network at width ``d + k``
started from orthonormal ``w1 = [I_d, 0]``, ``w2 = [0; I_k]`` (:func:`limit_params`; tested
against notebook 02's closed recursion). The ReLU limit is a mean-field dynamics with no such
finite representation; it is not computed.

**Kernel limits.** In the NTK (or GP) limit the adaptation is kernel gradient descent with a fixed
kernel, and meta-training can only change the initial function; with labels assigned in random
order per task, the best initial function gives every class the same score, i.e. the centred
``f_0 = 0``. So the kernel limits' meta-test accuracy is that of ``inner_steps`` steps of kernel
gradient descent on the cross-entropy from ``f = 0`` (:func:`kernel_adapt`): NNGP kernel = only
the readout trained (GP limit), NTK = all layers.

Shapes: episodes ``xs`` (T, ways*shots, d), ``ys`` (T, ways*shots) int, ``xq`` (T, ways*queries,
d), ``yq`` (T, ways*queries) int.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ntkpaper import parametrization as P
from ntkpaper.data.prep import standardize_per_example
from ntkpaper.progress import progress


def sample_episodes(images: np.ndarray, n_tasks: int, ways: int, shots: int, queries: int,
                    rng: np.random.Generator, standardize: bool = True):
    """``n_tasks`` episodes from ``images`` (C, D, S, S) (one split's characters).

    Each task draws ``ways`` distinct characters and, per character, ``shots + queries`` distinct
    drawings; labels are a random permutation. Returns ``xs, ys, xq, yq`` (see module doc) with
    images flattened to ``S * S`` and float32; with ``standardize`` each image has zero mean and
    unit variance over its pixels (so ``|x|^2 = d`` and kernels and muP updates are O(1)).
    """
    C, D = images.shape[:2]
    if ways > C:
        raise ValueError(f"{ways}-way tasks need at least {ways} characters, the split has {C}")
    if shots + queries > D:
        raise ValueError(f"shots + queries = {shots + queries} exceeds the {D} drawings per "
                         "character")
    flat = standardize_images(images) if standardize else images.reshape(C, D, -1)
    chars = _first_of_permutations(rng.random((n_tasks, C)), ways)                  # (T, W)
    draws = _first_of_permutations(rng.random((n_tasks, ways, D)), shots + queries)  # (T,W,K+Q)
    x = flat[chars[:, :, None], draws]                                    # (T, W, K+Q, d)
    labels = np.broadcast_to(np.arange(ways)[None, :, None], draws.shape)
    xs = x[:, :, :shots].reshape(n_tasks, ways * shots, -1)
    xq = x[:, :, shots:].reshape(n_tasks, ways * queries, -1)
    ys = labels[:, :, :shots].reshape(n_tasks, -1)
    yq = labels[:, :, shots:].reshape(n_tasks, -1)
    return (xs.astype(np.float32), ys.astype(np.int32), xq.astype(np.float32),
            yq.astype(np.int32))


def standardize_images(images: np.ndarray) -> np.ndarray:
    """(C, D, S, S) or (C, D, S*S) -> (C, D, S*S) float32, zero mean and unit variance per
    image."""
    C, D = images.shape[:2]
    return standardize_per_example(images.reshape(C * D, -1)).reshape(C, D, -1).astype(
        np.float32)


def _first_of_permutations(keys: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` entries of the permutation that sorts each row of i.i.d. uniform ``keys``
    (..., n): ``k`` distinct indices per row, uniformly drawn and in uniformly random order.
    Vectorised (no Python loop per task); same result as ``argsort(keys)[..., :k]``."""
    part = np.argpartition(keys, k - 1, axis=-1)[..., :k] if k < keys.shape[-1] else \
        np.broadcast_to(np.arange(keys.shape[-1]), keys.shape)
    order = np.argsort(np.take_along_axis(keys, part, -1), axis=-1)
    return np.take_along_axis(part, order, -1)


def limit_params(d: int, k: int) -> list[jax.Array]:
    """The muP linear limit as a width ``d + k`` network: ``w1 = [I_d, 0]`` (d, d+k) and
    ``w2 = [0; I_k]`` (d+k, k), orthonormal like N(0, 1/n) rows/columns as ``n -> inf``."""
    n = d + k
    w1 = jnp.zeros((d, n)).at[:, :d].set(jnp.eye(d))
    w2 = jnp.zeros((n, k)).at[d:, :].set(jnp.eye(k))
    return [w1, w2]


def _ce(p, mults, x, y, phi):
    logits = P.forward_multiplied(p, mults, x, phi)[0]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))


def _adapt(p, mults, xs, ys, lr, steps, phi):
    for _ in range(steps):
        g = jax.grad(_ce)(p, mults, xs, ys, phi)
        p = [w - lr * gw for w, gw in zip(p, g)]
    return p


@functools.cache
def _meta_trainer(activation: str, inner_steps: int):
    phi = P.ACTIVATIONS[activation]

    def task_grad(p, mults, xs, ys, xq, yq, inner_lr):
        q = _adapt(p, mults, xs, ys, inner_lr, inner_steps, phi)
        loss, g = jax.value_and_grad(_ce)(q, mults, xq, yq, phi)   # first order: grad at q
        return g, loss

    def run(p, mults, xs, ys, xq, yq, inner_lr, outer_lr):
        # xs: (S, B, ...) - S meta-steps of B tasks
        def step(p, batch):
            g, loss = jax.vmap(task_grad, in_axes=(None, None, 0, 0, 0, 0, None))(
                p, mults, *batch, inner_lr)
            return [w - outer_lr * jnp.mean(gw, 0) for w, gw in zip(p, g)], jnp.mean(loss)

        return jax.lax.scan(step, p, (xs, ys, xq, yq))

    return jax.jit(run)


@functools.cache
def _evaluator(activation: str, inner_steps: int):
    phi = P.ACTIVATIONS[activation]

    def acc(p, mults, xs, ys, xq, yq, inner_lr):
        q = _adapt(p, mults, xs, ys, inner_lr, inner_steps, phi)
        return jnp.mean(jnp.argmax(P.forward_multiplied(q, mults, xq, phi)[0], -1) == yq)

    return jax.jit(jax.vmap(acc, in_axes=(None, None, 0, 0, 0, 0, None)))


class MamlResult(NamedTuple):
    """What :func:`maml_train` returns. ``params``: the selected meta-parameters (the best
    validation checkpoint when validation tasks were given, else the last); ``last``: the
    parameters after the last step; ``losses`` (meta_steps,): mean query loss per meta-step;
    ``val_steps``/``val_acc`` (n_checkpoints,): validation accuracy at each checkpoint (empty
    without validation); ``best_step``: the meta-step of ``params``."""
    params: list
    last: list
    losses: np.ndarray
    val_steps: np.ndarray
    val_acc: np.ndarray
    best_step: int


def maml_train(params, abc: P.ABC, chars: np.ndarray, *, ways: int, shots: int, queries: int,
               inner_lr: float, inner_steps: int, outer_lr: float, meta_steps: int,
               batch: int, activation: str = "identity", seed: int = 0, chunk: int = 50,
               val=None, val_every: int = 0) -> MamlResult:
    """First-order MAML with SGD in both loops; muP's per-layer rates are ``eta n^{-c}`` (c = 0
    for muP, so one rate per loop). ``chars`` (C, D, S, S) or (C, D, S*S): the meta-training
    characters.

    With ``val`` (episodes from held-out characters, see :func:`sample_episodes`) and
    ``val_every > 0``, the meta-parameters are evaluated on ``val`` every ``val_every`` steps
    and the best checkpoint is returned, as in TP4's training script (best model on the
    meta-validation split); without, the last parameters. See :class:`MamlResult`.
    """
    width = params[0].shape[1]
    d = int(np.prod(chars.shape[2:]))
    mults = jnp.asarray(P.multipliers(abc, width, d))
    ilr = P.learning_rate(abc, inner_lr, width)
    olr = P.learning_rate(abc, outer_lr, width)
    run = _meta_trainer(activation, int(inner_steps))
    select = val is not None and val_every > 0
    if select:
        chunk = min(chunk, val_every)
    rng = np.random.default_rng(seed)
    flat = standardize_images(chars)  # once, not per chunk

    def advance(p, s):
        eps = sample_episodes(flat, s * batch, ways, shots, queries, rng, standardize=False)
        eps = [jnp.asarray(e.reshape(s, batch, *e.shape[1:])) for e in eps]
        return run(p, mults, *eps, ilr, olr)

    def validate(p):
        return float(maml_accuracy(p, abc, val, inner_lr=inner_lr, inner_steps=inner_steps,
                                   activation=activation).mean())

    return _meta_loop(params, advance, validate if select else None, meta_steps=meta_steps,
                      chunk=chunk, val_every=val_every, desc="MAML meta step",
                      diverged="MAML diverged (non-finite loss); lower outer_lr or inner_lr")


def _meta_loop(params, advance, validate, *, meta_steps: int, chunk: int, val_every: int,
               desc: str, diverged: str) -> MamlResult:
    """The meta-training loop shared by :func:`maml_train` and :func:`tp4_maml_train`: chunks
    of ``advance(params, steps) -> (params, (steps,) losses)``, ``validate(params) -> float``
    at every ``val_every`` steps (``None``: no selection), the best checkpoint kept."""
    select = validate is not None
    losses, done, checks, best = [], 0, [], (-np.inf, params, 0)
    with progress(desc=desc, total=meta_steps, unit="step", delay=5) as bar:
        while done < meta_steps:
            s = min(chunk, meta_steps - done, val_every - done % val_every if select else chunk)
            params, loss = advance(params, s)
            losses.append(np.asarray(loss))
            done += s
            bar.update(s)
            if select and (done % val_every == 0 or done == meta_steps):
                acc = validate(params)
                checks.append((done, acc))
                if acc > best[0]:
                    best = (acc, params, done)
    losses = np.concatenate(losses) if losses else np.zeros(0)
    if not np.all(np.isfinite(losses)):
        raise FloatingPointError(diverged)
    steps, accs = (np.array(c) for c in zip(*checks)) if checks else (np.zeros(0, int),
                                                                      np.zeros(0))
    chosen, at = (best[1], best[2]) if select and checks else (params, done)
    return MamlResult(chosen, params, losses, steps, accs, at)


def maml_accuracy(params, abc: P.ABC, episodes, *, inner_lr: float, inner_steps: int,
                  activation: str = "identity", block: int = 500) -> np.ndarray:
    """(T,) query accuracy per task after ``inner_steps`` adaptation steps on its support set."""
    width = params[0].shape[1]
    xs, ys, xq, yq = episodes
    mults = jnp.asarray(P.multipliers(abc, width, xs.shape[-1]))
    f = _evaluator(activation, int(inner_steps))
    lr = P.learning_rate(abc, inner_lr, width)
    return np.concatenate([np.asarray(f(params, mults, xs[i:i + block], ys[i:i + block],
                                        xq[i:i + block], yq[i:i + block], lr))
                           for i in range(0, len(xs), block)])


# ---------------------------------------------------------------------------------------------
# Kernel limits


def task_kernels(kernel_fn, xs: np.ndarray, xq: np.ndarray, kind: str) -> tuple[np.ndarray, ...]:
    """Per-task kernels ``K_ss`` (T, s, s) and ``K_qs`` (T, q, s) of ``kind`` "nngp" or "ntk"."""
    if kind not in ("nngp", "ntk"):
        raise ValueError(f"kind must be 'nngp' or 'ntk', got {kind!r}")
    f = jax.jit(jax.vmap(lambda a, b: kernel_fn(a, b, kind)))
    k_ss = np.asarray(f(xs, xs))
    k_qs = np.asarray(f(xq, xs))
    return k_ss, k_qs


def kernel_adapt(k_ss: np.ndarray, k_qs: np.ndarray, ys: np.ndarray, ways: int, lr: float,
                 steps: int) -> np.ndarray:
    """Query logits (T, q, ways) after ``steps`` of kernel gradient descent on the mean
    cross-entropy of the support set, from ``f = 0``: ``f <- f - lr K(., X_s) dL/df(X_s)``."""
    return _kernel_descent(k_ss, k_qs, ys, ways, lr, [steps])[steps]


def _kernel_descent(k_ss, k_qs, ys, ways: int, lr: float, record) -> dict[int, np.ndarray]:
    """One kernel gradient-descent run (see :func:`kernel_adapt`); the query logits after each
    step count in ``record``, ``{steps: (T, q, ways)}``."""
    y = jax.nn.one_hot(ys, ways)
    s = ys.shape[1]
    fs = jnp.zeros(y.shape)
    fq = jnp.zeros((k_qs.shape[0], k_qs.shape[1], ways))
    out = {0: np.asarray(fq)} if 0 in record else {}
    for t in range(1, max(record) + 1):
        g = (jax.nn.softmax(fs) - y) / s                      # dL/df on the support set
        fs = fs - lr * jnp.einsum("tij,tjc->tic", k_ss, g)
        fq = fq - lr * jnp.einsum("tij,tjc->tic", k_qs, g)
        if t in record:
            out[t] = np.asarray(fq)
    return out


def kernel_accuracy(kernel_fn, episodes, kind: str, lr: float, steps: int, ways: int):
    """(T,) query accuracy of the kernel limit (see the module docstring)."""
    xs, ys, xq, yq = episodes
    k_ss, k_qs = task_kernels(kernel_fn, xs, xq, kind)
    return np.mean(kernel_adapt(k_ss, k_qs, ys, ways, lr, steps).argmax(-1) == yq, axis=1)


def kernel_grid(kernel_fn, episodes, ways: int, lrs, steps_grid) -> pd.DataFrame:
    """Accuracy of both kernel limits over (lr, steps) on ``episodes`` (for choosing them)."""
    xs, ys, xq, yq = episodes
    rows = []
    for kind in ("nngp", "ntk"):
        k_ss, k_qs = task_kernels(kernel_fn, xs, xq, kind)
        for lr in lrs:
            logits = _kernel_descent(k_ss, k_qs, ys, ways, lr, set(steps_grid))
            for steps in steps_grid:
                acc = np.mean(logits[steps].argmax(-1) == yq)
                rows.append(dict(kind=kind, lr=lr, steps=steps, acc=float(acc)))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# TP4's own protocol (edwardjhu/TP4, TP4MAML/train_all.sh and meta/, commit b640ba7)
#
# Facts read in TP4's scripts and code (file:line references: docs/protocols/tp4.md):
# the linear one-hidden-layer net f(x) = alpha_out * W2 (W1 x + bias_alpha * b1), no readout
# bias; its muP limit is the same net at width d + k started from W1 = [sigma1 I_d; 0],
# b1 = 0, W2 = [0 | sigma2 I_k] (so f = 0 at initialisation); a width-n net is a random
# projection of it, W1 = Omega A / sqrt(n), W2 = B Omega^T / sqrt(n), Omega (n, d + k) i.i.d.
# N(0, 1). First-order MAML with plain SGD on every parameter in the inner loop (0.4, one
# step in meta-training, 20 at meta-test), the meta-gradient *summed* over the 32 tasks of a
# batch, clipped to global norm 0.5, then plain SGD (no learning-rate drops: TP4's scheduler
# gets no milestones). Raw pixels in [0, 1], ink = 1, no standardisation; classes augmented
# by rotations of 90, 180 and 270 degrees.


class TP4Config(NamedTuple):
    """TP4's MAML settings (defaults: its linear muP limit, ``train_all.sh`` lines 1-25)."""
    inner_lr: float = 0.4
    train_steps: int = 1      # inner steps in meta-training (and validation)
    test_steps: int = 20      # inner steps at meta-test
    meta_lr: float = 0.1
    clip: float = 0.5         # global norm of the summed meta-gradient
    batch: int = 32
    sigma1: float = 1.0
    sigma2: float = 1.0 / 32  # the limit's readout scale
    bias_alpha: float = 1.0


# TP4's per-width settings, train_all.sh lines 19-102: (meta-lr, sigma1, sigma2, bias_alpha)
TP4_WIDTH_SETTINGS = {np.inf: (0.1, 1.0, 1 / 32, 1.0), 2: (0.05, 0.5, 0.5, 2.0),
                      8: (0.1, 0.5, 0.25, 1.0), 32: (0.4, 1.0, 0.125, 0.5),
                      128: (0.1, 1.0, 0.125, 1.0), 512: (0.1, 1.0, 1 / 32, 1.0),
                      2048: (0.1, 1.0, 1 / 32, 1.0), 8192: (0.1, 1.0, 1 / 32, 1.0)}


def tp4_config(width: float, base: TP4Config | None = None) -> TP4Config:
    """``base`` with TP4's tuned meta-lr, sigma1, sigma2 and bias_alpha for ``width`` (its
    ``train_all.sh``); a width TP4 did not run gets the limit's settings."""
    lr, s1, s2, alpha = TP4_WIDTH_SETTINGS.get(width if np.isfinite(width) else np.inf,
                                               TP4_WIDTH_SETTINGS[np.inf])
    return (base or TP4Config())._replace(meta_lr=lr, sigma1=s1, sigma2=s2, bias_alpha=alpha)


def tp4_params(width: float, d: int, k: int, cfg: TP4Config, key=None) -> dict:
    """Initial parameters of TP4's linear net: ``w1`` (h, d), ``b1`` (h,), ``w2`` (k, h), with
    h = d + k for ``width = inf`` (the muP limit) and h = width otherwise (a random projection
    of the limit with ``key``)."""
    a = jnp.zeros((d + k, d)).at[:d].set(cfg.sigma1 * jnp.eye(d))
    b = jnp.zeros((k, d + k)).at[:, d:].set(cfg.sigma2 * jnp.eye(k))
    if not np.isfinite(width):
        return {"w1": a, "b1": jnp.zeros(d + k), "w2": b}
    n = int(width)
    if n < 1 or key is None:
        raise ValueError(f"a finite width needs width >= 1 and a key, got {width!r}, {key!r}")
    omega = jax.random.normal(key, (n, d + k))
    return {"w1": omega @ a / np.sqrt(n), "b1": jnp.zeros(n), "w2": b @ omega.T / np.sqrt(n)}


def tp4_logits(p: dict, x, bias_alpha: float):
    """(m, d) -> (m, k) logits of TP4's linear net."""
    return (x @ p["w1"].T + bias_alpha * p["b1"]) @ p["w2"].T


def _tp4_ce(p, x, y, bias_alpha):
    logits = tp4_logits(p, x, bias_alpha)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))


def _tp4_adapt(p, xs, ys, cfg: TP4Config, steps: int):
    for _ in range(steps):
        g = jax.grad(_tp4_ce)(p, xs, ys, cfg.bias_alpha)
        p = jax.tree_util.tree_map(lambda w, gw: w - cfg.inner_lr * gw, p, g)
    return p


def tp4_meta_step(p: dict, xs, ys, xq, yq, cfg: TP4Config):
    """One meta-update on a batch of tasks (xs (B, s, d), ys (B, s), xq (B, q, d), yq (B, q)):
    first-order MAML, meta-gradient summed over tasks and clipped to global norm ``cfg.clip``.

    Returns:
        (new parameters, mean query loss of the batch, norm of the summed gradient before
        clipping).
    """
    def task(xs, ys, xq, yq):
        q = _tp4_adapt(p, xs, ys, cfg, cfg.train_steps)
        return jax.value_and_grad(_tp4_ce)(q, xq, yq, cfg.bias_alpha)

    losses, g = jax.vmap(task)(xs, ys, xq, yq)
    g = jax.tree_util.tree_map(lambda a: a.sum(0), g)
    norm = jnp.sqrt(sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(g)))
    scale = jnp.minimum(1.0, cfg.clip / (norm + 1e-6))  # torch's clip_grad_norm_
    p = jax.tree_util.tree_map(lambda w, gw: w - cfg.meta_lr * scale * gw, p, g)
    return p, losses.mean(), norm


@functools.cache
def _tp4_runner(cfg: TP4Config):
    def run(p, xs, ys, xq, yq):
        def step(p, batch):
            p, loss, _ = tp4_meta_step(p, *batch, cfg)
            return p, loss
        return jax.lax.scan(step, p, (xs, ys, xq, yq))
    return jax.jit(run)


@functools.cache
def _tp4_evaluator(cfg: TP4Config, steps: int):
    def acc(p, xs, ys, xq, yq):
        q = _tp4_adapt(p, xs, ys, cfg, steps)
        return jnp.argmax(tp4_logits(q, xq, cfg.bias_alpha), -1) == yq
    return jax.jit(jax.vmap(acc, in_axes=(None, 0, 0, 0, 0)))


def tp4_correct(p: dict, episodes, cfg: TP4Config, steps: int | None = None,
                block: int = 500) -> np.ndarray:
    """(T, q) bool: query answers after ``steps`` (default ``cfg.test_steps``) inner steps."""
    f = _tp4_evaluator(cfg, cfg.test_steps if steps is None else int(steps))
    xs, ys, xq, yq = episodes
    return np.concatenate([np.asarray(f(p, xs[i:i + block], ys[i:i + block], xq[i:i + block],
                                        yq[i:i + block])) for i in range(0, len(xs), block)])


def rotate_classes(chars: np.ndarray) -> np.ndarray:
    """TP4's class augmentation: (C, D, S, S) -> (4 C, D, S, S), every character also rotated
    by 90, 180 and 270 degrees, each rotation a class of its own."""
    return np.concatenate([np.rot90(chars, r, axes=(2, 3)) for r in range(4)])


def tp4_maml_train(params: dict, chars: np.ndarray, cfg: TP4Config, *, ways: int, shots: int,
                   queries: int, meta_steps: int, seed: int = 0, val=None, val_every: int = 0,
                   chunk: int = 50) -> MamlResult:
    """First-order MAML under TP4's protocol (:class:`TP4Config`) on ``chars`` (C, D, S, S)
    raw images (already augmented if wanted, :func:`rotate_classes`); with ``val`` episodes and
    ``val_every > 0`` the best validation checkpoint (``cfg.train_steps`` inner steps, as TP4's
    per-epoch validation) is returned. See :class:`MamlResult`."""
    run = _tp4_runner(cfg)
    select = val is not None and val_every > 0
    if select:
        chunk = min(chunk, val_every)
    rng = np.random.default_rng(seed)
    flat = chars.reshape(*chars.shape[:2], -1).astype(np.float32)

    def advance(p, s):
        eps = sample_episodes(flat, s * cfg.batch, ways, shots, queries, rng, standardize=False)
        return run(p, *[jnp.asarray(e.reshape(s, cfg.batch, *e.shape[1:])) for e in eps])

    def validate(p):
        return float(tp4_correct(p, val, cfg, cfg.train_steps).mean())

    return _meta_loop(params, advance, validate if select else None, meta_steps=meta_steps,
                      chunk=chunk, val_every=val_every, desc="TP4 MAML meta step",
                      diverged="TP4 MAML diverged (non-finite loss); lower meta_lr")
