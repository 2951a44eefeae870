"""Execute notebooks headlessly with papermill: ``ntkpaper run [NB ...] --profile P --jobs N``.

For each notebook the paired ``notebooks/NN_topic.py`` (the reviewed source) is converted with
jupytext and executed by papermill in its own process (its kernel's peak memory is measured
there). Figures and ledgers go to a staging directory; only when the notebook succeeds are they
moved into place, so a failed or interrupted run never leaves a half-written figure or ledger:

* ``cpu`` (the default): ``figures/cpu/NN_topic/`` is replaced as a whole and the executed
  notebook is written over ``notebooks/NN_topic.ipynb`` (the one readers open);
* ``full`` (paper scale, on a GPU): ``figures/full/NN_topic/`` is replaced as a whole, with the
  executed notebook inside it (``figures/full/NN_topic/NN_topic.ipynb``); ``cpu`` outputs are never
  touched, so any subset of notebooks can be run at ``full`` and committed beside them;
* ``smoke``: everything goes to ``build/smoke/`` and committed files are never touched.

Failures do not stop the other notebooks; the run exits non-zero and names them, and the failed
executed notebook is kept in ``build/failed/`` for inspection. Finally every ledger of both
committed profiles is aggregated into ``figures/RESULTS.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ntkpaper import paths
from ntkpaper.pipeline import ledger, profiles


@dataclass
class Outcome:
    name: str
    ok: bool
    seconds: float
    peak_mb: float
    error: str = ""


def discover() -> list[Path]:
    """The notebook sources ``notebooks/NN_*.py``, in reading order."""
    return sorted(p for p in paths.notebook_dir().glob("[0-9][0-9]_*.py"))


def select(names: list[str]) -> list[Path]:
    """Resolve ``["01", "02_mup..."]`` (number or full stem) to notebook sources."""
    available = discover()
    if not names:
        return available
    chosen = []
    for name in names:
        stem = Path(name).stem
        hits = [p for p in available if p.stem == stem or p.stem.split("_")[0] == stem]
        if len(hits) != 1:
            raise SystemExit(f"no notebook matches {name!r}; available: "
                             f"{', '.join(p.stem for p in available)}")
        if hits[0] not in chosen:  # "02 02_mup_feature_learning" runs it once
            chosen.append(hits[0])
    return chosen


def _lock(sources: list[Path], destination: Path) -> list:
    """Take one lock per notebook and destination (``build/locks/``), so that two runs never
    write the same outputs at once; raises ProfileError naming the busy notebooks, before
    anything runs. The locks are released when the returned files are closed (or the process
    ends, however it ends)."""
    import fcntl

    lock_dir = paths.root() / "build" / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(str(destination.resolve()).encode()).hexdigest()[:12]
    held, busy = [], []
    for src in sources:
        f = open(lock_dir / f"{src.stem}-{tag}.lock", "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            busy.append(src.stem)
            continue
        held.append(f)
    if busy:
        for f in held:
            f.close()
        raise profiles.ProfileError(f"another `ntkpaper run` is writing {', '.join(busy)} to "
                                    f"{paths.shown(destination)}: wait for it to finish")
    return held


def _strip_injected(nb) -> None:
    """Drop papermill's injected-parameters cell and the empty ``tags`` it adds to every cell,
    so that the executed notebook pairs with its ``.py`` source (``make sync`` stays a no-op)."""
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get(
        "tags", [])]
    for c in nb.cells:
        if c.get("metadata", {}).get("tags") == []:
            del c.metadata["tags"]
    # papermill records the staging paths it read and wrote (machine paths, not for committing)
    # and the clock times of the run and of every cell (they change on every run: the run's
    # timings are in timings.csv)
    for key in ("input_path", "output_path", "start_time", "end_time", "duration"):
        nb.metadata.get("papermill", {}).pop(key, None)
    seen: set[str] = set()
    for c in nb.cells:
        c.get("metadata", {}).pop("papermill", None)
        c.get("metadata", {}).pop("execution", None)
        # jupytext gives every cell a random id when it reads the .py: derive it from the cell
        # instead, so that an unchanged notebook gives an unchanged .ipynb
        cid = hashlib.sha256(f"{c.cell_type}\0{c.source}".encode()).hexdigest()[:12]
        while cid in seen:
            cid = hashlib.sha256(cid.encode()).hexdigest()[:12]
        seen.add(cid)
        c["id"] = cid
        # the kernel splits a cell's printed text into stream messages at arbitrary points:
        # join consecutive ones, so that the same output is stored the same way every run
        merged = []
        for o in c.get("outputs", []):
            if (o.get("output_type") == "stream" and merged
                    and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == o.get("name")):
                merged[-1]["text"] += o["text"]
            else:
                merged.append(o)
        if "outputs" in c:
            c["outputs"] = merged


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def describe_failure(err: BaseException) -> str:
    """One line for a failed notebook: the cell (execution count) and the exception type and
    message raised there (papermill's own message starts with an empty line and ANSI colours)."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename is not None:
        count = getattr(err, "exec_count", None)
        where = f"cell [{count}]" if count is not None else "a cell"
        text = f"{where} raised {ename}: {evalue}"
    else:
        text = f"{type(err).__name__}: {err}"
    return " ".join(_ANSI.sub("", text).split())


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _stop(active: dict, grace: float = 20.0) -> None:
    """Ask every running worker to stop (SIGTERM: it shuts its kernel down), then kill those
    still alive after ``grace`` seconds."""
    for proc, *_ in active.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc, _, log, _ in active.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def worker(src: str, out: str, params_json: str, report: str) -> int:
    """Child-process entry point: execute one notebook, write a JSON report."""
    import jupytext
    import papermill as pm

    params = json.loads(params_json)
    nb = jupytext.read(src)
    tmp_in = Path(out).with_suffix(".input.ipynb")
    jupytext.write(nb, tmp_in)
    error = ""
    t0 = time.perf_counter()
    # SIGTERM from the runner (or anyone) interrupts like Ctrl-C, so that papermill's cleanup
    # shuts the notebook's kernel down instead of leaving it running
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        pm.execute_notebook(str(tmp_in), out, parameters=params, cwd=str(Path(src).parent),
                            progress_bar=False, log_output=False,
                            request_save_on_cell_execute=False)
    except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
        error = describe_failure(err)
    except KeyboardInterrupt:
        error = "interrupted (the notebook's kernel was shut down)"
    finally:
        tmp_in.unlink(missing_ok=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(report).write_text(json.dumps({"error": error, "seconds": time.perf_counter() - t0,
                                        "peak_mb": peak}))
    return 0 if not error else 1


def _swap_dir(new: Path, dest: Path) -> None:
    """Replace directory ``dest`` by ``new`` with two renames (never a half-filled ``dest``)."""
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    try:
        new.rename(dest)
    except OSError:  # e.g. staging on another file system: put the committed outputs back
        if old.exists() and not dest.exists():
            old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


def run(names: list[str], profile: str = "cpu", jobs: int = 1, params: dict | None = None,
        out_root: Path | None = None) -> list[Outcome]:
    """Execute notebooks; returns one :class:`Outcome` per notebook (see module docstring)."""

    if profile not in profiles.PROFILE_NAMES:
        raise profiles.ProfileError(f"unknown profile {profile!r}; choose one of "
                                    f"{profiles.PROFILE_NAMES}")
    if not isinstance(jobs, int) or jobs < 1:
        raise profiles.ProfileError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    if "PROFILE" in (params or {}):
        raise profiles.ProfileError("the profile is chosen with --profile, not -p PROFILE "
                                    "(a -p PROFILE would publish one profile's numbers as "
                                    "another's)")
    sources = select(names)
    params = dict(params or {})
    for src in sources:  # fail fast on a bad -p before anything runs
        if src.stem in profiles.PROFILES:
            profiles.resolve(src.stem, profile, params)
    smoke = profile == "smoke"
    build = paths.build_dir()
    if out_root is None:
        out_root = build / "smoke" if smoke else None
    fig_root = (out_root / "figures") if out_root else paths.fig_dir() / profile
    locks = _lock(sources, fig_root)
    # cpu: the executed notebook replaces notebooks/NN.ipynb; full: it goes inside its figures
    nb_root = ((out_root / "notebooks") if out_root
               else paths.notebook_dir() if profile == "cpu" else None)
    # one staging directory per runner process, so that concurrent runs never share one
    stage_root = build / "staging" / f"{profile}-{os.getpid()}"
    shutil.rmtree(stage_root, ignore_errors=True)
    stage_root.mkdir(parents=True)
    fig_root.mkdir(parents=True, exist_ok=True)
    if nb_root is not None:
        nb_root.mkdir(parents=True, exist_ok=True)
    publish = paths.shown(fig_root)

    pending = list(sources)
    active: dict[str, tuple] = {}
    outcomes: list[Outcome] = []
    total = len(sources)
    print(f"ntkpaper run: {total} notebook(s), profile {profile}, {jobs} job(s)", flush=True)
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread: Ctrl-C only
        previous = None
    try:
        _loop(pending, active, outcomes, total, jobs, profile, params, publish, stage_root,
              build, fig_root, nb_root)
    except KeyboardInterrupt:
        running = sorted(active)
        _stop(active)
        shutil.rmtree(stage_root, ignore_errors=True)
        done = [o.name for o in outcomes if o.ok]
        if done:
            ledger.aggregate(out_root / "figures" if out_root else paths.fig_dir())
            if out_root is None:
                ledger.update_readme(paths.root() / "README.md", paths.fig_dir())
        print(f"\ninterrupted: finished and published {', '.join(done) or 'none'}; stopped "
              f"{', '.join(running) or 'none'} and never started "
              f"{', '.join(s.stem for s in pending) or 'none'} (nothing of those was "
              "published)", flush=True)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        for f in locks:
            f.close()
    if any(o.ok for o in outcomes):
        ledger.aggregate(out_root / "figures" if out_root else paths.fig_dir())
        if out_root is None:  # a publishing run: README's results table follows the ledgers
            ledger.update_readme(paths.root() / "README.md", paths.fig_dir())
    shutil.rmtree(stage_root, ignore_errors=True)
    print("\n| notebook | status | wall time (s) | peak memory (MB) |\n|---|---|---|---|")
    for o in outcomes:
        print(f"| {o.name} | {'ok' if o.ok else 'FAILED'} | {o.seconds:.0f} | {o.peak_mb:.0f} |")
    return outcomes


def _loop(pending, active, outcomes, total, jobs, profile, params, publish, stage_root, build,
          fig_root, nb_root) -> None:
    """Start workers up to ``jobs`` at a time and publish each notebook that succeeds."""
    import nbformat

    while pending or active:
        while pending and len(active) < jobs:
            src = pending.pop(0)
            stage = stage_root / src.stem
            (stage / "figures").mkdir(parents=True)
            path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
            env = dict(os.environ, NTKPAPER_FIG_DIR=str(stage / "figures"), NTKPAPER_QUIET="1",
                       NTKPAPER_NOTEBOOK=src.stem, NTKPAPER_PARAMS=json.dumps(params),
                       NTKPAPER_PUBLISH_DIR=publish, PATH=path, PYTHONUNBUFFERED="1")
            cmd = [sys.executable, "-m", "ntkpaper.pipeline.runner", str(src),
                   str(stage / f"{src.stem}.ipynb"),
                   json.dumps({"PROFILE": profile, **params}), str(stage / "report.json")]
            log = open(stage / "log.txt", "w")
            proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
            active[src.stem] = (proc, stage, log, time.perf_counter())
            print(f"  [{len(outcomes) + len(active)}/{total}] started {src.stem}", flush=True)
        time.sleep(0.5)
        for stem, (proc, stage, log, t0) in list(active.items()):
            if proc.poll() is None:
                continue
            log.close()
            del active[stem]
            report_path = stage / "report.json"
            rep = (json.loads(report_path.read_text()) if report_path.exists()
                   else {"error": f"worker crashed (exit {proc.returncode}); see "
                                  f"{stage / 'log.txt'}", "peak_mb": float("nan")})
            seconds = time.perf_counter() - t0
            executed = stage / f"{stem}.ipynb"
            if rep["error"] or not (stage / "figures" / stem / "claims.csv").exists():
                err = rep["error"] or "notebook finished without writing its ledger"
                failed = build / "failed"
                failed.mkdir(parents=True, exist_ok=True)
                if executed.exists():
                    shutil.copy(executed, failed / executed.name)
                outcomes.append(Outcome(stem, False, seconds, rep["peak_mb"], err))
                kept = (f"    executed notebook (outputs up to the failure): "
                        f"{failed / executed.name}\n" if executed.exists() else "")
                print(f"  FAILED {stem} after {seconds:.0f} s: {err.splitlines()[0][:300]}\n"
                      f"{kept}    log: {stage / 'log.txt'}", flush=True)
                continue
            nb = nbformat.read(executed, as_version=4)
            _strip_injected(nb)
            nb.metadata.setdefault("ntkpaper", {})["profile"] = profile
            if nb_root is None:  # full: the executed notebook travels with its figures
                nbformat.write(nb, stage / "figures" / stem / f"{stem}.ipynb")
                _swap_dir(stage / "figures" / stem, fig_root / stem)
            else:
                dest_nb = nb_root / f"{stem}.ipynb"
                tmp_nb = dest_nb.with_name(f".{dest_nb.name}.tmp")
                nbformat.write(nb, tmp_nb)
                _swap_dir(stage / "figures" / stem, fig_root / stem)
                tmp_nb.replace(dest_nb)
            outcomes.append(Outcome(stem, True, seconds, rep["peak_mb"]))
            print(f"  done {stem}: {seconds:.0f} s, peak memory {rep['peak_mb']:.0f} MB",
                  flush=True)


if __name__ == "__main__":
    sys.exit(worker(*sys.argv[1:5]))
