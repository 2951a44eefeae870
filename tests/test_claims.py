"""Claims and checks: a claim cannot be declared without a source and a criterion."""

import pytest

from ntkpaper import claims


def test_claims_need_a_source_a_criterion_and_a_valid_kind():
    with pytest.raises(ValueError, match="needs a source"):
        claims.Claim("a", "s", source=" ", criterion="c", test=lambda: ("", True))
    with pytest.raises(ValueError, match="needs a criterion"):
        claims.Claim("a", "s", source="p", criterion="", test=lambda: ("", True))
    with pytest.raises(ValueError, match="kind"):
        claims.Claim("a", "s", source="p", criterion="c", kind="control", test=lambda: ("", 1))
    with pytest.raises(ValueError, match="lower-case"):
        claims.Claim("Bad id", "s", source="p", criterion="c", test=lambda: ("", True))
    c = claims.Claim("a", "s", source="p", criterion="c", test=lambda: ("", True))
    with pytest.raises(ValueError, match="duplicate"):
        claims.collect(c, c)


def test_verdicts_and_history():
    c = claims.Claim("a", "s", source="p", criterion="slope in [-1, 0]", history="widened",
                     test=lambda v: claims.in_range("slope", v, -1, 0))
    assert c.evaluate(-0.5) == ("slope -0.50", True)
    assert c.evaluate(0.25) == ("slope 0.25", False)
    assert "criterion history: widened" in c.expected
    assert claims.above("x", 0.2, 0.1) == ("x 0.2", True)
    unsure = claims.Claim("u", "s", source="p", criterion="c", test=lambda: ("no fit", None))
    assert unsure.evaluate() == ("no fit", None)


def test_nan_is_inconclusive():
    assert claims.in_range("slope", float("nan"), -1, 0)[1] is None
    assert claims.above("x", float("nan"), 0)[1] is None
