"""Measures of the empirical NTK during training: alignment, spectra, energies (notebook 04).

The kernels themselves come from :mod:`ntkpaper.entk`.

Measures (all on symmetric (N, N) kernels):

* :func:`alignment` - kernel-target alignment ``<K, Y Y^T>_F / (||K||_F ||Y Y^T||_F)``
  (Cristianini et al. 2002); centred (Cortes et al. 2012: both matrices multiplied by
  ``H = I - 11^T/N`` on both sides) by default, as in Baratin et al. 2021.
* :func:`kernel_distance` - ``1 - <K1, K2>_F / (||K1||_F ||K2||_F)`` (Fort et al. 2020).
* :func:`spectrum`, :func:`energy_captured` (share of a vector's squared norm in the span of the
  top-k eigenvectors; 1 at k = N), :func:`effective_rank` (``exp`` of the eigenvalue entropy).
* :class:`Recorder` - a callback for :func:`ntkpaper.training.fit` that records all of these
  at chosen steps into a tidy DataFrame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------
# Measures


def _check_kernel(k: np.ndarray) -> np.ndarray:
    k = np.asarray(k, np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"kernel must be a square (N, N) matrix, got shape {k.shape}")
    return k


def center(k: np.ndarray) -> np.ndarray:
    """``H K H`` with ``H = I - 11^T / N``."""
    k = _check_kernel(k)
    return k - k.mean(0, keepdims=True) - k.mean(1, keepdims=True) + k.mean()


def alignment(k: np.ndarray, y: np.ndarray, centered: bool = True) -> float:
    """Kernel-target alignment of K (N, N) with targets y (N,) or (N, c)."""
    k = _check_kernel(k)
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    if len(y) != len(k):
        raise ValueError(f"targets have {len(y)} rows but the kernel is {k.shape}")
    t = y @ y.T
    if centered:
        k, t = center(k), center(t)
    denom = np.linalg.norm(k) * np.linalg.norm(t)
    if denom == 0:
        raise ValueError("alignment is undefined for a zero kernel or constant targets")
    return float(np.sum(k * t) / denom)


def kernel_distance(k1: np.ndarray, k2: np.ndarray) -> float:
    """``1 - <K1, K2>_F / (||K1||_F ||K2||_F)``: 0 for proportional kernels."""
    k1, k2 = _check_kernel(k1), _check_kernel(k2)
    if k1.shape != k2.shape:
        raise ValueError(f"kernels differ in shape: {k1.shape} vs {k2.shape}")
    return float(1.0 - np.sum(k1 * k2) / (np.linalg.norm(k1) * np.linalg.norm(k2)))


def spectrum(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (N,) in decreasing order and eigenvectors (N, N) as columns."""
    s, v = np.linalg.eigh(_check_kernel(k))
    return s[::-1].copy(), v[:, ::-1].copy()


def energy_captured(evecs: np.ndarray, v: np.ndarray, ks: Sequence[int]) -> np.ndarray:
    """Share of ``||v||^2`` in the span of the top-k eigenvectors, for each k in ``ks``.

    Args:
        evecs: (N, N) eigenvectors in decreasing eigenvalue order (from :func:`spectrum`).
        v: (N,) or (N, c) vectors (columns pooled).
    """
    v = np.asarray(v, np.float64).reshape(len(evecs), -1)
    proj = np.sum((evecs.T @ v) ** 2, axis=1)
    total = float(np.sum(v**2))
    if total == 0:
        raise ValueError("energy_captured of a zero vector is undefined")
    cum = np.cumsum(proj) / total
    return np.array([cum[min(int(k), len(cum)) - 1] for k in ks])


def effective_rank(evals: np.ndarray) -> float:
    """``exp(-sum p_i log p_i)`` with ``p = lambda / sum(lambda)`` (Roy & Vetterli 2007)."""
    p = np.clip(np.asarray(evals, np.float64), 0, None)
    p = p[p > 0] / p.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def log_steps(total: int, n: int) -> list[int]:
    """About ``n`` distinct integer steps from 0 to ``total``, log-spaced (0 included)."""
    if total < 1 or n < 2:
        raise ValueError(f"need total >= 1 and n >= 2, got total={total}, n={n}")
    pts = np.round(np.geomspace(1, total, max(n - 1, 2))).astype(int)
    return sorted({0, *pts.tolist()})


class Recorder:
    """Records eNTK measures along training, as a callback of :func:`ntkpaper.training.fit`.

    Args:
        layer_kernels: ``params -> (G, N, N)`` per-group kernels on the probe set.
        y: (N,) or (N, c) probe targets.
        steps: steps at which to record (e.g. :func:`log_steps`).
        outputs: optional ``params -> (N, c)`` network outputs on the probe (for the energy of the
            outputs and of the residual ``y - f``).
        ks: top-k values for the energy measures.
        tags: constant columns added to every row (e.g. width, run name).
        extra: ``{metric: params -> float}`` recorded too (layer ``"all"``), e.g. accuracies.
        tangent_alignment: optional ``params -> (G + 1,)`` alignments of the full multi-output
            tangent kernel per group and of the whole (Baratin et al.'s definition, e.g.
            :func:`ntkpaper.entk.mlp_layer_tangent_alignment`), recorded as
            ``alignment_full``.

    Rows (``frame()``): step, layer (``"all"`` or ``"1"``..), metric, value, plus tags. Metrics:
    ``alignment`` (centred, output-averaged kernel), ``alignment_uncentred``,
    ``alignment_full`` (when ``tangent_alignment`` is given), ``distance_from_init``,
    ``rel_change_from_init`` (``||K_t - K_0|| / ||K_0||``), ``trace``; for ``"all"`` also
    ``top_eigenvalue``, ``effective_rank``, ``energy_target_top{k}``, ``energy_output_top{k}``,
    ``energy_residual_top{k}``; and ``eigenvalues`` are kept in ``self.spectra[step]``.
    """

    def __init__(self, layer_kernels: Callable, y: np.ndarray, steps: Sequence[int],
                 outputs: Callable | None = None, ks: Sequence[int] = (1, 10, 50),
                 tags: dict | None = None, extra: dict[str, Callable] | None = None,
                 tangent_alignment: Callable | None = None):
        self.layer_kernels, self.y, self.outputs = layer_kernels, np.asarray(y), outputs
        self.tangent_alignment = tangent_alignment
        self.steps, self.ks, self.tags = {int(s) for s in steps}, list(ks), dict(tags or {})
        self.extra = dict(extra or {})
        self.rows: list[dict] = []
        self.spectra: dict[int, np.ndarray] = {}
        self._k0: np.ndarray | None = None

    def __call__(self, step: int, params) -> None:
        if step not in self.steps:
            return
        kl = np.asarray(self.layer_kernels(params), np.float64)
        if self._k0 is None:
            self._k0 = kl
        groups = [("all", kl.sum(0), self._k0.sum(0))] + \
            [(str(i + 1), kl[i], self._k0[i]) for i in range(len(kl))]
        for name, k, k0 in groups:
            self._add(step, name, "alignment", alignment(k, self.y))
            self._add(step, name, "alignment_uncentred", alignment(k, self.y, centered=False))
            self._add(step, name, "distance_from_init", kernel_distance(k, k0))
            self._add(step, name, "rel_change_from_init",
                      float(np.linalg.norm(k - k0) / np.linalg.norm(k0)))
            self._add(step, name, "trace", float(np.trace(k)))
        s, v = spectrum(kl.sum(0))
        self.spectra[step] = s
        self._add(step, "all", "top_eigenvalue", float(s[0]))
        self._add(step, "all", "effective_rank", effective_rank(s))
        vecs = {"target": self.y}
        if self.outputs is not None:
            f = np.asarray(self.outputs(params), np.float64).reshape(self.y.shape)
            vecs.update(output=f, residual=self.y - f)
        for what, vec in vecs.items():
            if np.any(vec):
                for k, e in zip(self.ks, energy_captured(v, vec, self.ks)):
                    self._add(step, "all", f"energy_{what}_top{k}", float(e))
        if self.tangent_alignment is not None:
            full = np.asarray(self.tangent_alignment(params))
            for name, v in zip([*map(str, range(1, len(full))), "all"], full):
                self._add(step, name, "alignment_full", float(v))
        for name, fn in self.extra.items():
            self._add(step, "all", name, float(fn(params)))

    def _add(self, step, layer, metric, value):
        self.rows.append({**self.tags, "step": int(step), "layer": layer, "metric": metric,
                          "value": value})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def path_complexity(lengths: np.ndarray, steps: Sequence[int], traces: Sequence[float],
                    n: int) -> np.ndarray:
    """Tangent-kernel path complexity up to each recorded step (after Baratin et al. 2021).

    Each update ``theta_{t+1} - theta_t`` is a linear predictor on the tangent features of step
    t, whose class of norm ``||theta_{t+1} - theta_t||`` has Rademacher complexity at most
    ``||theta_{t+1} - theta_t|| sqrt(tr K_t) / n`` on n points; summing along the path bounds the
    complexity of the sequence of classes. ``tr K_t`` is taken at the last recorded step before
    t (``traces`` at ``steps``, already scaled to the n training points).

    Args:
        lengths: (T,) update norms from :func:`ntkpaper.training.fit`.
        steps: recorded steps (increasing, starting at 0); traces: ``tr K`` at those steps.

    Returns:
        (len(steps),) complexity accumulated up to each recorded step.
    """
    steps = [int(s) for s in steps]
    if steps[0] != 0 or steps != sorted(steps) or len(traces) != len(steps):
        raise ValueError("steps must increase from 0 and match traces in length")
    out, total = [0.0], 0.0
    for (a, b), tr in zip(zip(steps[:-1], steps[1:]), traces[:-1]):
        total += float(np.sum(lengths[a:b])) * np.sqrt(max(tr, 0.0)) / n
        out.append(total)
    return np.array(out)
