"""The results ledger: round trip, verdicts, claims vs checks, RESULTS.md and README's table."""

import numpy as np
import pandas as pd
import pytest

from ntkpaper.pipeline import ledger


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
    with pytest.raises(ValueError, match="already recorded"):
        led.claim("c1", "again", "m", "e", True, source="P")
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


def test_readme_table_and_update(tmp_path):
    figs = tmp_path / "figures"
    for prof, held in (("cpu", True), ("full", False)):
        led = ledger.Ledger("01_demo", prof, figs / prof / "01_demo")
        led.record("time_s.total", 12.5)
        led.record("peak_rss_mb", 900)
        led.claim("a", "s", "m", "e", held, source="P")
        led.claim("b", "s", "m", "e", None, source="P")
        led.claim("k", "s", "m", "e", True, source="algebra", kind="check")
        led.save()
    table = ledger.summary_table(figs)
    rows = table.splitlines()[2:]
    assert rows[0] == "| [01_demo](notebooks/01_demo.ipynb) | `cpu` | 1/2 | - | `b` | 1/1 |"
    assert rows[1].startswith("| [01_demo](figures/full/01_demo/01_demo.ipynb) | `full` | 0/2 "
                              "| `a` | `b` |")
    # timings live apart from the results, in timings.csv and TIMINGS.md
    assert "time_s" not in (figs / "cpu" / "01_demo" / "results.csv").read_text()
    assert ledger.read_timings(figs / "cpu" / "01_demo") == {"time_s.total": "12.5",
                                                             "peak_rss_mb": "900"}
    ledger.aggregate(figs)
    assert "| 01_demo | `cpu` | 12.5 | 900 |" in (figs / "TIMINGS.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{ledger.README_BEGIN}\nold\n{ledger.README_END}\ntail\n")
    assert ledger.update_readme(readme, figs) is True
    assert readme.read_text() == (f"intro\n{ledger.README_BEGIN}\n{table}\n{ledger.README_END}"
                                  "\ntail\n")
    assert ledger.update_readme(readme, figs) is False  # unchanged the second time
    (tmp_path / "plain.md").write_text("no markers\n")
    assert ledger.update_readme(tmp_path / "plain.md", figs) is False
