"""Readers for the official on-disk formats (no network, no caching): IDX, CIFAR-10 python pickles.

Both are used by the real loaders and by the tests, which write miniatures in the same formats.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from ntkpaper._io import arrays_sha256  # noqa: F401  (the data checksums are computed by it)

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class FormatError(ValueError):
    """A file is not in the format its loader expects."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (MNIST / Fashion-MNIST format), gzipped or not.

    Returns:
        Array with the shape stored in the header, e.g. ``(60000, 28, 28)`` uint8 for images
        or ``(60000,)`` uint8 for labels.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise FormatError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise FormatError(f"{path}: unknown IDX data type code 0x{code:02x}")
    shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[code])
    data = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise FormatError(f"{path}: header says shape {shape} but file holds {data.size} values")
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as an IDX file, gzipped if ``path`` ends in ``.gz``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


CIFAR10_MEMBERS = [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)] + [
    "cifar-10-batches-py/test_batch"
]


def read_cifar10_tarball(path: str | Path, md5: str | None) -> dict[str, np.ndarray]:
    """Read the official CIFAR-10 python archive (``cifar-10-python.tar.gz``).

    Args:
        path: the tarball.
        md5: expected md5 of the archive (the official page publishes it); ``None`` skips the check.

    Returns:
        ``x_train`` (50000, 32, 32, 3) uint8, ``y_train`` (50000,) uint8, ``x_test`` (10000, 32, 32,
        3), ``y_test`` (10000,); fewer rows for a miniature archive.
    """
    path = Path(path)
    if md5 is not None:
        got = file_digest(path, "md5")
        if got != md5:
            raise FormatError(
                f"{path}: md5 {got} does not match the published CIFAR-10 md5 {md5}; the download "
                "is corrupt or not the official archive. Delete it and fetch it again."
            )
    batches: dict[str, dict] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in CIFAR10_MEMBERS:
            try:
                f = tar.extractfile(member)
            except KeyError:
                f = None
            if f is None:
                raise FormatError(f"{path}: missing member {member}; not a CIFAR-10 python archive")
            batches[member] = pickle.load(io.BytesIO(f.read()), encoding="bytes")

    def unpack(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for name in names:
            b = batches[name]
            data = np.asarray(b[b"data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3072:
                raise FormatError(f"{path}:{name}: data has shape {data.shape}, expected (N, 3072)")
            xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(b[b"labels"], dtype=np.uint8))
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = unpack(CIFAR10_MEMBERS[:5])
    x_test, y_test = unpack(CIFAR10_MEMBERS[5:])
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def write_cifar10_tarball(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays (as returned by :func:`read_cifar10_tarball`) in the official archive format.

    The training rows are split evenly over the five ``data_batch_*`` files. Used by tests.
    """
    def batch(x: np.ndarray, y: np.ndarray, label: str) -> bytes:
        data = np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(len(x), 3072), dtype=np.uint8)
        return pickle.dumps({b"batch_label": label.encode(), b"labels": [int(v) for v in y],
                             b"data": data, b"filenames": [b"x.png"] * len(x)})

    x_tr, y_tr = arrays["x_train"], arrays["y_train"]
    parts = np.array_split(np.arange(len(x_tr)), 5)
    with tarfile.open(path, "w:gz") as tar:
        contents = [(m, batch(x_tr[p], y_tr[p], m)) for m, p in zip(CIFAR10_MEMBERS[:5], parts)]
        contents.append((CIFAR10_MEMBERS[5], batch(arrays["x_test"], arrays["y_test"], "test")))
        for name, blob in contents:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
