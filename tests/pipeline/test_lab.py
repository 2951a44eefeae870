"""`make lab` opens the notebooks: JupyterLab starts on the project environment, a paired
``notebooks/NN_topic.py`` opens as a notebook carrying the outputs of its ``.ipynb`` (jupytext),
and the kernel it names is this environment's Python."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ntkpaper import paths
from ntkpaper.pipeline import runner


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_make_lab_opens_paired_notebooks_on_this_environment(tmp_path):
    port, token = _free_port(), "ntkpaper-test"
    args = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 "
            f"--IdentityProvider.token={token} --ServerApp.open_browser=False")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    # -o env: use this environment as it is (never rebuild it from a test)
    proc = subprocess.Popen(["make", "-s", "-o", "env", "lab", f"VENV={Path(sys.prefix)}",
                             f"LAB_ARGS={args}"],
                            cwd=paths.root(), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if proc.poll() is not None:
                pytest.fail(f"make lab exited: {proc.stdout.read().decode()[-2000:]}")
            try:
                _get(f"{base}/api/status", token)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        src = runner.discover()[0]
        model = _get(f"{base}/api/contents/notebooks/{src.name}?content=1", token)
        assert model["type"] == "notebook"  # the .py opens as a notebook, not as text
        cells = model["content"]["cells"]
        assert any(c.get("outputs") for c in cells if c["cell_type"] == "code"), \
            "outputs of the paired .ipynb are shown"
        assert model["content"]["metadata"]["kernelspec"]["name"] == "python3"
        specs = _get(f"{base}/api/kernelspecs", token)
        argv0 = specs["kernelspecs"]["python3"]["spec"]["argv"][0]
        # jupyter_client runs "python" as the server's own interpreter: this environment's
        assert argv0 in ("python", "python3", sys.executable), argv0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
