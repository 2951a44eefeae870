"""Repository-relative directories, each overridable by an environment variable.

Functions (not constants) so that an override set after import (tests, the runner's staging
directories) is honoured.

=================  ==========================  ================================================
function           default                      override
=================  ==========================  ================================================
``root()``         the repository checkout      ``NTKPAPER_ROOT``
``data_dir()``     ``<root>/data``              ``NTKPAPER_DATA_DIR``
``cache_dir()``    ``<data_dir>/cache``         ``NTKPAPER_CACHE_DIR``
``fig_dir()``      ``<root>/figures``           ``NTKPAPER_FIG_DIR``
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
    return _env_path("NTKPAPER_FIG_DIR", root() / "figures")


def build_dir() -> Path:
    return _env_path("NTKPAPER_BUILD_DIR", root() / "build")


def notebook_dir() -> Path:
    return root() / "notebooks"
