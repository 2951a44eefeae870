"""Repository-relative directories, each overridable by an environment variable.

Functions (not constants) so that an override set after import (tests, the runner's staging
directories) is honoured.

=================  ==========================  ================================================
function           default                      override
=================  ==========================  ================================================
``root()``         the repository checkout      ``NTKPAPER_ROOT``
``data_dir()``     ``<root>/data``              ``NTKPAPER_DATA_DIR``
``cache_dir()``    ``<data_dir>/cache``         ``NTKPAPER_CACHE_DIR``
``fig_dir()``      ``<root>/figures``           (none; committed outputs, written only by the
                                                runner: ``figures/<profile>/NN_topic/``)
``output_dir()``   ``<build>/scratch/figures``  ``NTKPAPER_FIG_DIR`` (the runner's staging dir)
``build_dir()``    ``<root>/build``             ``NTKPAPER_BUILD_DIR``
``notebook_dir()`` ``<root>/notebooks``         (none)
=================  ==========================  ================================================
"""

from __future__ import annotations

import os
from pathlib import Path


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def root() -> Path:
    return _env_path("NTKPAPER_ROOT", Path(__file__).resolve().parents[1])


def data_dir() -> Path:
    return _env_path("NTKPAPER_DATA_DIR", root() / "data")


def cache_dir() -> Path:
    return _env_path("NTKPAPER_CACHE_DIR", data_dir() / "cache")


def fig_dir() -> Path:
    """The committed outputs, ``figures/<profile>/NN_topic/``; only ``ntkpaper run`` writes here."""
    return root() / "figures"


def output_dir() -> Path:
    """Where a notebook's run writes its figures and ledger: the runner's staging directory
    (``NTKPAPER_FIG_DIR``), else a scratch directory, so that a notebook run by hand (JupyterLab,
    papermill) never writes over committed figures."""
    return _env_path("NTKPAPER_FIG_DIR", build_dir() / "scratch" / "figures")


def build_dir() -> Path:
    return _env_path("NTKPAPER_BUILD_DIR", root() / "build")


def notebook_dir() -> Path:
    return root() / "notebooks"


def shown(path: Path) -> str:
    """``path`` as printed in a notebook's output: where the runner will publish it
    (``NTKPAPER_PUBLISH_DIR``, set for the staging directory), else relative to the repository,
    so that committed outputs carry no machine paths."""
    path = Path(path).resolve()
    staging, publish = os.environ.get("NTKPAPER_FIG_DIR"), os.environ.get("NTKPAPER_PUBLISH_DIR")
    if staging and publish and path.is_relative_to(Path(staging).resolve()):
        return str(Path(publish) / path.relative_to(Path(staging).resolve()))
    return str(path.relative_to(root())) if path.is_relative_to(root()) else str(path)
