"""The content-addressed cache and atomic writes (the base layer)."""

import warnings

import numpy as np
import pytest

from ntkpaper import _io, cache


def test_cache_hit_miss_and_key_sensitivity():
    calls = []

    def compute():
        calls.append(1)
        return {"k": np.arange(6.0).reshape(2, 3)}

    a = cache.cached("kern", {"depth": 2, "x": np.ones(3)}, compute)
    b = cache.cached("kern", {"depth": 2, "x": np.ones(3)}, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(a["k"], b["k"])
    cache.cached("kern", {"depth": 3, "x": np.ones(3)}, compute)  # other params: miss
    cache.cached("kern", {"depth": 2, "x": np.zeros(3)}, compute)  # other data: miss
    assert len(calls) == 3
    assert cache.key("kern", {"a": 1, "b": 2}) == cache.key("kern", {"b": 2, "a": 1})
    cache.cached("kern", {"depth": 2, "x": np.ones(3)}, compute, enabled=False)
    assert len(calls) == 4
    with pytest.raises(TypeError, match="not hashable"):
        cache.key("kern", {"f": object()})


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_cache_corruption_detected_and_recomputed(damage):
    calls = []

    def compute():
        calls.append(1)
        return {"k": np.linspace(0, 1, 1000)}

    cache.cached("c", {"p": 1}, compute)
    path = cache.entry_path("c", {"p": 1})
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:  # change stored values but keep a valid file: rewrite with a wrong array
        with np.load(path) as z:
            stored = {k: z[k] for k in z.files}
        stored["k"] = stored["k"] + 1
        with open(path, "wb") as f:
            np.savez(f, **stored)
        raw = bytearray(path.read_bytes())
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = cache.cached("c", {"p": 1}, compute)
    assert len(calls) == 2 and any("corrupt" in str(x.message) for x in w)
    np.testing.assert_array_equal(out["k"], np.linspace(0, 1, 1000))
    assert cache.cached("c", {"p": 1}, compute) and len(calls) == 2  # healed


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def boom(p):
        p.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        _io.atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_change_of_code_misses_the_cache(monkeypatch):
    """An entry computed by older code is not reused (issue 15: a stale ZCA entry once turned
    0.635 into 0.07): the key covers the package's source."""
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(3.0)}

    cache.cached("stale_demo", {"n": 1}, compute)
    cache.cached("stale_demo", {"n": 1}, compute)
    assert len(calls) == 1
    monkeypatch.setattr(cache, "code_digest", lambda: "the code changed")
    cache.cached("stale_demo", {"n": 1}, compute)
    assert len(calls) == 2


def test_an_unwritable_cache_only_warns(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("NTKPAPER_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="not written"):
        out = cache.cached("ro_demo", {"n": 2}, lambda: {"a": np.ones(2)})
    np.testing.assert_array_equal(out["a"], np.ones(2))


WRITER = """
import sys, time
import numpy as np
from ntkpaper import cache

def compute():
    with open(sys.argv[1], "a") as f:
        f.write("computed\\n")
    time.sleep(2)
    return {"k": np.arange(5.0)}

print(cache.cached("shared", {"p": 1}, compute)["k"].sum())
"""


def test_two_processes_wanting_one_entry_compute_it_once(tmp_path):
    """The second process waits on the entry's lock and reads what the first wrote."""
    import os
    import subprocess
    import sys

    from ntkpaper import paths

    log = tmp_path / "computed.txt"
    env = dict(os.environ, NTKPAPER_CACHE_DIR=str(paths.cache_dir()))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(log)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs == ["10.0", "10.0"] and log.read_text() == "computed\n"


def test_clear_spares_a_file_being_written_and_a_cleared_entry_is_a_miss(monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return {"k": np.ones(3)}

    cache.cached("e", {"p": 1}, compute)
    path = cache.entry_path("e", {"p": 1})
    writing = path.with_name(f".{path.name}.abc.tmp.npz")  # what atomic_path writes to
    writing.write_bytes(b"half")
    assert cache.clear() == 1
    assert writing.exists() and not path.exists()
    # an entry removed by `clear` between the existence check and the read: a plain miss
    cache.cached("e", {"p": 1}, compute)
    real_load = np.load

    def vanished(p, *a, **k):
        raise FileNotFoundError(p)

    monkeypatch.setattr(np, "load", vanished)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "corrupt" warning
        cache.cached("e", {"p": 1}, compute)
    monkeypatch.setattr(np, "load", real_load)
    assert len(calls) == 3
