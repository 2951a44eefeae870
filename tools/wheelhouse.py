#!/usr/bin/env python3
"""Build a wheelhouse for a GPU machine that has jax preinstalled but no package index.

    python3.12 tools/wheelhouse.py --out build/wheelhouse [--have FILE]     (make wheelhouse)

Reads requirements.lock (its main section: the ``# lab`` and ``# dev`` sections are skipped),
drops every package the target already has (``--have``: one name a line, or the output of
``python3 -m pip list --format=freeze`` there; default tools/gpu_have.txt), downloads the rest as
Linux x86_64 CPython 3.12 wheels (``pip download --no-deps --only-binary=:all:``), adds a wheel
of ntkpaper itself, checks that there is exactly one wheel per package and that the whole fits in
the 64 MiB a GPU machine accepts, and writes MANIFEST.txt (name, version, size, sha256, file).
Everything is downloaded into OUT.partial and renamed to OUT at the end, so an interrupted run
never leaves a half wheelhouse. On the GPU machine, ``tools/gpu_env.sh OUT`` installs it.

Standard library only: it runs before any environment exists.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
DEFAULT_HAVE = ROOT / "tools" / "gpu_have.txt"
LIMIT_BYTES = 64 * 2**20
SKIPPED_SECTIONS = ("lab", "dev")
PROJECT = "ntkpaper"
# Files of the project that a wheel build reads (the wheel holds only the ntkpaper package).
PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md", "LICENSE")


class WheelhouseError(Exception):
    """A refusal or a failed check; the message says what to do."""


class Pin(NamedTuple):
    name: str  # as written in the lock
    version: str

    @property
    def key(self) -> str:
        return normalize(self.name)

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def normalize(name: str) -> str:
    """PEP 503 normalised name: ``PyYAML`` -> ``pyyaml``, ``typing_extensions`` ->
    ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _strip_comment(line: str) -> str:
    return line.split(" #", 1)[0].split("\t#", 1)[0].strip()


def parse_lock(text: str) -> list[Pin]:
    """The ``name==version`` pins of the lock's main section. A comment line starting with
    ``# lab`` or ``# dev`` opens an optional section: it and every line after it are skipped
    (those sections close the lock). Other comments and blank lines are ignored."""
    pins: list[Pin] = []
    section = re.compile(r"#\s*(" + "|".join(SKIPPED_SECTIONS) + r")\b")
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if section.match(line):
            break
        if not line or line.startswith("#"):
            continue
        line = _strip_comment(line)
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!_-]+)", line)
        if not m:
            raise WheelhouseError(f"requirements.lock line {lineno}: expected name==version, "
                                  f"got {raw!r}")
        pins.append(Pin(m.group(1), m.group(2)))
    seen: dict[str, Pin] = {}
    for p in pins:
        if p.key in seen:
            raise WheelhouseError(f"requirements.lock pins {p.key} twice: {seen[p.key]}, {p}")
        seen[p.key] = p
    return pins


def parse_have(text: str) -> dict[str, str | None]:
    """Normalised name -> version (``None`` when only the name is given) of what the target has.
    Accepts one name a line, ``name==version`` (pip list --format=freeze / pip freeze),
    ``name @ url`` and ``-e ...#egg=name`` lines; comments and blank lines are ignored."""
    have: dict[str, str | None] = {}
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e", "--editable")):
            m = re.search(r"#egg=([A-Za-z0-9._-]+)", line)
            if m:
                have[normalize(m.group(1))] = None
            continue
        if line.startswith("-"):  # other pip options (e.g. -i URL) name no package
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(==\s*([^\s;]+))?", line)
        if m:
            have[normalize(m.group(1))] = m.group(3)
    return have


def check_have(have: dict[str, str | None], source: str) -> None:
    """Refuse a have-list without jax/jaxlib: this tool is for machines with jax preinstalled
    (the wheelhouse never carries jax, whose CUDA build the target's image provides)."""
    if not {"jax", "jaxlib"} & set(have):
        raise WheelhouseError(
            f"{source} lists neither jax nor jaxlib. This wheelhouse is for GPU machines that have "
            f"jax (with its CUDA plugin) preinstalled; on the target run "
            f"`python3 -m pip list --format=freeze > have.txt` and pass --have have.txt. For a "
            f"machine without jax, install the environment from the index instead "
            f"(make env GPU=1).")


def check_out(out: Path) -> None:
    """Refuse an existing, non-empty output directory (never mix two wheelhouses)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise WheelhouseError(f"{out} already exists and is not empty; remove it first "
                              f"(rm -r {out}) and run again")


def to_download(pins: list[Pin], have: dict[str, str | None]) -> tuple[list[Pin], list[Pin]]:
    """Split the lock's pins into (to download, already on the target)."""
    need = [p for p in pins if p.key not in have]
    present = [p for p in pins if p.key in have]
    return need, present


def version_differences(present: list[Pin], have: dict[str, str | None]) -> list[str]:
    """``name have (lock version)`` for preinstalled packages whose known version differs."""
    return [f"{p.key} {have[p.key]} (lock {p.version})" for p in present
            if have.get(p.key) and have[p.key] != p.version]


def platform_tags(max_glibc: str = "2.28") -> list[str]:
    """manylinux x86_64 platform tags a glibc ``max_glibc`` (or newer) machine accepts, most
    specific first (pip prefers the earlier ones); pure-Python wheels match regardless."""
    major, minor = (int(x) for x in max_glibc.split("."))
    if major != 2 or minor < 17:
        raise WheelhouseError(f"--max-glibc must be 2.17 or later, got {max_glibc}")
    tags = [f"manylinux_2_{m}_x86_64" for m in range(minor, 4, -1)]
    return tags + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def wheel_name_version(filename: str) -> tuple[str, str]:
    """(normalised name, version) from a wheel file name ``name-version(-build)?-py-abi-plat``."""
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6):
        raise WheelhouseError(f"not a wheel file name: {filename}")
    return normalize(parts[0]), parts[1]


def check_wheels(out: Path, pins: list[Pin], project: str = PROJECT) -> list[Path]:
    """Exactly one wheel per pin (at the pinned version) plus one of ``project``, and nothing
    else (no sdists, no strays). Returns the wheels, sorted."""
    files = sorted(p for p in out.iterdir() if p.is_file() and p.name != "MANIFEST.txt")
    stray = [f.name for f in files if not f.name.endswith(".whl")]
    if stray:
        raise WheelhouseError(f"{out} holds files that are not wheels: {', '.join(stray)}")
    want = {p.key: p.version for p in pins}
    found: dict[str, list[str]] = {}
    for f in files:
        name, version = wheel_name_version(f.name)
        found.setdefault(name, []).append(f.name)
        if name in want and normalize(version) != normalize(want[name]):
            raise WheelhouseError(f"{f.name}: version {version}, but the lock pins "
                                  f"{name}=={want[name]}")
    problems = []
    for name in sorted(set(want) | {normalize(project)}):
        n = len(found.get(name, []))
        if n != 1:
            problems.append(f"{name}: {n} wheels ({', '.join(found.get(name, [])) or 'none'})")
    extra = sorted(set(found) - set(want) - {normalize(project)})
    if extra:
        problems.append(f"unexpected wheels: {', '.join(extra)}")
    if problems:
        raise WheelhouseError("the wheelhouse needs exactly one wheel per package:\n  "
                              + "\n  ".join(problems))
    return files


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def check_size(files: list[Path], limit: int = LIMIT_BYTES, show: int = 5) -> int:
    """Total size in bytes; over ``limit``, fail naming the largest wheels."""
    sizes = sorted(((f.stat().st_size, f.name) for f in files), reverse=True)
    total = sum(s for s, _ in sizes)
    if total > limit:
        largest = ", ".join(f"{name} ({mib(s)})" for s, name in sizes[:show])
        raise WheelhouseError(
            f"the wheelhouse is {mib(total)}, over the {mib(limit)} a GPU machine accepts. "
            f"Largest wheels: {largest}. Pass an exact have-list of the target (--have) so that "
            f"preinstalled packages are left out, or drop what the GPU run does not need.")
    return total


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(out: Path, files: list[Path]) -> str:
    """OUT/MANIFEST.txt: ``name version size sha256 file`` per wheel; returns its text."""
    lines = ["# ntkpaper wheelhouse: name version size(bytes) sha256 file "
             "(tools/wheelhouse.py; installed by tools/gpu_env.sh)"]
    for f in files:
        name, version = wheel_name_version(f.name)
        lines.append(f"{name} {version} {f.stat().st_size} {sha256(f)} {f.name}")
    text = "\n".join(lines) + "\n"
    (out / "MANIFEST.txt").write_text(text)
    return text


def _pip(args: list[str], what: str) -> None:
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        raise WheelhouseError(f"{sys.executable} has no pip: install it (python -m ensurepip) or "
                              "run make wheelhouse PYTHON=<a Python 3.12 with pip>")
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise WheelhouseError(f"{what} failed (pip exit {proc.returncode}); see pip's message "
                              f"above. Command: {' '.join(cmd)}")


def download(pins: list[Pin], dest: Path, max_glibc: str) -> None:
    """One ``pip download`` of all pins as CPython 3.12 Linux x86_64 wheels into ``dest``."""
    args = ["download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off",
            "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312"]
    for tag in platform_tags(max_glibc):
        args += ["--platform", tag]
    _pip(args + ["-d", str(dest), *map(str, pins)],
         f"downloading {len(pins)} wheels (a pin without a wheel for CPython 3.12 on manylinux "
         f"<= glibc {max_glibc}? try --max-glibc with the target's `ldd --version`)")


def build_project(dest: Path, root: Path = ROOT) -> None:
    """A wheel of ntkpaper, built from a copy of the project's sources (so the checkout gets no
    build/ or egg-info writes): without build isolation when this Python has setuptools, else
    with it (setuptools then comes from the index)."""
    with tempfile.TemporaryDirectory(prefix="ntkpaper-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in PROJECT_FILES:
            if (root / name).is_file():
                shutil.copy2(root / name, src / name)
        shutil.copytree(root / PROJECT, src / PROJECT,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        try:
            import setuptools  # noqa: F401

            isolation = ["--no-build-isolation"]
        except ImportError:
            print("wheelhouse: no setuptools in this Python; building ntkpaper with build "
                  "isolation (fetches setuptools)", flush=True)
            isolation = []
        _pip(["wheel", "--no-deps", *isolation, "--quiet", "-w", str(dest), str(src)],
             "building the ntkpaper wheel")


def build(out: Path, have_path: Path, lock_path: Path = LOCK, max_glibc: str = "2.28",
          limit: int = LIMIT_BYTES, without: tuple[str, ...] = ()) -> list[Path]:
    """Build the wheelhouse ``out`` (see module docstring); returns its wheels. ``without``:
    lock packages to leave out on purpose (e.g. gensim, 27 MiB, needed only by notebook 03's
    Word2Vec section), to leave room for data in a 64 MiB carry."""
    out = out.resolve()
    if not have_path.is_file():
        raise WheelhouseError(f"no have-list {have_path}")
    have = parse_have(have_path.read_text())
    check_have(have, str(have_path))
    check_out(out)
    pins = parse_lock(lock_path.read_text())
    need, present = to_download(pins, have)
    unknown = {normalize(w) for w in without} - {p.key for p in pins}
    if unknown:
        raise WheelhouseError(f"--without names {sorted(unknown)}, which the lock's main section "
                              "does not pin")
    need = [p for p in need if p.key not in {normalize(w) for w in without}]
    if normalize(PROJECT) in {p.key for p in pins}:
        raise WheelhouseError(f"{lock_path} pins {PROJECT} itself")
    print(f"wheelhouse: {len(pins)} pins in {lock_path.name} (main section), "
          f"{len(present)} preinstalled per {have_path}, {len(need)} to download", flush=True)
    diffs = version_differences(present, have)
    if diffs:
        print("wheelhouse: note: preinstalled at versions other than the lock's: "
              + ", ".join(diffs), flush=True)
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        print(f"wheelhouse: removing {partial} left by an interrupted run", flush=True)
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    if need:
        download(need, partial, max_glibc)
    build_project(partial)
    files = check_wheels(partial, need)
    total = check_size(files, limit)
    write_manifest(partial, files)
    if out.exists():  # empty (check_out): replace it
        out.rmdir()
    partial.rename(out)
    files = sorted(out.glob("*.whl"))
    width = max(len(f.name) for f in files)
    print(f"\nwheelhouse {out}: {len(files)} wheels, {mib(total)} "
          f"(limit {mib(limit)}; MANIFEST.txt lists sha256s)")
    for f in sorted(files, key=lambda f: -f.stat().st_size):
        print(f"  {f.name:<{width}}  {f.stat().st_size / 2**20:6.2f} MiB")
    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out.name
    print(f"\nCarry {where} to the GPU machine and run there, from the repository root:\n"
          f"  tools/gpu_env.sh {where} [command]   (default: python3 -m ntkpaper run --profile "
          f"full)")
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "wheelhouse",
                    help="output directory; must not exist or be empty (default build/wheelhouse)")
    ap.add_argument("--have", type=Path, default=DEFAULT_HAVE,
                    help="what the target has preinstalled: names, or `python3 -m pip list "
                         "--format=freeze` output (default tools/gpu_have.txt)")
    ap.add_argument("--lock", type=Path, default=LOCK, help=argparse.SUPPRESS)
    ap.add_argument("--without", action="append", default=[], metavar="NAME",
                    help="leave a locked package out (repeatable), e.g. gensim (27 MiB; only "
                         "notebook 03's Word2Vec needs it)")
    ap.add_argument("--max-glibc", default="2.28",
                    help="newest manylinux glibc the target accepts (default 2.28)")
    args = ap.parse_args(argv)
    try:
        build(args.out, args.have, args.lock, args.max_glibc, without=tuple(args.without))
    except WheelhouseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
