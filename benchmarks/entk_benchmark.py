"""Time and peak memory of the empirical NTK on a probe set, per implementation.

Usage: ``python benchmarks/entk_benchmark.py [--sizes 100 300 1000] [--width 256] [--out DIR]``.
Each (method, probe size) runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own.
Methods: ``structured`` (:func:`ntkpaper.entk.mlp_layer_kernels`, per layer),
``nt1``/``nt2`` (neural-tangents implementations 1 and 2 via
:func:`ntkpaper.entk.nt_layer_kernels`, per layer, and ``nt1_whole``/``nt2_whole`` for the
whole kernel in one call). The model is the notebook's MLP: MNIST-sized inputs (784), two ReLU
hidden layers in NTK parametrization, 10 outputs. Merges its rows into ``entk_<device>.csv`` and
writes a markdown table beside it in ``--out`` (default ``benchmarks/results``). Not a test:
numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

METHODS = ("structured", "nt1_whole", "nt2_whole", "nt1", "nt2")


def one(method: str, n: int, width: int) -> dict:
    import jax
    import numpy as np

    from ntkpaper import entk
    from ntkpaper import parametrization as pz

    abc = pz.named("ntp", 2)
    x = np.random.default_rng(0).normal(size=(n, 784)).astype(np.float32)
    params = pz.init(jax.random.PRNGKey(0), abc, 784, width, 10)
    f = lambda p, inputs: pz.forward(p, abc, inputs)
    run = {"structured": lambda: entk.mlp_layer_kernels(params, abc, x),
           "nt1": lambda: entk.nt_layer_kernels(f, params, x, implementation=1),
           "nt2": lambda: entk.nt_layer_kernels(f, params, x, implementation=2),
           "nt1_whole": lambda: entk.empirical_ntk(f, params, x, implementation=1,
                                                      batch_size=128),
           "nt2_whole": lambda: entk.empirical_ntk(f, params, x, implementation=2,
                                                      batch_size=128)}[method]
    t0 = time.perf_counter()
    k = run()
    first = time.perf_counter() - t0
    warm = float("nan")
    if first < 20:  # a second (compiled) call is only worth timing when the first was quick
        t0 = time.perf_counter()
        run()
        warm = time.perf_counter() - t0
    k = np.asarray(k)
    whole = k.sum(0) if k.ndim == 3 else k
    return {"method": method, "n": n, "width": width, "first_call_s": round(first, 3),
            "warm_s": round(warm, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "checksum": float(np.trace(whole)), "device": jax.devices()[0].platform}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--budget-s", type=float, default=30.0,
                    help="skip a method's larger sizes once one run takes longer than this")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--one", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.width)))
        return
    import pandas as pd

    rows = []
    for method in args.methods:
        for n in sorted(args.sizes):
            proc = subprocess.run([sys.executable, __file__, "--one", method, str(n),
                                   "--width", str(args.width)], capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"{method} at n={n} failed")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(row, flush=True)
            if row["first_call_s"] > args.budget_s:
                print(f"{method}: {row['first_call_s']} s at n={n} > budget; larger sizes "
                      "skipped (cost grows like n^2)")
                break
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = df.device.iloc[0]
    from ntkpaper._io import atomic_write_text

    csv = args.out / f"entk_{tag}.csv"
    if csv.exists():  # merge: this run's rows replace earlier ones for the same configuration
        old = pd.read_csv(csv)
        df = pd.concat([old, df]).drop_duplicates(["method", "n", "width"], keep="last")
    df = df.sort_values(["method", "width", "n"]).reset_index(drop=True)
    atomic_write_text(csv, df.to_csv(index=False))
    cols = [c for c in df.columns if c != "checksum"]
    table = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                      + ["| " + " | ".join(str(v) for v in r) + " |"
                         for r in df[cols].itertuples(index=False)])
    atomic_write_text(args.out / f"entk_{tag}.md",
                      f"Empirical NTK benchmark on {platform.processor() or platform.machine()}"
                      f" ({tag}); MLP 784-{args.width}-{args.width}-10, NTP, ReLU\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
