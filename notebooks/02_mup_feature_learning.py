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
# real MNIST, full-batch SGD on the squared loss with centred one-hot targets. The loops, fits and
# figures are in `ntkpaper/experiments/nb02_mup_feature_learning.py`, with each claim's source and
# criterion (fixed before the first run); every claim is tested right after the figure that is
# its evidence, and the table at the end gathers them.
#
# **Contents.** 1 coordinate checks; 2 feature (and empirical-NTK) movement vs width;
# 3 learning-rate transfer with SGD and, as an extension beyond TP4, with Adam; 4 the muP limit of
# one-hidden-layer *linear* networks, computed exactly; 5 one-hidden-layer *ReLU* networks against
# the kernel limits (exact), and the muP ReLU limit, which we do not compute (section 5 says why).

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (values below are cpu's; profiles.py holds the changes)
SEED = 0  # seed of every random draw
DATASET = "mnist"  # data set
N_TRAIN = 128  # training images (class-balanced)
N_HIDDEN = 2  # hidden layers of the MLPs
COORD_WIDTHS = [64, 256, 1024, 4096]  # widths of the coordinate check
COORD_N_INPUTS = 64  # inputs of the coordinate check
COORD_LR = 0.1  # base learning rate of the coordinate check
COORD_STEPS = 1  # SGD steps of the coordinate check
FEATURE_WIDTHS = [64, 256, 1024]  # widths for feature movement
FEATURE_LR = 0.5  # base learning rate for feature movement
FEATURE_STEPS = 50  # SGD steps for feature movement
FEATURE_N_PROBE = 32  # inputs on which the empirical NTK's change is measured
SWEEP_WIDTHS = [64, 256, 1024]  # widths of the learning-rate sweep
# log2 of the SGD base learning rates, per parametrization (each grid brackets its optimum)
SWEEP_LOG2_LRS = {"sp": [-10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4],
                  "mup": [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6]}
# log2 of the Adam base learning rates, per parametrization
ADAM_LOG2_LRS = {"sp": [-14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2],
                 "mup": [-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2]}
SWEEP_STEPS = 50  # SGD steps per run of the sweep
N_SEEDS = 2  # seeds per configuration
LIMIT_WIDTHS = [64, 256, 1024, 4096]  # widths of the linear nets compared with their muP limit
LIMIT_LR = 0.5  # learning rate of the linear and ReLU limit comparisons
LIMIT_STEPS = 100  # SGD steps of the linear and ReLU limit comparisons
N_TEST = 2000  # test images for the limit comparisons
RELU_WIDTHS = [64, 256, 1024, 4096]  # widths of the ReLU nets compared with the kernel limits
RELU_REF_WIDTH = 16384  # width of the reference muP ReLU net (stand-in for its uncomputed limit)

# %%
from ntkpaper import pipeline
from ntkpaper.experiments import nb02_mup_feature_learning as exp

run = pipeline.start(globals())
x, y, x_test, labels_test, data_title = exp.load_data(DATASET, N_TRAIN, N_TEST, SEED)
print(data_title, x.shape, y.shape)

# %% [markdown]
# ## 1 · Coordinate checks
#
# The average size of a coordinate of each layer's pre-activation change h_t - h_0 after
# `COORD_STEPS` SGD step(s) at a fixed base learning rate, vs width. The paper's predictions for the
# last hidden layer: SP grows like n^1/2 (unstable), NTP shrinks like n^-1/2, muP is flat.

# %%
with run.section("coord_check"):
    coord = exp.compute_coord_check(x[:COORD_N_INPUTS], y[:COORD_N_INPUTS], N_HIDDEN,
                                    COORD_WIDTHS, COORD_LR, COORD_STEPS, N_SEEDS)
coord_slopes = exp.coord_slopes(coord)
run.record_all(exp.coord_ledger(coord_slopes))
run.savefig(exp.plot_coord_check(coord, coord_slopes, run.caption(data_title)), "coord_check")
run.claim(exp.CLAIMS["coord_sp"], coord_slopes, N_HIDDEN)
run.claim(exp.CLAIMS["coord_ntp"], coord_slopes, N_HIDDEN)
run.claim(exp.CLAIMS["coord_mup"], coord_slopes, N_HIDDEN)
coord_slopes.unstack().round(2)

# %% [markdown]
# ## 2 · Feature learning vs width
#
# Relative change of the last hidden representation over `FEATURE_STEPS` steps of training,
# ||phi(h_T) - phi(h_0)|| / ||phi(h_0)||, and of the empirical NTK on `FEATURE_N_PROBE` training
# inputs,
# ||K_T - K_0|| / ||K_0||, for NTP and muP at the same base learning rate. In the kernel regime
# the NTK's change is bounded by n^-1/2, and is typically of order 1/n (Dyer & Gur-Ari 2020).

# %%
with run.section("feature_movement"):
    fm = exp.compute_feature_movement(x, y, N_HIDDEN, FEATURE_WIDTHS, FEATURE_LR, FEATURE_STEPS,
                                      N_SEEDS, ntk_probe=FEATURE_N_PROBE)
fm_slopes = exp.feature_slopes(fm)
run.record_all(exp.feature_ledger(fm_slopes))
run.savefig(exp.plot_feature_movement(fm, fm_slopes, FEATURE_STEPS, run.caption(data_title)),
            "feature_movement_vs_width")
run.claim(exp.CLAIMS["features_ntp"], fm_slopes)
run.claim(exp.CLAIMS["features_mup"], fm_slopes)
run.claim(exp.CLAIMS["ntk_frozen_ntp"], fm_slopes)
run.claim(exp.CLAIMS["ntk_moves_mup"], fm_slopes)
exp.feature_table(fm).round(4)

# %% [markdown]
# ## 3 · Learning-rate transfer (SGD, and Adam as an extension)
#
# Training loss after `SWEEP_STEPS` full-batch steps vs base learning rate, one curve per width
# (mean over `N_SEEDS` initialisations). Under SP the usable learning rate shrinks as the network
# widens; under muP the optimum stays put. The Adam row uses muP's per-layer Adam learning rates
# (`parametrization.learning_rates`: input and output layers eta n^-1/2, hidden layers eta/n;
# TP5 Table 3) against SP with one global Adam learning rate. Diverged runs (non-finite, or ten
# times the initial loss) are left out; an optimum on the edge of its grid is only a bound and is
# flagged.

# %%
grids = {"sgd": SWEEP_LOG2_LRS, "adam": ADAM_LOG2_LRS}
with run.section("lr_sweep"):
    sweep = exp.compute_lr_transfer(x, y, N_HIDDEN, SWEEP_WIDTHS, grids, SWEEP_STEPS, N_SEEDS)
best = exp.best_learning_rates(sweep, grids)
run.record_all(exp.best_ledger(best))
run.savefig(exp.plot_lr_transfer(sweep, SWEEP_STEPS, run.caption(data_title)), "lr_transfer")
run.claim(exp.CLAIMS["lr_transfer_mup_sgd"], best, SWEEP_WIDTHS)
run.claim(exp.CLAIMS["lr_drift_sp_sgd"], best, SWEEP_WIDTHS)
run.claim(exp.CLAIMS["lr_transfer_mup_adam"], best, SWEEP_WIDTHS)
run.claim(exp.CLAIMS["lr_drift_sp_adam"], best, SWEEP_WIDTHS)
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
# changes; in the muP limit G_A (the features' Gram matrix) moves. That G_A moves at all is an
# identity of the recursion (its first step already adds a nonzero term), so the table lists it as
# a check, not as evidence for the paper.

# %%
with run.section("linear_limit"):
    lin, lin_limit = exp.compute_linear_limit_convergence(x, y, x_test, LIMIT_WIDTHS, LIMIT_LR,
                                                          LIMIT_STEPS, N_SEEDS)
    lin_summary = exp.compute_linear_limits(x, y, x_test, labels_test, lin_limit, LIMIT_LR,
                                            LIMIT_STEPS)
lin_slope = run.record("linear_limit_dist_slope", exp.linear_slope(lin))
run.record_all(lin_summary, "linear_")
run.savefig(exp.plot_linear_limit(lin, lin_slope, run.caption(data_title)),
            "linear_mup_limit_convergence")
run.claim(exp.CLAIMS["linear_limit_convergence"], lin)
run.claim(exp.CLAIMS["linear_limit_learns_features"], lin_summary["limit_G_A_rel_change"])
lin_summary

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
    relu = exp.compute_relu_limits(x, y, x_test, RELU_WIDTHS, LIMIT_LR, LIMIT_STEPS, N_SEEDS,
                                   RELU_REF_WIDTH, labels_test=labels_test)
run.record_all(exp.relu_slopes(relu), "relu_slope_")
run.record_all(exp.relu_accuracies(relu), "relu_acc_")
run.savefig(exp.plot_relu_limits(relu, LIMIT_LR * LIMIT_STEPS, run.caption(data_title)),
            "relu_limits")
run.claim(exp.CLAIMS["relu_ntp_to_ntk"], relu)
run.claim(exp.CLAIMS["relu_mup_not_ntk"], relu)
run.claim(exp.CLAIMS["relu_mup_cauchy"], relu)
exp.relu_table(relu).round(4)

# %% [markdown]
# ## Claims
#
# Each claim was tested right after its figure; the table gathers them (checks are listed, not
# counted as claims that hold).

# %%
run.finish()
