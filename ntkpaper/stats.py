"""Small statistics every notebook uses, defined once.

* :func:`fit_power_law` - the log-log fit behind every width study; :func:`power_law_slopes`
  fits it per group of a tidy DataFrame (averaging over seeds first).
* :func:`relative_distance` - ``||a - b|| / ||b||``.
* :func:`accuracy` - argmax accuracy of predictions against integer labels.
* :func:`paired_difference` - mean difference of two methods scored on the *same* test items
  (or seeds) and its paired standard error, which is smaller than the unpaired one whenever the
  two scores are positively correlated (shared test tasks, shared seeds).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def fit_power_law(x, y) -> tuple[float, float]:
    """Least-squares fit of ``log y = a log x + b`` over positive ``x``, ``y`` (1-d, same length).

    Returns:
        ``(a, exp(b))``: the exponent (slope) and the prefactor.

    Raises:
        ValueError: fewer than two points, or non-positive values (a log-log fit is undefined).
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.shape != y.shape or len(x) < 2:
        raise ValueError(f"need two or more (x, y) pairs of equal length, got {x.shape}, {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0) or not np.all(np.isfinite(y)):
        raise ValueError("a power-law fit needs positive, finite x and y")
    a, b = np.polyfit(np.log(x), np.log(y), 1)
    return float(a), float(np.exp(b))


def power_law_slopes(df: pd.DataFrame, x: str, y: str, by: str | Sequence[str]) -> pd.Series:
    """Slope of ``log y`` vs ``log x`` for each group ``by``, after averaging ``y`` over the other
    columns (e.g. seeds) at each ``x``.

    Args:
        df: tidy table with columns ``x``, ``y`` and ``by``.

    Returns:
        Series of slopes indexed by ``by``.
    """
    by = [by] if isinstance(by, str) else list(by)
    mean = df.groupby(by + [x])[y].mean().reset_index()
    return mean.groupby(by).apply(lambda g: fit_power_law(g[x], g[y])[0], include_groups=False) \
        .rename(f"slope_{y}")


def relative_distance(a, b) -> float:
    """``||a - b||_F / ||b||_F`` for arrays of the same shape (``b`` is the reference)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of ``pred`` (N, k) whose argmax equals the label ``y`` (N,)."""
    return float(np.mean(np.argmax(np.asarray(pred), axis=-1) == np.asarray(y)))


def paired_difference(a, b) -> tuple[float, float]:
    """Mean of ``a - b`` and its standard error, for scores of two methods on the same items.

    Args:
        a, b: (N,) scores (e.g. per-task accuracies, or per-seed results), item i scored by both.

    Returns:
        ``(mean(a - b), std(a - b, ddof=1) / sqrt(N))``; the error is ``nan`` for N < 2.
    """
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if a.shape != b.shape or len(a) == 0:
        raise ValueError(f"paired scores need equal, non-zero lengths, got {a.shape}, {b.shape}")
    d = a - b
    se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se
