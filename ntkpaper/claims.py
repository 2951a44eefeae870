"""Claims and checks, declared before the data are computed.

A :class:`Claim` is what a paper asserts: it names its source (paper and section, figure or
table) and its criterion, and carries the test that applies the criterion to the evidence, so
that the criterion is fixed in code (in the notebook's experiments module) before any number
exists. A *check* (``kind="check"``) is a control or an identity: true by construction, by the
triangle inequality or by algebra. Checks are shown beside the claims but never counted as claims
that hold.

A test returns a :data:`Verdict`: the measured value as text and ``True``/``False``, or ``None``
when the result cannot speak to the claim (the model did not fit, the budget was too small):
*inconclusive*, with the reason in the text.

Example (in ``ntkpaper/experiments/nb02_mup_feature_learning.py``)::

    CLAIMS = claims.collect(
        Claim("features_ntp", "NTP: hidden features move like width^-1/2",
              source="Yang & Hu 2021, Sec. 3 and Table 1", criterion="slope in [-0.75, -0.25]",
              test=lambda slope: claims.in_range("slope", slope, -0.75, -0.25)))

and in the notebook, right after the figure that is its evidence::

    run.claim(exp.CLAIMS["features_ntp"], slopes["ntp"])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Verdict = tuple[str, bool | None]
KINDS = ("claim", "check")


@dataclass(frozen=True)
class Claim:
    """One claim (or check) of a notebook.

    Attributes:
        id: short identifier, unique within the notebook (``[a-z0-9_]``).
        statement: what the paper asserts, in words.
        source: where the paper asserts it (``"Lee et al. 2020, Sec. 3.3, Fig. 4"``).
        criterion: what would confirm it, in words (fixed before the data).
        test: ``evidence -> (measured text, holds)``; ``holds`` is ``None`` if inconclusive.
        kind: ``"claim"`` (the paper's) or ``"check"`` (a control or identity).
        history: any change of the criterion after a result was seen: when, from what, why.
    """

    id: str
    statement: str
    source: str
    criterion: str
    test: Callable[..., Verdict]
    kind: str = "claim"
    history: str = ""

    def __post_init__(self):
        if not self.id or not self.id.replace("_", "").isalnum() or self.id != self.id.lower():
            raise ValueError(f"claim id must be lower-case letters, digits and _: {self.id!r}")
        for field in ("statement", "source", "criterion"):
            if not str(getattr(self, field)).strip():
                raise ValueError(f"claim {self.id!r} needs a {field}")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def expected(self) -> str:
        """The criterion as shown in the table (with its history, if it was ever changed)."""
        return self.criterion + (f" [criterion history: {self.history}]" if self.history else "")

    def evaluate(self, *evidence, **kw) -> Verdict:
        measured, holds = self.test(*evidence, **kw)
        if holds is not None:
            holds = bool(holds)
        return str(measured), holds


def collect(*items: Claim) -> dict[str, Claim]:
    """``{claim.id: claim}``, refusing duplicate ids."""
    ids = [c.id for c in items]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"duplicate claim id {repeated[0]!r}")
    return dict(zip(ids, items))


def in_range(label: str, value: float, lo: float | None, hi: float | None,
             extra: str = "") -> Verdict:
    """``(f"{label} {value:.2f}{extra}", lo <= value <= hi)``; ``None`` bounds are open; a NaN
    value is inconclusive (``None``)."""
    if math.isnan(value):
        return f"{label} nan{extra} (not measurable)", None
    ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    return f"{label} {value:.2f}{extra}", bool(ok)


def above(label: str, value: float, threshold: float, extra: str = "") -> Verdict:
    """``(text, value > threshold)``; a NaN value is inconclusive (``None``)."""
    if math.isnan(value):
        return f"{label} nan{extra} (not measurable)", None
    return f"{label} {value:.3g}{extra}", bool(value > threshold)
