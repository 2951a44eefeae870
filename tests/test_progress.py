"""Where :func:`ntkpaper.progress.progress` writes: nowhere under ``NTKPAPER_PROGRESS=0`` (the
test session) or under the runner without a log, whole ASCII lines appended to
``NTKPAPER_LOG``, stderr otherwise; and nothing on stdout or stderr when a log is set."""

import re
import time

import pytest

import ntkpaper.progress as progress_module
from ntkpaper.progress import progress


@pytest.fixture
def log(tmp_path, monkeypatch):
    """Progress on, routed to a log file (as the runner sets it)."""
    path = tmp_path / "log.txt"
    monkeypatch.delenv("NTKPAPER_PROGRESS", raising=False)
    monkeypatch.setenv("NTKPAPER_LOG", str(path))
    return path


def test_disabled_in_the_test_session(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NTKPAPER_LOG", str(tmp_path / "log.txt"))  # "0" wins over a log
    bar = progress(range(3), desc="sweep", unit="width")
    assert bar.disable
    assert list(bar) == [0, 1, 2]
    with progress(desc="fit step", total=4) as manual:
        manual.update(4)
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "log.txt").exists()


def test_disabled_under_the_runner_without_a_log(monkeypatch, capsys):
    monkeypatch.delenv("NTKPAPER_PROGRESS", raising=False)
    monkeypatch.delenv("NTKPAPER_LOG", raising=False)
    monkeypatch.setenv("NTKPAPER_QUIET", "1")
    assert list(progress("ab", desc="sweep")) == ["a", "b"]
    assert capsys.readouterr() == ("", "")


def test_iterable_in_the_log_and_nothing_on_stdout_or_stderr(log, capsys):
    log.write_text("earlier line\n")
    assert list(progress([64, 256, 1024], desc="02 coord check", unit="width")) == [64, 256, 1024]
    assert capsys.readouterr() == ("", "")
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier line"  # appended, not overwritten
    assert lines[1].startswith("02 coord check:   0%|") and "0/3" in lines[1]
    assert re.match(r"02 coord check: 100%\|#+\| 3/3 \[.*width/s\]$", lines[-1]), lines[-1]
    assert all(line.isascii() and "\r" not in line and "\x1b" not in line for line in lines)


def test_manual_updates_and_nested_bars_write_whole_lines(log, capsys):
    with progress(desc="outer", total=2, unit="run") as outer:
        for _ in range(2):
            with progress(desc="fit step", total=5, unit="step") as inner:
                inner.update(2)
                inner.update(3)
            outer.update()
    assert capsys.readouterr() == ("", "")
    text = log.read_text()
    assert text.endswith("\n") and "\x1b" not in text and "\r" not in text
    finals = [line for line in text.splitlines() if "100%" in line]
    assert [line.split(":")[0] for line in finals] == ["fit step", "fit step", "outer"]
    assert "5/5" in finals[0] and "2/2" in finals[-1]


def test_every_interval_adds_one_line(log, monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.0)  # 10 s in real use
    for _ in progress(range(3), desc="sweep"):
        time.sleep(0.01)
    counts = [line.split("|")[2].split()[0] for line in log.read_text().splitlines()]
    assert counts[:4] == ["0/3", "1/3", "2/3", "3/3"] and set(counts[4:]) <= {"3/3"}


def test_a_bar_shorter_than_its_delay_leaves_nothing(log):
    with progress(desc="short fit", total=3, delay=5) as bar:
        bar.update(3)
    assert not log.exists() or log.read_text() == ""


def test_an_unwritable_log_warns_and_disables(tmp_path, monkeypatch):
    monkeypatch.delenv("NTKPAPER_PROGRESS", raising=False)
    monkeypatch.setenv("NTKPAPER_LOG", str(tmp_path / "missing" / "log.txt"))
    with pytest.warns(UserWarning, match="progress bars off"):
        bar = progress(range(2), desc="sweep")
    assert bar.disable and list(bar) == [0, 1]


def test_by_hand_the_bar_goes_to_stderr(monkeypatch, capsys):
    for name in ("NTKPAPER_PROGRESS", "NTKPAPER_LOG", "NTKPAPER_QUIET"):
        monkeypatch.delenv(name, raising=False)
    assert list(progress(range(3), desc="by hand", unit="width")) == [0, 1, 2]
    out, err = capsys.readouterr()
    assert out == "" and "by hand" in err and "3/3" in err
