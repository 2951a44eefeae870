# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · muP and feature learning in the infinite-width limit
#
# **Paper.** Yang & Hu 2021, *Feature Learning in Infinite-Width Neural Networks* (Tensor
# Programs IV, ICML).
#
# **The claim.** Scale a network's layer multipliers n^-a, initialisation n^-b and learning rate
# n^-c with its width n. The standard (SP) and NTK (NTP) parametrizations lose feature learning as
# n grows: in SP a fixed learning rate makes the updates blow up (so the usable learning rate
# shrinks like 1/n, and then the features freeze), in NTP the hidden representations move like
# n^-1/2 (the kernel regime). The Maximal Update Parametrization (muP) keeps every layer's update
# of order one at any width, so its features keep learning and its optimal learning rate stays put
# as the network is widened.
#
# **What runs here.** MLPs with `N_HIDDEN` ReLU hidden layers in plain jax
# (`ntkpaper.parametrization`, exponents from the paper's Table 1) on a class-balanced subset of
# real MNIST, full-batch SGD on the squared loss with centred one-hot targets.
#
# **Contents.** 1 coordinate checks; 2 feature (and empirical-NTK) movement vs width;
# 3 learning-rate transfer with SGD and, as an extension beyond TP4, with Adam; 4 the muP limit of
# one-hidden-layer *linear* networks, computed exactly; 5 one-hidden-layer *ReLU* networks against
# the kernel limits (exact), and the muP ReLU limit, which we do not compute (section 5 says why).

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (the values below are cpu's; smoke and full change
#                  some of them: ntkpaper/pipeline/profiles.py)
SEED = 0  # seed of every random draw
DATASET = "mnist"  # data set
N_TRAIN = 128  # training images (MNIST training images (class-balanced))
N_HIDDEN = 2  # hidden layers (hidden layers of the MLPs)
COORD_WIDTHS = [64, 256, 1024, 4096]  # widths of the coordinate check
COORD_N = 64  # inputs of the coordinate check (inputs used by the coordinate check)
COORD_LR = 0.1  # base learning rate of the coordinate check
COORD_STEPS = 1  # SGD steps of the coordinate check
FEATURE_WIDTHS = [64, 256, 1024]  # widths for feature movement
FEATURE_LR = 0.5  # base learning rate for feature movement
FEATURE_STEPS = 50  # SGD steps for feature movement
NTK_PROBE = 32  # inputs on which the empirical NTK's change is measured
SWEEP_WIDTHS = [64, 256, 1024]  # widths of the learning-rate sweep
# log2 of the base learning rates per parametrization: each grid brackets its optimum at every
# width (the notebook flags an optimum on a grid edge as a bound, not a value)
# log2 of the SGD base learning rates swept, per parametrization
SWEEP_LOG2_LRS = {'sp': [-10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4], 'mup': [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6]}
# log2 of the Adam base learning rates swept, per parametrization
ADAM_LOG2_LRS = {'sp': [-14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2], 'mup': [-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2]}
SWEEP_STEPS = 50  # SGD steps per run of the sweep
N_SEEDS = 2  # seeds per configuration
# widths of the linear nets compared with their muP limit (one-hidden-layer linear nets vs their
# computed limit)
LIMIT_WIDTHS = [64, 256, 1024, 4096]
LIMIT_LR = 0.5  # learning rate of the linear-limit comparison
LIMIT_STEPS = 100  # SGD steps of the linear-limit comparison
N_TEST = 2000  # test images for the limit comparisons
# widths of the ReLU nets compared with the kernel limits (one-hidden-layer ReLU nets vs the kernel
# limits)
RELU_WIDTHS = [64, 256, 1024, 4096]
# width of the reference muP ReLU net (the widest muP ReLU net, stand-in for its (uncomputed)
# limit)
RELU_REF_WIDTH = 16384

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ntkpaper import data, session, stats
from ntkpaper import parametrization as pz
from ntkpaper.stats import fit_power_law

NOTEBOOK = "02_mup_feature_learning"
run = session.start(NOTEBOOK, PROFILE, SEED, namespace=globals())
P = run.p
ds = data.load(P.DATASET, "train", n=P.N_TRAIN, seed=SEED)
x = data.standardize_per_example(ds.x)
y = data.one_hot(ds.y, ds.n_classes, "centered")
DATA = f"{ds.meta['title']} (n={len(ds)})"
print(DATA, x.shape, y.shape)

# %% [markdown]
# ## 1 · Coordinate checks
#
# The average size of a coordinate of each layer's pre-activation change h_t - h_0 after
# `COORD_STEPS` SGD step(s) at a fixed base learning rate, vs width. The paper's predictions for the
# last hidden layer: SP grows like n^1/2 (unstable), NTP shrinks like n^-1/2, muP is flat.

# %%
names = ["sp", "ntp", "mup"]
with run.section("coord_check"):
    coord = pd.concat([pz.compute_coord_check(pz.named(nm, P.N_HIDDEN), P.COORD_WIDTHS,
                                              x[:P.COORD_N], y[:P.COORD_N], P.COORD_LR,
                                              P.COORD_STEPS, P.N_SEEDS) for nm in names],
                      ignore_index=True)
coord_slopes = pz.fit_slopes(coord)
for _, r in coord_slopes.iterrows():
    run.ledger.record(f"coord_slope_{r.parametrization}_layer{r.layer}", r.slope)
fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), sharey=True)
for ax, nm in zip(axes, names):
    sns.lineplot(data=coord[coord.parametrization == nm], x="width", y="dh", hue="layer",
                 marker="o", ax=ax, errorbar=None)
    ax.set(xscale="log", yscale="log", xlabel="width", ylabel="mean |h_t - h_0|",
           title=f"{nm}: {run.caption(DATA)}")
run.savefig(fig, "coord_check")
coord_slopes.pivot_table(index="parametrization", columns="layer", values="slope").round(2)

# %% [markdown]
# ## 2 · Feature learning vs width
#
# Relative change of the last hidden representation over `FEATURE_STEPS` steps of training,
# ||phi(h_T) - phi(h_0)|| / ||phi(h_0)||, and of the empirical NTK on `NTK_PROBE` training inputs,
# ||K_T - K_0|| / ||K_0||, for NTP and muP at the same base learning rate.

# %%
with run.section("feature_movement"):
    fm = pd.concat([pz.compute_feature_movement(pz.named(nm, P.N_HIDDEN), P.FEATURE_WIDTHS, x, y,
                                                P.FEATURE_LR, P.FEATURE_STEPS, P.N_SEEDS,
                                                ntk_probe=P.NTK_PROBE)
                    for nm in ("ntp", "mup")], ignore_index=True)
fm_mean = fm.groupby(["parametrization", "width"])[["rel_change", "ntk_rel_change"]].mean() \
    .reset_index()
fm_slopes, ntk_slopes = {}, {}
for nm, g in fm_mean.groupby("parametrization"):
    fm_slopes[nm] = fit_power_law(g.width, g.rel_change)[0]
    ntk_slopes[nm] = fit_power_law(g.width, g.ntk_rel_change)[0]
    run.ledger.record(f"feature_slope_{nm}", fm_slopes[nm])
    run.ledger.record(f"ntk_change_slope_{nm}", ntk_slopes[nm])
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for nm, g in fm_mean.groupby("parametrization"):
    axes[0].plot(g.width, g.rel_change, "o-", label=f"{nm} (slope {fm_slopes[nm]:.2f})")
    axes[1].plot(g.width, g.ntk_rel_change, "o-", label=f"{nm} (slope {ntk_slopes[nm]:.2f})")
for ax, what in zip(axes, ["relative change of phi(h^L)", "relative change of empirical NTK"]):
    ax.set(xscale="log", yscale="log", xlabel="width", ylabel=what,
           title=f"{P.FEATURE_STEPS} steps: {run.caption(DATA)}")
    ax.legend()
run.savefig(fig, "feature_movement_vs_width")
fm_mean.pivot_table(index="width", columns="parametrization",
                    values=["rel_change", "ntk_rel_change"]).round(4)

# %% [markdown]
# ## 3 · Learning-rate transfer (SGD, and Adam as an extension)
#
# Training loss after `SWEEP_STEPS` full-batch steps vs base learning rate, one curve per width
# (mean over `N_SEEDS` initialisations). Under SP the usable learning rate shrinks as the network
# widens; under muP the optimum stays put. The Adam row uses muP's per-layer Adam learning rates
# (`pz.learning_rates`: input and output layers eta n^-1/2, hidden layers eta/n; TP5 Table 3)
# against SP with one global Adam learning rate. Diverged runs (non-finite, or ten times the
# initial loss) are left out; an optimum on the edge of its grid is only a bound and is flagged.

# %%
runs = [("sgd", nm, P.SWEEP_LOG2_LRS[nm]) for nm in ("sp", "mup")] + \
       [("adam", nm, P.ADAM_LOG2_LRS[nm]) for nm in ("sp", "mup")]
with run.section("lr_sweep"):
    sweep = pd.concat([pz.compute_lr_sweep(pz.named(nm, P.N_HIDDEN), P.SWEEP_WIDTHS,
                                           [2.0**k for k in grid], x, y, P.SWEEP_STEPS, P.N_SEEDS,
                                           optimizer=opt) for opt, nm, grid in runs],
                      ignore_index=True)
sweep_mean = sweep.groupby(["optimizer", "parametrization", "width", "eta"]).loss.mean() \
    .reset_index()
best = (sweep_mean.dropna().sort_values("loss")
        .groupby(["optimizer", "parametrization", "width"]).head(1)
        .sort_values(["optimizer", "parametrization", "width"]).reset_index(drop=True))
best["log2_eta"] = np.log2(best.eta).round().astype(int)
best["on_edge"] = [r.log2_eta in (min(g), max(g)) for r in best.itertuples()
                   for g in [dict(((o, n), gr) for o, n, gr in runs)[(r.optimizer,
                                                                      r.parametrization)]]]
for r in best.itertuples():
    run.ledger.record(f"best_log2_eta_{r.optimizer}_{r.parametrization}_w{r.width}", r.log2_eta)
fig, axes = plt.subplots(2, 2, figsize=(10, 6.8))
for ax, (opt, nm, _) in zip(axes.flat, runs):
    sns.lineplot(data=sweep_mean[(sweep_mean.optimizer == opt) & (sweep_mean.parametrization == nm)],
                 x="eta", y="loss", hue="width", marker="o", ax=ax, palette="viridis")
    ax.set(xscale="log", yscale="log", xlabel="base learning rate eta",
           ylabel=f"training loss after {P.SWEEP_STEPS} steps",
           title=f"{nm} + {opt}: {run.caption(DATA)}")
run.savefig(fig, "lr_transfer")
best[["optimizer", "parametrization", "width", "log2_eta", "loss", "on_edge"]]

# %% [markdown]
# ## 4 · The muP limit, computed: one-hidden-layer linear networks
#
# For f(x) = x A B (A: d x n, B: n x k) in muP, one SGD step changes M = AB, G_A = A A^T / n and
# G_B = n B^T B by closed-form expressions in (M, G_A, G_B) alone (derived in
# `ntkpaper.parametrization`): the width enters only through the initial Gram matrices, which
# converge to (0, I/d, I) with O(n^-1/2) fluctuations. Running the recursion from (0, I/d, I) *is*
# the infinite-width training dynamics; finite muP networks (trained for real here, in float32)
# should approach it as n^-1/2. For contrast, the kernel limits of the same architecture from
# neural-tangents: the NNGP posterior mean and NTK gradient flow for the same time t = eta x steps
# (the NTK-parametrized network's limit). In the kernel limits the hidden representation never
# changes; in the muP limit G_A (the features' Gram matrix) moves.

# %%
from ntkpaper import architectures, kernels

test_ds = data.load(P.DATASET, "test", n=P.N_TEST, seed=SEED)
x_test = data.standardize_per_example(test_ds.x)
with run.section("linear_limit"):
    lin, lin_limit = pz.compute_linear_limit_convergence(x, y, x_test, P.LIMIT_WIDTHS,
                                                         P.LIMIT_LR, P.LIMIT_STEPS, P.N_SEEDS)
    lim_state = pz.linear_limit_train(pz.linear_limit_state(x.shape[1], y.shape[1]), x, y,
                                      P.LIMIT_LR, P.LIMIT_STEPS)
    kfn = architectures.fc(1, W_std=1.0, b_std=0.0, activation="identity")[2]
    k_tr, k_te = kernels.analytic_kernels(kfn, x), kernels.analytic_kernels(kfn, x_test, x)
    ntk_pred = kernels.EigenSolver(k_tr["ntk"], k_te["ntk"], y).gradient_flow(
        P.LIMIT_LR * P.LIMIT_STEPS)
    gp_pred = kernels.kernel_regression(k_tr["nngp"], k_te["nngp"], y, 1e-4)
lin_mean = lin.groupby("width").rel_dist.mean()
lin_slope = fit_power_law(lin_mean.index, lin_mean.values)[0]
feature_move = float(np.linalg.norm(lim_state["G_A"] - np.eye(x.shape[1]) / x.shape[1])
                     / np.linalg.norm(np.eye(x.shape[1]) / x.shape[1]))
limit_acc = {"muP limit": stats.accuracy(lin_limit, test_ds.y),
             "NTK limit (same t)": stats.accuracy(ntk_pred, test_ds.y),
             "NNGP posterior mean": stats.accuracy(gp_pred, test_ds.y)}
run.ledger.record("linear_limit_dist_slope", lin_slope)
run.ledger.record("linear_limit_G_A_rel_change", feature_move)
for key, v in limit_acc.items():
    run.ledger.record("linear_acc_" + key.split()[0].lower(), v)
fig, ax = plt.subplots(figsize=(5, 3.4))
ax.plot(lin_mean.index, lin_mean.values, "o-", label=f"finite muP nets (slope {lin_slope:.2f})")
ax.set(xscale="log", yscale="log", xlabel="width",
       ylabel="||f_net - f_limit|| / ||f_limit|| (test)",
       title=f"Linear net vs its muP limit: {run.caption(DATA)}")
ax.legend()
run.savefig(fig, "linear_mup_limit_convergence")
pd.Series(limit_acc, name=f"test accuracy ({P.N_TEST} test images)").to_frame()

# %% [markdown]
# ## 5 · One-hidden-layer ReLU networks and their infinite-width limits
#
# **Computed exactly (neural-tangents):** the NTK limit, i.e. gradient flow with the analytic
# ReLU NTK for the same time t = eta x steps, which centred NTP networks (g = f - f_0, removing the
# random initial function) must approach like n^-1/2; and the NNGP posterior mean.
#
# **Not computed: the muP limit of a ReLU network.** It is a mean-field dynamics in which every
# hidden unit carries a Gaussian state (its pre-activations on all training and test inputs, and
# its readout weight) that evolves through expectations over all units. For the identity
# activation those expectations close on the three matrices of section 4; for ReLU they do not,
# and estimating them by Monte Carlo with M particles is a width-M network again, so calling it
# "the limit" would be circular. TP4 itself computes its muP limits exactly only where they close
# (its Word2Vec and linear few-shot networks). What we can measure honestly: finite muP ReLU
# networks agree more and more with a much wider one (`RELU_REF_WIDTH`; a Cauchy test of
# convergence, biased slightly flat at the largest widths because the reference is finite) while
# staying at a fixed distance from the NTK limit. Same data and time as section 4.

# %%
with run.section("relu_limits"):
    relu = pz.compute_relu_limits(x, y, x_test, P.RELU_WIDTHS, P.LIMIT_LR, P.LIMIT_STEPS,
                                  P.N_SEEDS, P.RELU_REF_WIDTH, labels_test=test_ds.y)
relu_mean = relu.groupby(["parametrization", "width"])[["dist_ntk", "dist_ref", "acc"]].mean()
ntp_d, mup_d = relu_mean.loc["ntp"], relu_mean.loc["mup"]
relu_slope = {"ntp_to_ntk": fit_power_law(ntp_d.index, ntp_d.dist_ntk)[0],
              "mup_to_ref": fit_power_law(mup_d.index, mup_d.dist_ref)[0],
              "mup_to_ntk": fit_power_law(mup_d.index, mup_d.dist_ntk)[0]}
for key, v in relu_slope.items():
    run.ledger.record(f"relu_slope_{key}", v)
for (nm, width), r in relu_mean.iterrows():
    tag = "inf" if np.isinf(width) else int(width)
    run.ledger.record(f"relu_acc_{nm.replace(' ', '_')}_w{tag}", r.acc)
fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax.plot(ntp_d.index, ntp_d.dist_ntk, "o-",
        label=f"NTP (centred) to NTK limit (slope {relu_slope['ntp_to_ntk']:.2f})")
ax.plot(mup_d.index, mup_d.dist_ntk, "s-",
        label=f"muP to NTK limit (slope {relu_slope['mup_to_ntk']:.2f})")
ax.plot(mup_d.index, mup_d.dist_ref, "^--",
        label=f"muP to muP width {P.RELU_REF_WIDTH} (slope {relu_slope['mup_to_ref']:.2f})")
ax.set(xscale="log", yscale="log", xlabel="width", ylabel="relative distance of test outputs",
       title=f"1-hidden-layer ReLU, t={P.LIMIT_LR * P.LIMIT_STEPS:g}: {run.caption(DATA)}")
ax.legend(fontsize=8)
run.savefig(fig, "relu_limits")
relu_mean.round(4)

# %% [markdown]
# ## Claims

# %%
L = run.ledger
cs = coord_slopes.set_index(["parametrization", "layer"]).slope
last = str(P.N_HIDDEN)
for nm, lo, hi, text in (("sp", 0.3, 0.7, "grows like width^1/2"),
                         ("ntp", -0.7, -0.3, "shrinks like width^-1/2"),
                         ("mup", -0.2, 0.2, "is flat in width")):
    L.claim(f"coord_{nm}", f"{nm}: the last hidden layer's update after one step {text}",
            f"slope {cs[(nm, last)]:.2f}", f"slope in [{lo}, {hi}]", lo <= cs[(nm, last)] <= hi)
L.claim("features_ntp", "NTP: hidden features move like width^-1/2 (kernel regime)",
        f"slope {fm_slopes['ntp']:.2f}", "slope in [-0.75, -0.25]",
        -0.75 <= fm_slopes["ntp"] <= -0.25)
L.claim("features_mup", "muP: hidden features keep moving as width grows (feature learning)",
        f"slope {fm_slopes['mup']:.2f}", "slope > -0.15", fm_slopes["mup"] > -0.15)
L.claim("ntk_frozen_ntp", "NTP: the empirical NTK freezes as width grows",
        f"slope {ntk_slopes['ntp']:.2f} (theory: -1/2 asymptotically)", "slope <= -0.25",
        ntk_slopes["ntp"] <= -0.25)
L.claim("ntk_moves_mup", "muP: the empirical NTK keeps changing as width grows",
        f"slope {ntk_slopes['mup']:.2f}", "slope > -0.15", ntk_slopes["mup"] > -0.15)
bi = best.set_index(["optimizer", "parametrization", "width"])
w_lo, w_hi = min(P.SWEEP_WIDTHS), max(P.SWEEP_WIDTHS)
for opt in ("sgd", "adam"):
    sh = {nm: int(bi.log2_eta[(opt, nm, w_hi)] - bi.log2_eta[(opt, nm, w_lo)])
          for nm in ("sp", "mup")}
    edge = {nm: bool(bi.on_edge[(opt, nm, w_lo)] or bi.on_edge[(opt, nm, w_hi)])
            for nm in ("sp", "mup")}
    trail = {nm: " (an optimum on the grid's edge: a bound)" if edge[nm] else ""
             for nm in edge}
    L.claim(f"lr_transfer_mup_{opt}", f"muP + {opt}: the optimal learning rate stays put as "
            "width grows", f"log2 eta* moves by {sh['mup']:+d} from width {w_lo} to {w_hi}"
            + trail["mup"], "|shift| <= 1, inside the grid",
            abs(sh["mup"]) <= 1 and not edge["mup"])
    L.claim(f"lr_drift_sp_{opt}", f"SP + {opt}: the optimal learning rate shrinks as width grows",
            f"log2 eta* moves by {sh['sp']:+d} from width {w_lo} to {w_hi}" + trail["sp"],
            "shift <= -1", sh["sp"] <= -1)
L.claim("linear_limit_convergence",
        "Finite muP linear networks converge to the computed muP limit as width grows",
        f"slope {lin_slope:.2f}; distance at width {max(P.LIMIT_WIDTHS)}: {lin_mean.iloc[-1]:.3f}",
        "slope in [-0.75, -0.25]", -0.75 <= lin_slope <= -0.25)
L.claim("linear_limit_learns_features",
        "In the muP limit the hidden layer's Gram matrix G_A moves during training (feature learning)",
        f"||G_A(T) - G_A(0)|| / ||G_A(0)|| = {feature_move:.3f}", "> 0.01 (kernel limits: exactly 0)",
        feature_move > 0.01)
L.claim("relu_ntp_to_ntk", "Centred NTP ReLU nets converge to the NTK limit (computed by "
        "neural-tangents) like width^-1/2", f"slope {relu_slope['ntp_to_ntk']:.2f}; distance at "
        f"width {max(P.RELU_WIDTHS)}: {ntp_d.dist_ntk.iloc[-1]:.3f}", "slope in [-0.75, -0.25]",
        -0.75 <= relu_slope["ntp_to_ntk"] <= -0.25)
L.claim("relu_mup_not_ntk", "muP ReLU nets do not approach the NTK limit (features move)",
        f"slope {relu_slope['mup_to_ntk']:.2f}; distance at width {max(P.RELU_WIDTHS)}: "
        f"{mup_d.dist_ntk.iloc[-1]:.3f}", "slope > -0.15 and distance > 0.1",
        relu_slope["mup_to_ntk"] > -0.15 and mup_d.dist_ntk.iloc[-1] > 0.1)
L.claim("relu_mup_cauchy", "muP ReLU nets converge as width grows (to a limit we do not "
        "compute; measured against a much wider muP net)",
        f"slope {relu_slope['mup_to_ref']:.2f}; distance at width {max(P.RELU_WIDTHS)}: "
        f"{mup_d.dist_ref.iloc[-1]:.3f}", "slope in [-0.75, -0.25]",
        -0.75 <= relu_slope["mup_to_ref"] <= -0.25)
run.finish()
