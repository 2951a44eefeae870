"""Compare the measured values of two ledgers (``results.csv``), leaving out timings and memory.

Usage: python tools/compare_ledgers.py OLD_DIR_OR_CSV NEW_DIR_OR_CSV [--rename OLD=NEW ...]

Exit status 0 when every measured key of OLD has the same value in NEW (keys renamed with
``--rename``); prints what differs, what is missing and what is new. Used to show that a refactor
left a notebook's numbers unchanged (issue 14).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

VOLATILE = ("time_s.", "peak_rss_mb")


def load(p: str) -> dict[str, str]:
    path = Path(p)
    path = path / "results.csv" if path.is_dir() else path
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {k: v for k, v in zip(df.key, df.value) if not k.startswith(VOLATILE)}


def main(argv: list[str]) -> int:
    renames = dict(a.split("=", 1) for a in argv[argv.index("--rename") + 1:]) \
        if "--rename" in argv else {}
    old, new = load(argv[0]), load(argv[1])
    old = {renames.get(k, k): v for k, v in old.items()}
    diff = {k: (v, new[k]) for k, v in old.items() if k in new and new[k] != v}
    missing = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    for k, (a, b) in diff.items():
        print(f"DIFFERS {k}: {a} -> {b}")
    for k in missing:
        print(f"MISSING {k} (was {old[k]})")
    for k in added:
        print(f"NEW {k} = {new[k]}")
    same = len(old) - len(diff) - len(missing)
    print(f"{same}/{len(old)} measured values identical; {len(diff)} differ, "
          f"{len(missing)} missing, {len(added)} new")
    return 0 if not diff and not missing else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
