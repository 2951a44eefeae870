"""Every notebook runs end to end at the smoke profile, and its ledger exists and parses."""

import nbformat
import pytest

from ntkpaper import paths
from ntkpaper.pipeline import ledger, runner


@pytest.mark.slow
@pytest.mark.parametrize("src", runner.discover(), ids=lambda p: p.stem)
def test_notebook_smoke(src, tmp_path, monkeypatch):
    monkeypatch.delenv("NTKPAPER_FIG_DIR", raising=False)
    monkeypatch.setenv("NTKPAPER_BUILD_DIR", str(tmp_path / "build"))
    (outcome,) = runner.run([src.stem], profile="smoke", out_root=tmp_path / "out")
    assert outcome.ok, outcome.error
    res, claims = ledger.read_ledger(tmp_path / "out" / "figures" / src.stem)
    assert len(claims) >= 3 and set(res["profile"]) == {"smoke"}
    assert list((tmp_path / "out" / "figures" / src.stem).glob("*.png"))
    executed = tmp_path / "out" / "notebooks" / f"{src.stem}.ipynb"
    assert not _noise(nbformat.read(executed, as_version=4)), "warnings in the notebook's output"


def _noise(nb) -> list[str]:
    """Warnings printed by a notebook's cells (ours or a library's that reached the reader)."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            text = o.get("text", "") if o.get("name") == "stderr" else ""
            if "Warning" in text:
                out.append(f"cell {i}: {text[:300]}")
    return out


def _executed_notebooks():
    """Every committed executed notebook: the cpu ones readers open, and full runs' copies."""
    return [s.with_suffix(".ipynb") for s in runner.discover()] + sorted(
        paths.fig_dir().glob("full/*/*.ipynb"))


@pytest.mark.parametrize("ipynb", _executed_notebooks(), ids=lambda p: str(p.parent.name))
def test_committed_notebook_has_no_warnings_or_machine_paths(ipynb):
    text = ipynb.read_text()
    assert not _noise(nbformat.reads(text, as_version=4))
    for marker in ("/tmp/", "/work/", "/root/", "/home/", "build/staging"):
        assert marker not in text, f"{ipynb} shows a machine path ({marker})"
