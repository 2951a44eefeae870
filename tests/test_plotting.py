"""Plot helpers: what they draw, and the errors they give."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ntkpaper.plotting import accuracy_bars  # noqa: E402


def test_accuracy_bars_draws_one_bar_per_method_and_density_and_the_dense_line():
    final = pd.DataFrame({
        "method": ["dense", "dense", "ntt", "ntt", "random", "random", "ntt", "random"],
        "density": [1.0, 1.0, 0.03, 0.03, 0.03, 0.03, 0.1, 0.1],
        "seed": [0, 1, 0, 1, 0, 1, 0, 0],
        "test_acc": [0.95, 0.97, 0.80, 0.84, 0.70, 0.72, 0.90, 0.88]})
    fig, ax = plt.subplots()
    accuracy_bars(ax, final, "t")
    heights = sorted(round(p.get_height(), 4) for p in ax.patches if p.get_height() > 0)
    assert heights == [0.71, 0.82, 0.88, 0.9]  # seed means per (method, density)
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == pytest.approx(0.96)
    assert ax.get_ylim()[0] == pytest.approx(0.65) and ax.get_title() == "t"
    with pytest.raises(ValueError, match="sparse methods"):
        accuracy_bars(ax, final[final.method == "dense"], "t")
    plt.close(fig)
