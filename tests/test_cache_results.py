"""The content-addressed cache, atomic writes, and the results ledger."""

import warnings

import numpy as np
import pandas as pd
import pytest

from ntkpaper import _io, cache
from ntkpaper.pipeline import ledger


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


def test_ledger_round_trip_and_aggregate(tmp_path):
    led = ledger.Ledger("01_demo", "smoke", tmp_path / "01_demo")
    led.record("acc", 0.912345678)
    led.record("n", 10)
    assert led.claim("c1", "a claim", "0.91", "> 0.9", 0.91 > 0.9, source="P, Sec. 1") is True
    led.claim("c2", "another | with pipe", "1", "2", bool(np.bool_(False)), source="P")
    led.claim("c3", "a control", "0", "= 0", True, source="algebra", kind="check")
    led.claim("c4", "did not fit", "loss 0.5", "< 0.1", None, source="P")
    with pytest.raises(TypeError, match="holds must be a bool"):
        led.claim("c5", "s", "m", "e", "yes", source="P")
    with pytest.raises(ValueError, match="needs a source and a criterion"):
        led.claim("c6", "s", "m", "e", True, source="")
    with pytest.raises(ValueError, match="result key"):
        led.record("a,b", 1)
    led.save()
    res, cl = ledger.read_ledger(tmp_path / "01_demo")
    assert res.set_index("key").loc["acc", "value"] == "0.912346"
    assert list(cl["holds"]) == ["True", "False", "True", "inconclusive"]
    assert list(cl["kind"]) == ["claim", "claim", "check", "claim"]
    md = ledger.aggregate(tmp_path).read_text()
    assert ("01_demo (profile `smoke`): 1/3 claims hold, 1 inconclusive; checks 1/1 pass"
            in md and "\\|" in md)
    assert len(pd.read_csv(tmp_path / "results.csv")) == 2


def test_read_ledger_rejects_bad_columns(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    (d / "results.csv").write_text("notebook,profile,key,value\n")
    (d / "claims.csv").write_text("claim_id,holds\n")
    with pytest.raises(ValueError, match="columns"):
        ledger.read_ledger(d)
