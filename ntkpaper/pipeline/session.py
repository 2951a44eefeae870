"""A notebook's run: its parameters, ledger, figure directory, timings and closing summary.

The first code cell of a notebook, after its parameters cell::

    from ntkpaper import pipeline
    from ntkpaper.experiments import nb02_mup_feature_learning as exp

    run = pipeline.start(globals())

:func:`start` finds which notebook it is in (from the runner, Jupyter's notebook path, the file,
or else the parameter names), resolves the parameters (the cells's cpu values, the profile's
changes, the reader's edits and papermill's ``-p`` values; all checked before anything runs,
see :mod:`ntkpaper.pipeline.profiles`) and writes the resolved values back into the notebook's
globals under the same names. Then::

    with run.section("coord_check"):          # timed; the time goes to the ledger
        df = exp.compute_coord_check(...)
    run.savefig(exp.plot_coord_check(df), "coord_check")
    run.record("coord_slope_sp", 0.51)        # a measured number
    run.claim(exp.CLAIMS["coord_sp"], df)     # a claim, right after its evidence
    run.finish()                              # results.csv / claims.csv, the claims table

Figures and ledgers go to ``paths.output_dir() / notebook``: the runner's staging directory
(``NTKPAPER_FIG_DIR``), or ``build/scratch/figures/`` when a notebook is run by hand, so that only
``ntkpaper run`` publishes to ``figures/``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import numbers
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ntkpaper import paths, plotting
from ntkpaper.claims import Claim
from ntkpaper.pipeline import profiles
from ntkpaper.pipeline.ledger import Ledger


@dataclass
class Run:
    notebook: str
    profile: str
    seed: int
    params: SimpleNamespace
    out_dir: Path
    ledger: Ledger
    timings: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def savefig(self, fig, name: str) -> None:
        """Save ``fig`` as ``name.png`` and ``.pdf`` in the run's directory (returns nothing, so
        that a cell ending with it prints no machine path)."""
        plotting.savefig(fig, self.out_dir, name)

    def caption(self, data: str) -> str:
        return plotting.caption(data, self.profile)

    @contextlib.contextmanager
    def section(self, name: str):
        """Time a block; the wall time goes to the ledger as ``time_s.<name>``."""
        t0 = time.perf_counter()
        yield
        dt = time.perf_counter() - t0
        self.timings[name] = dt
        self.ledger.record(f"time_s.{name}", round(dt, 2))
        if not _quiet():  # the runner keeps outputs free of timings (they go to timings.csv)
            print(f"[{name}] {dt:.1f} s")

    def record(self, key: str, value):
        """Record a measured number under ``key`` (returns ``value``)."""
        return self.ledger.record(key, value)

    def record_all(self, values: dict, prefix: str = "") -> None:
        """Record every ``{key: value}`` as ``prefix + key``."""
        for key, value in values.items():
            self.ledger.record(prefix + str(key), value)

    def claim(self, claim: Claim, *evidence, **kw) -> bool | None:
        """Apply ``claim``'s criterion to the evidence, record and print the verdict."""
        measured, holds = claim.evaluate(*evidence, **kw)
        self.ledger.claim(claim.id, claim.statement, measured, claim.expected, holds,
                          source=claim.source, kind=claim.kind)
        verdict = {True: "holds", False: "does not hold", None: "inconclusive"}[holds]
        print(f"{claim.kind} {claim.id}: {measured} -> {verdict}")
        return holds

    def rng(self, offset: int = 0) -> np.random.Generator:
        return np.random.default_rng(self.seed + offset)

    def finish(self):
        """Record total time and peak memory, save the ledger, return the claims table."""
        from ntkpaper.pipeline.ledger import tally

        total = time.perf_counter() - self.started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.ledger.record("time_s.total", round(total, 1))
        self.ledger.record("peak_rss_mb", round(peak_mb))
        self.ledger.save()
        claims = self.ledger.claims
        cost = "" if _quiet() else f"; {total:.0f} s, peak RSS {peak_mb:.0f} MB"
        print(f"{self.notebook} (profile {self.profile}): {tally(claims)}{cost}; ledger in "
              f"{paths.shown(self.out_dir)}")
        return claims[["kind", "claim_id", "statement", "source", "measured", "expected",
                       "holds"]].set_index("claim_id")


def notebook_name(namespace: dict) -> str:
    """Which notebook is running: the runner's ``NTKPAPER_NOTEBOOK``, Jupyter's notebook path
    (``__session__``, ``__vsc_ipynb_file__``) or ``__file__``, else the one notebook whose
    parameter names are all defined in ``namespace``."""
    known = profiles.notebooks()
    candidates = [os.environ.get("NTKPAPER_NOTEBOOK")] + [
        namespace.get(k) for k in ("__session__", "__vsc_ipynb_file__", "__file__")]
    for c in candidates:
        if isinstance(c, str) and c and Path(c).stem in known:
            return Path(c).stem
    names = {k for k in namespace if k.isupper()}
    matches = [nb for nb in known if set(profiles.cpu_values(nb)) <= names]
    if len(matches) == 1:
        return matches[0]
    raise profiles.ProfileError(
        "cannot tell which notebook this is (no runner, Jupyter or file name, and "
        f"{'no' if not matches else 'more than one'} notebook's parameters match); call "
        "pipeline.start(globals(), notebook='NN_topic')")


_RESOLVED = "__ntkpaper_resolved__"


def _quiet() -> bool:
    """Under the runner (and in tests): no timings in the notebook's outputs, so that a rerun
    with the same results gives the same executed notebook."""
    return bool(os.environ.get("NTKPAPER_QUIET"))


def explicit_values(namespace: dict, cpu: dict) -> dict:
    """The values in ``namespace`` that were chosen explicitly, and so win over the profile's:

    * every name the runner passes in ``NTKPAPER_PARAMS`` (``ntkpaper run -p``), whatever its
      value (a ``-p`` value equal to the cpu value still wins at ``full``);
    * any other parameter whose value differs from the notebook file's cpu value (an edit in
      Jupyter, a papermill ``-p`` by hand), unless it is the value a previous :func:`start`
      wrote (re-running the first cell after a ``full`` run does not keep ``full``'s sizes).
    """
    passed = json.loads(os.environ.get("NTKPAPER_PARAMS", "{}"))
    before = namespace.get(_RESOLVED, {})
    out = {k: namespace[k] for k in passed if k in namespace}
    for k, v in cpu.items():
        if k in namespace and k not in out and namespace[k] != v and not (
                k in before and before[k] == namespace[k]):
            out[k] = namespace[k]
    return out


def _versions() -> dict[str, str]:
    import jax

    compat = getattr(sys.modules.get("ntkpaper.nt"), "versions", None)
    return {"jax": jax.__version__, "backend": jax.default_backend(),
            "neural_tangents": importlib.metadata.version("neural-tangents"),
            "compat": compat()["compat"] if compat else "not loaded"}


def start(namespace: dict | None = None, notebook: str | None = None) -> Run:
    """Resolve and check the parameters, put them back into ``namespace``, set the plotting
    style, print the run header.

    Args:
        namespace: the notebook's ``globals()`` (``PROFILE``, ``SEED`` and its parameters); the
            resolved values are written back into it. ``None``: an empty one (``cpu``, seed 0).
        notebook: the notebook's stem, when it cannot be found (see :func:`notebook_name`).

    Raises:
        ProfileError: unknown notebook or profile; a parameter of the wrong type or out of range.
    """
    ns = {} if namespace is None else namespace
    name = notebook or notebook_name(ns)
    profile, seed = ns.get("PROFILE", "cpu"), ns.get("SEED", 0)
    if profile not in profiles.PROFILE_NAMES:
        raise profiles.ProfileError(f"unknown profile {profile!r}; choose one of "
                                    f"{profiles.PROFILE_NAMES}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise profiles.ProfileError(f"SEED must be a non-negative int, got {seed!r}")
    cpu = profiles.cpu_values(name)
    # an upper-case name that is no parameter came from papermill's -p by hand (a typo of a
    # parameter, which would otherwise be ignored silently) or an edit of the parameters cell
    unknown = sorted(k for k in ns if k.isupper() and not k.startswith("_")
                     and k not in cpu and k not in ("PROFILE", "SEED"))
    if unknown:
        raise profiles.ProfileError(
            f"{name} has no parameter {', '.join(unknown)} (set by papermill -p or an edit?); "
            f"its parameters are {', '.join(cpu)}")
    p = profiles.resolve(name, profile, explicit_values(ns, cpu))
    ns.update(vars(p))
    ns[_RESOLVED] = dict(vars(p))  # what this call wrote, so that a second call can tell
    out_dir = paths.output_dir() / name
    out_dir.mkdir(parents=True, exist_ok=True)
    plotting.setup_style()
    v = _versions()
    print(f"{name}: profile={profile} seed={seed} backend={v['backend']} jax={v['jax']} "
          f"neural-tangents={v['neural_tangents']} python={platform.python_version()} "
          f"({sys.platform}); jax names restored for neural-tangents: {v['compat']}")
    changed = {k: val for k, val in vars(p).items() if val != cpu.get(k)}
    print("parameters: the cpu values in the cell above" + (
        "; changed: " + ", ".join(f"{k}={val}" for k, val in changed.items()) if changed
        else ""))
    run = Run(name, profile, seed, p, out_dir, Ledger(name, profile, out_dir))
    run.ledger.record("backend", v["backend"])
    for k, val in changed.items():  # the ledger says which sizes were not the cpu cell's
        run.ledger.record(f"param.{k}", json.dumps(val))
    return run
