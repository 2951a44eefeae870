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
  at chosen steps into a tidy DataFrame, one row per parameter group (named after the group
  for any jax model: :meth:`Recorder.for_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ntkpaper import entk

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
    if not np.linalg.norm(t) > 0:
        raise ValueError("alignment is undefined for constant targets (y is the same for every "
                         "example)" if centered else "alignment is undefined for all-zero targets")
    if not np.linalg.norm(k) > 0:
        raise ValueError("alignment is undefined for a zero kernel" + (
            " (after centring: the kernel is all zero, or constant over the examples)"
            if centered else ""))
    return float(np.sum(k * t) / (np.linalg.norm(k) * np.linalg.norm(t)))


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


def _named(result) -> tuple[list[str] | None, np.ndarray]:
    """(names or None, float64 array) from a callable's result: an array, or a (names, array)
    pair such as :class:`ntkpaper.entk.GroupKernels`."""
    if (isinstance(result, tuple) and len(result) == 2 and not hasattr(result[0], "shape")
            and all(isinstance(n, str) for n in result[0])):
        return list(result[0]), np.asarray(result[1], np.float64)
    return None, np.asarray(result, np.float64)


class Recorder:
    """Records eNTK measures along training, as a callback of :func:`ntkpaper.training.fit`.

    For one's own model, :meth:`for_model` builds one from ``apply_fn`` and a probe set::

        init_fn, apply_fn, _ = nt.stax.serial(stax.Dense(512), stax.Relu(), stax.Dense(10))
        _, params = init_fn(key, x.shape)
        rec = Recorder.for_model(apply_fn, x[:100], y[:100], log_steps(1000, 10))
        training.fit(lambda p: jnp.mean((apply_fn(p, x) - y) ** 2), params, optax.adam(1e-3),
                     1000, callback=rec)
        rec.frame()  # layer column: "[0]", "[2]", "all"

    Args:
        layer_kernels: ``params -> (G, N, N)`` per-group kernels on the probe set, or
            ``params -> (names, (G, N, N))`` (e.g. :func:`ntkpaper.entk.layer_kernels`, whose
            :class:`~ntkpaper.entk.GroupKernels` carries the group names).
        y: (N,) or (N, c) probe targets.
        steps: steps at which to record (e.g. :func:`log_steps`).
        outputs: optional ``params -> (N, c)`` network outputs on the probe (for the energy of the
            outputs and of the residual ``y - f``).
        ks: top-k values for the energy measures.
        tags: constant columns added to every row (e.g. width, run name).
        extra: ``{metric: params -> float}`` recorded too (layer ``"all"``), e.g. accuracies.
        tangent_alignment: optional ``params -> (G + 1,)`` alignments of the full multi-output
            tangent kernel per group and of the whole (Baratin et al.'s definition, e.g.
            :func:`ntkpaper.entk.mlp_layer_tangent_alignment`, or
            :func:`ntkpaper.entk.layer_tangent_alignment`, whose names are used), recorded as
            ``alignment_full``.
        names: optional G group names for the ``layer`` column (default: the names returned by
            ``layer_kernels``, else ``"1"``..``"G"``); they override returned names.

    Rows (``frame()``): step, layer (``"all"`` or a group name), metric, value, plus tags.
    Metrics: ``alignment`` (centred, output-averaged kernel), ``alignment_uncentred``,
    ``alignment_full`` (when ``tangent_alignment`` is given), ``distance_from_init``,
    ``rel_change_from_init`` (``||K_t - K_0|| / ||K_0||``), ``trace``; for ``"all"`` also
    ``top_eigenvalue``, ``effective_rank``, ``energy_target_top{k}``, ``energy_output_top{k}``,
    ``energy_residual_top{k}``; and ``eigenvalues`` are kept in ``self.spectra[step]``.

    Raises (when called): ValueError naming the step and the group when a measure is undefined
    for a group's kernel (e.g. an all-zero kernel).
    """

    def __init__(self, layer_kernels: Callable, y: np.ndarray, steps: Sequence[int],
                 outputs: Callable | None = None, ks: Sequence[int] = (1, 10, 50),
                 tags: dict | None = None, extra: dict[str, Callable] | None = None,
                 tangent_alignment: Callable | None = None,
                 names: Sequence[str] | None = None):
        if not callable(layer_kernels):
            raise TypeError("layer_kernels must be a callable params -> (G, N, N) or "
                            f"(names, (G, N, N)), got {type(layer_kernels).__name__}")
        if names is not None and (isinstance(names, str)
                                  or not all(isinstance(n, str) for n in names)):
            raise TypeError(f"names must be a list of strings, got {names!r}")
        self.layer_kernels, self.y, self.outputs = layer_kernels, np.asarray(y), outputs
        self.tangent_alignment = tangent_alignment
        self.steps, self.ks, self.tags = {int(s) for s in steps}, list(ks), dict(tags or {})
        self.extra = dict(extra or {})
        self.names = None if names is None else list(names)
        self.rows: list[dict] = []
        self.spectra: dict[int, np.ndarray] = {}
        self._k0: np.ndarray | None = None

    @classmethod
    def for_model(cls, apply_fn: Callable, x_probe, y_probe, steps: Sequence[int],
                  groups=None, full_alignment: bool = False, outputs: bool = True,
                  ks: Sequence[int] = (1, 10, 50), tags: dict | None = None,
                  extra: dict[str, Callable] | None = None,
                  block: int | None = None) -> Recorder:
        """A recorder for any jax model: per-group kernels by
        :func:`ntkpaper.entk.layer_kernels` on the probe set, rows named after the groups.

        Args:
            apply_fn: ``(params, x) -> (N, k)`` (stax, plain jax, flax-like ``model.apply``).
            x_probe: (N, ...) probe inputs; y_probe: (N,) or (N, k) probe targets (one-hot
                for classes), not the same for every example.
            steps: steps at which to record (e.g. :func:`log_steps`).
            groups: parameter groups (see :func:`ntkpaper.entk.layer_kernels`; default the
                layers, empty ones skipped).
            full_alignment: also record ``alignment_full`` (Baratin et al.'s multi-output
                alignment, :func:`ntkpaper.entk.layer_tangent_alignment`; memory
                2 G (N k)^2 floats).
            outputs: record the energies of the outputs and residual on the probe set.
            ks, tags, extra: as the constructor; block: as :func:`ntkpaper.entk.layer_kernels`.

        Returns:
            a :class:`Recorder` to pass as ``callback=`` to :func:`ntkpaper.training.fit`.
        """
        if not callable(apply_fn):
            raise TypeError(f"apply_fn must be callable (params, x) -> (N, k), got "
                            f"{type(apply_fn).__name__}")
        x_probe, y_probe = np.asarray(x_probe), np.asarray(y_probe, np.float64)
        if x_probe.ndim < 1 or y_probe.ndim not in (1, 2) or len(y_probe) != len(x_probe):
            raise ValueError(f"y_probe must be (N,) or (N, k) with N = len(x_probe) = "
                             f"{len(x_probe) if x_probe.ndim else 0}, got {y_probe.shape}")
        if len(x_probe) < 2 or not np.any(y_probe - y_probe.mean(0)):
            raise ValueError("y_probe is the same for every probe example (or N < 2): the "
                             "centred alignment is undefined; use a probe set with several "
                             "classes / target values")
        steps = list(steps)
        if not steps or not all(isinstance(s, (int, np.integer)) and s >= 0 for s in steps):
            raise ValueError(f"steps must be a non-empty list of integers >= 0, got {steps!r}")

        def kernels(p):
            return entk.layer_kernels(apply_fn, p, x_probe, groups=groups, block=block)

        def outs(p):
            f = np.asarray(apply_fn(p, x_probe))
            if f.size != y_probe.size:
                raise ValueError(f"apply_fn(params, x_probe) gives outputs of shape {f.shape}, "
                                 f"which do not match y_probe {y_probe.shape}")
            return f

        full = None
        if full_alignment:
            yk = y_probe.reshape(len(y_probe), -1)
            full = lambda p: entk.layer_tangent_alignment(apply_fn, p, x_probe, yk,  # noqa: E731
                                                          groups=groups, block=block)
        return cls(kernels, y_probe, steps, outputs=outs if outputs else None, ks=ks,
                   tags=tags, extra=extra, tangent_alignment=full)

    def _measure(self, step, name, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            k = args[0]
            hint = ""
            if not np.any(k):
                hint = ("; the group's kernel is all zero: an empty parameter group (such as a "
                        "stax activation layer's ()), a layer whose output is unused, or dead "
                        "ReLUs - ntkpaper.entk.layer_kernels (and Recorder.for_model) skip empty "
                        "groups and name the others")
            raise ValueError(f"Recorder at step {step}, group {name!r}: {e}{hint}") from e

    def __call__(self, step: int, params) -> None:
        if step not in self.steps:
            return
        try:
            names, kl = _named(self.layer_kernels(params))
        except ValueError as e:
            raise ValueError(f"Recorder at step {step}: {e}") from e
        names = self.names or names
        if kl.ndim != 3 or kl.shape[1] != kl.shape[2] or kl.shape[1] != len(self.y):
            raise ValueError(f"layer_kernels must return (G, N, N) kernels with N = "
                             f"{len(self.y)} probe points, got shape {kl.shape}")
        names = [str(i + 1) for i in range(len(kl))] if names is None else names
        if len(names) != len(kl):
            raise ValueError(f"{len(names)} group names {names} for {len(kl)} kernels")
        if self._k0 is None:
            self._k0, self._names0 = kl, names
        elif names != self._names0 or kl.shape != self._k0.shape:
            raise ValueError(f"step {step}: groups {names} {kl.shape} differ from those at the "
                             f"first recorded step {self._names0} {self._k0.shape}")
        groups = [("all", kl.sum(0), self._k0.sum(0))] + \
            [(names[i], kl[i], self._k0[i]) for i in range(len(kl))]
        for name, k, k0 in groups:
            self._add(step, name, "alignment",
                      self._measure(step, name, alignment, k, self.y))
            self._add(step, name, "alignment_uncentred",
                      self._measure(step, name, alignment, k, self.y, centered=False))
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
            try:
                full_names, full = _named(self.tangent_alignment(params))
            except ValueError as e:
                raise ValueError(f"Recorder at step {step}: {e}") from e
            if full_names is None or self.names is not None:
                full_names = ([*names, "all"] if len(full) == len(names) + 1
                              else [*map(str, range(1, len(full))), "all"])
            for name, val in zip(full_names, full):
                self._add(step, name, "alignment_full", float(val))
        for name, fn in self.extra.items():
            self._add(step, "all", name, float(fn(params)))

    def _add(self, step, layer, metric, value):
        self.rows.append({**self.tags, "step": int(step), "layer": layer, "metric": metric,
                          "value": value})

    def frame(self) -> pd.DataFrame:
        """The recorded rows as a tidy DataFrame (step, layer, metric, value, tags)."""
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
