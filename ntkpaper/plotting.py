"""One figure style, one colour and one label per method, the shared plot idioms, and
``savefig`` (png + pdf with embedded TrueType fonts, atomic). Plotting never computes: slopes and
means come in from :mod:`ntkpaper.stats`.

Every figure's title or caption must name the data set and the profile; :func:`caption` builds the
suffix, e.g. ``"MNIST, profile cpu"``. Methods are drawn with :func:`colour` and named with
:func:`label` (``"mup"`` -> ``"muP"``), so that a method has the same colour and name in every
figure of every notebook.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from ntkpaper._io import atomic_write

PALETTE = "colorblind"
_CB = sns.color_palette(PALETTE, 10)

# one colour per method across all notebooks (keys are the code names used in the tables)
COLOURS = {
    "sp": _CB[3], "ntp": _CB[0], "mup": _CB[2],                       # parametrizations
    "nngp": _CB[4], "gp": _CB[4], "ntk": _CB[1],                      # kernel limits
    "network": _CB[7], "ensemble": _CB[5], "centred": _CB[9],         # finite networks
    "centred ensemble": tuple(0.6 * c for c in _CB[9]),
    "random": _CB[7], "magnitude": _CB[5], "snip": _CB[6], "ntt": _CB[2],  # pruning
    "random_unscaled": tuple(0.6 * c for c in _CB[7]),
    "snip_layerwise": tuple(0.6 * c for c in _CB[6]),
    "ntt_output_only": tuple(0.6 * c for c in _CB[2]),
    "fixed": _CB[1], "adaptive": _CB[2], "initial": _CB[8],           # tangent-feature models
    "gensim": _CB[5],                                                 # Word2Vec reference
    "dense": (0.0, 0.0, 0.0),
}
# names in words for legends and axes
LABELS = {
    "sp": "SP", "ntp": "NTP", "mup": "muP", "nngp": "NNGP", "gp": "GP", "ntk": "NTK",
    "network": "finite network", "ensemble": "ensemble", "centred": "centred network",
    "centred ensemble": "centred ensemble",
    "random": "random", "magnitude": "magnitude", "snip": "SNIP", "ntt": "NTT",
    "random_unscaled": "random, not rescaled", "snip_layerwise": "SNIP, layer-wise",
    "ntt_output_only": "NTT, outputs only",
    "fixed": "fixed tangent features", "adaptive": "adaptive tangent features",
    "initial": "initial eNTK",
    "dense": "dense network", "sgd": "SGD", "adam": "Adam",
    "identity": "linear", "relu": "ReLU", "gensim": "gensim",
    "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
}


def colour(method: str):
    """The colour of ``method`` in every figure (a grey for methods not in :data:`COLOURS`)."""
    return COLOURS.get(str(method).lower(), _CB[7])


def label(name) -> str:
    """``name`` in words for a legend or an axis (unchanged if not in :data:`LABELS`)."""
    return LABELS.get(str(name).lower(), str(name))


def palette(methods) -> dict:
    """``{method: colour}`` for seaborn's ``palette=`` argument."""
    return {m: colour(m) for m in methods}


def setup_style() -> None:
    """Seaborn 'ticks' with a colour-blind palette, readable in print and on screen."""
    sns.set_theme(context="notebook", style="ticks", palette=PALETTE, font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.grid": True,
                         "grid.alpha": 0.3, "figure.constrained_layout.use": True,
                         "axes.titlesize": "medium", "figure.titlesize": "medium",
                         "legend.fontsize": "small", "legend.frameon": False,
                         # TrueType (type 42) fonts embedded in PDFs: editable, searchable text
                         "pdf.fonttype": 42, "ps.fonttype": 42})


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
                ax=ax, palette=palette(sparse.method.unique()))
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles, [label(n) for n in names])
    dense = final[final.method == "dense"].test_acc
    if len(dense):
        ax.axhline(dense.mean(), color=colour("dense"), ls="--", lw=1)
    ax.set(ylim=(max(0.0, final.test_acc.min() - 0.05), None), ylabel="test accuracy",
           title=title)


def scaling_plot(ax, df, x: str, y: str, hue: str | None = None, slopes: dict | None = None,
                 ylabel: str = "", title: str = "", marker: str = "o", **line_kw) -> None:
    """The width-study idiom: ``y`` against ``x`` on log-log axes, one line per ``hue`` value,
    each labelled with its fitted power-law slope.

    Args:
        df: tidy table with columns ``x``, ``y`` (and ``hue``), already averaged over seeds.
        slopes: ``{hue value: slope}`` (from :func:`ntkpaper.stats.power_law_slopes`), shown in
            the legend as ``"muP (slope -0.48)"``.
    """
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    for key, g in groups:
        name = label(key) if key is not None else label(y)
        if slopes is not None and key in slopes:
            name += f" (slope {slopes[key]:.2f})"
        kw = {"color": colour(key)} if key is not None and str(key).lower() in COLOURS else {}
        ax.plot(g[x], g[y], marker=marker, label=name, **{**kw, **line_kw})
    ax.set(xscale="log", yscale="log", xlabel=label(x), ylabel=ylabel or label(y), title=title)
    ax.legend()
