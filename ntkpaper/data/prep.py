"""Preprocessing: class-balanced subsets, flattening, standardisation, regularised ZCA, targets.

Shapes: images ``x`` are (N, H, W, C) or already flat (N, D); labels ``y`` are (N,) ints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def balanced_subset(y: np.ndarray, n: int, seed: int = 0, n_classes: int | None = None
                    ) -> np.ndarray:
    """Indices of a class-balanced random subset of size ``n``.

    Every class gets ``n // k`` examples; the ``n % k`` remaining slots go to randomly chosen
    classes. Deterministic in ``seed``; the result is sorted by a random permutation (not by class).

    Args:
        y: (N,) integer labels.
        n: subset size, ``1 <= n <= N``.
        seed: random seed.
        n_classes: number of classes ``k`` (default: ``y.max() + 1``).

    Returns:
        (n,) int64 indices into ``y``.
    """
    y = np.asarray(y)
    k = int(n_classes if n_classes is not None else y.max() + 1)
    if not 1 <= n <= len(y):
        raise ValueError(f"subset size n={n} must be between 1 and the data set size {len(y)}")
    rng = np.random.default_rng(seed)
    per_class = np.full(k, n // k)
    per_class[rng.choice(k, size=n % k, replace=False)] += 1
    picks = []
    for c in range(k):
        members = np.flatnonzero(y == c)
        if per_class[c] > len(members):
            raise ValueError(f"class {c} has {len(members)} examples, a balanced subset of n={n} "
                             f"needs {per_class[c]}; choose a smaller n")
        picks.append(rng.choice(members, size=per_class[c], replace=False))
    idx = np.concatenate(picks)
    return idx[rng.permutation(len(idx))].astype(np.int64)


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, ...) -> (N, D) float64."""
    return np.asarray(x, dtype=np.float64).reshape(len(x), -1)


def standardize_per_example(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Each row to zero mean and unit variance over its features: (N, ...) -> (N, D).

    Every input then has squared norm D, so FC kernels see only angles between inputs.
    """
    x = flatten(x)
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.sqrt((x**2).mean(axis=1, keepdims=True) + eps)


def zca_fit(x_train: np.ndarray, strength: float = 0.1) -> np.ndarray:
    """Regularised ZCA whitening matrix from training data (Lee et al. 2020, Sec. 3.9).

    ``W = U diag((s + strength * mean(s))^{-1/2}) U^T`` where ``U diag(s) U^T`` is the feature
    covariance of the (per-example standardised) training inputs. ``strength -> inf`` tends to the
    identity up to scale; ``strength = 0`` is plain ZCA.

    Args:
        x_train: (N, D) training inputs (already standardised).
        strength: regulariser relative to the mean eigenvalue, >= 0.

    Returns:
        (D, D) whitening matrix, to be applied as ``x @ W``.
    """
    if strength < 0:
        raise ValueError(f"ZCA strength must be >= 0, got {strength}")
    x = flatten(x_train)
    x = x - x.mean(axis=0)
    cov = x.T @ x / len(x)
    s, u = np.linalg.eigh(cov)
    s = np.clip(s, 0.0, None)
    scale = 1.0 / np.sqrt(s + strength * s.mean() + 1e-12)
    return (u * scale) @ u.T


def zca_apply(x: np.ndarray, w: np.ndarray, rescale: bool = True) -> np.ndarray:
    """Apply a ZCA matrix and (optionally) restandardise each example: (N, D) -> (N, D)."""
    out = flatten(x) @ w
    return standardize_per_example(out) if rescale else out


def one_hot(y: np.ndarray, n_classes: int, kind: str = "plain") -> np.ndarray:
    """Regression targets for classification.

    Args:
        y: (N,) integer labels in ``[0, n_classes)``.
        kind: ``"plain"`` (0/1), ``"centered"`` (1 - 1/k on the true class, -1/k elsewhere, rows
            sum to zero) or ``"lee"`` (0.9 / -0.1, as in Lee et al. 2018).

    Returns:
        (N, n_classes) float64.
    """
    y = np.asarray(y)
    if y.ndim != 1 or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
        raise ValueError(f"labels must be a 1-d array of ints in [0, {n_classes}); got shape "
                         f"{y.shape}, range [{y.min() if len(y) else None}, "
                         f"{y.max() if len(y) else None}]")
    t = np.eye(n_classes)[y]
    if kind == "plain":
        return t
    if kind == "centered":
        return t - 1.0 / n_classes
    if kind == "lee":
        return t - 0.1
    raise ValueError(f"unknown one-hot kind {kind!r}; choose 'plain', 'centered' or 'lee'")


def regression_task(n: int, seed: int = 0, freqs: Sequence[float] = (1.0, 3.0)
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D regression problem in the style of Kopitkov & Indelman's experiments.

    ``x`` uniform on [-1, 1]^2 (n, 2); ``y = sum_f sin(pi f x_1) cos(pi f x_2) / len(freqs)``
    (n, 1): a smooth low-frequency part plus a higher-frequency part.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = sum(np.sin(np.pi * f * x[:, 0]) * np.cos(np.pi * f * x[:, 1]) for f in freqs)
    return x.astype(np.float32), (y / len(freqs))[:, None].astype(np.float32)
