"""Loaders on generated miniatures in the official formats, checksums, preprocessing, errors."""

import gzip
import pickle

import numpy as np
import pytest

from ntkpaper import data, paths
from ntkpaper.data import formats, sources


def _mini(n_train=10, n_test=5, shape=(28, 28, 1), seed=0):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n_test).astype(np.uint8)}


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    arrays = _mini()
    for key, stem in sources.IDX_NAMES.items():
        a = arrays[key][..., 0] if key.startswith("x") else arrays[key]
        formats.write_idx(tmp_path / (stem + (".gz" if gz else "")), a)
    got = sources.read_idx_dir(tmp_path)
    for key in arrays:
        np.testing.assert_array_equal(got[key], arrays[key])


def test_idx_rejects_garbage(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(formats.FormatError, match="magic"):
        formats.read_idx(tmp_path / "bad")
    formats.write_idx(tmp_path / "short", np.zeros((4, 3), np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-2])
    with pytest.raises(formats.FormatError, match="header says shape"):
        formats.read_idx(tmp_path / "short")


def test_cifar10_miniature_archive(tmp_path):
    arrays = _mini(10, 4, (32, 32, 3), seed=1)
    path = tmp_path / "cifar-10-python.tar.gz"
    formats.write_cifar10_tarball(path, arrays)
    md5 = formats.file_digest(path, "md5")
    got = formats.read_cifar10_tarball(path, md5=md5)
    for key in arrays:
        np.testing.assert_array_equal(got[key], arrays[key])
    assert got["x_train"].shape == (10, 32, 32, 3)
    with pytest.raises(formats.FormatError, match="does not match the published CIFAR-10 md5"):
        formats.read_cifar10_tarball(path, md5="0" * 32)


def test_cifar10_loader_uses_local_archive_and_checks_md5(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    (tmp_path / "raw").mkdir()
    arrays = _mini(10, 4, (32, 32, 3), seed=2)
    formats.write_cifar10_tarball(tmp_path / "raw" / "cifar-10-python.tar.gz", arrays)
    # a miniature is not the official archive: the pinned md5 rejects it, and with no internet
    # the canonical URL fails too -> one error naming both sources and how to provide the data
    monkeypatch.setattr(sources, "download", _no_network)
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load_arrays("cifar10", verbose=False)
    msg = str(err.value)
    assert "local archive" in msg and "canonical URL" in msg and "md5" in msg
    assert "To provide it" in msg
    # with the miniature's own md5 pinned, the same loader accepts it
    monkeypatch.setattr(sources, "CIFAR10_MD5", formats.file_digest(
        tmp_path / "raw" / "cifar-10-python.tar.gz", "md5"))
    ds = data.load("cifar10", "test")
    assert ds.x.shape == (4, 32, 32, 3) and ds.x.max() <= 1.0


def _no_network(url, dest, timeout=20.0):
    raise sources.SourceError(f"download of {url} failed: no network in this test")


def test_every_source_named_when_data_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    spec = sources.Spec("fake", "Fake", "0" * 64, (2, 2, 1), ("a", "b"), sources=[
        sources.Source("first place", lambda raw: (_ for _ in ()).throw(
            sources.SourceError("not there"))),
        sources.Source("second place", lambda raw: _mini(shape=(2, 2, 1))),
    ], how_to_provide="put it somewhere")
    monkeypatch.setitem(sources.REGISTRY, "fake", spec)
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load_arrays("fake", verbose=False)
    msg = str(err.value)
    assert "first place: not there" in msg
    assert "second place: decoded arrays have sha256" in msg  # wrong checksum is rejected
    assert "put it somewhere" in msg


def test_cache_is_verified_and_corruption_refetched(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    arrays = _mini(shape=(2, 2, 1))
    calls = []

    def fetch(raw):
        calls.append(1)
        return arrays

    spec = sources.Spec("fake2", "Fake2", formats.arrays_sha256(arrays), (2, 2, 1), ("a",),
                        sources=[sources.Source("generator", fetch)])
    monkeypatch.setitem(sources.REGISTRY, "fake2", spec)
    data.load_arrays("fake2", verbose=False)
    data.load_arrays("fake2", verbose=False)
    assert len(calls) == 1  # second load from the verified cache
    cache = tmp_path / "fake2.npz"
    cache.write_bytes(cache.read_bytes()[:100])  # truncate
    with pytest.warns(data.DataRebuiltWarning, match="fake2.npz failed its check.*BadZipFile"):
        got = data.load_arrays("fake2", verbose=False)
    assert len(calls) == 2
    np.testing.assert_array_equal(got["x_train"], arrays["x_train"])
    _alter_cache(cache)  # a valid file with other data: caught by the pinned sha256
    with pytest.warns(data.DataRebuiltWarning, match="decoded arrays have sha256"):
        got = data.load_arrays("fake2", verbose=False)
    assert len(calls) == 3 and formats.arrays_sha256(got) == spec.sha256


def _alter_cache(cache):
    """Rewrite a cache with one pixel changed (a valid file, other data, same record)."""
    with np.load(cache) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["x_train"] = arrays["x_train"].copy()
    arrays["x_train"].flat[0] ^= 1
    with open(cache, "wb") as f:
        np.savez(f, **arrays)


def test_a_cache_that_still_differs_after_the_rebuild_names_every_source(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    arrays = _mini(shape=(2, 2, 1))
    spec = sources.Spec("fake3", "Fake3", formats.arrays_sha256(arrays), (2, 2, 1), ("a",),
                        sources=[sources.Source("generator", lambda raw: arrays)],
                        how_to_provide="regenerate it")
    monkeypatch.setitem(sources.REGISTRY, "fake3", spec)
    data.load_arrays("fake3", verbose=False)
    (tmp_path / "fake3.npz").write_bytes(b"PK\x03\x04 truncated")
    monkeypatch.setitem(sources.REGISTRY, "fake3", sources.Spec(  # the source now gives other data
        "fake3", "Fake3", spec.sha256, (2, 2, 1), ("a",), how_to_provide="regenerate it",
        sources=[sources.Source("generator", lambda raw: _mini(shape=(2, 2, 1), seed=1))]))
    with pytest.warns(data.DataRebuiltWarning), pytest.raises(data.DatasetUnavailable) as err:
        data.load_arrays("fake3", verbose=False)
    msg = str(err.value)
    assert "fake3.npz: BadZipFile" in msg and "(removed)" in msg
    assert "generator: decoded arrays have sha256" in msg and "pinned" in msg
    assert "x_train (10, 2, 2, 1)" in msg and "To provide it: regenerate it" in msg
    assert not (tmp_path / "fake3.npz").exists()


def test_cifar10_cache_is_checked_against_the_sha256_recorded_at_decoding(tmp_path, monkeypatch):
    """CIFAR-10 has no pinned sha256 of its arrays (only the archive's md5 is published): the
    cache records the sha256 of the arrays decoded from the md5-verified archive."""
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    (tmp_path / "raw").mkdir()
    archive = tmp_path / "raw" / "cifar-10-python.tar.gz"
    formats.write_cifar10_tarball(archive, _mini(10, 4, (32, 32, 3), seed=3))
    monkeypatch.setattr(sources, "CIFAR10_MD5", formats.file_digest(archive, "md5"))
    monkeypatch.setattr(sources, "download", _no_network)
    first = data.load_arrays("cifar10", verbose=False)
    assert sources.REGISTRY["cifar10"].sha256 is None
    cache = tmp_path / "cifar10.npz"
    with np.load(cache) as z:
        assert str(z["sha256"]) == formats.arrays_sha256(first)
    _alter_cache(cache)
    with pytest.warns(data.DataRebuiltWarning, match="recorded"):
        again = data.load_arrays("cifar10", verbose=False)
    assert formats.arrays_sha256(again) == formats.arrays_sha256(first)
    with np.load(cache) as z:  # a cache of an older version, with no record: rebuilt too
        arrays = {k: z[k] for k in z.files if k != "sha256"}
    with open(cache, "wb") as f:
        np.savez(f, **arrays)
    with pytest.warns(data.DataRebuiltWarning, match="no recorded sha256"):
        data.load_arrays("cifar10", verbose=False)


@pytest.mark.slow
def test_a_truncated_mnist_cache_is_rebuilt_once_to_the_pinned_arrays(tmp_path, monkeypatch):
    """The real MNIST: a truncated ``mnist.npz`` is removed and rebuilt, here from the first
    source (official IDX files, written from the verified arrays of the data directory), and
    the rebuilt arrays are checked against the pinned sha256."""
    real = data.load_arrays("mnist", verbose=False)
    with open(paths.data_dir() / "mnist.npz", "rb") as f:
        head = f.read(1 << 20)  # the first MiB of 55
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    idx = tmp_path / "raw" / "mnist"
    idx.mkdir(parents=True)
    for key, stem in sources.IDX_NAMES.items():
        formats.write_idx(idx / stem, real[key][..., 0] if key.startswith("x") else real[key])
    (tmp_path / "mnist.npz").write_bytes(head)
    monkeypatch.setattr(sources, "download", _no_network)
    with pytest.warns(data.DataRebuiltWarning, match="MNIST: the cache .* failed its check"):
        arrays = data.load_arrays("mnist", verbose=False)
    assert formats.arrays_sha256(arrays) == sources.REGISTRY["mnist"].sha256
    assert formats.arrays_sha256(data.load_arrays("mnist", verbose=False)) == \
        sources.REGISTRY["mnist"].sha256  # and from the rebuilt cache


def test_unknown_dataset_and_split():
    with pytest.raises(KeyError, match="unknown data set 'imagenet'.*mnist"):
        data.load_arrays("imagenet")
    with pytest.raises(ValueError, match="unknown split"):
        data.load("digits", "validation")


def test_mnist_pickle_and_csv_decoders():
    rng = np.random.default_rng(0)
    parts = [(rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, rng.integers(0, 10, n))
             for n in (3, 2, 2)]
    arrays = sources.mnist_from_pickle(gzip.compress(pickle.dumps(tuple(parts))))
    assert arrays["x_train"].shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(arrays["x_train"].reshape(5, -1)[:3],
                                  np.rint(parts[0][0] * 256).astype(np.uint8))
    with pytest.raises(sources.SourceError, match="not k/256"):
        bad = [(p[0] + 1e-3, p[1]) for p in parts]
        sources.mnist_from_pickle(gzip.compress(pickle.dumps(tuple(bad))))
    csv = b"label,1x1,1x2\n3,0,255\n7,12,0\n"
    np.testing.assert_array_equal(sources.mnist_from_csv(csv), [[3, 0, 255], [7, 12, 0]])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_real_datasets_have_pinned_checksums(name):
    arrays = data.load_arrays(name, verbose=False)
    assert formats.arrays_sha256(arrays) == sources.REGISTRY[name].sha256
    assert arrays["x_train"].shape == (60000, 28, 28, 1) and arrays["x_test"].shape[0] == 10000
    assert np.bincount(arrays["y_test"]).tolist() == (
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009] if name == "mnist" else [1000] * 10)
    tr, va = data.load(name, "train"), data.load(name, "val")
    assert len(tr) == 50000 and len(va) == 10000 and len(data.load(name, "trainval")) == 60000


def test_balanced_subset():
    y = np.repeat(np.arange(4), 50)
    idx = data.balanced_subset(y, 42, seed=3)
    assert len(set(idx)) == 42
    counts = np.bincount(y[idx], minlength=4)
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(idx, data.balanced_subset(y, 42, seed=3))
    assert not np.array_equal(idx, data.balanced_subset(y, 42, seed=4))
    with pytest.raises(ValueError, match="between 1 and"):
        data.balanced_subset(y, 0)
    with pytest.raises(ValueError, match="class 3 has 2 examples"):
        data.balanced_subset(np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 2), 20)


def test_digits_subset_and_labels():
    ds = data.load("digits", "train", n=100, seed=1)
    assert ds.x.shape == (100, 8, 8, 1) and ds.x.max() <= 1.0
    assert np.bincount(ds.y, minlength=10).tolist() == [10] * 10
    assert "n=100" in ds.label


def test_one_hot_kinds():
    y = np.array([0, 2])
    np.testing.assert_array_equal(data.one_hot(y, 3), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(data.one_hot(y, 3, "centered").sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(data.one_hot(y, 3, "lee"), [[0.9, -0.1, -0.1], [-0.1, -0.1, 0.9]])
    with pytest.raises(ValueError, match="unknown one-hot kind"):
        data.one_hot(y, 3, "soft")
    with pytest.raises(ValueError, match=r"ints in \[0, 2\)"):
        data.one_hot(y, 2)


def test_standardise_and_zca():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(6, 6))
    x = rng.normal(size=(2000, 6)) @ mix  # correlated features
    s = data.standardize_per_example(x)
    np.testing.assert_allclose(s.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose((s**2).mean(axis=1), 1, rtol=1e-9)
    w = data.zca_fit(x, strength=0.0)
    xc = (x - x.mean(axis=0)) @ w
    np.testing.assert_allclose(np.cov(xc.T, bias=True), np.eye(6), atol=1e-6)
    w_strong = data.zca_fit(x, strength=1e6)  # -> identity up to scale
    np.testing.assert_allclose(w_strong / w_strong[0, 0], np.eye(6), atol=1e-3)
    np.testing.assert_allclose(w, w.T, atol=1e-12)
    with pytest.raises(ValueError, match="strength must be >= 0"):
        data.zca_fit(x, -1)


def test_an_unwritable_data_dir_is_a_clear_error_and_a_read_only_one_with_data_works(
        tmp_path, monkeypatch):
    """Issue 15: preparing into a data directory that cannot be written fails at once, saying
    what to do; a directory that holds the prepared data is only read (root ignores file
    modes, so "unwritable" is a path below a plain file, and "read-only" blocks every write)."""
    import tempfile

    import pytest

    import ntkpaper._io as io
    from ntkpaper import data

    first = data.load("mnist", n=10)  # prepared in the real data directory (if not yet)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with monkeypatch.context() as m:
        m.setenv("NTKPAPER_DATA_DIR", str(blocker / "data"))
        with pytest.raises(data.DataDirNotWritable, match="Set NTKPAPER_DATA_DIR to a writable"):
            data.load("mnist", n=10)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(io, "atomic_path", refuse)
    again = data.load("mnist", n=10)  # read from the prepared data, nothing written
    assert (again.x == first.x).all()
