"""The results ledger: measured numbers and checked claims, one pair of CSVs per notebook.

``figures/<profile>/NN_topic/results.csv``  columns: notebook, profile, key, value
``figures/<profile>/NN_topic/claims.csv``   columns: notebook, profile, claim_id, statement,
                                            measured, expected, holds
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
CLAIM_COLUMNS = ["notebook", "profile", "claim_id", "statement", "measured", "expected", "holds"]


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return "nan" if math.isnan(v) else f"{v:.6g}"
    return str(value)


class Ledger:
    """Collects ``record(key, value)`` and ``claim(...)`` calls; ``save()`` writes both CSVs."""

    def __init__(self, notebook: str, profile: str, out_dir: str | Path):
        self.notebook, self.profile, self.out_dir = notebook, profile, Path(out_dir)
        self._results: dict[str, str] = {}
        self._claims: dict[str, dict] = {}

    def record(self, key: str, value):
        """Record a measured number (or short string) under ``key``; returns ``value``."""
        if not key or any(c in key for c in ",\n"):
            raise ValueError(f"result key must be non-empty without commas/newlines: {key!r}")
        self._results[key] = _fmt(value)
        return value

    def claim(self, claim_id: str, statement: str, measured: str, expected: str,
              holds: bool) -> bool:
        """Record a claim of the paper, what we measured, what would confirm it, and the verdict.

        ``holds`` must come from a comparison in code; it is stored as True/False.
        """
        if not isinstance(holds, (bool, np.bool_)):
            raise TypeError(f"holds must be a bool computed from measurements, got {holds!r}")
        self._claims[claim_id] = {"claim_id": claim_id, "statement": statement,
                                  "measured": measured, "expected": expected,
                                  "holds": bool(holds)}
        return bool(holds)

    @property
    def results(self) -> pd.DataFrame:
        rows = [{"notebook": self.notebook, "profile": self.profile, "key": k, "value": v}
                for k, v in self._results.items()]
        return pd.DataFrame(rows, columns=RESULT_COLUMNS)

    @property
    def claims(self) -> pd.DataFrame:
        rows = [{"notebook": self.notebook, "profile": self.profile, **c}
                for c in self._claims.values()]
        return pd.DataFrame(rows, columns=CLAIM_COLUMNS)

    def save(self) -> tuple[Path, Path]:
        r = atomic_write(self.out_dir / "results.csv",
                         lambda p: self.results.to_csv(p, index=False))
        c = atomic_write(self.out_dir / "claims.csv", lambda p: self.claims.to_csv(p, index=False))
        return r, c


def read_ledger(directory: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate a notebook's ``results.csv`` and ``claims.csv``."""
    directory = Path(directory)
    res = pd.read_csv(directory / "results.csv", dtype=str, keep_default_na=False)
    cl = pd.read_csv(directory / "claims.csv", dtype=str, keep_default_na=False)
    for df, cols, name in ((res, RESULT_COLUMNS, "results"), (cl, CLAIM_COLUMNS, "claims")):
        if list(df.columns) != cols:
            raise ValueError(f"{directory}/{name}.csv has columns {list(df.columns)}, "
                             f"expected {cols}")
    if not set(cl["holds"]) <= {"True", "False"}:
        raise ValueError(f"{directory}/claims.csv: holds must be True/False")
    return res, cl


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
        held = (group["holds"] == "True").sum()
        lines += [f"## {nb} (profile `{prof}`): {held}/{len(group)} claims "
                  "hold", "", "| claim | statement | measured | expected | holds |",
                  "|---|---|---|---|---|"]
        for _, row in group.iterrows():
            cells = [row["claim_id"], row["statement"], row["measured"], row["expected"],
                     "yes" if row["holds"] == "True" else "**no**"]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    if broken:
        lines += ["## Unreadable ledgers", "", *broken, ""]
    return atomic_write_text(fig_root / "RESULTS.md", "\n".join(lines))
