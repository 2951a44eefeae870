"""The results ledger: measured numbers and checked claims, one pair of CSVs per notebook.

``figures/<profile>/NN_topic/results.csv``  columns: notebook, profile, key, value
``figures/<profile>/NN_topic/claims.csv``   columns: notebook, profile, kind, claim_id,
                                            statement, source, measured, expected, holds
``kind`` is ``claim`` (a paper's assertion) or ``check`` (a control or identity, never counted as a
claim that holds); ``holds`` is ``True``, ``False`` or ``inconclusive``.
:func:`aggregate` gathers every notebook's ledger, of every profile present (``cpu`` first, then
``full``), into ``figures/RESULTS.md`` and ``figures/results.csv``. Writes are atomic.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import numpy as np
import pandas as pd

from ntkpaper._io import atomic_write, atomic_write_text

RESULT_COLUMNS = ["notebook", "profile", "key", "value"]
CLAIM_COLUMNS = ["notebook", "profile", "kind", "claim_id", "statement", "source", "measured",
                 "expected", "holds"]
VERDICTS = {"True", "False", "inconclusive"}


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return "nan" if math.isnan(v) else f"{v:.6g}"
    return str(value)


TIMING_KEYS = ("time_s.", "peak_rss_mb")  # what varies from run to run: kept in timings.csv


def is_timing(key: str) -> bool:
    return key.startswith(TIMING_KEYS)


class Ledger:
    """Collects ``record(key, value)`` and ``claim(...)`` calls; ``save()`` writes the CSVs:
    ``results.csv`` (measured values), ``claims.csv`` and ``timings.csv`` (wall times and peak
    memory, which change on every run; kept apart so that a rerun with the same results leaves
    the other files unchanged)."""

    def __init__(self, notebook: str, profile: str, out_dir: str | Path):
        self.notebook, self.profile, self.out_dir = notebook, profile, Path(out_dir)
        self._results: dict[str, str] = {}
        self._timings: dict[str, str] = {}
        self._claims: dict[str, dict] = {}

    def record(self, key: str, value):
        """Record a measured number (or short string) under ``key``; returns ``value``. Keys
        ``time_s.*`` and ``peak_rss_mb`` go to the timings."""
        if not key or any(c in key for c in ",\n"):
            raise ValueError(f"result key must be non-empty without commas/newlines: {key!r}")
        (self._timings if is_timing(key) else self._results)[key] = _fmt(value)
        return value

    def claim(self, claim_id: str, statement: str, measured: str, expected: str,
              holds: bool | None, *, source: str, kind: str = "claim") -> bool | None:
        """Record a claim of a paper (or a check), where the paper makes it, what we measured,
        what would confirm it (fixed before the data), and the verdict.

        ``holds`` must come from a comparison in code (``None``: inconclusive).
        """
        if holds is not None and not isinstance(holds, (bool, np.bool_)):
            raise TypeError(f"holds must be a bool computed from measurements, got {holds!r}")
        if not str(source).strip() or not str(expected).strip():
            raise ValueError(f"claim {claim_id!r} needs a source and a criterion")
        if kind not in ("claim", "check"):
            raise ValueError(f"kind must be 'claim' or 'check', got {kind!r}")
        if claim_id in self._claims:
            raise ValueError(f"claim {claim_id!r} was already recorded in this run")
        verdict = "inconclusive" if holds is None else str(bool(holds))
        self._claims[claim_id] = {"kind": kind, "claim_id": claim_id, "statement": statement,
                                  "source": source, "measured": measured, "expected": expected,
                                  "holds": verdict}
        return None if holds is None else bool(holds)

    def _table(self, values: dict) -> pd.DataFrame:
        rows = [{"notebook": self.notebook, "profile": self.profile, "key": k, "value": v}
                for k, v in values.items()]
        return pd.DataFrame(rows, columns=RESULT_COLUMNS)

    @property
    def results(self) -> pd.DataFrame:
        return self._table(self._results)

    @property
    def timings(self) -> pd.DataFrame:
        return self._table(self._timings)

    @property
    def claims(self) -> pd.DataFrame:
        rows = [{"notebook": self.notebook, "profile": self.profile, **c}
                for c in self._claims.values()]
        return pd.DataFrame(rows, columns=CLAIM_COLUMNS)

    def save(self) -> tuple[Path, Path, Path]:
        r = atomic_write(self.out_dir / "results.csv",
                         lambda p: self.results.to_csv(p, index=False))
        c = atomic_write(self.out_dir / "claims.csv", lambda p: self.claims.to_csv(p, index=False))
        t = atomic_write(self.out_dir / "timings.csv",
                         lambda p: self.timings.to_csv(p, index=False))
        return r, c, t


def read_timings(directory: str | Path) -> dict[str, str]:
    """``{key: value}`` of a notebook's ``timings.csv`` (``{}`` when there is none)."""
    path = Path(directory) / "timings.csv"
    if not path.exists():
        return {}
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return dict(zip(df["key"], df["value"]))


def read_ledger(directory: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate a notebook's ``results.csv`` and ``claims.csv``."""
    directory = Path(directory)
    res = pd.read_csv(directory / "results.csv", dtype=str, keep_default_na=False)
    cl = pd.read_csv(directory / "claims.csv", dtype=str, keep_default_na=False)
    for df, cols, name in ((res, RESULT_COLUMNS, "results"), (cl, CLAIM_COLUMNS, "claims")):
        if list(df.columns) != cols:
            raise ValueError(f"{directory}/{name}.csv has columns {list(df.columns)}, "
                             f"expected {cols}")
    if not set(cl["holds"]) <= VERDICTS:
        raise ValueError(f"{directory}/claims.csv: holds must be one of {sorted(VERDICTS)}")
    missing = cl[(cl["source"].str.strip() == "") | (cl["expected"].str.strip() == "")]
    if len(missing):
        raise ValueError(f"{directory}/claims.csv: claims without a source or a criterion: "
                         f"{', '.join(missing['claim_id'])}")
    return res, cl


def tally(group: pd.DataFrame) -> str:
    """``"5/8 claims hold, 1 inconclusive; checks 3/3"`` for one notebook's claims table."""
    cl, ck = group[group["kind"] == "claim"], group[group["kind"] == "check"]
    text = f"{(cl['holds'] == 'True').sum()}/{len(cl)} claims hold"
    n_inc = int((cl["holds"] == "inconclusive").sum())
    text += f", {n_inc} inconclusive" if n_inc else ""
    return text + (f"; checks {(ck['holds'] == 'True').sum()}/{len(ck)} pass" if len(ck) else "")


def summary_table(fig_root: str | Path) -> str:
    """README's results table, one row per notebook and profile, generated from the ledgers:
    claims held, the ids of those that did not hold or were inconclusive, and checks (times and
    memory are in TIMINGS.md, so that the table changes only when results do)."""
    rows = []
    order = {"cpu": 0, "full": 1}
    dirs = [d for d in Path(fig_root).glob("*/[0-9][0-9]_*") if (d / "claims.csv").exists()]
    for d in sorted(dirs, key=lambda d: (d.name, order.get(d.parent.name, 2))):
        _, cl = read_ledger(d)
        claims = cl[cl["kind"] == "claim"]
        failed = ", ".join(f"`{c}`" for c in claims.loc[claims["holds"] == "False", "claim_id"])
        unsure = ", ".join(f"`{c}`" for c in
                           claims.loc[claims["holds"] == "inconclusive", "claim_id"])
        checks = cl[cl["kind"] == "check"]
        link = (f"notebooks/{d.name}.ipynb" if d.parent.name == "cpu"
                else f"figures/{d.parent.name}/{d.name}/{d.name}.ipynb")
        rows.append(
            f"| [{d.name}]({link}) | `{d.parent.name}` | "
            f"{(claims['holds'] == 'True').sum()}/{len(claims)} | {failed or '-'} | "
            f"{unsure or '-'} | {(checks['holds'] == 'True').sum()}/{len(checks)} |")
    head = ["| notebook | profile | claims held | did not hold | inconclusive | checks pass |",
            "|---|---|---|---|---|---|"]
    return "\n".join(head + rows)


README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"


def update_readme(readme: str | Path, fig_root: str | Path) -> bool:
    """Replace the block between README's results markers by :func:`summary_table`; returns
    whether the file changed (a README without the markers is left alone)."""
    readme = Path(readme)
    if not readme.exists():
        return False
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_BEGIN}\n{summary_table(fig_root)}\n{README_END}{tail}"
    if new != text:
        atomic_write_text(readme, new)
    return new != text


def aggregate(fig_root: str | Path) -> Path:
    """Write ``RESULTS.md`` and ``results.csv`` under ``fig_root`` from every notebook's ledger:
    ``fig_root/<profile>/NN_topic/`` (the committed layout) or ``fig_root/NN_topic/`` (a smoke
    run's build directory)."""
    fig_root = Path(fig_root)
    results, claims, broken = [], [], []
    found = list(fig_root.glob("*/claims.csv")) + list(fig_root.glob("*/*/claims.csv"))
    # skip hidden directories (a ``.NN_topic.old`` left by an interrupted publish)
    found = [p for p in found if not any(part.startswith(".")
                                         for part in p.relative_to(fig_root).parts)]
    for d in sorted(p.parent for p in found):
        try:
            r, c = read_ledger(d)
        except (OSError, ValueError, pd.errors.ParserError) as err:
            broken.append(f"- `{d.relative_to(fig_root)}`: ledger unreadable ({err})")
            continue
        results.append(r)
        claims.append(c)
    res = pd.concat(results) if results else pd.DataFrame(columns=RESULT_COLUMNS)
    cl = pd.concat(claims) if claims else pd.DataFrame(columns=CLAIM_COLUMNS)
    atomic_write(fig_root / "results.csv", lambda p: res.to_csv(p, index=False))
    lines = ["# Results ledger", "",
             "Generated by `ntkpaper run` from each notebook's `results.csv` and `claims.csv`; "
             "do not edit by hand.", ""]
    order = {"cpu": 0, "full": 1, "smoke": 2}
    profiles_present = sorted(cl["profile"].unique(), key=lambda p: (order.get(p, 3), p))
    counts = {p: cl.loc[cl["profile"] == p, "notebook"].nunique() for p in profiles_present}
    shown = ", ".join(f"`{p}` ({n} notebook{'s' if n != 1 else ''})" for p, n in counts.items())
    lines += ["Profiles here: " + (shown or "none") + ". `cpu` runs on 2 CPU cores at reduced "
              "scale; `full` is paper scale where it fits 10 minutes on one GPU"
              + ("" if counts.get("full") else " (no `full` run committed yet)") + ".", ""]
    for (_, nb, prof), group in cl.assign(_o=cl["profile"].map(lambda p: order.get(p, 3))) \
            .groupby(["_o", "notebook", "profile"], sort=True):
        lines += [f"## {nb} (profile `{prof}`): {tally(group)}", "",
                  "| claim | kind | statement | source | measured | criterion | holds |",
                  "|---|---|---|---|---|---|---|"]
        for _, row in group.iterrows():
            shown = {"True": "yes", "False": "**no**", "inconclusive": "inconclusive"}
            cells = [row["claim_id"], row["kind"], row["statement"], row["source"],
                     row["measured"], row["expected"], shown[row["holds"]]]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    if broken:
        lines += ["## Unreadable ledgers", "", *broken, ""]
    lines += ["Wall times and peak memory of the runs: [TIMINGS.md](TIMINGS.md).", ""]
    write_timings(fig_root, sorted(p.parent for p in found))
    return atomic_write_text(fig_root / "RESULTS.md", "\n".join(lines))


def write_timings(fig_root: Path, directories: list[Path]) -> Path:
    """``TIMINGS.md``: each run's total wall time, peak memory and section times, from the
    notebooks' ``timings.csv`` (the one generated file that changes on every rerun)."""
    lines = ["# Timings", "", "Generated by `ntkpaper run` from each notebook's `timings.csv`: "
             "wall time of the notebook as its session measured it (kernel start not included) and "
             "peak resident memory of its process. They change on every run.", "",
             "| notebook | profile | total (s) | peak memory (MB) | sections (s) |",
             "|---|---|---|---|---|"]
    for d in directories:
        t = read_timings(d)
        if not t:
            continue
        sections = ", ".join(f"{k[len('time_s.'):]} {v}" for k, v in t.items()
                             if k.startswith("time_s.") and k != "time_s.total")
        prof = d.parent.name if d.parent != fig_root else "?"
        lines.append(f"| {d.name} | `{prof}` | {t.get('time_s.total', '?')} | "
                     f"{t.get('peak_rss_mb', '?')} | {sections} |")
    return atomic_write_text(fig_root / "TIMINGS.md", "\n".join(lines) + "\n")
