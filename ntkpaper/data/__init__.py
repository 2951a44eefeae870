"""Data sets: ``load(name, split, n=..., seed=...) -> Dataset``.

Names: ``mnist``, ``fashion_mnist``, ``cifar10`` (see :mod:`ntkpaper.data.sources` for where each
comes from and how it is verified) and ``digits`` (scikit-learn's 8x8 digits, bundled).

Splits: ``train`` (the first 50,000 official training images, the classic MNIST convention),
``val`` (the last 10,000 official training images), ``trainval`` (all 60,000), ``test`` (the
official 10,000). For CIFAR-10: 45k/5k/50k/10k. For digits: a fixed random 1,297/500 train/test
split with no val.

The decoded, verified uint8 arrays are cached in ``data/<name>.npz`` (with their sha256) and
re-verified on every load against the pinned sha256 (MNIST, Fashion-MNIST) or, where none can be
pinned (CIFAR-10: only its archive's md5 is published), against the sha256 recorded when they were
decoded from the verified source. A cache that fails (truncated, corrupt, other data) is removed
and rebuilt once from the sources with a :class:`DataRebuiltWarning`; if the rebuilt arrays do not
match either, :class:`DatasetUnavailable` says which source gave what and how to provide the data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ntkpaper import paths
from ntkpaper._io import atomic_write
from ntkpaper.data import formats, prep, sources
from ntkpaper.data.prep import (
    balanced_subset,
    flatten,
    one_hot,
    regression_task,
    standardize_per_example,
    zca_apply,
    zca_fit,
)
from ntkpaper.data.sources import (
    REGISTRY,
    ChecksumMismatch,
    DataDirNotWritable,
    DataRebuiltWarning,
    DatasetUnavailable,
)

__all__ = ["Dataset", "load", "load_arrays", "names", "DatasetUnavailable", "ChecksumMismatch",
           "DataRebuiltWarning", "DataDirNotWritable", "prep", "formats",
           "balanced_subset", "flatten", "one_hot", "regression_task", "standardize_per_example",
           "zca_apply", "zca_fit", "STAND_INS"]

SPLITS = ("train", "val", "trainval", "test")

# What stands in for a data set that cannot be had offline; shown in every figure and ledger.
STAND_INS = {"cifar10": "fashion_mnist"}


@dataclass
class Dataset:
    """Images ``x`` (N, H, W, C) float32 in [0, 1], labels ``y`` (N,) int64, and provenance."""

    x: np.ndarray
    y: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return int(self.meta.get("n_classes", int(self.y.max()) + 1))

    @property
    def label(self) -> str:
        """Human-readable name for figure titles, e.g. ``"MNIST train (n=1000)"``."""
        return self.meta.get("label", self.meta.get("title", "data"))


def names() -> list[str]:
    return sorted([*REGISTRY, "digits"])


def _cache_path(name: str):
    return paths.data_dir() / f"{name}.npz"


_KEYS = ("x_train", "y_train", "x_test", "y_test")
_RECORDED = "sha256"  # the cache's own record of its arrays' sha256


def _verify(spec: sources.Spec, arrays: dict, recorded: str | None = None) -> None:
    """Raise :class:`sources.SourceError` unless ``arrays`` has the four arrays and their sha256
    is the pinned one (``spec.sha256``), or, where none is pinned, ``recorded`` (if given)."""
    missing = set(_KEYS) - set(arrays)
    if missing:
        raise sources.SourceError(f"arrays missing: {sorted(missing)}")
    expected, what = (spec.sha256, "pinned") if spec.sha256 is not None else (recorded, "recorded")
    if expected is not None:
        got = formats.arrays_sha256({k: arrays[k] for k in _KEYS})
        if got != expected:
            shapes = ", ".join(f"{k} {arrays[k].shape}" for k in _KEYS)
            raise sources.SourceError(f"decoded arrays have sha256 {got[:16]}..., {what} "
                                      f"{expected[:16]}... (corrupt or different data: {shapes})")


def _read_cache(spec: sources.Spec, cache) -> dict[str, np.ndarray]:
    with np.load(cache, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    recorded = str(arrays.pop(_RECORDED)) if _RECORDED in arrays else None
    if spec.sha256 is None and recorded is None:
        raise sources.SourceError("no recorded sha256 (written by an older version)")
    _verify(spec, arrays, recorded)
    return arrays


def load_arrays(name: str, verbose: bool = True) -> dict[str, np.ndarray]:
    """The verified uint8 arrays of a registered data set, fetching them if needed.

    Returns:
        ``x_train`` (N, H, W, C) uint8, ``y_train`` (N,) uint8, ``x_test``, ``y_test``.

    Raises:
        KeyError: unknown name (lists the known ones).
        DatasetUnavailable: every source failed (lists each source and why).
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(names())}")
    spec = REGISTRY[name]
    cache = _cache_path(name)
    tried = []
    if cache.exists():
        try:
            return _read_cache(spec, cache)
        except Exception as err:  # truncated or corrupt cache: say so, then rebuild it once
            reason = f"{type(err).__name__}: {err}"
            tried.append(f"cache {cache}: {reason} (removed)")
            sources.ensure_writable(f"{spec.title} (its cache failed its check: {reason})")
            cache.unlink(missing_ok=True)
            sources.warn_rebuild(f"{spec.title}: the cache {cache} failed its check ({reason}); "
                                 "removed, rebuilding it once from the sources")
    sources.ensure_writable(spec.title)
    raw = paths.data_dir() / "raw"
    for source in spec.sources:
        try:
            if verbose:
                print(f"[ntkpaper.data] {spec.title}: trying {source.name} ...", flush=True)
            arrays = source.fetch(raw)
            _verify(spec, arrays)
        except sources.SourceError as err:
            tried.append(f"{source.name}: {err}")
            continue
        record = {_RECORDED: np.asarray(formats.arrays_sha256({k: arrays[k] for k in _KEYS}))}

        def write(p, a=arrays, r=record):
            with open(p, "wb") as f:
                np.savez(f, **a, **r)

        atomic_write(cache, write)
        if verbose:
            print(f"[ntkpaper.data] {spec.title}: ok from {source.name}; cached at {cache}")
        return arrays
    lines = "\n".join(f"  - {t}" for t in tried)
    raise DatasetUnavailable(
        f"Data set {spec.title!r} is not available. Sources tried, in order:\n{lines}\n"
        f"To provide it: {spec.how_to_provide}."
    )


def _digits_arrays() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.uint8)[..., None]  # values 0..16
    perm = np.random.default_rng(0).permutation(len(x))
    tr, te = perm[:1297], perm[1297:]
    return {"x_train": x[tr], "y_train": d.target[tr].astype(np.uint8),
            "x_test": x[te], "y_test": d.target[te].astype(np.uint8)}


def load(name: str, split: str = "train", n: int | None = None, seed: int = 0,
         balanced: bool = True) -> Dataset:
    """Load a split of a data set, optionally a (class-balanced) random subset of size ``n``.

    Args:
        name: one of :func:`names`.
        split: ``train``, ``val``, ``trainval`` or ``test`` (digits: ``train``/``test``).
        n: subset size (``None`` or the split's size = the whole split, in official order).
        seed: seed of the subset draw.
        balanced: class-balanced subset (default) or a uniform random one.

    Returns:
        :class:`Dataset` with ``x`` (n, H, W, C) float32 in [0, 1] and ``y`` (n,) int64.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    if name == "digits":
        if split not in ("train", "test"):
            raise ValueError("digits has only 'train' and 'test' splits")
        arrays, title, scale, classes = _digits_arrays(), "sklearn digits", 16.0, sources.DIGITS
    else:
        arrays = load_arrays(name, verbose=os.environ.get("NTKPAPER_QUIET") is None)
        spec = REGISTRY[name]
        title, scale, classes = spec.title, 255.0, spec.classes
    if split == "test":
        x, y = arrays["x_test"], arrays["y_test"]
    else:
        x, y = arrays["x_train"], arrays["y_train"]
        n_val = 0 if name == "digits" else (5000 if name == "cifar10" else 10000)
        if split == "train":
            x, y = x[: len(x) - n_val], y[: len(y) - n_val]
        elif split == "val":
            x, y = x[len(x) - n_val:], y[len(y) - n_val:]
    if n is not None and n != len(y):  # n == len(y): the whole split, in its official order
        if not 1 <= n <= len(y):
            raise ValueError(f"n={n} must be between 1 and {len(y)} for {name}/{split}")
        idx = (balanced_subset(y, n, seed, len(classes)) if balanced
               else np.random.default_rng(seed).choice(len(y), size=n, replace=False))
        x, y = x[idx], y[idx]
    meta = {"name": name, "title": title, "split": split, "n": len(y), "seed": seed,
            "n_classes": len(classes), "classes": classes,
            "label": f"{title} {split} (n={len(y)})"}
    return Dataset(x.astype(np.float32) / scale, y.astype(np.int64), meta)
