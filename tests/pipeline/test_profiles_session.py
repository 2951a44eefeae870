"""Profiles, parameters and the notebook session: one source per parameter, clear errors for bad
input before anything runs."""

import json

import pytest

from ntkpaper import claims, paths
from ntkpaper.pipeline import profiles, runner, session

NB = "01_infinite_width_baselines"


def test_cpu_values_come_from_the_notebooks_parameters_cell():
    cpu = profiles.cpu_values(NB)
    text = (paths.notebook_dir() / f"{NB}.py").read_text()
    assert f"N_TEST = {cpu['N_TEST']}" in text
    assert "PROFILE" not in cpu and "SEED" not in cpu
    assert profiles.table(NB, "cpu") == cpu


def test_profiles_resolve_and_override():
    cpu = profiles.resolve(NB, "cpu")
    smoke = profiles.resolve(NB, "smoke")
    assert max(cpu.N_TRAIN_SIZES) >= 10000 and cpu.N_TEST == 10000
    assert max(smoke.N_TRAIN_SIZES) < max(cpu.N_TRAIN_SIZES)
    p = profiles.resolve(NB, "smoke", {"N_TEST": 123, "N_TRAIN_SIZES": (8, 16),
                                       "DEPTHS": None})
    assert p.N_TEST == 123 and p.N_TRAIN_SIZES == [8, 16] and p.DEPTHS == smoke.DEPTHS
    assert profiles.resolve(NB, "cpu", {"WEIGHT_VAR": 1}).WEIGHT_VAR == 1  # int ok for float


def test_profile_tables_hold_only_changes_of_known_parameters():
    assert set(profiles.PROFILES) == {p.stem for p in runner.discover()}
    for nb, table in profiles.PROFILES.items():
        cpu = profiles.cpu_values(nb)
        assert "cpu" not in table, f"{nb}: cpu values live in the notebook's parameters cell"
        assert set(table) == {"smoke", "full"}, nb
        for prof, changes in table.items():
            assert set(changes) <= set(cpu), (nb, prof, set(changes) - set(cpu))
            same = [k for k, v in changes.items() if v == cpu[k]]
            assert not same, f"{nb} {prof} repeats cpu values: {same}"


def test_every_profile_passes_its_own_checks():
    for nb in profiles.notebooks():
        for prof in profiles.PROFILE_NAMES:
            profiles.resolve(nb, prof)


def test_unknown_profile():
    with pytest.raises(profiles.ProfileError, match="unknown profile 'gpu'.*smoke"):
        profiles.resolve(NB, "gpu")


def test_bad_parameter_name_type_and_range():
    with pytest.raises(profiles.ProfileError, match="has no parameter 'N_TRIAN'"):
        profiles.resolve(NB, "cpu", {"N_TRIAN": 5})
    with pytest.raises(profiles.ProfileError, match="N_TEST='many' has the wrong type"):
        profiles.resolve(NB, "cpu", {"N_TEST": "many"})
    with pytest.raises(profiles.ProfileError, match="N_TRAIN_SIZES"):
        profiles.resolve(NB, "cpu", {"N_TRAIN_SIZES": [64, "wide"]})
    with pytest.raises(profiles.ProfileError, match="N_TEST=0 is out of range.*> 0"):
        profiles.resolve(NB, "cpu", {"N_TEST": 0})
    with pytest.raises(profiles.ProfileError,
                       match="N_TRAIN_SIZES=\\[64, -1\\] is out of range"):
        profiles.resolve(NB, "cpu", {"N_TRAIN_SIZES": [64, -1]})
    with pytest.raises(profiles.ProfileError, match="N_TRAIN_SIZES is empty"):
        profiles.resolve(NB, "cpu", {"N_TRAIN_SIZES": []})
    with pytest.raises(profiles.ProfileError, match="BIAS_VARS"):
        profiles.resolve(NB, "cpu", {"BIAS_VARS": [-0.1]})
    assert profiles.resolve(NB, "cpu", {"BIAS_VARS": [0.0]}).BIAS_VARS == [0.0]  # >= 0 allowed
    with pytest.raises(profiles.ProfileError, match="DENSITIES=\\[1.5\\].*<= 1"):
        profiles.resolve("06_neural_tangent_transfer", "cpu", {"DENSITIES": [1.5]})
    with pytest.raises(profiles.ProfileError, match="SEED must be a non-negative int"):
        session.start({"PROFILE": "smoke", "SEED": "zero"}, notebook=NB)


def _fake_notebook(root, monkeypatch, cell: str) -> str:
    """A notebook ``09_x`` in a fake repository at ``root`` whose parameters cell is ``cell``."""
    monkeypatch.setenv("NTKPAPER_ROOT", str(root))
    (root / "notebooks").mkdir()
    (root / "notebooks" / "09_x.py").write_text(
        f'# %% tags=["parameters"]\n{cell}\n\n# %%\nprint(N)\n')
    return "09_x"


def test_parameters_cell_must_hold_literals(tmp_path, monkeypatch):
    _fake_notebook(tmp_path, monkeypatch, 'PROFILE = "cpu"\nN = 2 * 3')
    with pytest.raises(profiles.ProfileError, match="N must be a literal"):
        profiles.cpu_values("09_x")
    with pytest.raises(profiles.ProfileError, match="no notebook '09_y'"):
        profiles.cpu_values("09_y")


def test_session_puts_resolved_values_into_the_namespace(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_FIG_DIR", str(tmp_path))
    monkeypatch.delenv("NTKPAPER_NOTEBOOK", raising=False)
    cpu = profiles.cpu_values(NB)
    ns = {"PROFILE": "smoke", "SEED": 0, **cpu, "N_TEST": 77, "N_TSET": 5}
    # a name that is no parameter (papermill -p N_TSET 5 by hand: a typo) is refused
    with pytest.raises(profiles.ProfileError, match=f"{NB} has no parameter N_TSET"):
        session.start(ns)
    del ns["N_TSET"]
    run = session.start(ns)  # found by its parameter names
    assert run.notebook == NB and run.out_dir == paths.output_dir() / NB
    assert ns["N_TEST"] == 77  # an explicit value wins over the profile
    # a value left as in the file takes the profile's value
    assert ns["N_TRAIN_SIZES"] == profiles.PROFILES[NB]["smoke"]["N_TRAIN_SIZES"]
    assert run.params.N_TEST == 77
    with run.section("work"):
        pass
    c = claims.Claim("c", "s", source="a paper, Sec. 1", criterion="x > 0",
                     test=lambda x: claims.above("x", x, 0))
    assert run.claim(c, 1.0) is True
    chk = claims.Claim("k", "s", source="algebra", criterion="x > 0", kind="check",
                       test=lambda x: ("did not fit", None))
    assert run.claim(chk, 1.0) is None
    table = run.finish()
    assert list(table.index) == ["c", "k"] and list(table.holds) == ["True", "inconclusive"]
    assert (tmp_path / NB / "claims.csv").exists()
    assert "profile smoke" in run.caption("MNIST")


def test_session_names_the_notebook_or_says_how(monkeypatch):
    monkeypatch.delenv("NTKPAPER_NOTEBOOK", raising=False)
    assert session.notebook_name({"__session__": f"/x/{NB}.ipynb"}) == NB
    monkeypatch.setenv("NTKPAPER_NOTEBOOK", "02_mup_feature_learning")
    assert session.notebook_name({}) == "02_mup_feature_learning"
    monkeypatch.delenv("NTKPAPER_NOTEBOOK")
    with pytest.raises(profiles.ProfileError, match="cannot tell which notebook"):
        session.notebook_name({"PROFILE": "cpu"})


def test_explicit_values_win_and_a_second_start_rereads_the_profile(tmp_path, monkeypatch):
    """A ``-p`` value equal to the cpu value still wins at ``full`` (the runner names it in
    NTKPAPER_PARAMS); re-running the first cell after a ``full`` start at ``smoke`` gives smoke's
    sizes, not full's; the ledger records every size that is not the cpu cell's."""
    monkeypatch.setenv("NTKPAPER_FIG_DIR", str(tmp_path))
    cpu = profiles.cpu_values(NB)
    monkeypatch.setenv("NTKPAPER_PARAMS", json.dumps({"DEPTHS": cpu["DEPTHS"]}))
    ns = {"PROFILE": "full", **cpu}
    session.start(ns, notebook=NB)
    assert ns["DEPTHS"] == cpu["DEPTHS"]  # explicit, not full's deeper list
    assert ns["N_TRAIN_SIZES"] == profiles.PROFILES[NB]["full"]["N_TRAIN_SIZES"]
    monkeypatch.delenv("NTKPAPER_PARAMS")
    ns["PROFILE"] = "smoke"
    run = session.start(ns, notebook=NB)
    assert ns["N_TRAIN_SIZES"] == profiles.PROFILES[NB]["smoke"]["N_TRAIN_SIZES"]
    assert run.ledger.results.set_index("key").loc["param.N_TRAIN_SIZES", "value"] == str(
        profiles.PROFILES[NB]["smoke"]["N_TRAIN_SIZES"])


def test_ranges_types_and_cell_errors(tmp_path, monkeypatch):
    nb03 = "03_mup_word2vec_fewshot"
    assert profiles.resolve(nb03, "cpu", {"FS_VAL_EVERY": 0}).FS_VAL_EVERY == 0  # keep the last
    monkeypatch.setitem(profiles.PROFILES[NB], "smoke", {"N_TEST": "many"})
    with pytest.raises(profiles.ProfileError, match="profiles.py.*N_TEST='many'"):
        profiles.resolve(NB, "smoke")
    _fake_notebook(tmp_path, monkeypatch, "N = (1,")
    with pytest.raises(profiles.ProfileError, match="parameters cell"):
        profiles.cpu_values("09_x")
