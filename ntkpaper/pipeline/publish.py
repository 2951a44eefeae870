"""Publishing one executed notebook as a single step, and recovering from an interrupted one.

A notebook's outputs are its figures directory ``<fig_root>/NN_topic/`` (figures, ``results.csv``,
``claims.csv``, ``timings.csv``; at ``full`` also the executed notebook) and, at ``cpu``, the
executed notebook ``notebooks/NN_topic.ipynb``; ``RESULTS.md``, ``results.csv``, ``TIMINGS.md``
and README's results table are derived from all the ledgers. :func:`publish` replaces them so
that a reader (or ``git status``) sees either the old set or the new one, whatever happens:

1. the new outputs are moved next to their destinations as ``.NN_topic.new/`` and
   ``.NN_topic.ipynb.new`` (same file system, so that the renames below are atomic);
2. a journal ``<fig_root>/.publish-NN_topic.json`` naming them is written atomically: from here
   on the publish is decided and is completed even after a kill;
3. :func:`_roll_forward`: the old directory goes to ``.NN_topic.old/``, the new one takes its
   place, the notebook is renamed over the old one, ``.old`` is removed;
4. the derived files are regenerated from the ledgers (under a lock, each write atomic), and
   only then is the journal removed.

SIGINT and SIGTERM are held back while this runs (a Ctrl-C lands after it). A SIGKILL at any
point is repaired by :func:`recover`, which every ``ntkpaper run`` calls first (a power loss is
not covered: nothing is fsynced, so a file system may keep the renames but not the contents):
a journal is rolled forward; ``.new`` without a journal (the publish was never decided) is
deleted; an ``.old`` without a journal (the old runner's two-rename swap) is put back if its
destination is missing, else deleted; then the derived files are regenerated.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import threading
from pathlib import Path

from ntkpaper import paths
from ntkpaper._io import atomic_write_text
from ntkpaper.pipeline import ledger

JOURNAL = ".publish-{}.json"


def lock_path(name: str, destination: Path) -> Path:
    """``<checkout>/build/locks/<name>-<hash of destination>.lock``: one lock file per notebook
    (or for the derived files) and output directory. Under the checkout's own ``build/`` (not
    ``NTKPAPER_BUILD_DIR``), so that two runs with different build directories still share
    them."""
    lock_dir = paths.root() / "build" / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(str(Path(destination).resolve()).encode()).hexdigest()[:12]
    return lock_dir / f"{name}-{tag}.lock"


def try_lock(name: str, destination: Path):
    """An exclusive lock, or ``None`` if another process holds it (released when the returned
    file is closed or the process ends, however it ends)."""
    f = open(lock_path(name, destination), "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


@contextlib.contextmanager
def _held(name: str, destination: Path):
    """A blocking exclusive lock for the duration of the block."""
    with open(lock_path(name, destination), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def signals_held():
    """Defer SIGINT and SIGTERM during the block: they are recorded and raised again right
    after it. (Python-level handlers, not the thread's signal mask: CPython runs handlers in the
    main thread whichever thread the signal lands on, and numpy's BLAS threads would take a
    masked one.) Outside the main thread, nothing to defer."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []

    def record(signum, frame):
        got.append(signum)

    old = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if got:
            signal.raise_signal(got[0])


def _names(fig_root: Path, nb_root: Path | None, stem: str) -> dict[str, Path | None]:
    return {"dest": fig_root / stem, "new": fig_root / f".{stem}.new",
            "old": fig_root / f".{stem}.old",
            "nb": nb_root / f"{stem}.ipynb" if nb_root else None,
            "nb_new": nb_root / f".{stem}.ipynb.new" if nb_root else None,
            "journal": fig_root / JOURNAL.format(stem)}


def publish(stem: str, staged_dir: Path, notebook_text: str, fig_root: Path,
            nb_root: Path | None, aggregate_root: Path, readme: Path | None) -> None:
    """Replace notebook ``stem``'s outputs by ``staged_dir`` (its new figures directory) and
    ``notebook_text`` (the executed notebook: to ``nb_root/stem.ipynb``, or inside the figures
    directory when ``nb_root`` is None), then regenerate the derived files under
    ``aggregate_root`` (and README's table when ``readme`` is given). See the module docstring."""
    n = _names(fig_root, nb_root, stem)
    with signals_held():
        for p in (n["new"], n["nb_new"]):  # leftovers of a publish that was never decided
            if p is not None:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        shutil.move(str(staged_dir), n["new"])  # a copy if staging is on another file system
        if n["nb_new"] is None:
            (n["new"] / f"{stem}.ipynb").write_text(notebook_text)
        else:
            n["nb_new"].write_text(notebook_text)
        atomic_write_text(n["journal"], json.dumps({"notebook": stem}))
        # under the derived lock: another run regenerating meanwhile never reads a ledger
        # directory in the middle of its two renames
        with _held("derived", aggregate_root):
            _roll_forward(n)
            _regenerate(aggregate_root, readme)
        n["journal"].unlink()  # only now: a kill before this regenerates at the next start


def _roll_forward(n: dict) -> None:
    """Complete a decided publish (idempotent: each step checks what is already done)."""
    if n["new"].exists():
        if n["dest"].exists():
            if n["old"].exists():
                shutil.rmtree(n["old"])
            n["dest"].rename(n["old"])
        n["new"].rename(n["dest"])
    if n["nb_new"] is not None and n["nb_new"].exists():
        os.replace(n["nb_new"], n["nb"])
    shutil.rmtree(n["old"], ignore_errors=True)


def regenerate(aggregate_root: Path, readme: Path | None) -> None:
    """``RESULTS.md``, ``results.csv``, ``TIMINGS.md`` (and README's results table) from the
    ledgers, under one lock so that two runs publishing at once cannot interleave."""
    with _held("derived", aggregate_root):
        _regenerate(aggregate_root, readme)


def _regenerate(aggregate_root: Path, readme: Path | None) -> None:
    # temporary files of a write that a kill interrupted (atomic writes leave nothing else)
    for d in {Path(aggregate_root), Path(readme).parent if readme else Path(aggregate_root)}:
        for name in ("RESULTS.md", "results.csv", "TIMINGS.md", "README.md"):
            for tmp in d.glob(f".{name}.*.tmp*"):
                tmp.unlink(missing_ok=True)
    ledger.aggregate(aggregate_root)
    if readme is not None:
        ledger.update_readme(readme, aggregate_root)


def recover(fig_root: Path, nb_root: Path | None, aggregate_root: Path,
            readme: Path | None) -> list[str]:
    """Bring every notebook whose publish was interrupted (by a kill) to a consistent state;
    returns a line per repair. Notebooks that another run holds are left to that run."""
    if not fig_root.exists():
        return []
    stems = set()
    for p in fig_root.iterdir():
        name = p.name
        if name.startswith(".publish-") and name.endswith(".json"):
            stems.add(name[len(".publish-"):-len(".json")])
        elif name.startswith(".") and name.endswith((".new", ".old")):
            stems.add(name[1:-4])
        elif name.startswith("..publish-") and ".json." in name:  # a journal write cut short
            stems.add(name[len("..publish-"):].split(".json.")[0])
    if nb_root is not None and nb_root.exists():
        stems |= {p.name[1:-len(".ipynb.new")] for p in nb_root.glob(".*.ipynb.new")}
        stems |= {p.name[1:-len(".ipynb.tmp")] for p in nb_root.glob(".*.ipynb.tmp")}
    done, locks = [], {}
    try:
        with signals_held(), _held("derived", aggregate_root):
            for stem in sorted(stems):
                lock = try_lock(stem, fig_root)
                if lock is None:
                    continue
                locks[stem] = lock
                done.append(_recover_one(_names(fig_root, nb_root, stem), stem))
            if done:
                _regenerate(aggregate_root, readme)
            for stem in locks:
                (fig_root / JOURNAL.format(stem)).unlink(missing_ok=True)
    finally:
        for lock in locks.values():
            lock.close()
    return done


def _recover_one(n: dict, stem: str) -> str:
    for tmp in n["journal"].parent.glob(f".{n['journal'].name}.*"):  # its write was cut short
        tmp.unlink(missing_ok=True)
    if n["journal"].exists():
        _roll_forward(n)
        return f"{stem}: completed an interrupted publish"
    for p in (n["new"], n["nb_new"]):
        if p is not None and p.exists():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if n["nb"] is not None:  # the old runner's temporary notebook
        n["nb"].with_name(f".{stem}.ipynb.tmp").unlink(missing_ok=True)
    if n["old"].exists():
        if n["dest"].exists():
            shutil.rmtree(n["old"], ignore_errors=True)
        else:
            n["old"].rename(n["dest"])
    return f"{stem}: removed an undecided publish, committed outputs kept"
