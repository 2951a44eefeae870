"""Experiments of notebook 02 (``notebooks/02_mup_feature_learning.py``): muP and feature learning
in the infinite-width limit (Yang & Hu 2021, *Tensor Programs IV*).

The ``compute_*`` functions train :mod:`ntkpaper.parametrization` MLPs (no biases, float32,
full-batch steps on the squared loss) and return tidy DataFrames, one row per parametrization,
width and seed (and learning rate); ``*_slopes`` fit power laws in the width
(:func:`ntkpaper.stats.power_law_slopes`, means over seeds first) and return Series or small
dicts of numbers for the ledger; the ``plot_*`` functions return the notebook's figures; ``CLAIMS``
holds its claims and checks, each with its source and its criterion.

Shapes: ``x`` (N, d) training inputs, ``y`` (N, k) targets, ``x_test`` (m, d), ``labels_test``
(m,) integer labels.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ntkpaper import architectures, claims, data, entk, kernels, parametrization, plotting, stats
from ntkpaper.claims import Claim
from ntkpaper.progress import progress

PARAMETRIZATIONS = ("sp", "ntp", "mup")
_EDGE = " (an optimum on the grid's edge: a bound)"
_LAYER_NAMES = {"out": "output"}


# ---------------------------------------------------------------------------------------------
# Data

class Data(NamedTuple):
    """The notebook's data: ``x`` (N, d) standardised training images, ``y`` (N, k) centred
    one-hot targets, ``x_test`` (m, d), ``labels_test`` (m,), and ``title`` for captions."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray
    title: str


def load_data(name: str, n_train: int, n_test: int, seed: int) -> Data:
    """A class-balanced training subset and a test subset, each image standardised to zero mean
    and unit variance over its pixels (so every input has squared norm d).

    Args:
        name: data set (:func:`ntkpaper.data.names`).
        n_train, n_test: subset sizes; seed: seed of both draws.

    Returns:
        :class:`Data`; ``title`` is e.g. ``"MNIST (n=128)"``.
    """
    ds = data.load(name, "train", n=n_train, seed=seed)
    x = data.standardize_per_example(ds.x)
    y = data.one_hot(ds.y, ds.n_classes, "centered")
    test = data.load(name, "test", n=n_test, seed=seed)
    return Data(x, y, data.standardize_per_example(test.x), test.y,
                f"{ds.meta['title']} (n={len(ds)})")


# ---------------------------------------------------------------------------------------------
# 1 · Coordinate checks

def compute_coord_check(x, y, n_hidden: int, widths, eta: float, steps: int, seeds: int,
                        names=PARAMETRIZATIONS) -> pd.DataFrame:
    """:func:`ntkpaper.parametrization.compute_coord_check` for each named parametrization.

    Args:
        x: (N, d) inputs; y: (N, k) targets; n_hidden: hidden layers; widths: hidden widths;
        eta: base learning rate; steps: SGD steps; seeds: initialisations per width.

    Returns:
        parametrization, optimizer, width, seed, layer ("1".."L", "out"), h0, dh.
    """
    return pd.concat([parametrization.compute_coord_check(parametrization.named(nm, n_hidden),
                                                          widths, x, y, eta, steps, seeds)
                      for nm in names], ignore_index=True)


def coord_slopes(coord: pd.DataFrame, value: str = "dh") -> pd.Series:
    """Slope of ``value`` (mean over seeds) vs width, indexed by (parametrization, layer)."""
    return stats.power_law_slopes(coord, "width", value, ["parametrization", "layer"])


def coord_ledger(slopes: pd.Series) -> dict[str, float]:
    """``{"coord_slope_<parametrization>_layer<layer>": slope}`` from :func:`coord_slopes`."""
    return {f"coord_slope_{nm}_layer{layer}": float(s) for (nm, layer), s in slopes.items()}


def _layer_name(layer: str) -> str:
    return _LAYER_NAMES.get(layer, f"hidden layer {layer}")


def plot_coord_check(coord: pd.DataFrame, slopes: pd.Series, caption: str):
    """One panel per parametrization: mean |h_t - h_0| per layer vs width (log-log), with each
    layer's slope. ``coord`` from :func:`compute_coord_check`, ``slopes`` from
    :func:`coord_slopes`."""
    names = list(dict.fromkeys(coord.parametrization))
    mean = coord.groupby(["parametrization", "layer", "width"]).dh.mean().reset_index()
    mean["layer"] = mean.layer.map(_layer_name)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), sharey=True,
                             squeeze=False)
    for ax, nm in zip(axes[0], names):
        plotting.scaling_plot(ax, mean[mean.parametrization == nm], "width", "dh", hue="layer",
                              slopes={_layer_name(k): v for k, v in slopes[nm].items()},
                              ylabel="mean |h_t - h_0| per coordinate",
                              title=f"{plotting.label(nm)}: {caption}")
    return fig


# ---------------------------------------------------------------------------------------------
# 2 · Feature learning vs width

def compute_feature_movement(x, y, n_hidden: int, widths, eta: float, steps: int,
                             seeds: int = 2, ntk_probe: int = 0, names=("ntp", "mup"),
                             activation: str = "relu") -> pd.DataFrame:
    """How much the last hidden representation (and the empirical NTK) move in training, vs width.

    ``rel_change = ||phi(h^L_T) - phi(h^L_0)||_F / ||phi(h^L_0)||_F`` over the training inputs
    (N, d) after ``steps`` full-batch SGD steps at base learning rate ``eta``; a kernel-regime
    parametrization gives ~ width^-1/2, a feature-learning one ~ width^0. With ``ntk_probe > 0``
    also ``ntk_rel_change = ||K_T - K_0||_F / ||K_0||_F`` of the empirical NTK (m k, m k) on the
    first ``ntk_probe`` = m training inputs (neural-tangents, implementation 2).

    Returns:
        parametrization, width, seed, rel_change, final_loss[, ntk_rel_change].
    """
    phi = parametrization.ACTIVATIONS[activation]
    rows = []
    xj = jnp.asarray(x, jnp.float32)
    probe = np.asarray(x[:ntk_probe], np.float32)
    for name in names:
        abc = parametrization.named(name, n_hidden)

        def ntk(p, abc=abc):
            f = lambda params, inputs: parametrization.forward(params, abc, inputs, activation)
            return entk.empirical_ntk(f, p, probe, implementation=2)

        for width in progress(widths, desc=f"02 feature movement {name}", unit="width"):
            for seed in range(seeds):
                p0 = parametrization.init(jax.random.PRNGKey(seed), abc, x.shape[1], int(width),
                                          y.shape[1])
                p1, losses = parametrization.train(p0, abc, x, y, eta, steps, activation)
                a0, a1 = (phi(parametrization.forward(p, abc, xj, activation,
                                                      return_hidden=True)[1][-1])
                          for p in (p0, p1))
                row = {"parametrization": abc.name, "width": int(width), "seed": seed,
                       "rel_change": float(jnp.linalg.norm(a1 - a0) / jnp.linalg.norm(a0)),
                       "final_loss": float(losses[-1])}
                if ntk_probe:
                    k0, k1 = ntk(p0), ntk(p1)
                    row["ntk_rel_change"] = float(np.linalg.norm(k1 - k0) / np.linalg.norm(k0))
                rows.append(row)
    return pd.DataFrame(rows)


_MOVEMENT = {"rel_change": "relative change of phi(h^L)",
             "ntk_rel_change": "relative change of the empirical NTK"}


def feature_slopes(fm: pd.DataFrame) -> pd.DataFrame:
    """Slopes vs width of ``rel_change`` and ``ntk_rel_change`` (means over seeds), one row per
    parametrization (columns named as in ``fm``)."""
    return pd.concat([stats.power_law_slopes(fm, "width", col, "parametrization").rename(col)
                      for col in _MOVEMENT], axis=1)


def feature_ledger(slopes: pd.DataFrame) -> dict[str, float]:
    """``feature_slope_<p>`` and ``ntk_change_slope_<p>`` for each parametrization ``p``."""
    out = {}
    for nm, r in slopes.iterrows():
        out[f"feature_slope_{nm}"] = float(r.rel_change)
        out[f"ntk_change_slope_{nm}"] = float(r.ntk_rel_change)
    return out


def feature_table(fm: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of both relative changes: index width, columns (measure, parametrization)."""
    return fm.pivot_table(index="width", columns="parametrization", values=list(_MOVEMENT))


def plot_feature_movement(fm: pd.DataFrame, slopes: pd.DataFrame, steps: int, caption: str):
    """Two log-log panels vs width: the last hidden representation's and the empirical NTK's
    relative change, one line per parametrization with its slope (:func:`feature_slopes`)."""
    mean = fm.groupby(["parametrization", "width"])[list(_MOVEMENT)].mean().reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, (col, what) in zip(axes, _MOVEMENT.items()):
        plotting.scaling_plot(ax, mean, "width", col, hue="parametrization",
                              slopes=slopes[col].to_dict(), ylabel=what,
                              title=f"{steps} steps: {caption}")
    return fig


# ---------------------------------------------------------------------------------------------
# 3 · Learning-rate transfer

def compute_lr_sweep(abc: parametrization.ABC, widths, etas, x, y, steps: int, seeds: int = 1,
                     activation: str = "relu", optimizer: str = "sgd") -> pd.DataFrame:
    """Training loss after ``steps`` steps for each base learning rate ``eta`` and width.

    All ``etas`` of one (width, seed) start from the same initialisation (and every run of one
    width shares one compilation). A diverged run (non-finite or larger than 10x its initial
    loss) is recorded as NaN.

    Returns:
        parametrization, optimizer, width, eta, seed, loss.
    """
    rows = []
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    for width in progress(widths, desc=f"02 lr sweep {abc.name} {optimizer}", unit="width"):
        for seed in range(seeds):
            p0 = parametrization.init(jax.random.PRNGKey(seed), abc, x.shape[1], int(width),
                                      y.shape[1])
            for eta in etas:
                ls = np.asarray(parametrization.train(p0, abc, xj, yj, float(eta), steps,
                                                      activation, optimizer)[1])
                ok = np.isfinite(ls[-1]) and ls[-1] < 10 * ls[0]
                rows.append({"parametrization": abc.name, "optimizer": optimizer,
                             "width": int(width), "eta": float(eta), "seed": seed,
                             "loss": float(ls[-1]) if ok else float("nan")})
    return pd.DataFrame(rows)


def compute_lr_transfer(x, y, n_hidden: int, widths, log2_lrs: dict[str, dict[str, list]],
                        steps: int, seeds: int) -> pd.DataFrame:
    """:func:`compute_lr_sweep` for every optimizer and parametrization of ``log2_lrs``.

    Args:
        log2_lrs: ``{optimizer: {parametrization: [log2 of the base learning rates]}}``, e.g.
            ``{"sgd": {"sp": [-3, -2], "mup": [0, 1]}, "adam": {...}}``; swept in this order.

    Returns:
        parametrization, optimizer, width, eta, seed, loss (NaN: diverged).
    """
    return pd.concat([compute_lr_sweep(parametrization.named(nm, n_hidden), widths,
                                       [2.0**k for k in grid], x, y, steps, seeds,
                                       optimizer=opt)
                      for opt, grids in log2_lrs.items() for nm, grid in grids.items()],
                     ignore_index=True)


def _sweep_mean(sweep: pd.DataFrame) -> pd.DataFrame:
    return sweep.groupby(["optimizer", "parametrization", "width", "eta"]).loss.mean() \
        .reset_index()


def best_learning_rates(sweep: pd.DataFrame, log2_lrs: dict[str, dict[str, list]]
                        ) -> pd.DataFrame:
    """The base learning rate of lowest mean loss (over seeds; diverged runs left out) per
    optimizer, parametrization and width.

    Returns:
        optimizer, parametrization, width, eta, loss, log2_eta, on_edge (the optimum is the
        smallest or largest rate of its grid in ``log2_lrs``: only a bound).
    """
    best = (_sweep_mean(sweep).dropna().sort_values("loss")
            .groupby(["optimizer", "parametrization", "width"]).head(1)
            .sort_values(["optimizer", "parametrization", "width"]).reset_index(drop=True))
    best["log2_eta"] = np.log2(best.eta).round().astype(int)
    best["on_edge"] = [r.log2_eta in (min(g), max(g)) for r in best.itertuples()
                       for g in [log2_lrs[r.optimizer][r.parametrization]]]
    return best


def best_ledger(best: pd.DataFrame) -> dict[str, int]:
    """``{"best_log2_eta_<optimizer>_<parametrization>_w<width>": log2 eta*}``."""
    return {f"best_log2_eta_{r.optimizer}_{r.parametrization}_w{r.width}": r.log2_eta
            for r in best.itertuples()}


def lr_shift(best: pd.DataFrame, widths, optimizer: str, name: str) -> tuple[int, bool, str]:
    """How far log2 of the optimal learning rate moves from the narrowest to the widest width.

    Returns:
        (shift, on_edge: either optimum is on its grid's edge, text for the claims table).
    """
    bi = best.set_index(["optimizer", "parametrization", "width"])
    w_lo, w_hi = min(widths), max(widths)
    shift = int(bi.log2_eta[(optimizer, name, w_hi)] - bi.log2_eta[(optimizer, name, w_lo)])
    edge = bool(bi.on_edge[(optimizer, name, w_lo)] or bi.on_edge[(optimizer, name, w_hi)])
    text = f"log2 eta* moves by {shift:+d} from width {w_lo} to {w_hi}" + (_EDGE if edge else "")
    return shift, edge, text


def plot_lr_transfer(sweep: pd.DataFrame, steps: int, caption: str):
    """Training loss (mean over seeds) vs base learning rate, one panel per (optimizer,
    parametrization) in the order swept, one line per width."""
    mean = _sweep_mean(sweep)
    runs = list(dict.fromkeys(zip(sweep.optimizer, sweep.parametrization)))
    fig, axes = plt.subplots(2, (len(runs) + 1) // 2, figsize=(10, 6.8), squeeze=False)
    for ax, (opt, nm) in zip(axes.flat, runs):
        sns.lineplot(data=mean[(mean.optimizer == opt) & (mean.parametrization == nm)],
                     x="eta", y="loss", hue="width", marker="o", ax=ax, palette="viridis")
        ax.set(xscale="log", yscale="log", xlabel="base learning rate eta",
               ylabel=f"training loss after {steps} steps",
               title=f"{plotting.label(nm)} + {plotting.label(opt)}: {caption}")
    return fig


# ---------------------------------------------------------------------------------------------
# 4 · The muP limit of one-hidden-layer linear networks (the recursion is in parametrization)

def compute_linear_limit_convergence(x, y, x_test, widths, eta: float, steps: int,
                                     seeds: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """Train real one-hidden-layer muP linear nets and compare them with the computed limit.

    Args:
        x: (N, d) training inputs; y: (N, k) targets; x_test: (m, d).

    Returns:
        ``nets``: width, seed, rel_dist = ``||f_net - f_lim|| / ||f_lim||`` on ``x_test``,
        final_loss; and the limit's test outputs (m, k).
    """
    abc = parametrization.named("mup", 1)
    d, k = x.shape[1], y.shape[1]
    limit = parametrization.linear_limit_train(parametrization.linear_limit_state(d, k), x, y,
                                               eta, steps, x_test)["test"][-1]
    rows = []
    xt = jnp.asarray(x_test, jnp.float32)
    for width in progress(widths, desc="02 linear nets vs limit", unit="width"):
        for seed in range(seeds):
            p0 = parametrization.init(jax.random.PRNGKey(seed), abc, d, int(width), k)
            p1, losses = parametrization.train(p0, abc, x, y, eta, steps, activation="identity")
            out = np.asarray(parametrization.forward(p1, abc, xt, "identity"), np.float64)
            rows.append({"width": int(width), "seed": seed,
                         "rel_dist": float(np.linalg.norm(out - limit) / np.linalg.norm(limit)),
                         "final_loss": float(losses[-1])})
    return pd.DataFrame(rows), limit


def compute_linear_limits(x, y, x_test, labels_test, limit: np.ndarray, eta: float,
                          steps: int) -> dict[str, float]:
    """The muP limit against the kernel limits of the same one-hidden-layer linear network.

    Args:
        limit: (m, k) the muP limit's test outputs (from :func:`compute_linear_limit_convergence`).

    Returns:
        ``limit_G_A_rel_change``: ``||G_A(T) - G_A(0)|| / ||G_A(0)||`` of the limit (the features'
        Gram matrix; exactly 0 in the kernel limits); test accuracies ``acc_mup`` (the muP
        limit), ``acc_ntk`` (NTK gradient flow for the same time ``eta * steps``) and
        ``acc_nngp`` (NNGP posterior mean).
    """
    d = x.shape[1]
    state = parametrization.linear_limit_train(parametrization.linear_limit_state(d, y.shape[1]),
                                               x, y, eta, steps)
    kfn = architectures.fc(1, W_std=1.0, b_std=0.0, activation="identity")[2]
    k_tr, k_te = kernels.analytic_kernels(kfn, x), kernels.analytic_kernels(kfn, x_test, x)
    ntk_pred = kernels.EigenSolver(k_tr["ntk"], k_te["ntk"], y).gradient_flow(eta * steps)
    gp_pred = kernels.kernel_regression(k_tr["nngp"], k_te["nngp"], y, 1e-4)
    return {"limit_G_A_rel_change": stats.relative_distance(state["G_A"], np.eye(d) / d),
            "acc_mup": stats.accuracy(limit, labels_test),
            "acc_ntk": stats.accuracy(ntk_pred, labels_test),
            "acc_nngp": stats.accuracy(gp_pred, labels_test)}


def _width_means(nets: pd.DataFrame, col: str) -> pd.Series:
    return nets.groupby("width")[col].mean()


def linear_slope(nets: pd.DataFrame) -> float:
    """Slope vs width of the finite nets' distance to the limit (mean over seeds)."""
    mean = _width_means(nets, "rel_dist")
    return stats.fit_power_law(mean.index, mean.values)[0]


def plot_linear_limit(nets: pd.DataFrame, slope: float, caption: str):
    """The finite muP linear nets' relative distance to the computed limit vs width."""
    mean = _width_means(nets, "rel_dist").reset_index().assign(parametrization="mup")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    plotting.scaling_plot(ax, mean, "width", "rel_dist", hue="parametrization",
                          slopes={"mup": slope},
                          ylabel="||f_net - f_limit|| / ||f_limit|| (test)",
                          title=f"Linear nets vs their muP limit: {caption}")
    return fig


# ---------------------------------------------------------------------------------------------
# 5 · One-hidden-layer ReLU networks: what can and cannot be computed at infinite width
#
# The kernel limits are exact and cheap: an NTP network trained by SGD with learning rate eta for
# T steps tends (after centring, g = f - f_0, which removes the random initial function) to NTK
# gradient flow for time t = eta T, and the NNGP posterior mean is its Bayesian counterpart.
# The muP limit of a ReLU network is a mean-field (McKean-Vlasov) dynamics: each hidden unit
# carries a Gaussian state (its pre-activations on all N training and test inputs and its readout
# weight) that evolves through expectations over all units. Unlike the linear case, these
# expectations do not close on finitely many matrices, and a Monte Carlo estimate of them with M
# particles is a width-M network again. So we do not claim to compute it: we measure how fast
# finite muP networks agree with a much wider one (a Cauchy test of convergence) and how far
# they stay from the kernel limits.

def compute_relu_limits(x, y, x_test, widths, eta: float, steps: int, seeds: int = 2,
                        ref_width: int = 16384, labels_test=None) -> pd.DataFrame:
    """One-hidden-layer ReLU nets in NTP (centred) and muP vs the NTK limit and a very wide net.

    Args:
        x: (N, d) training inputs; y: (N, k) targets; x_test: (m, d); labels_test: (m,) or None.
        ref_width: width of the reference muP network (seed 10_000, not one of ``seeds``).

    Returns:
        Rows per parametrization ("ntp" centred, "mup"), width, seed: ``dist_ntk`` and
        ``dist_ref`` (``||f - f_ref|| / ||f_ref||`` on ``x_test`` against the NTK gradient-flow
        prediction at t = eta * steps and against the reference muP net), ``acc`` with labels;
        plus rows with width ``inf`` for "ntk limit" and "nngp limit" (``dist_ntk``, ``acc``).
    """
    x, y, x_test = (np.asarray(a, np.float32) for a in (x, y, x_test))
    kfn = architectures.fc(1, W_std=1.0, b_std=0.0, activation="relu")[2]
    k_tr, k_te = kernels.analytic_kernels(kfn, x), kernels.analytic_kernels(kfn, x_test, x)
    ntk_pred = kernels.EigenSolver(k_tr["ntk"], k_te["ntk"], y).gradient_flow(eta * steps)
    gp_pred = kernels.kernel_regression(k_tr["nngp"], k_te["nngp"], y, 1e-4)
    xj, xt = jnp.asarray(x), jnp.asarray(x_test)
    forward = parametrization.forward

    def trained(name: str, width: int, seed: int) -> np.ndarray:
        abc = parametrization.named(name, 1)
        p0 = parametrization.init(jax.random.PRNGKey(seed), abc, x.shape[1], int(width),
                                  y.shape[1])
        if name == "ntp":  # centred: train f on y + f0, predict f - f0
            f0_tr = np.asarray(forward(p0, abc, xj))
            p1 = parametrization.train(p0, abc, x, y + f0_tr, eta, steps)[0]
            return np.asarray(forward(p1, abc, xt) - forward(p0, abc, xt), np.float64)
        p1 = parametrization.train(p0, abc, x, y, eta, steps)[0]
        return np.asarray(forward(p1, abc, xt), np.float64)

    def rel(a, b):
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    ref = trained("mup", ref_width, 10_000)
    rows = []
    for name in ("ntp", "mup"):
        for width in progress(widths, desc=f"02 ReLU nets {name}", unit="width"):
            for seed in range(seeds):
                out = trained(name, int(width), seed)
                rows.append({"parametrization": name, "width": float(width), "seed": seed,
                             "dist_ntk": rel(out, ntk_pred), "dist_ref": rel(out, ref)})
                if labels_test is not None:
                    rows[-1]["acc"] = float(np.mean(out.argmax(1) == np.asarray(labels_test)))
    for name, pred in (("ntk limit", ntk_pred), ("nngp limit", gp_pred), ("mup ref", ref)):
        rows.append({"parametrization": name, "width": np.inf if "limit" in name
                     else float(ref_width), "seed": 0, "dist_ntk": rel(pred, ntk_pred),
                     "dist_ref": rel(pred, ref)})
        if labels_test is not None:
            rows[-1]["acc"] = float(np.mean(pred.argmax(1) == np.asarray(labels_test)))
    return pd.DataFrame(rows)


def relu_table(relu: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds of dist_ntk, dist_ref and acc, indexed by (parametrization, width)."""
    return relu.groupby(["parametrization", "width"])[["dist_ntk", "dist_ref", "acc"]].mean()


def relu_slopes(relu: pd.DataFrame) -> dict[str, float]:
    """Slopes vs width (means over seeds) of the finite nets' distances: ``ntp_to_ntk``,
    ``mup_to_ref`` (to the reference muP net) and ``mup_to_ntk``."""
    nets = relu[relu.parametrization.isin(["ntp", "mup"])]
    to_ntk = stats.power_law_slopes(nets, "width", "dist_ntk", "parametrization")
    to_ref = stats.power_law_slopes(nets, "width", "dist_ref", "parametrization")
    return {"ntp_to_ntk": float(to_ntk["ntp"]), "mup_to_ref": float(to_ref["mup"]),
            "mup_to_ntk": float(to_ntk["mup"])}


def relu_accuracies(relu: pd.DataFrame) -> dict[str, float]:
    """``{"<parametrization>_w<width>": test accuracy}`` (mean over seeds; ``winf`` for the
    kernel limits, spaces in names replaced by ``_``)."""
    return {f"{nm.replace(' ', '_')}_w{'inf' if np.isinf(w) else int(w)}": float(r.acc)
            for (nm, w), r in relu_table(relu).iterrows()}


def _widest(relu: pd.DataFrame, name: str, col: str) -> tuple[int, float]:
    """(the widest width, mean ``col`` there) of the finite ``name`` nets."""
    mean = relu[relu.parametrization == name].groupby("width")[col].mean()
    return int(mean.index[-1]), float(mean.iloc[-1])


def plot_relu_limits(relu: pd.DataFrame, t: float, caption: str):
    """Relative distance of the finite ReLU nets' test outputs to the NTK limit and to the
    reference muP net vs width, with slopes (:func:`relu_slopes`)."""
    mean, s = relu_table(relu), relu_slopes(relu)
    ntp, mup = mean.loc["ntp"], mean.loc["mup"]
    ref_width = int(relu.width[relu.parametrization == "mup ref"].iloc[0])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(ntp.index, ntp.dist_ntk, "o-", color=plotting.colour("ntp"),
            label=f"centred NTP to the NTK limit (slope {s['ntp_to_ntk']:.2f})")
    ax.plot(mup.index, mup.dist_ntk, "s-", color=plotting.colour("mup"),
            label=f"muP to the NTK limit (slope {s['mup_to_ntk']:.2f})")
    ax.plot(mup.index, mup.dist_ref, "^--", color=plotting.colour("mup"),
            label=f"muP to muP at width {ref_width} (slope {s['mup_to_ref']:.2f})")
    ax.set(xscale="log", yscale="log", xlabel="width", ylabel="relative distance of test outputs",
           title=f"One-hidden-layer ReLU nets, t = {t:g}: {caption}")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Claims (criteria fixed before the first cpu run, commit 304a17c, and never changed)

TP4 = "Yang & Hu 2021 (TP4)"
TP5 = "Yang et al. 2022 (TP5)"


def _coord(name: str, lo: float, hi: float):
    def test(slopes: pd.Series, n_hidden: int):
        return claims.in_range("slope", slopes[(name, str(n_hidden))], lo, hi)
    return test


def _slope_above(slope: float, threshold: float):
    return f"slope {slope:.2f}", slope > threshold


def _lr_transfer(best: pd.DataFrame, widths, optimizer: str):
    shift, edge, text = lr_shift(best, widths, optimizer, "mup")
    return text, abs(shift) <= 1 and not edge


def _lr_drift(best: pd.DataFrame, widths, optimizer: str):
    shift, _, text = lr_shift(best, widths, optimizer, "sp")
    return text, shift <= -1


def _linear_convergence(nets: pd.DataFrame):
    mean = _width_means(nets, "rel_dist")
    return claims.in_range("slope", linear_slope(nets), -0.75, -0.25,
                           f"; distance at width {mean.index[-1]}: {mean.iloc[-1]:.3f}")


def _g_a_moves(rel_change: float):
    return f"||G_A(T) - G_A(0)|| / ||G_A(0)|| = {rel_change:.3f}", rel_change > 0.01


def _relu_in_range(slope_key: str, name: str, col: str):
    def test(relu: pd.DataFrame):
        width, dist = _widest(relu, name, col)
        return claims.in_range("slope", relu_slopes(relu)[slope_key], -0.75, -0.25,
                               f"; distance at width {width}: {dist:.3f}")
    return test


def _relu_mup_not_ntk(relu: pd.DataFrame):
    slope = relu_slopes(relu)["mup_to_ntk"]
    width, dist = _widest(relu, "mup", "dist_ntk")
    return (f"slope {slope:.2f}; distance at width {width}: {dist:.3f}",
            slope > -0.15 and dist > 0.1)


_COORD_SOURCE = (f"{TP4}, Table 1 (abc exponents) and the dynamical dichotomy (abstract): SP "
                 "with a width-independent learning rate blows up, NTP is in the kernel regime, "
                 "muP updates every layer by Theta(1); the coordinate check of "
                 f"{TP5} and its microsoft/mup package")
_FEATURE_SOURCE = (f"{TP4}, abstract and Table 1: the standard and NTK parametrizations admit no "
                   "feature-learning limit, muP does")
_LR_SOURCE = (f"{TP5}, abstract (muP keeps the optimal hyper-parameters stable as width grows) "
              "and the microsoft/mup README's learning-rate sweeps of MLPs with SGD")

CLAIMS = claims.collect(
    # checks, not claims: for a correct implementation these one-step exponents follow from the
    # parametrization's (a, b, c) by algebra (TP4 Table 1); the coordinate check verifies our code
    Claim("coord_sp", "SP: the last hidden layer's update after one step grows like width^1/2 "
          "(implementation check)", source=_COORD_SOURCE, criterion="slope in [0.3, 0.7]",
          test=_coord("sp", 0.3, 0.7), kind="check"),
    Claim("coord_ntp", "NTP: the last hidden layer's update after one step shrinks like "
          "width^-1/2 (implementation check)", source=_COORD_SOURCE,
          criterion="slope in [-0.7, -0.3]", test=_coord("ntp", -0.7, -0.3), kind="check"),
    Claim("coord_mup", "muP: the last hidden layer's update after one step is flat in width "
          "(implementation check)", source=_COORD_SOURCE, criterion="slope in [-0.2, 0.2]",
          test=_coord("mup", -0.2, 0.2), kind="check"),
    Claim("features_ntp", "NTP: hidden features move like width^-1/2 (kernel regime)",
          source=_FEATURE_SOURCE, criterion="slope in [-0.75, -0.25]",
          test=lambda s: claims.in_range("slope", s.rel_change["ntp"], -0.75, -0.25)),
    Claim("features_mup", "muP: hidden features keep moving as width grows (feature learning)",
          source=_FEATURE_SOURCE, criterion="slope > -0.15",
          test=lambda s: _slope_above(s.rel_change["mup"], -0.15)),
    Claim("ntk_frozen_ntp", "NTP: the empirical NTK freezes as width grows",
          source="Jacot et al. 2018 (the NTK stays constant during training at infinite width); "
                 f"{TP4}, abstract (NTP is in the kernel regime); the typical O(1/width) change: "
                 "Dyer & Gur-Ari 2020",
          criterion="slope <= -0.25",
          test=lambda s: claims.in_range(
              "slope", s.ntk_rel_change["ntp"], None, -0.25,
              " (theory: at most width^-1/2 in the kernel regime; typically O(1/width), "
              "Dyer & Gur-Ari 2020)")),
    Claim("ntk_moves_mup", "muP: the empirical NTK keeps changing as width grows",
          source=f"{TP4}, abstract (a feature-learning limit is not kernel gradient descent)",
          criterion="slope > -0.15",
          test=lambda s: _slope_above(s.ntk_rel_change["mup"], -0.15)),
    Claim("lr_transfer_mup_sgd", "muP + SGD: the optimal learning rate stays put as width grows",
          source=_LR_SOURCE, criterion="|shift| <= 1, inside the grid",
          test=lambda best, widths: _lr_transfer(best, widths, "sgd")),
    Claim("lr_drift_sp_sgd", "SP + SGD: the optimal learning rate shrinks as width grows",
          source=f"{TP4} (SP is stable only with a learning rate ~ 1/width); {_LR_SOURCE}",
          criterion="shift <= -1", test=lambda best, widths: _lr_drift(best, widths, "sgd")),
    Claim("lr_transfer_mup_adam", "muP + Adam: the optimal learning rate stays put as width "
          "grows", source=f"{TP5}, abstract and Table 3 (muP's per-layer Adam learning rates)",
          criterion="|shift| <= 1, inside the grid",
          test=lambda best, widths: _lr_transfer(best, widths, "adam")),
    Claim("lr_drift_sp_adam", "SP + Adam: the optimal learning rate shrinks as width grows",
          source=f"{TP5}, abstract (in SP the optimal hyper-parameters shift with width)",
          criterion="shift <= -1", test=lambda best, widths: _lr_drift(best, widths, "adam")),
    Claim("linear_limit_convergence",
          "Finite muP linear networks converge to the computed muP limit as width grows",
          source=f"{TP4}, abstract (finite networks approach the computed limit as width grows); "
                 "the n^-1/2 rate is derived in ntkpaper.parametrization (linear_limit_train)",
          criterion="slope in [-0.75, -0.25]", test=_linear_convergence),
    Claim("linear_limit_learns_features",
          "In the muP limit the hidden layer's Gram matrix G_A moves during training "
          "(feature learning)",
          source=f"{TP4}, abstract (the muP limit learns features); nonzero by algebra: from "
                 "(0, I/d, I) the first step already adds (eta^2/d^2) X^T R G_B R^T X to G_A",
          criterion="> 0.01 (kernel limits: exactly 0)", test=_g_a_moves, kind="check"),
    Claim("relu_ntp_to_ntk", "Centred NTP ReLU nets converge to the NTK limit (computed by "
          "neural-tangents) like width^-1/2",
          source="Jacot et al. 2018; Lee et al. 2019 (wide networks evolve as linear models, "
                 "with deviations of order width^-1/2)",
          criterion="slope in [-0.75, -0.25]",
          test=_relu_in_range("ntp_to_ntk", "ntp", "dist_ntk")),
    Claim("relu_mup_not_ntk", "muP ReLU nets do not approach the NTK limit (features move)",
          source=f"{TP4}, abstract (dynamical dichotomy: a feature-learning limit is not kernel "
                 "gradient descent)",
          criterion="slope > -0.15 and distance > 0.1", test=_relu_mup_not_ntk),
    Claim("relu_mup_cauchy", "muP ReLU nets converge as width grows (to a limit we do not "
          "compute; measured against a much wider muP net)",
          source=f"{TP4}, abstract (the muP limit exists and can be computed by Tensor Programs)",
          criterion="slope in [-0.75, -0.25]",
          test=_relu_in_range("mup_to_ref", "mup", "dist_ref")),
)
