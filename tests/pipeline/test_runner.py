"""The papermill runner: failures are isolated, named, and leave committed outputs untouched."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ntkpaper.pipeline import runner

HEADER = textwrap.dedent("""\
    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---
    """)

GOOD = HEADER + textwrap.dedent("""
    # %% tags=["parameters"]
    PROFILE = "cpu"
    SEED = 0

    # %%
    from ntkpaper import paths
    from ntkpaper.pipeline import ledger
    led = ledger.Ledger("01_good", PROFILE, paths.output_dir() / "01_good")
    led.record("profile_seen", PROFILE)
    led.claim("c", "runs", "yes", "yes", True, source="this test")
    _ = led.save()
    """)

BAD = HEADER + textwrap.dedent("""
    # %% tags=["parameters"]
    PROFILE = "cpu"

    # %%
    from ntkpaper import paths
    (paths.output_dir() / "02_bad").mkdir(parents=True, exist_ok=True)
    (paths.output_dir() / "02_bad" / "half.png").write_text("partial")
    raise RuntimeError("this notebook fails on purpose")
    """)


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "notebooks" / "01_good.py").write_text(GOOD)
    (root / "notebooks" / "02_bad.py").write_text(BAD)
    committed = root / "figures" / "cpu" / "02_bad"
    committed.mkdir(parents=True)
    (committed / "claims.csv").write_text("committed")  # not even a valid ledger
    monkeypatch.setenv("NTKPAPER_ROOT", str(root))
    monkeypatch.delenv("NTKPAPER_FIG_DIR", raising=False)
    return root


@pytest.mark.slow
def test_runner_keeps_going_names_failures_and_protects_outputs(fake_repo):
    outcomes = runner.run([], profile="cpu", jobs=2)
    by = {o.name: o for o in outcomes}
    assert by["01_good"].ok and not by["02_bad"].ok
    assert "this notebook fails on purpose" in by["02_bad"].error
    # the failure line names the cell and the exception, without ANSI colours
    assert "raised RuntimeError: this notebook fails on purpose" in by["02_bad"].error
    assert "\x1b[" not in by["02_bad"].error and by["02_bad"].error.startswith("cell [")
    assert by["01_good"].seconds > 0 and by["01_good"].peak_mb > 10
    # the good one is in place, with its executed notebook written back
    assert (fake_repo / "figures" / "cpu" / "01_good" / "claims.csv").exists()
    executed = (fake_repo / "notebooks" / "01_good.ipynb").read_text()
    assert str(fake_repo) not in executed and "build/staging" not in executed  # no machine paths
    # the failed one left the committed ledger alone and wrote no figure
    assert (fake_repo / "figures" / "cpu" / "02_bad" / "claims.csv").read_text() == "committed"
    assert not (fake_repo / "figures" / "cpu" / "02_bad" / "half.png").exists()
    kept = (fake_repo / "build" / "failed" / "02_bad.ipynb").read_text()
    assert "this notebook fails on purpose" in kept and "\\u001b[" not in kept  # no ANSI
    log = (fake_repo / "build" / "failed" / "02_bad.log").read_text()
    assert 'cell 1/3: PROFILE = "cpu"' in log and "cell 3/3: from ntkpaper import paths" in log
    assert "failed: cell [3] raised RuntimeError" in log
    md = (fake_repo / "figures" / "RESULTS.md").read_text()
    assert "01_good" in md and "`cpu/02_bad`: ledger unreadable" in md


@pytest.mark.slow
def test_full_profile_publishes_beside_cpu(fake_repo):
    """A ``full`` run goes to figures/full/NN/ with its executed notebook; cpu outputs and the
    notebook readers open are untouched; RESULTS.md shows both profiles."""
    (outcome,) = runner.run(["01"], profile="cpu")
    assert outcome.ok
    cpu_nb = (fake_repo / "notebooks" / "01_good.ipynb").read_bytes()
    cpu_ledger = (fake_repo / "figures" / "cpu" / "01_good" / "results.csv").read_bytes()
    (outcome,) = runner.run(["01"], profile="full")
    assert outcome.ok, outcome.error
    full = fake_repo / "figures" / "full" / "01_good"
    assert "full" in (full / "results.csv").read_text()
    assert json.loads((full / "01_good.ipynb").read_text())["metadata"]["ntkpaper"] == {
        "profile": "full"}
    assert (fake_repo / "notebooks" / "01_good.ipynb").read_bytes() == cpu_nb
    assert (fake_repo / "figures" / "cpu" / "01_good" / "results.csv").read_bytes() == cpu_ledger
    md = (fake_repo / "figures" / "RESULTS.md").read_text()
    assert "## 01_good (profile `cpu`)" in md and "## 01_good (profile `full`)" in md
    assert md.index("profile `cpu`") < md.index("profile `full`")


def test_hand_run_writes_to_scratch(fake_repo, monkeypatch):
    """Outside the runner (JupyterLab, papermill by hand) a session never writes to figures/."""
    from ntkpaper import paths
    from ntkpaper.pipeline import session

    monkeypatch.delenv("NTKPAPER_FIG_DIR", raising=False)
    import shutil

    import matplotlib.pyplot as plt

    real = Path(runner.__file__).parents[2] / "notebooks" / "02_mup_feature_learning.py"
    shutil.copy(real, fake_repo / "notebooks")

    run = session.start({"PROFILE": "smoke"}, notebook="02_mup_feature_learning")
    scratch = fake_repo / "build" / "scratch" / "figures" / "02_mup_feature_learning"
    assert run.out_dir == scratch
    fig, _ = plt.subplots()
    run.savefig(fig, "by_hand")
    run.ledger.claim("c", "s", "m", "e", True, source="this test")
    run.finish()
    assert {p.name for p in scratch.iterdir()} >= {"by_hand.png", "claims.csv", "results.csv"}
    assert not list(paths.fig_dir().rglob("*by_hand*"))
    assert not list(paths.fig_dir().rglob("02_mup_feature_learning"))


@pytest.mark.slow
def test_cli_exit_code_and_smoke_isolation(fake_repo):
    proc = subprocess.run([sys.executable, "-m", "ntkpaper", "run", "--profile", "smoke"],
                          capture_output=True, text=True, env=_env(fake_repo))
    assert proc.returncode == 1
    assert "1 notebook(s) failed: 02_bad" in proc.stderr
    # smoke runs never touch committed files
    assert not (fake_repo / "notebooks" / "01_good.ipynb").exists()
    assert not list((fake_repo / "figures").rglob("01_good*"))
    smoke = fake_repo / "build" / "smoke"
    assert (smoke / "figures" / "01_good" / "claims.csv").exists()
    assert "smoke" in (smoke / "figures" / "01_good" / "results.csv").read_text()
    nb = json.loads((smoke / "notebooks" / "01_good.ipynb").read_text())
    assert not any("injected-parameters" in c["metadata"].get("tags", []) for c in nb["cells"])
    assert not any(c["metadata"].get("tags") == [] for c in nb["cells"])  # papermill's empty tags


def test_cli_errors_are_clear(fake_repo):
    env = _env(fake_repo)
    proc = subprocess.run([sys.executable, "-m", "ntkpaper", "run", "99"], capture_output=True,
                          text=True, env=env)
    assert proc.returncode != 0 and "no notebook matches '99'" in proc.stderr + proc.stdout
    proc = subprocess.run([sys.executable, "-m", "ntkpaper", "run", "--profile", "huge"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "unknown profile 'huge'" in proc.stderr
    for args, message in ((["--jobs", "0"], "must be >= 1, got 0"),
                          (["--jobs", "-1"], "must be >= 1, got -1"),
                          (["--jobs", "two"], "'two' is not a whole number"),
                          (["-p", "N_TEST", "[1, 2"], "-p N_TEST '[1, 2' is not a valid value"),
                          (["-p", "PROFILE", "smoke"], "chosen with --profile, not -p PROFILE")):
        proc = subprocess.run([sys.executable, "-m", "ntkpaper", "run", "01", *args],
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def _env(root):
    import os

    env = dict(os.environ, NTKPAPER_ROOT=str(root))
    env.pop("NTKPAPER_FIG_DIR", None)
    return env


@pytest.mark.slow
def test_a_rerun_gives_byte_identical_outputs_apart_from_timings(tmp_path, monkeypatch):
    """Issue 15: the same notebook at the same seed twice gives the same ledger, claims and
    executed notebook (no clock times, random cell ids or split stream outputs in it)."""
    monkeypatch.delenv("NTKPAPER_FIG_DIR", raising=False)
    monkeypatch.setenv("NTKPAPER_BUILD_DIR", str(tmp_path / "build"))
    stem = "04_ntk_alignment"
    files = [f"figures/{stem}/results.csv", f"figures/{stem}/claims.csv",
             f"notebooks/{stem}.ipynb"]
    seen = []
    for _ in range(2):
        (outcome,) = runner.run([stem], profile="smoke", out_root=tmp_path / "out")
        assert outcome.ok, outcome.error
        seen.append({f: (tmp_path / "out" / f).read_bytes() for f in files})
    for f in files:
        assert seen[0][f] == seen[1][f], f"{f} differs between two identical runs"
    assert (tmp_path / "out" / "figures" / stem / "timings.csv").exists()


SLOW = HEADER + textwrap.dedent("""
    # %% tags=["parameters"]
    PROFILE = "cpu"

    # %%
    print("the first cell ran")

    # %%
    import os
    import time
    from ntkpaper import paths
    (paths.output_dir() / "03_slow").mkdir(parents=True, exist_ok=True)
    (paths.root() / "kernel.pid").write_text(str(os.getpid()))
    time.sleep(120)
    """)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_workers_and_kernels_and_publishes_nothing_half_done(fake_repo, signum):
    import signal
    import time

    proc, kernel, worker = _start_slow(fake_repo)
    t0 = time.monotonic()
    proc.send_signal(getattr(signal, signum))
    out, _ = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 30, "the runner took too long to stop"
    assert proc.returncode == 130, out
    assert "interrupted: finished and published 01_good" in out and "stopped 03_slow" in out
    assert _gone(worker, kernel, within=5), "a worker or kernel was left running"
    assert (fake_repo / "figures" / "cpu" / "01_good" / "claims.csv").exists()
    assert not (fake_repo / "figures" / "cpu" / "03_slow").exists()
    assert not (fake_repo / "notebooks" / "03_slow.ipynb").exists()
    assert not list((fake_repo / "build" / "staging").glob("*/*"))


def test_a_notebook_being_run_is_refused_and_a_repeated_name_runs_once(fake_repo):
    assert [p.stem for p in runner.select(["01", "01_good"])] == ["01_good"]
    held = runner._lock(runner.select(["01"]), fake_repo / "figures" / "cpu")
    try:
        with pytest.raises(Exception, match="another `ntkpaper run` is writing 01_good"):
            runner.run(["01"], profile="cpu")
    finally:
        for f in held:
            f.close()
    assert not (fake_repo / "figures" / "cpu" / "01_good").exists()  # nothing ran


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _start_slow(root):
    import time

    (root / "notebooks" / "02_bad.py").unlink()
    (root / "notebooks" / "03_slow.py").write_text(SLOW)
    # started as from a shell: SIGINT at its default and unblocked. A pytest-xdist worker may
    # hand its children an ignored or blocked SIGINT (both are inherited across exec; a CI run
    # timed out here once), which says nothing about the runner, so a tiny launcher resets both
    # before exec'ing the runner (preexec_fn would be unsafe in a process with jax's threads)
    launcher = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM}); "
                "os.execv(sys.executable, [sys.executable, '-m', 'ntkpaper', 'run', '01', '03'])")
    proc = subprocess.Popen([sys.executable, "-c", launcher],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env(root))
    pid_file = root / "kernel.pid"
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pid_file.exists(), "the slow notebook's kernel never started"
    time.sleep(1)
    kernel = int(pid_file.read_text())
    return proc, kernel, _parent(kernel)


def _gone(*pids, within=30.0) -> bool:
    import time

    deadline = time.monotonic() + within
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    return not any(_running(p) for p in pids)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_runner_leaves_no_process_and_the_next_run_cleans_up(fake_repo):
    import signal

    proc, kernel, worker = _start_slow(fake_repo)
    assert worker != proc.pid and _parent(worker) == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _gone(worker, kernel), "a worker or kernel outlived its runner"
    assert (fake_repo / "figures" / "cpu" / "01_good" / "claims.csv").exists()
    assert not (fake_repo / "figures" / "cpu" / "03_slow").exists()
    assert not (fake_repo / "notebooks" / "03_slow.ipynb").exists()
    assert (fake_repo / "build" / "staging" / f"cpu-{proc.pid}").exists()
    (outcome,) = runner.run(["01"], profile="cpu")  # the next run removes the dead one's staging
    assert outcome.ok and not list((fake_repo / "build" / "staging").iterdir())


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("victim", ["worker", "kernel"])
def test_a_killed_worker_or_kernel_is_a_named_failure_with_its_outputs_kept(fake_repo, victim):
    import os
    import signal

    proc, kernel, worker = _start_slow(fake_repo)
    os.kill(worker if victim == "worker" else kernel, signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    assert _gone(worker, kernel), "the kernel outlived its worker"
    line = next(ln for ln in out.splitlines() if "FAILED 03_slow" in ln)
    if victim == "worker":
        assert "was killed by SIGKILL (out of memory?)" in line
    else:
        assert "DeadKernelError" in line
    kept_nb = fake_repo / "build" / "failed" / "03_slow.ipynb"
    kept_log = fake_repo / "build" / "failed" / "03_slow.log"
    assert "executed notebook (outputs up to the failure): build/failed/03_slow.ipynb" in out
    assert "log: build/failed/03_slow.log" in out
    assert "the first cell ran" in kept_nb.read_text()  # saved after each cell
    assert "cell 4/4: import os" in kept_log.read_text()
    assert (fake_repo / "figures" / "cpu" / "01_good" / "claims.csv").exists()
    assert not (fake_repo / "figures" / "cpu" / "03_slow").exists()
