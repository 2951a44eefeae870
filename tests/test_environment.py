"""Pins in step (pyproject, environment.yml, requirements.lock), notebook pairs in step,
and neural-tangents importable without TensorFlow."""

import importlib.util
import re
import tomllib

import jupytext
import nbformat
import pytest
import yaml

from ntkpaper import paths
from ntkpaper.pipeline import runner

ROOT = paths.root()


def _pins(lines):
    out = {}
    for line in lines:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)\s*", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_pins_in_step():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    extras = project["optional-dependencies"]["dev"] + project["optional-dependencies"]["lab"]
    declared = _pins(project["dependencies"] + extras + pyproject["tool"]["ntkpaper"]["no-deps"])
    assert len(declared) == len(project["dependencies"]) + len(extras) + 1, (
        "every dependency must be pinned with ==")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = _pins(pip_section)
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    nt = "neural-tangents"
    assert {k: v for k, v in declared.items() if k != nt} == env_pins
    for name, version in declared.items():
        assert lock.get(name) == version, f"{name}=={version} missing from requirements.lock"
    assert "tensorflow" not in lock and "tf2jax" not in lock
    # the lock's jax is the one preinstalled on our GPU machines; jax >= 0.11 needs Python 3.12
    assert declared["jax"] == declared["jaxlib"] == "0.11.2" and declared[nt] == "0.6.5"
    assert project["requires-python"] == ">=3.12,<3.13"
    assert "python=3.12" in env["dependencies"]
    assert "Python 3.12" in (ROOT / "requirements.lock").read_text().splitlines()[0]
    makefile = (ROOT / "Makefile").read_text()
    assert f"--no-deps {nt}=={declared[nt]}" in makefile


@pytest.mark.parametrize("src", runner.discover(), ids=lambda p: p.stem)
def test_notebook_pair_in_step(src):
    ipynb = src.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `make sync`"
    text = jupytext.read(src)
    paired = nbformat.read(ipynb, as_version=4)
    cells = [c for c in paired.cells
             if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    assert [(c.cell_type, c.source) for c in text.cells] == [(c.cell_type, c.source)
                                                             for c in cells], (
        f"{src.name} and {ipynb.name} differ: run `make sync`")
    assert paired.metadata["kernelspec"]["name"] == "python3"
    tagged = [c for c in text.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "PROFILE = " in tagged[0].source


def test_neural_tangents_imports_without_tensorflow():
    from ntkpaper import nt

    assert importlib.util.find_spec("tensorflow") is None
    assert nt.versions()["neural_tangents"] == "0.6.5"
    import neural_tangents

    with pytest.raises(ImportError, match="needs TensorFlow"):
        neural_tangents.experimental.empirical_ntk_fn_tf  # noqa: B018
    # introspection (IPython tracebacks call hasattr(module, "__file__")) must not raise
    assert not hasattr(neural_tangents.experimental, "__file__")
