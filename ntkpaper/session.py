"""A notebook's run: its parameters, ledger, figure directory, timings and closing summary.

Typical first and last cells of a notebook::

    run = session.start("01_infinite_width_baselines", PROFILE, SEED, namespace=globals())
    P = run.p                        # resolved sizes (SimpleNamespace)
    ...
    run.savefig(fig, "accuracy_vs_n")
    run.ledger.record("ntk_acc_mnist_n1000", acc)
    run.ledger.claim("C1", statement, measured, expected, holds=acc > 0.9)
    run.finish()                     # writes results.csv / claims.csv, shows the claims table

Figures and ledgers go to ``paths.output_dir() / notebook``: the runner's staging directory
(``NTKPAPER_FIG_DIR``), or ``build/scratch/figures/`` when a notebook is run by hand, so that only
``ntkpaper run`` publishes to ``figures/``.
"""

from __future__ import annotations

import contextlib
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ntkpaper import paths, plotting, profiles
from ntkpaper.results import Ledger


@dataclass
class Run:
    notebook: str
    profile: str
    seed: int
    p: object
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
        print(f"[{name}] {dt:.1f} s")

    def rng(self, offset: int = 0) -> np.random.Generator:
        return np.random.default_rng(self.seed + offset)

    def finish(self):
        """Record total time and peak memory, save the ledger, return the claims table."""
        total = time.perf_counter() - self.started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.ledger.record("time_s.total", round(total, 1))
        self.ledger.record("peak_rss_mb", round(peak_mb))
        self.ledger.save()
        claims = self.ledger.claims
        n_hold = int(claims["holds"].sum()) if len(claims) else 0
        print(f"{self.notebook} (profile {self.profile}): {n_hold}/{len(claims)} claims hold; "
              f"{total:.0f} s, peak RSS {peak_mb:.0f} MB; ledger in {paths.shown(self.out_dir)}")
        return claims[["claim_id", "statement", "measured", "expected", "holds"]]


def start(notebook: str, profile: str, seed: int = 0, overrides: dict | None = None,
          namespace: dict | None = None) -> Run:
    """Resolve parameters, set the plotting style, print the run header.

    Args:
        overrides: explicit parameter values (``None`` values are filled from the profile).
        namespace: alternatively the notebook's ``globals()``; the names of the notebook's
            profile table are taken from it.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise profiles.ProfileError(f"SEED must be an int, got {seed!r}")
    overrides = dict(overrides or {})
    if namespace is not None:
        names = profiles.table(notebook, profile if profile in profiles.PROFILE_NAMES else "cpu")
        overrides.update({k: namespace[k] for k in names if k in namespace})
    p = profiles.resolve(notebook, profile, overrides)
    out_dir = paths.output_dir() / notebook
    out_dir.mkdir(parents=True, exist_ok=True)
    plotting.setup_style()
    from ntkpaper.nt import versions

    v = versions()
    print(f"{notebook}: profile={profile} seed={seed} backend={v['backend']} "
          f"jax={v['jax']} neural-tangents={v['neural_tangents']} "
          f"python={platform.python_version()} ({sys.platform})")
    print("parameters:", ", ".join(f"{k}={val}" for k, val in vars(p).items()))
    run = Run(notebook, profile, seed, p, out_dir, Ledger(notebook, profile, out_dir))
    run.ledger.record("backend", v["backend"])
    return run
