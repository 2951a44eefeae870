"""Command line: ``ntkpaper run``, ``ntkpaper data``, ``ntkpaper list``, ``ntkpaper cache``."""

from __future__ import annotations

import argparse
import sys

import yaml


def parse_params(pairs: list[list[str]] | None) -> dict:
    """``[[NAME, VALUE], ...]`` from ``-p NAME VALUE`` options -> dict, values read as YAML
    (``3`` -> int, ``[16, 64]`` -> list, ``glyphs`` -> str)."""
    out = {}
    for name, value in pairs or []:
        try:
            out[name] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            from ntkpaper.pipeline.profiles import ProfileError

            raise ProfileError(f"-p {name} {value!r} is not a valid value (read as YAML: "
                               f"{' '.join(str(err).split())}); write e.g. 3, 0.5, \"[16, 64]\" "
                               "or a word") from None
    return out


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ntkpaper", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="execute notebooks with papermill")
    p_run.add_argument("notebooks", nargs="*", help="numbers or stems (default: all)")
    p_run.add_argument("--profile", default="cpu", help="smoke | cpu | full (default cpu)")
    p_run.add_argument("--jobs", type=_positive_int, default=1,
                       help="notebooks run in parallel (>= 1)")
    p_run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="override one parameter, e.g. -p N_TEST 2000 (YAML value)")
    p_run.add_argument("--plan", action="store_true",
                       help="print each notebook's sizes and estimated time and memory at this "
                            "profile (extrapolated from the cpu ledgers), run nothing")
    p_data = sub.add_parser("data", help="fetch and verify data sets")
    p_data.add_argument("names", nargs="*", default=["mnist", "fashion_mnist"])
    sub.add_parser("list", help="list notebooks and their profile parameters")
    p_cache = sub.add_parser("cache", help="cache maintenance")
    p_cache.add_argument("action", choices=["clear"])
    args = parser.parse_args(argv)

    if args.command == "run":
        from ntkpaper.pipeline import profiles, runner

        try:
            params = parse_params(args.parameter)
        except profiles.ProfileError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if args.plan:
            from ntkpaper.pipeline import plan

            try:
                text = plan.plan_text(args.notebooks, args.profile, params)
            except profiles.ProfileError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            print(text, end="")
            return 0
        try:
            outcomes = runner.run(args.notebooks, args.profile, args.jobs, params)
        except profiles.ProfileError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("error: interrupted (see above for what was published)", file=sys.stderr)
            return 130
        failed = [o.name for o in outcomes if not o.ok]
        if failed:
            print(f"error: {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    if args.command == "data":
        from ntkpaper import data

        for name in args.names:
            try:
                arrays = data.load_arrays(name)
            except (KeyError, data.DatasetUnavailable) as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            print(f"{name}: ok ({len(arrays['y_train'])} train, {len(arrays['y_test'])} test, "
                  "checksum verified)")
        return 0
    if args.command == "list":
        from ntkpaper.pipeline import profiles, runner

        for src in runner.discover():
            print(src.stem)
            for prof in profiles.PROFILE_NAMES:
                try:
                    t = profiles.table(src.stem, prof)
                except profiles.ProfileError:
                    continue
                print(f"  {prof}: " + ", ".join(f"{k}={v}" for k, v in t.items()))
        return 0
    if args.command == "cache":
        from ntkpaper import cache

        print(f"removed {cache.clear()} cache entries")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
