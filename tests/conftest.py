import os

import pytest

# Keep tests quiet and off the user's cache; data sets themselves are shared (data/ under the repo).
os.environ.setdefault("NTKPAPER_QUIET", "1")
# no progress bars in test output (nor in the notebooks the tests run: kernels inherit this)
os.environ["NTKPAPER_PROGRESS"] = "0"


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NTKPAPER_FIG_DIR", str(tmp_path / "figures"))
    yield
