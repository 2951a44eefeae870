"""One figure style and ``savefig`` (png + pdf, atomic). Plotting never computes.

Every figure's title or caption must name the data set and the profile; :func:`caption` builds the
suffix, e.g. ``"MNIST, profile cpu"``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from ntkpaper._io import atomic_write

PALETTE = "colorblind"


def setup_style() -> None:
    """Seaborn 'ticks' with a colour-blind palette, readable in print and on screen."""
    sns.set_theme(context="notebook", style="ticks", palette=PALETTE, font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.grid": True,
                         "grid.alpha": 0.3, "figure.constrained_layout.use": True,
                         "axes.titlesize": "medium", "figure.titlesize": "medium",
                         "legend.fontsize": "small", "legend.frameon": False})


def caption(data: str, profile: str) -> str:
    return f"{data}, profile {profile}"


def savefig(fig, directory: str | Path, name: str) -> list[Path]:
    """Save ``fig`` as ``directory/name.png`` and ``.pdf``, each written atomically."""
    if not name or "/" in name or name.endswith((".png", ".pdf")):
        raise ValueError(f"figure name must be a bare file stem like 'accuracy_vs_n', got {name!r}")
    out = []
    for ext in ("png", "pdf"):
        path = Path(directory) / f"{name}.{ext}"
        # no creation date in the PDF, so that an unchanged figure gives an unchanged file
        meta = {"CreationDate": None} if ext == "pdf" else {}
        atomic_write(path, lambda p, ext=ext, meta=meta: fig.savefig(
            p, format=ext, bbox_inches="tight", metadata=meta))
        out.append(path)
    return out


def accuracy_bars(ax, final, title: str) -> None:
    """Final test accuracy of sparse networks as bars (x: density, hue: method, error bar: the
    range over seeds) and the dense network (rows with method ``"dense"``) as a dashed line.

    ``final``: a table with columns method, density, seed, test_acc (one row per run); the y axis
    starts 0.05 below the lowest accuracy so that differences between methods stay visible.
    """
    sparse = final[final.method != "dense"]
    if sparse.empty:
        raise ValueError("accuracy_bars needs rows of sparse methods (method != 'dense')")
    sns.barplot(data=sparse, x="density", y="test_acc", hue="method", errorbar=("pi", 100),
                ax=ax)
    dense = final[final.method == "dense"].test_acc
    if len(dense):
        ax.axhline(dense.mean(), color="k", ls="--", lw=1)
    ax.set(ylim=(max(0.0, final.test_acc.min() - 0.05), None), ylabel="test accuracy",
           title=title)
