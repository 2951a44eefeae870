"""Every notebook runs end to end at the smoke profile, and its ledger exists and parses."""

import ast

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


def _code_cells(src):
    """(first line number, is the parameters cell, code lines) of each code cell of a
    percent-format notebook, without blank and comment-only lines."""
    cells, current, start, markdown, params = [], None, 0, False, False
    for i, line in enumerate(src.read_text().splitlines(), 1):
        if line.startswith("# %%"):
            if current is not None and not markdown:
                cells.append((start, params, current))
            current, start = [], i
            markdown, params = "[markdown]" in line, '"parameters"' in line
            continue
        if current is not None and line.strip() and not line.lstrip().startswith("#"):
            current.append(line)
    if current is not None and not markdown:
        cells.append((start, params, current))
    return cells


@pytest.mark.parametrize("src", runner.discover(), ids=lambda p: p.stem)
def test_notebook_is_thin(src):
    """DESIGN.md: under 120 lines of code, no cell over 25, no helper defined in a notebook, the
    parameters under their own names (no ``P.``), the notebook's name never typed again.

    The parameters cell (one literal per line with its comment, the only cell papermill injects
    into) is exempt from both limits: it declares the profile's knobs, it holds no logic, and
    counting it pushed notebooks that test many findings (07: 14 claims, 51 parameters) to hide
    knobs as constants in their drivers, out of reach of the profiles. Its lines are still
    bounded, by 60, so a notebook cannot grow without limit through it."""
    cells = _code_cells(src)
    total = sum(len(c) for _, params, c in cells if not params)
    assert total < 120, f"{src.name}: {total} lines of code (target < 120)"
    n_params = sum(len(c) for _, params, c in cells if params)
    assert n_params <= 60, f"{src.name}: {n_params} lines of parameters (target <= 60)"
    for start, params, lines in cells:
        assert params or len(lines) <= 25, \
            f"{src.name}:{start}: a cell of {len(lines)} lines (max 25)"
    tree = ast.parse(src.read_text())
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), \
            f"{src.name}:{node.lineno}: a helper defined in the notebook"
        assert not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "P"), f"{src.name}:{node.lineno}: P.{node.attr}"
    assert f'"{src.stem}"' not in src.read_text(), f"{src.name} types its own name"


def test_every_notebook_has_an_experiments_module_with_claims():
    import importlib

    from ntkpaper.claims import Claim

    for src in runner.discover():
        mod = importlib.import_module(f"ntkpaper.experiments.nb{src.stem}")
        assert mod.CLAIMS and all(isinstance(c, Claim) for c in mod.CLAIMS.values()), src.stem
        assert f"nb{src.stem} as exp" in src.read_text(), src.stem


@pytest.mark.parametrize("directory", sorted(paths.fig_dir().glob("*/[0-9][0-9]_*")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_ledger_claims_have_sources_and_criteria(directory):
    """Every committed claim names its source and criterion, and is one of the notebook's
    declared CLAIMS (so its criterion was fixed in code, not typed next to the result)."""
    import importlib

    _, claims = ledger.read_ledger(directory)  # refuses a claim without source or criterion
    mod = importlib.import_module(f"ntkpaper.experiments.nb{directory.name}")
    assert set(claims["claim_id"]) <= set(mod.CLAIMS), directory.name  # some need `full`
    for _, row in claims.iterrows():
        c = mod.CLAIMS[row["claim_id"]]
        assert (row["kind"], row["source"], row["expected"]) == (c.kind, c.source, c.expected)


def test_readme_results_table_is_generated_from_the_ledgers():
    text = (paths.root() / "README.md").read_text()
    block = text.split(ledger.README_BEGIN, 1)[1].split(ledger.README_END, 1)[0].strip()
    assert block == ledger.summary_table(paths.fig_dir()), \
        "README's results table differs from the ledgers: rerun `ntkpaper run` (it rewrites it)"
