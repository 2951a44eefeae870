"""Notebook 03's few-shot section (first-order MAML, muP widths, the linear muP limit, GP/NTK
limits) at a named profile, outside the notebook: for a GPU machine that lacks the notebook
stack (papermill, gensim), or to try longer meta-training than a profile's.

Usage::

    python benchmarks/fewshot_scale.py --profile full [--set FS_META_STEPS=3000 ...]
        [--activations identity relu] [--no-kernels] [--no-limit] [--tag T] [--out DIR]

Writes ``fewshot_<tag>_acc.csv`` (model, activation, width, acc, stderr, acc_before, seconds),
``fewshot_<tag>_curves.csv`` (meta-training loss every 10 steps) and ``fewshot_<tag>.json``
(parameters, jax version, device, wall time) into ``--out`` (default ``benchmarks/results``).
The data are the same as the notebook's: the glyph stand-in unless ``FS_DATA=omniglot`` and
the official zips are present. Not a test; numbers depend on the budget given.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import time
from pathlib import Path

NOTEBOOK = "03_mup_word2vec_fewshot"


def _parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set needs NAME=VALUE, got {item!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def checkpoints(background, evaluation, p: dict, activations, steps, limit: bool):
    """Rows (model, activation, width, meta_steps, test_acc, test_stderr, val_acc): MAML
    continued from checkpoint to checkpoint (a fresh task stream per segment, no checkpoint
    selection), evaluated on the evaluation split's test tasks and on the validation tasks
    (held-out background characters)."""
    import jax
    import numpy as np
    import pandas as pd

    from ntkpaper import fewshot as F
    from ntkpaper import parametrization as P
    from ntkpaper.tp4_experiments import split_validation

    ways, shots, queries = p["FS_WAYS"], p["FS_SHOTS"], p["FS_QUERIES"]
    train_chars, val_chars = split_validation(background, p["FS_VAL_FRACTION"], 0)
    test = F.sample_episodes(evaluation, p["FS_TEST_TASKS"], ways, shots, queries,
                             np.random.default_rng(1))
    val = F.sample_episodes(val_chars, p["FS_VAL_TASKS"], ways, shots, queries,
                            np.random.default_rng(2))
    d = background.shape[2] * background.shape[3]
    abc = P.named("mup", 1)
    kw = dict(inner_lr=p["FS_INNER_LR"], inner_steps=p["FS_INNER_STEPS"])
    rows = []
    for act in activations:
        runs = [(f"muP {n}", float(n), P.init(jax.random.PRNGKey(0), abc, d, int(n), ways))
                for n in p["FS_WIDTHS"]]
        if act == "identity" and limit:
            runs.append(("muP limit", np.inf, F.limit_params(d, ways)))
        for model, width, params in runs:
            done = 0
            for k, target in enumerate([0, *sorted(steps)]):
                if target > done:
                    params = F.maml_train(params, abc, train_chars, ways=ways, shots=shots,
                                          queries=queries, outer_lr=p["FS_OUTER_LR"],
                                          meta_steps=target - done, batch=p["FS_BATCH"],
                                          activation=act, seed=k, **kw).last
                    done = target
                acc = F.maml_accuracy(params, abc, test, activation=act, **kw)
                vacc = F.maml_accuracy(params, abc, val, activation=act, **kw)
                rows.append(dict(model=model, activation=act, width=width, meta_steps=done,
                                 test_acc=acc.mean(), test_stderr=acc.std() / np.sqrt(len(acc)),
                                 val_acc=vacc.mean()))
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--set", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                    help="override profile parameters, e.g. FS_META_STEPS=3000")
    ap.add_argument("--activations", nargs="*", default=None)
    ap.add_argument("--no-kernels", action="store_true",
                    help="skip the GP/NTK limits (they need neural-tangents)")
    ap.add_argument("--no-limit", action="store_true", help="skip the linear muP limit")
    ap.add_argument("--checkpoints", nargs="+", type=int, default=None, metavar="STEPS",
                    help="instead: meta-test and validation accuracy of each width (and the "
                         "linear limit) after these cumulative meta-steps")
    ap.add_argument("--tag", default=None, help="file-name tag (default: the profile)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)

    import jax

    from ntkpaper import tp4_experiments
    from ntkpaper._io import atomic_write, atomic_write_text
    from ntkpaper.data import glyphs
    from ntkpaper.profiles import PROFILES

    if args.profile not in PROFILES[NOTEBOOK]:
        raise SystemExit(f"unknown profile {args.profile!r}; choose from "
                         f"{sorted(PROFILES[NOTEBOOK])}")
    p = {**PROFILES[NOTEBOOK][args.profile], **_parse_set(args.set)}
    unknown = set(_parse_set(args.set)) - set(PROFILES[NOTEBOOK][args.profile])
    if unknown:
        raise SystemExit(f"unknown parameter(s) {sorted(unknown)}")
    acts = args.activations or p["FS_ACTIVATIONS"]
    t0 = time.perf_counter()
    kw = ({} if p["FS_DATA"] == "omniglot" else
          dict(n_background=p["FS_BACKGROUND"], n_evaluation=p["FS_EVALUATION"],
               drawings=p["FS_DRAWINGS"], seed=0))
    chars = glyphs.load_characters(p["FS_DATA"], **kw)
    bg, ev = chars.subset("background"), chars.subset("evaluation")
    tag = args.tag or args.profile
    args.out.mkdir(parents=True, exist_ok=True)
    if args.checkpoints:
        table = checkpoints(bg.images, ev.images, p, acts, args.checkpoints, not args.no_limit)
        atomic_write(args.out / f"fewshot_{tag}_checkpoints.csv",
                     lambda f: table.to_csv(f, index=False))
        print(table.round(4).to_string(index=False))
        return
    acc, curves, _ = tp4_experiments.compute_fewshot(
        bg.images, ev.images, p["FS_WIDTHS"], acts, ways=p["FS_WAYS"], shots=p["FS_SHOTS"],
        queries=p["FS_QUERIES"], inner_lr=p["FS_INNER_LR"], inner_steps=p["FS_INNER_STEPS"],
        outer_lr=p["FS_OUTER_LR"], meta_steps=p["FS_META_STEPS"], batch=p["FS_BATCH"],
        test_tasks=p["FS_TEST_TASKS"], val_tasks=p["FS_VAL_TASKS"],
        val_fraction=p["FS_VAL_FRACTION"], val_every=p["FS_VAL_EVERY"],
        kernel_lrs=p["KERNEL_LRS"], kernel_steps=p["KERNEL_STEPS"], kernels=not args.no_kernels,
        limit=not args.no_limit)
    atomic_write(args.out / f"fewshot_{tag}_acc.csv", lambda f: acc.to_csv(f, index=False))
    atomic_write(args.out / f"fewshot_{tag}_curves.csv",
                 lambda f: curves[curves.step % 10 == 0].to_csv(f, index=False))
    info = dict(profile=args.profile, overrides=_parse_set(args.set), activations=acts,
                kernels=not args.no_kernels, data=chars.meta.get("title", p["FS_DATA"]),
                jax=jax.__version__, device=str(jax.devices()[0].device_kind),
                backend=jax.default_backend(), host=platform.node(),
                seconds=round(time.perf_counter() - t0, 1),
                params={k: v for k, v in p.items() if k.startswith(("FS_", "KERNEL_"))})
    atomic_write_text(args.out / f"fewshot_{tag}.json", json.dumps(info, indent=1, default=str))
    print(acc.round(4).to_string(index=False))
    print(json.dumps({k: info[k] for k in ("jax", "device", "backend", "seconds")}))


if __name__ == "__main__":
    main()
