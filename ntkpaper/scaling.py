"""Scaling exponents: the one log-log fit every width study uses."""

from __future__ import annotations

import numpy as np


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
