"""Profiles, parameters and the notebook session: clear errors for bad input."""

import pytest

from ntkpaper import paths, profiles, session

NB = "01_infinite_width_baselines"


def test_profiles_resolve_and_override():
    cpu = profiles.resolve(NB, "cpu")
    smoke = profiles.resolve(NB, "smoke")
    assert max(cpu.N_TRAIN_SIZES) >= 10000 and cpu.N_TEST == 10000
    assert max(smoke.N_TRAIN_SIZES) < max(cpu.N_TRAIN_SIZES)
    p = profiles.resolve(NB, "smoke", {"N_TEST": 123, "WIDTHS": (8, 16), "DEPTHS": None})
    assert p.N_TEST == 123 and p.WIDTHS == [8, 16] and p.DEPTHS == smoke.DEPTHS
    assert profiles.resolve(NB, "cpu", {"WEIGHT_VAR": 1}).WEIGHT_VAR == 1  # int ok for float


def test_every_profile_has_the_same_parameters():
    for nb, table in profiles.PROFILES.items():
        keys = {p: set(table[p]) for p in profiles.PROFILE_NAMES}
        assert keys["smoke"] == keys["cpu"] == keys["full"], nb


def test_unknown_profile():
    with pytest.raises(profiles.ProfileError, match="unknown profile 'gpu'.*smoke"):
        profiles.resolve(NB, "gpu")


def test_bad_parameter_name_and_type():
    with pytest.raises(profiles.ProfileError, match="has no parameter 'N_TRIAN'"):
        profiles.resolve(NB, "cpu", {"N_TRIAN": 5})
    with pytest.raises(profiles.ProfileError, match="N_TEST='many' has the wrong type"):
        profiles.resolve(NB, "cpu", {"N_TEST": "many"})
    with pytest.raises(profiles.ProfileError, match="WIDTHS"):
        profiles.resolve(NB, "cpu", {"WIDTHS": [64, "wide"]})
    with pytest.raises(profiles.ProfileError, match="SEED must be an int"):
        session.start(NB, "smoke", seed="zero")


def test_session_start_from_namespace_and_finish(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_FIG_DIR", str(tmp_path))
    ns = {"PROFILE": "smoke", "SEED": 0, "N_TEST": 77, "OTHER_UPPER": object()}
    run = session.start(NB, "smoke", 0, namespace=ns)
    assert run.p.N_TEST == 77 and run.out_dir == paths.output_dir() / NB
    with run.section("work"):
        pass
    run.ledger.claim("c", "s", "m", "e", True)
    table = run.finish()
    assert list(table.claim_id) == ["c"]
    assert (tmp_path / NB / "claims.csv").exists()
    assert "profile smoke" in run.caption("MNIST")
