"""Notebook 03's few-shot section (first-order MAML, muP widths, the linear muP limit, GP/NTK
limits) at a named profile, outside the notebook: for a GPU machine that lacks the notebook
stack (papermill, gensim), or to try a budget other than a profile's.

Usage::

    python benchmarks/fewshot_scale.py --profile full [-p NAME VALUE ...]
        [--activations identity relu] [--no-networks] [--no-limit] [--no-kernels]
        [--checkpoints 300 1000 ...] [--tag T] [--out DIR]

``-p`` overrides profile parameters as ``ntkpaper run -p`` does (checked against the profile's
names and types). Writes ``fewshot_<tag>_acc.csv`` (the table of
:func:`ntkpaper.experiments.nb03_mup_word2vec_fewshot.compute_fewshot`),
``fewshot_<tag>_curves.csv`` (meta-training loss every 10 steps, and the validation checks) and
``fewshot_<tag>.json`` (parameters, jax version, device, wall time) into ``--out`` (default
``benchmarks/results``); with ``--checkpoints``, only ``fewshot_<tag>_checkpoints.csv``
(:func:`ntkpaper.experiments.nb03_mup_word2vec_fewshot.compute_fewshot_checkpoints`). The data
are the notebook's: the glyph stand-in unless ``FS_DATA`` is ``omniglot`` and the official zips are
present. Not a test; numbers depend on the budget given.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

NOTEBOOK = "03_mup_word2vec_fewshot"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="override a profile parameter, e.g. -p FS_META_STEPS 3000")
    ap.add_argument("--activations", nargs="+", default=None)
    ap.add_argument("--no-networks", action="store_true", help="skip the finite-width nets")
    ap.add_argument("--no-limit", action="store_true", help="skip the linear muP limit")
    ap.add_argument("--no-kernels", action="store_true",
                    help="skip the GP/NTK limits (the only part that needs neural-tangents)")
    ap.add_argument("--checkpoints", nargs="+", type=int, default=None, metavar="STEPS",
                    help="instead: meta-test and validation accuracy after these cumulative "
                         "meta-steps, without checkpoint selection")
    ap.add_argument("--tag", default=None, help="file-name tag (default: the profile)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)

    import jax

    from ntkpaper._io import atomic_write, atomic_write_text
    from ntkpaper.experiments import nb03_mup_word2vec_fewshot as exp
    from ntkpaper.pipeline import profiles
    from ntkpaper.pipeline.cli import parse_params

    overrides = parse_params(args.parameter)
    p = profiles.resolve(NOTEBOOK, args.profile, overrides)
    acts = args.activations or p.FS_ACTIVATIONS
    widths = [] if args.no_networks else p.FS_WIDTHS
    t0 = time.perf_counter()
    chars = exp.load_characters(p.FS_DATA, p.FS_BACKGROUND, p.FS_EVALUATION, p.FS_DRAWINGS,
                                seed=0)
    bg, ev = chars.subset("background").images, chars.subset("evaluation").images
    common = dict(ways=p.FS_WAYS, shots=p.FS_SHOTS, queries=p.FS_QUERIES,
                  inner_lr=p.FS_INNER_LR, inner_steps=p.FS_INNER_STEPS, outer_lr=p.FS_OUTER_LR,
                  batch=p.FS_BATCH, test_tasks=p.FS_TEST_TASKS, val_tasks=p.FS_VAL_TASKS,
                  val_fraction=p.FS_VAL_FRACTION, limit=not args.no_limit)
    tag = args.tag or args.profile
    args.out.mkdir(parents=True, exist_ok=True)
    if args.checkpoints:
        table = exp.compute_fewshot_checkpoints(bg, ev, widths, acts, args.checkpoints, **common)
        atomic_write(args.out / f"fewshot_{tag}_checkpoints.csv",
                     lambda f: table.to_csv(f, index=False))
        print(table.round(4).to_string(index=False))
        return
    acc, curves, _ = exp.compute_fewshot(
        bg, ev, widths, acts, meta_steps=p.FS_META_STEPS, val_every=p.FS_VAL_EVERY,
        kernel_lrs=p.KERNEL_LRS, kernel_steps=p.KERNEL_STEPS, kernels=not args.no_kernels,
        **common)
    atomic_write(args.out / f"fewshot_{tag}_acc.csv", lambda f: acc.to_csv(f, index=False))
    keep = (curves.step % 10 == 0) | curves.val_acc.notna()
    atomic_write(args.out / f"fewshot_{tag}_curves.csv",
                 lambda f: curves[keep].to_csv(f, index=False))
    info = dict(profile=args.profile, overrides=overrides, activations=acts,
                networks=not args.no_networks, kernels=not args.no_kernels,
                data=chars.meta.get("title", p.FS_DATA), jax=jax.__version__,
                device=str(jax.devices()[0].device_kind), backend=jax.default_backend(),
                host=platform.node(), seconds=round(time.perf_counter() - t0, 1),
                params={k: v for k, v in vars(p).items() if k.startswith(("FS_", "KERNEL_"))})
    atomic_write_text(args.out / f"fewshot_{tag}.json", json.dumps(info, indent=1, default=str))
    print(acc.round(4).to_string(index=False))
    print(json.dumps({k: info[k] for k in ("jax", "device", "backend", "seconds")}))


if __name__ == "__main__":
    main()
