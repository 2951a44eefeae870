"""tools/wheelhouse.py (the GPU machines' offline wheelhouse) and tools/gpu_env.sh: the pure
logic only, no network and no pip."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("ntkpaper_tools_wheelhouse",
                                                  ROOT / "tools" / "wheelhouse.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


wh = _load()

LOCK = """\
# Full lock (header comment)
# more header
absl-py==2.5.1
PyYAML==6.0.3
typing_extensions==4.16.0   # an inline comment
ipykernel==7.4.0

neural-tangents==0.6.5
# lab: JupyterLab for `make lab`
jupyterlab==4.6.6
# a comment inside the lab section
six==1.17.0
# dev
pytest==9.2.0
"""


def keys(pins):
    return [p.key for p in pins]


def test_normalize_pep503():
    assert wh.normalize("PyYAML") == wh.normalize("pyyaml") == "pyyaml"
    assert wh.normalize("typing_extensions") == wh.normalize("typing-extensions")
    assert wh.normalize("Jupyter.Client__x") == "jupyter-client-x"


def test_parse_lock_skips_comments_and_lab_dev_sections():
    pins = wh.parse_lock(LOCK)
    assert keys(pins) == ["absl-py", "pyyaml", "typing-extensions", "ipykernel",
                          "neural-tangents"]
    assert str(pins[1]) == "PyYAML==6.0.3" and pins[2].version == "4.16.0"


def test_parse_lock_dev_section_alone():
    assert keys(wh.parse_lock("a==1\n# dev tools\nb==2\n")) == ["a"]
    assert keys(wh.parse_lock("a==1\n#lab\nb==2\n")) == ["a"]
    # a comment that merely starts with the letters does not open a section
    assert keys(wh.parse_lock("a==1\n# labels below\nb==2\n")) == ["a", "b"]


@pytest.mark.parametrize("line", ["numpy>=2", "numpy", "-e .", "numpy==2.2.6; python_version<'3'"])
def test_parse_lock_rejects_non_pins(line):
    with pytest.raises(wh.WheelhouseError, match="line 2: expected name==version"):
        wh.parse_lock(f"a==1\n{line}\n")


def test_parse_lock_rejects_duplicates():
    with pytest.raises(wh.WheelhouseError, match="pins pyyaml twice"):
        wh.parse_lock("PyYAML==6.0.3\npyyaml==6.0.2\n")


def test_real_lock_main_section():
    pins = {p.key: p.version for p in wh.parse_lock(wh.LOCK.read_text())}
    assert pins["neural-tangents"] == "0.6.5" and pins["jax"] == pins["jaxlib"] == "0.11.2"
    assert "ipykernel" in pins and "papermill" in pins
    assert "jupyterlab" not in pins and "pytest" not in pins and "ruff" not in pins


def test_parse_have_names_and_freeze_lines():
    have = wh.parse_have("""\
# header
pyyaml
typing-extensions==4.15.0
jax==0.11.2
Jupyter_Core @ file:///tmp/jupyter_core-5.9.1-py3-none-any.whl
-e git+https://example.invalid/x.git#egg=My_Pkg
-i https://example.invalid/simple
numpy[extra]==2.5.2
""")
    assert have == {"pyyaml": None, "typing-extensions": "4.15.0", "jax": "0.11.2",
                    "jupyter-core": None, "my-pkg": None, "numpy": "2.5.2"}


def test_have_filter_normalises_names():
    pins = wh.parse_lock(LOCK)
    have = wh.parse_have("pyyaml\ntyping-extensions==4.16.0\nAbsl_Py\njax\n")
    need, present = wh.to_download(pins, have)
    assert keys(need) == ["ipykernel", "neural-tangents"]
    assert keys(present) == ["absl-py", "pyyaml", "typing-extensions"]
    assert wh.version_differences(present, {**have, "pyyaml": "6.0.2"}) == [
        "pyyaml 6.0.2 (lock 6.0.3)"]


def test_default_have_list_against_real_lock():
    have = wh.parse_have(wh.DEFAULT_HAVE.read_text())
    wh.check_have(have, "gpu_have.txt")
    need, present = wh.to_download(wh.parse_lock(wh.LOCK.read_text()), have)
    need = set(keys(need))
    assert {"ipykernel", "papermill", "neural-tangents", "jupytext"} <= need
    assert not {"jax", "jaxlib", "numpy", "scipy", "pyyaml", "typing-extensions"} & need


def test_refuses_have_list_without_jax():
    with pytest.raises(wh.WheelhouseError, match="lists neither jax nor jaxlib") as err:
        wh.check_have(wh.parse_have("numpy\nscipy\n"), "have.txt")
    assert "pip list --format=freeze" in str(err.value)
    wh.check_have(wh.parse_have("jaxlib==0.11.2\n"), "have.txt")  # either one is enough


def test_refuses_non_empty_out(tmp_path):
    out = tmp_path / "wheelhouse"
    wh.check_out(out)  # missing: fine
    out.mkdir()
    wh.check_out(out)  # empty: fine
    (out / "old.whl").write_bytes(b"x")
    with pytest.raises(wh.WheelhouseError, match="not empty; remove it first"):
        wh.check_out(out)


def test_build_refuses_before_downloading(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("must not download or build")

    monkeypatch.setattr(wh, "download", boom)
    monkeypatch.setattr(wh, "build_project", boom)
    lock = tmp_path / "lock.txt"
    lock.write_text(LOCK)
    no_jax = tmp_path / "have.txt"
    no_jax.write_text("numpy\n")
    with pytest.raises(wh.WheelhouseError, match="neither jax nor jaxlib"):
        wh.build(tmp_path / "out", no_jax, lock)
    full = tmp_path / "out"
    full.mkdir()
    (full / "a.whl").write_bytes(b"x")
    have = tmp_path / "have2.txt"
    have.write_text("jax\n")
    with pytest.raises(wh.WheelhouseError, match="not empty"):
        wh.build(full, have, lock)
    assert not (tmp_path / "out.partial").exists()


def test_without_leaves_packages_out_and_refuses_unknown_names(tmp_path, monkeypatch):
    got = {}
    monkeypatch.setattr(wh, "download", lambda pins, dest, glibc: got.setdefault("pins", pins))
    monkeypatch.setattr(wh, "build_project", lambda dest: None)
    monkeypatch.setattr(wh, "check_wheels", lambda dest, need: [])
    monkeypatch.setattr(wh, "check_size", lambda files, limit: 0)
    monkeypatch.setattr(wh, "write_manifest", lambda dest, files: None)
    (tmp_path / "x.whl").write_bytes(b"x")
    monkeypatch.setattr(wh.Path, "glob", lambda self, pat: iter([tmp_path / "x.whl"]))
    lock = tmp_path / "lock.txt"
    lock.write_text(LOCK)
    have = tmp_path / "have.txt"
    have.write_text("jax\n")
    with pytest.raises(wh.WheelhouseError, match="does not pin"):
        wh.build(tmp_path / "o1", have, lock, without=("not-a-package",))
    everything = {p.key for p in wh.parse_lock(LOCK)} - {"jax"}
    dropped = next(iter(sorted(everything)))
    wh.build(tmp_path / "o2", have, lock, without=(dropped.upper(),))
    assert {p.key for p in got["pins"]} == everything - {dropped}


def test_main_reports_refusal(tmp_path, capsys):
    have = tmp_path / "have.txt"
    have.write_text("numpy\n")
    assert wh.main(["--out", str(tmp_path / "o"), "--have", str(have)]) == 1
    assert "error:" in capsys.readouterr().err


def _fake(d: Path, sizes: dict[str, int]) -> list[Path]:
    d.mkdir(exist_ok=True)
    for name, size in sizes.items():
        (d / name).write_bytes(b"\0" * size)
    return sorted(d / n for n in sizes)


def test_size_check_names_largest_wheel(tmp_path):
    files = _fake(tmp_path, {"small-1.0-py3-none-any.whl": 10,
                             "big-2.0-cp312-cp312-manylinux_2_28_x86_64.whl": 300,
                             "mid-1.0-py3-none-any.whl": 50})
    assert wh.check_size(files, limit=1000) == 360
    with pytest.raises(wh.WheelhouseError, match="over the") as err:
        wh.check_size(files, limit=100)
    msg = str(err.value)
    assert "Largest wheels: big-2.0-cp312-cp312-manylinux_2_28_x86_64.whl" in msg
    assert msg.index("big-2.0") < msg.index("mid-1.0") < msg.index("small-1.0")


def test_wheel_name_version():
    assert wh.wheel_name_version("typing_extensions-4.16.0-py3-none-any.whl") == (
        "typing-extensions", "4.16.0")
    assert wh.wheel_name_version("a-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl") == ("a", "1.0")
    with pytest.raises(wh.WheelhouseError):
        wh.wheel_name_version("numpy-2.2.6.tar.gz")


def test_check_wheels_one_per_package(tmp_path):
    pins = wh.parse_lock("PyYAML==6.0.3\ntyping_extensions==4.16.0\n")
    good = {"pyyaml-6.0.3-cp312-cp312-manylinux_2_17_x86_64.whl": 1,
            "typing_extensions-4.16.0-py3-none-any.whl": 1, "ntkpaper-0.1.0-py3-none-any.whl": 1}
    _fake(tmp_path / "ok", good)
    assert len(wh.check_wheels(tmp_path / "ok", pins)) == 3

    dup = {**good, "pyyaml-6.0.3-py3-none-any.whl": 1}
    _fake(tmp_path / "dup", dup)
    with pytest.raises(wh.WheelhouseError, match="pyyaml: 2 wheels"):
        wh.check_wheels(tmp_path / "dup", pins)

    missing = {k: v for k, v in good.items() if not k.startswith("ntkpaper")}
    _fake(tmp_path / "missing", missing)
    with pytest.raises(wh.WheelhouseError, match="ntkpaper: 0 wheels"):
        wh.check_wheels(tmp_path / "missing", pins)

    _fake(tmp_path / "extra", {**good, "stray-1.0-py3-none-any.whl": 1})
    with pytest.raises(wh.WheelhouseError, match="unexpected wheels: stray"):
        wh.check_wheels(tmp_path / "extra", pins)

    _fake(tmp_path / "sdist", {**good, "pyyaml-6.0.3.tar.gz": 1})
    with pytest.raises(wh.WheelhouseError, match="not wheels: pyyaml-6.0.3.tar.gz"):
        wh.check_wheels(tmp_path / "sdist", pins)

    wrong = {k.replace("6.0.3", "6.0.2"): v for k, v in good.items()}
    _fake(tmp_path / "wrong", wrong)
    with pytest.raises(wh.WheelhouseError, match="lock pins pyyaml==6.0.3"):
        wh.check_wheels(tmp_path / "wrong", pins)


def test_manifest(tmp_path):
    files = _fake(tmp_path, {"a-1.0-py3-none-any.whl": 3})
    text = wh.write_manifest(tmp_path, files)
    assert (tmp_path / "MANIFEST.txt").read_text() == text
    line = text.splitlines()[1].split()
    assert line[:3] == ["a", "1.0", "3"] and line[4] == "a-1.0-py3-none-any.whl"
    assert line[3] == "709e80c88487a2411e1ee4dfb9f22a861492d20c4765150c0c794abd70f8147c"


def test_platform_tags():
    tags = wh.platform_tags("2.28")
    assert tags[0] == "manylinux_2_28_x86_64" and "manylinux_2_17_x86_64" in tags
    assert "manylinux2014_x86_64" in tags and "manylinux_2_34_x86_64" not in tags
    assert wh.platform_tags("2.34")[0] == "manylinux_2_34_x86_64"
    with pytest.raises(wh.WheelhouseError):
        wh.platform_tags("2.12")


def test_gpu_env_usage_and_missing_wheelhouse(tmp_path):
    script = ROOT / "tools" / "gpu_env.sh"
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run(["bash", str(script), str(tmp_path / "nope")], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 1 and "no wheelhouse directory" in r.stderr
    r = subprocess.run(["bash", str(script), str(tmp_path)], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 1 and "no MANIFEST.txt" in r.stderr
