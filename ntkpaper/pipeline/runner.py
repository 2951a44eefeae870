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

Publishing one notebook (figures directory, executed notebook, ledgers, and the derived
``figures/RESULTS.md``, ``TIMINGS.md`` and README results table) is one step that a kill cannot
leave half done: see :mod:`ntkpaper.pipeline.publish`, whose ``recover`` repairs an interrupted
one at the next start.

While a notebook runs, the console shows each code cell as it starts (``cell 7/23``); its log
``build/staging/<profile>-<pid>/NN_topic/log.txt`` has the same lines with the first line of each
cell and the progress bars of the long loops. Failures do not stop the other notebooks; each
prints one line (the cell, the exception type and message) and the paths of the executed
notebook kept with its outputs up to the failure (``build/failed/NN_topic.ipynb``, saved after
every cell, so it exists also when the worker or kernel is killed) and of its log
(``build/failed/NN_topic.log``). The run exits non-zero and names them.

Ctrl-C, SIGINT or SIGTERM stop the workers (each shuts its kernel down) and publish nothing of
the unfinished notebooks; workers also get a SIGTERM when the runner itself is killed (Linux's
parent-death signal), and a kernel whose worker dies exits by itself (ipykernel's parent poller).
One lock per notebook and destination (``build/locks/``) refuses a second run writing the same
notebook.
"""

from __future__ import annotations

import contextlib
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
from ntkpaper.pipeline import profiles, publish


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
    held, busy = [], []
    for src in sources:
        f = publish.try_lock(src.stem, destination)
        if f is None:
            busy.append(src.stem)
        else:
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


# CSI sequences (colours, cursor, private modes like ESC[?25l) and OSC sequences (titles, links)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


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
    for w in active.values():
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for w in active.values():
        try:
            w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        w.log.close()


def _engine(progress: Path):
    """papermill's nbclient engine, reporting each code cell as it starts: one line in the log
    (the worker's stdout) and ``progress`` = ``"k n"`` (code cell k of n) for the runner."""
    from papermill.engines import NBClientEngine

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            # numbered like the execution counts (papermill's injected parameters included),
            # so that "cell 3/9" here and "cell [3] raised" in a failure line are the same cell
            code = [i for i, c in enumerate(nb_man.nb.cells)
                    if c.cell_type == "code" and c.source.strip()]  # blank cells get no count
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in code:
                    k = code.index(cell_index) + 1
                    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                    print(f"[{time.strftime('%H:%M:%S')}] cell {k}/{len(code)}: {first[:70]}",
                          flush=True)
                    tmp = progress.with_suffix(".tmp")
                    tmp.write_text(f"{k} {len(code)}")
                    tmp.replace(progress)
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return Engine


def worker(src: str, out: str, params_json: str, report: str) -> int:
    """Child-process entry point: execute one notebook, write a JSON report."""
    import jupytext
    import papermill as pm
    from papermill.engines import papermill_engines

    params = json.loads(params_json)
    nb = jupytext.read(src)
    tmp_in = Path(out).with_suffix(".input.ipynb")
    jupytext.write(nb, tmp_in)
    papermill_engines.register("ntkpaper", _engine(Path(report).with_name("progress")))
    error = ""
    t0 = time.perf_counter()
    # SIGTERM from the runner (or anyone; also sent when the runner dies, see _start) interrupts
    # like Ctrl-C, so that papermill's cleanup shuts the notebook's kernel down instead of
    # leaving it running
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # the executed notebook is saved at each cell, so that a kill keeps the outputs so far
        pm.execute_notebook(str(tmp_in), out, parameters=params, cwd=str(Path(src).parent),
                            engine_name="ntkpaper", progress_bar=False, log_output=False,
                            request_save_on_cell_execute=True)
    except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
        error = describe_failure(err)
    except KeyboardInterrupt:
        error = "interrupted (the notebook's kernel was shut down)"
    finally:
        tmp_in.unlink(missing_ok=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tmp = Path(report).with_suffix(".tmp")  # the runner never reads a report cut short
    tmp.write_text(json.dumps({"error": error, "seconds": time.perf_counter() - t0,
                               "peak_mb": peak}))
    tmp.replace(report)
    print(f"[{time.strftime('%H:%M:%S')}] {'failed: ' + error if error else 'finished'}",
          flush=True)
    return 0 if not error else 1


def _die_with_parent(parent: int) -> None:
    """In a worker: ask Linux for a SIGTERM when the runner ``parent`` dies (even by SIGKILL),
    so that no worker or kernel outlives it; if it already died, stop now. Elsewhere a no-op.
    (Called by the worker itself, not as Popen's ``preexec_fn``: forking a process that runs
    JAX's threads and then calling into ctypes before ``exec`` can deadlock.)"""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            raise SystemExit("the runner that started this worker is gone")


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def keep_failure(stage: Path, stem: str, failed: Path) -> tuple[Path | None, Path]:
    """Copy a failed notebook's executed notebook (outputs up to the failure, ANSI colours
    removed from tracebacks) and its log to ``failed/``; returns their paths (the notebook's is
    None if the worker died before writing one)."""
    failed.mkdir(parents=True, exist_ok=True)
    log = failed / f"{stem}.log"
    src_log = stage / "log.txt"
    log.write_text(_plain(src_log.read_text(errors="replace")) if src_log.exists() else
                   "(no log: the worker died before writing one)\n")
    executed = stage / f"{stem}.ipynb"
    if not executed.exists():
        return None, log
    try:
        nb = json.loads(executed.read_text())
    except ValueError:  # killed while papermill was writing it
        shutil.copy(executed, failed / f"{stem}.ipynb")
        return failed / f"{stem}.ipynb", log
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            if "traceback" in o:
                o["traceback"] = [_plain(t) for t in o["traceback"]]
            if isinstance(o.get("text"), str):
                o["text"] = _plain(o["text"])
            elif isinstance(o.get("text"), list):
                o["text"] = [_plain(t) for t in o["text"]]
    (failed / f"{stem}.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return failed / f"{stem}.ipynb", log


def _clean_stale_staging(build: Path) -> None:
    """Remove staging directories of runners that no longer exist (killed with SIGKILL)."""
    for d in (build / "staging").glob("*-*"):
        pid = d.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            pass


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
    # cpu: the executed notebook replaces notebooks/NN.ipynb; full: it goes inside its figures
    nb_root = ((out_root / "notebooks") if out_root
               else paths.notebook_dir() if profile == "cpu" else None)
    agg_root = out_root / "figures" if out_root else paths.fig_dir()
    readme = None if out_root else paths.root() / "README.md"
    # after a kill: every profile's outputs feed the derived files, so repair them all
    repairs = ([(fig_root, nb_root)] if out_root else
               [(d, paths.notebook_dir() if d.name == "cpu" else None)
                for d in sorted(paths.fig_dir().glob("*")) if d.is_dir()])
    for where, notebooks in repairs:
        for line in publish.recover(where, notebooks, agg_root, readme):
            print(f"recovered {line}", flush=True)
    _clean_stale_staging(build)
    locks = _lock(sources, fig_root)
    # one staging directory per runner process, so that concurrent runs never share one
    stage_root = build / "staging" / f"{profile}-{os.getpid()}"
    shutil.rmtree(stage_root, ignore_errors=True)
    stage_root.mkdir(parents=True)
    fig_root.mkdir(parents=True, exist_ok=True)
    if nb_root is not None:
        nb_root.mkdir(parents=True, exist_ok=True)
    target = Target(profile, params, paths.shown(fig_root), stage_root, build, fig_root, nb_root,
                    agg_root, readme)

    pending = list(sources)
    active: dict[str, Worker] = {}
    outcomes: list[Outcome] = []
    print(f"ntkpaper run: {len(sources)} notebook(s), profile {profile}, {jobs} job(s); "
          f"logs in {paths.shown(stage_root)}/NN_topic/log.txt", flush=True)
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread: Ctrl-C only
        previous = None
    try:
        _loop(pending, active, outcomes, len(sources), jobs, target)
    except KeyboardInterrupt:
        running = sorted(active)
        _stop(active)
        shutil.rmtree(stage_root, ignore_errors=True)
        done = [o.name for o in outcomes if o.ok]
        print(f"\ninterrupted: finished and published {', '.join(done) or 'none'}; stopped "
              f"{', '.join(running) or 'none'} and never started "
              f"{', '.join(s.stem for s in pending) or 'none'} (nothing of those was "
              "published)", flush=True)
        raise
    except BaseException:  # any other error: stop the workers and clean up before it goes on
        _stop(active)
        shutil.rmtree(stage_root, ignore_errors=True)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        for f in locks:
            f.close()
    shutil.rmtree(stage_root, ignore_errors=True)
    print("\n| notebook | status | wall time (s) | peak memory (MB) |\n|---|---|---|---|")
    for o in outcomes:
        print(f"| {o.name} | {'ok' if o.ok else 'FAILED'} | {o.seconds:.0f} | {o.peak_mb:.0f} |")
    return outcomes


@dataclass
class Target:
    """Where one run writes: its profile and parameters, staging, and publishing destinations."""
    profile: str
    params: dict
    publish_shown: str
    stage_root: Path
    build: Path
    fig_root: Path
    nb_root: Path | None
    agg_root: Path
    readme: Path | None


@dataclass
class Worker:
    proc: subprocess.Popen
    stage: Path
    log: object
    started: float
    cell: str = ""


def _start(src: Path, t: Target) -> Worker:
    stage = t.stage_root / src.stem
    (stage / "figures").mkdir(parents=True)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = dict(os.environ, NTKPAPER_FIG_DIR=str(stage / "figures"), NTKPAPER_QUIET="1",
               NTKPAPER_NOTEBOOK=src.stem, NTKPAPER_PARAMS=json.dumps(t.params),
               NTKPAPER_PUBLISH_DIR=t.publish_shown, NTKPAPER_LOG=str(stage / "log.txt"),
               NTKPAPER_RUNNER_PID=str(os.getpid()), PATH=path, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "ntkpaper.pipeline.runner", str(src),
           str(stage / f"{src.stem}.ipynb"), json.dumps({"PROFILE": t.profile, **t.params}),
           str(stage / "report.json")]
    log = open(stage / "log.txt", "a")  # appended to by the worker and the kernel's progress bars
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Worker(proc, stage, log, time.perf_counter())


def _report(stem: str, w: Worker) -> dict:
    report_path = w.stage / "report.json"
    if report_path.exists():
        return json.loads(report_path.read_text())
    code = w.proc.returncode
    how = (f"killed by {signal.Signals(-code).name}" if code < 0 and -code in
           signal.valid_signals() else f"exited with status {code}")
    hint = " (out of memory?)" if code == -signal.SIGKILL else ""
    return {"error": f"the worker running {stem} was {how}{hint} before the notebook finished",
            "peak_mb": float("nan")}


def _loop(pending, active, outcomes, total, jobs, t: Target) -> None:
    """Start workers up to ``jobs`` at a time, show each one's current cell, and publish each
    notebook that succeeds."""
    import nbformat

    while pending or active:
        while pending and len(active) < jobs:
            src = pending.pop(0)
            active[src.stem] = _start(src, t)
            print(f"  [{len(outcomes) + len(active)}/{total}] started {src.stem}", flush=True)
        time.sleep(0.5)
        for stem, w in list(active.items()):
            if w.proc.poll() is None:
                cell = (w.stage / "progress").read_text() if (w.stage / "progress").exists() \
                    else ""
                if cell and cell != w.cell:
                    w.cell = cell
                    k, n = cell.split()
                    print(f"    {stem}: cell {k}/{n} ({time.perf_counter() - w.started:.0f} s)",
                          flush=True)
                continue
            w.log.close()
            del active[stem]
            rep = _report(stem, w)
            seconds = time.perf_counter() - w.started
            executed = w.stage / f"{stem}.ipynb"
            if rep["error"] or not (w.stage / "figures" / stem / "claims.csv").exists():
                err = rep["error"] or "notebook finished without writing its ledger"
                kept_nb, kept_log = keep_failure(w.stage, stem, t.build / "failed")
                outcomes.append(Outcome(stem, False, seconds, rep["peak_mb"], err))
                kept = (f"    executed notebook (outputs up to the failure): "
                        f"{paths.shown(kept_nb)}\n" if kept_nb else "")
                print(f"  FAILED {stem} after {seconds:.0f} s: {err.splitlines()[0][:300]}\n"
                      f"{kept}    log: {paths.shown(kept_log)}", flush=True)
                continue
            nb = nbformat.read(executed, as_version=4)
            _strip_injected(nb)
            nb.metadata.setdefault("ntkpaper", {})["profile"] = t.profile
            text = nbformat.writes(nb)
            publish.publish(stem, w.stage / "figures" / stem,
                            text if text.endswith("\n") else text + "\n",
                            t.fig_root, t.nb_root, t.agg_root, t.readme)
            outcomes.append(Outcome(stem, True, seconds, rep["peak_mb"]))
            print(f"  done {stem}: {seconds:.0f} s, peak memory {rep['peak_mb']:.0f} MB",
                  flush=True)


if __name__ == "__main__":
    _die_with_parent(int(os.environ["NTKPAPER_RUNNER_PID"]))
    sys.exit(worker(*sys.argv[1:5]))
