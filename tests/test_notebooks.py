"""Every notebook runs end to end at the smoke profile, and its ledger exists and parses."""

import pytest

from ntkpaper import results, runner


@pytest.mark.slow
@pytest.mark.parametrize("src", runner.discover(), ids=lambda p: p.stem)
def test_notebook_smoke(src, tmp_path, monkeypatch):
    monkeypatch.delenv("NTKPAPER_FIG_DIR", raising=False)
    monkeypatch.setenv("NTKPAPER_BUILD_DIR", str(tmp_path / "build"))
    (outcome,) = runner.run([src.stem], profile="smoke", out_root=tmp_path / "out")
    assert outcome.ok, outcome.error
    res, claims = results.read_ledger(tmp_path / "out" / "figures" / src.stem)
    assert len(claims) >= 3 and set(res["profile"]) == {"smoke"}
    assert list((tmp_path / "out" / "figures" / src.stem).glob("*.png"))
    assert (tmp_path / "out" / "notebooks" / f"{src.stem}.ipynb").exists()
