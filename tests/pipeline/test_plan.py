"""``ntkpaper run --plan``: cost-model extrapolation of the committed cpu ledgers."""

import csv
import math
from pathlib import Path

import pytest

from ntkpaper import paths
from ntkpaper.pipeline import cli, plan, profiles, runner

FEWSHOT = "03_mup_word2vec_fewshot"


def _snapshot(root: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")} if root.exists() else {}


def test_cpu_profile_reproduces_the_ledger():
    cal = plan.calibrate()
    for stem in plan.MODELS:
        ledger = plan.read_cpu_ledger(stem)
        assert ledger is not None and ledger.times, stem
        nb = plan.estimate(stem, "cpu", None, cal)
        assert nb.sizes == []
        for s in nb.sections:
            if s.measured_s is None:  # a section the cpu profile skips (06's LeNet-5)
                assert s.cpu_s == 0 and "not run" in s.note
                continue
            assert s.ratio == pytest.approx(1.0, rel=1e-12), (stem, s.section)
            assert s.cpu_s == pytest.approx(s.measured_s, rel=1e-12), (stem, s.section)
        assert nb.cpu_s == pytest.approx(ledger.total, rel=1e-12)
        assert nb.peak_mb == ledger.peak_mb
    text = plan.plan_text([], "cpu")
    assert text.count("the cpu profile is the reference") == len(runner.discover())


def test_doubling_a_size_scales_its_terms():
    """Through the function the CLI uses (-p overrides): the eNTK term of notebook 02's
    feature_movement is quadratic in FEATURE_N_PROBE; notebook 01's Cholesky solves are cubic
    in n."""
    def section(stem, name, overrides):
        (nb,) = plan.plans([stem], "full", overrides)
        return next(s for s in nb.sections if s.section == name)

    a = section("02", "feature_movement", {"FEATURE_N_PROBE": 32})
    b = section("02", "feature_movement", {"FEATURE_N_PROBE": 64})
    assert b.cpu_by_kind["arrays"] == pytest.approx(4 * a.cpu_by_kind["arrays"], rel=1e-12)
    for kind in set(a.cpu_by_kind) - {"arrays"}:  # training and compilation do not change
        assert b.cpu_by_kind[kind] == pytest.approx(a.cpu_by_kind[kind], rel=1e-12)
    assert b.cpu_s - a.cpu_s == pytest.approx(3 * a.cpu_by_kind["arrays"], rel=1e-9)
    assert b.gpu_s > a.gpu_s

    one = {"DATASETS": ["mnist"]}
    small = section("01", "accuracy_vs_n", {**one, "N_TRAIN_SIZES": [20000]})
    large = section("01", "accuracy_vs_n", {**one, "N_TRAIN_SIZES": [40000]})
    assert large.cpu_by_kind["host"] / small.cpu_by_kind["host"] == pytest.approx(8, rel=0.01)


def test_cli_plan_prints_every_notebook_and_runs_nothing(monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("runner.run must not be called by --plan")

    monkeypatch.setattr(runner, "run", no_run)
    # committed outputs only: build/ may be written by tests running beside this one
    before = {d: _snapshot(paths.root() / d) for d in ("figures", "notebooks")}
    assert cli.main(["run", "--profile", "full", "--plan"]) == 0
    out = capsys.readouterr().out
    for src in runner.discover():
        assert f"== {src.stem} (full)" in out
    cpu01 = profiles.table("01_infinite_width_baselines", "cpu")["N_TRAIN_SIZES"]
    full01 = profiles.table("01_infinite_width_baselines", "full")["N_TRAIN_SIZES"]
    assert f"N_TRAIN_SIZES: {cpu01} -> {full01}" in out
    assert "calibrated x" in out and "Assumed factors:" in out and "EXTRAPOLATIONS" in out
    for nb in plan.plans([], "full"):  # each notebook over the 10-minute target is flagged
        block = out.split(f"== {nb.stem} (full)")[1].split("\n== ")[0]
        assert ("FLAG:" in block) == (nb.gpu_s > plan.BUDGET_S)
    assert {d: _snapshot(paths.root() / d) for d in before} == before


def test_cli_plan_bad_parameter_exit_code(capsys):
    assert cli.main(["run", "--plan", "-p", "NOT_A_PARAMETER", "3"]) == 2
    assert "has no parameter 'NOT_A_PARAMETER'" in capsys.readouterr().err
    assert cli.main(["run", "01", "--plan", "-p", "N_TEST", "many"]) == 2
    assert "wrong type" in capsys.readouterr().err
    assert cli.main(["run", "--plan", "--profile", "gpu"]) == 2
    assert cli.main(["run", "02", "--plan", "-p", "N_SEEDS", "5"]) == 0
    assert "N_SEEDS: 2 -> 5" in capsys.readouterr().out


def test_missing_ledgers_sections_and_notebooks_do_not_fail(monkeypatch, tmp_path, capsys):
    # an empty figure directory: no ledgers at all, so no calibration data either
    monkeypatch.setattr(paths, "fig_dir", lambda: tmp_path / "figures")
    cal = plan.calibrate()
    assert not any(cal.measured.values()) and cal.factors == plan.FALLBACK_FACTORS
    nb = plan.estimate("06_neural_tangent_transfer", "full", None, cal)
    assert any("no cpu ledger" in n for n in nb.notes)
    assert nb.sections and not any(s.estimated for s in nb.sections)
    # a ledger with a section the model does not know
    stem = "06_neural_tangent_transfer"
    ledger = paths.fig_dir() / "cpu" / stem / "results.csv"
    ledger.parent.mkdir(parents=True)
    with open(ledger, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["notebook", "profile", "key", "value"])
        for key, value in (("time_s.mnist", 100), ("time_s.brand_new", 5), ("time_s.total", 150),
                           ("peak_rss_mb", 1000)):
            w.writerow([stem, "cpu", key, value])
    nb = plan.estimate(stem, "full", None, cal)
    new = next(s for s in nb.sections if s.section == "brand_new")
    assert not new.estimated and "no cost model" in new.note and not nb.complete
    assert next(s for s in nb.sections if s.section == "mnist").estimated
    # a notebook 07 without a profile table or model, found by discover
    nb7 = plan.estimate("07_future_notebook", "full", {"ANYTHING": 1}, cal)
    assert "no profile table" in nb7.notes[0] and not nb7.sections
    fake = paths.notebook_dir() / "07_future_notebook.py"
    real = runner.discover()
    monkeypatch.setattr(runner, "discover", lambda: [*real, fake])
    assert cli.main(["run", "--profile", "full", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "== 07_future_notebook (full)" in out and "no profile table" in out
    assert "no estimate" in out


def test_gpu_calibration_reproduces_the_h100_run():
    cal = plan.calibrate()
    assert cal.measured["nets"] and not cal.measured["arrays"]
    h100 = plan._read_h100_seconds()
    ledger = plan.read_cpu_ledger(FEWSHOT)
    per_unit = ledger.times["fewshot"] / sum(
        plan._nb03_fewshot(profiles.resolve(FEWSHOT, "cpu")).values())
    nets = plan._fewshot_nets(profiles.resolve(FEWSHOT, "full", plan.CALIBRATION_RUN))
    _, gpu = plan._split(nets, per_unit, cal.factors)
    assert sum(gpu.values()) == pytest.approx(sum(h100.values()), rel=1e-9)
    assert 10 < cal.factors["nets"] < cal.factors["wide-nets"] < 3000
    # the committed H100 run's settings (the full profile now runs fewer steps of this protocol)
    full = plan.estimate(FEWSHOT, "full", plan.CALIBRATION_RUN, cal)
    fewshot = next(s for s in full.sections if s.section == "fewshot")
    assert fewshot.gpu_s >= sum(h100.values())  # plus the kernel limits
    assert math.isclose(plan.estimate(FEWSHOT, "cpu", None, cal).peak_mb, ledger.peak_mb)
