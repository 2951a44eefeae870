"""Content-addressed disk cache for expensive arrays (kernels, trained predictions).

The key is the sha256 of a canonical JSON of: the entry's name, its parameters (which should
include the data's identity, e.g. its checksum or (name, split, n, seed)), the versions of
jax/jaxlib/neural-tangents/numpy, the digest of the package's computing code
(:func:`code_digest`) and ``CACHE_VERSION``. An entry is one ``.npz`` file holding the
arrays plus a sha256 of their contents; writes are atomic, and an entry that fails to load or whose
contents do not match its checksum is reported, deleted and recomputed.

Concurrency: an entry is computed under a lock of its own (``<cache>/.locks/``), so that two
processes wanting the same missing entry compute it once (the second waits, then reads it); an
entry removed by :func:`clear` while being read is a miss, not an error; :func:`clear` removes
complete entries only, never another process's file being written.

Example::

    arrays = cache.cached("fc_kernels", {"depth": 3, "data": ds_key}, lambda: {"k": k})
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import os
import time
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ntkpaper import paths
from ntkpaper._io import arrays_sha256, atomic_path

CACHE_VERSION = 1
_CHECK = "__sha256__"

stats = {"hits": 0, "misses": 0, "corrupt": 0}


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"__array_sha256__": arrays_sha256({"a": obj})}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    raise TypeError(f"cache key parameter of type {type(obj).__name__} is not hashable "
                    "into a key; pass str, numbers, lists, dicts or numpy arrays")


@functools.cache
def code_digest() -> str:
    """sha256 of the source of every module that can compute a cached value (the whole package
    but the run machinery in ``pipeline/``), so that any change of that code misses the cache
    instead of reusing an entry computed by the old code."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "pipeline":
            continue
        h.update(f"{rel.as_posix()}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def key(name: str, params: Mapping) -> str:
    """The cache key (hex sha256) of an entry."""
    import jax
    import jaxlib

    v = {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": np.__version__,
         "neural_tangents": importlib.metadata.version("neural-tangents")}
    payload = {"name": name, "params": _jsonable(params), "cache_version": CACHE_VERSION,
               "code": code_digest(),
               "versions": {k: v[k] for k in ("jax", "jaxlib", "neural_tangents", "numpy")}}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def entry_path(name: str, params: Mapping) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return paths.cache_dir() / f"{safe}-{key(name, params)[:32]}.npz"


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    stored = str(arrays.pop(_CHECK, np.array(""))[()])
    if stored != arrays_sha256(arrays):
        raise ValueError("contents do not match their checksum")
    return arrays


def _try_load(path: Path) -> dict[str, np.ndarray] | None:
    """The entry's arrays, or None if there is none (also: removed by ``clear`` meanwhile); a
    corrupt entry is reported and deleted."""
    if not path.exists():
        return None
    try:
        arrays = _load(path)
    except FileNotFoundError:
        return None
    except (ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:  # not OSError (EMFILE)
        stats["corrupt"] += 1
        warnings.warn(f"cache entry {path.name} is corrupt ({err}); recomputing", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    stats["hits"] += 1
    return arrays


@contextlib.contextmanager
def _entry_lock(path: Path):
    """Hold the entry's lock (blocking); go without one where the cache cannot be written or the
    file system has no locks (e.g. NFS without lockd): the cost is a possible double
    computation, never a wrong result."""
    import fcntl

    f = None
    try:
        lock_dir = path.parent / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        f = open(lock_dir / f"{path.stem}.lock", "a+")
        fcntl.flock(f, fcntl.LOCK_EX)
    except OSError:
        if f is not None:
            f.close()
        f = None
    try:
        yield
    finally:
        if f is not None:
            f.close()


def cached(name: str, params: Mapping, compute: Callable[[], Mapping[str, np.ndarray]],
           enabled: bool | None = None) -> dict[str, np.ndarray]:
    """Return ``compute()``'s arrays, from disk if an entry for ``(name, params)`` exists.

    Args:
        name: what is cached (part of the file name and of the key).
        params: everything the result depends on (JSON-able values or numpy arrays).
        compute: returns a mapping of array name -> array.
        enabled: ``False`` bypasses the cache; default: on unless ``NTKPAPER_NO_CACHE`` is set.
    """
    if enabled is None:
        enabled = not os.environ.get("NTKPAPER_NO_CACHE")
    if not enabled:
        return {k: np.asarray(v) for k, v in compute().items()}
    path = entry_path(name, params)
    arrays = _try_load(path)
    if arrays is not None:
        return arrays
    with _entry_lock(path):
        arrays = _try_load(path)  # another process may have written it while we waited
        if arrays is not None:
            return arrays
        stats["misses"] += 1
        arrays = {k: np.asarray(v) for k, v in compute().items()}
        if _CHECK in arrays:
            raise ValueError(f"array name {_CHECK!r} is reserved")
        try:
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, **arrays, **{_CHECK: np.array(arrays_sha256(arrays))})
        except OSError as err:  # a read-only or full cache directory costs time, never the result
            warnings.warn(f"cache entry {path.name} not written ({err}); the result is used "
                          "without caching", stacklevel=2)
    return arrays


def clear(stale_after_s: float = 3600.0) -> int:
    """Delete every complete cache entry; returns how many were removed. Files being written
    (``.NAME.*.tmp.npz``) are left to their writers unless older than ``stale_after_s`` (left
    behind by a killed process)."""
    removed = 0
    root = paths.cache_dir()
    for p in root.glob("*.npz"):
        if p.name.startswith("."):
            if ".tmp" in p.name and time.time() - p.stat().st_mtime > stale_after_s:
                p.unlink(missing_ok=True)
            continue
        p.unlink(missing_ok=True)
        removed += 1
    return removed
