"""The shared statistics against hand computations."""

import numpy as np
import pandas as pd
import pytest

from ntkpaper import stats


def test_power_law_recovers_exponent_and_prefactor():
    x = np.array([64, 256, 1024, 4096])
    a, c = stats.fit_power_law(x, 3.0 * x**-0.5)
    assert a == pytest.approx(-0.5) and c == pytest.approx(3.0)
    with pytest.raises(ValueError, match="positive"):
        stats.fit_power_law([1, 2], [1, 0])
    with pytest.raises(ValueError, match="two or more"):
        stats.fit_power_law([1], [1])


def test_power_law_slopes_average_over_seeds_first():
    rows = []
    for method, k in (("ntp", -0.5), ("mup", 0.0)):
        for w in (64, 256, 1024):
            # two seeds whose mean is w^k exactly; their logs do not average to k log w
            rows += [{"method": method, "width": w, "seed": s, "d": w**k * f}
                     for s, f in ((0, 0.5), (1, 1.5))]
    s = stats.power_law_slopes(pd.DataFrame(rows), "width", "d", "method")
    assert s["ntp"] == pytest.approx(-0.5) and s["mup"] == pytest.approx(0.0, abs=1e-12)


def test_relative_distance_accuracy_and_paired_difference():
    assert stats.relative_distance([3.0, 8.0], [3.0, 5.0]) == pytest.approx(3 / np.sqrt(34))
    with pytest.raises(ValueError, match="shapes differ"):
        stats.relative_distance([1.0], [1.0, 2.0])
    pred = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert stats.accuracy(pred, [0, 1, 1]) == pytest.approx(2 / 3)
    a, b = np.array([0.6, 0.7, 0.9]), np.array([0.5, 0.7, 0.6])
    mean, se = stats.paired_difference(a, b)
    d = a - b  # 0.1, 0.0, 0.3: mean 0.1333, sd 0.1528, se 0.0882
    assert mean == pytest.approx(d.mean())
    assert se == pytest.approx(np.sqrt(((d - d.mean()) ** 2).sum() / 2) / np.sqrt(3))
    assert np.isnan(stats.paired_difference([1.0], [0.0])[1])
