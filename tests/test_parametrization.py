"""abc-parametrizations: exponents, initial scales and one-step update scales vs width."""

import jax
import numpy as np
import pytest

from ntkpaper import parametrization as pz

WIDTHS = [128, 512, 2048]


def _data(n=8, d=16, k=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x = x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(d)
    return x, rng.normal(size=(n, k))


def test_named_exponents_match_tp4_table():
    assert pz.named("mup", 3) == pz.ABC("mup", (-0.5, 0.0, 0.0, 0.5), (0.5,) * 4, 0.0)
    assert pz.named("ntp", 2) == pz.ABC("ntp", (0.0, 0.5, 0.5), (0.0, 0.0, 0.0), 0.0)
    assert pz.named("sp", 2) == pz.ABC("sp", (0.0, 0.0, 0.0), (0.0, 0.5, 0.5), 0.0)
    assert pz.named("sp_lr", 2).c == 1.0
    assert pz.named("mfp", 1) == pz.ABC("mfp", (0.0, 1.0), (0.0, 0.0), -1.0)


def test_bad_names_and_shapes_are_clear():
    with pytest.raises(ValueError, match="unknown parametrization 'mup2'.*custom"):
        pz.named("mup2")
    with pytest.raises(ValueError, match="one hidden layer"):
        pz.named("mfp", 2)
    with pytest.raises(ValueError, match="same length"):
        pz.custom([0, 0.5], [0, 0, 0], 0)
    abc = pz.named("mup", 2)
    params = pz.init(jax.random.PRNGKey(0), abc, 4, 8, 2)
    with pytest.raises(ValueError, match="has 3 layers but params has 2"):
        pz.forward(params[:2], abc, np.ones((1, 4)))
    with pytest.raises(ValueError, match="unknown activation"):
        pz.forward(params, abc, np.ones((1, 4)), activation="swish")


def test_initial_output_scale():
    """muP outputs vanish like n^-1/2 at initialisation; SP and NTP outputs stay O(1)."""
    x, y = _data()
    for name, lo, hi in (("mup", -0.6, -0.4), ("ntp", -0.1, 0.1), ("sp", -0.1, 0.1)):
        df = pz.compute_coord_check(pz.named(name), WIDTHS, x, y, eta=0.0, steps=0, seeds=4)
        s = pz.fit_slopes(df, "h0").set_index("layer").slope
        assert lo < s["out"] < hi, (name, s.to_dict())
        assert abs(s["1"]) < 0.1 and abs(s["2"]) < 0.1, (name, s.to_dict())  # hidden O(1)


@pytest.mark.parametrize("name,expected", [("mup", 0.0), ("ntp", -0.5), ("sp", 0.5),
                                           ("sp_lr", -0.5)])
def test_one_step_update_of_last_hidden_layer(name, expected):
    """Coordinate check: Delta h^L after one SGD step scales as width^expected."""
    x, y = _data()
    df = pz.compute_coord_check(pz.named(name), WIDTHS, x, y, eta=0.05, steps=1, seeds=3)
    slope = pz.fit_slopes(df).set_index("layer").slope["2"]
    assert abs(slope - expected) < 0.15, (name, slope)


def test_mup_output_update_is_order_one_and_sp_blows_up():
    x, y = _data()
    s_mup = pz.fit_slopes(pz.compute_coord_check(pz.named("mup"), WIDTHS, x, y, 0.05)) \
        .set_index("layer").slope["out"]
    s_sp = pz.fit_slopes(pz.compute_coord_check(pz.named("sp"), WIDTHS, x, y, 0.05)) \
        .set_index("layer").slope["out"]
    assert abs(s_mup) < 0.15 and s_sp > 0.8, (s_mup, s_sp)
