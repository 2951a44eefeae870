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
# # 05 · Adaptive tangent features
#
# **Paper.** LeJeune & Alemohammad, *An Adaptive Tangent Feature Perspective of Neural Networks*
# (CPAL 2024, arXiv 2308.15478). No public code; this notebook is a first implementation.
#
# **The claim.** A network linearised at initialisation is a linear model on fixed tangent
# features. Letting the features be transformed linearly during training (per layer, on the input
# and output side of each dense layer's outer-product features) and penalising transformations and
# coefficients together is equivalent to a linearly constrained problem whose regulariser is a
# Schatten quasi-norm (here p = 2/3) of each layer's coefficient matrix: it favours low-rank
# solutions. The adaptive model explains how the kernel changes in training, adds nuance to
# "kernel alignment" when the target is poorly represented by the initial tangent features, and
# needs about an order of magnitude fewer samples than the fixed tangent-feature model on MNIST
# and CIFAR-10.
#
# **What runs here.** `ntkpaper.tangent_features` (the derivation and both forms of the adaptive
# model are in its docstring; tests check the equivalences), driven by
# `ntkpaper.experiments.nb05_adaptive_tangent_features` (`exp` below).
# Three models from one initialisation of an MLP (NTK parametrization, ReLU, no biases), on the
# squared loss: the fixed tangent-feature model (ridge penalty), the adaptive one (factored
# form, its penalty) and the network itself. Sections 1-2 fit all three by full-batch Adam for
# `FIT_STEPS` steps; section 3 takes both tangent-feature models to certified optima (below).
# **CIFAR-10 is not available offline here: Fashion-MNIST stands in for it** (`full` profile:
# CIFAR-10 when its archive is present). **How this differs from the authors' experiments**
# (their code, found after this notebook was run: dlej/adaptive-feature-perspective,
# `run_experiment.py`; the paper's full text was not readable here): they train the adaptive
# model `M1 V M2` per layer with the transforms started at the identity and *no explicit
# penalty* (their theory penalises the transforms' distance to the identity, which gives a
# ridge-like penalty near zero and an approximately low-rank one for large singular values; ours
# penalises the transforms' norms, an exact Schatten-2/3 quasi-norm), with cross-entropy, SGD or
# Adam, early stopping, a 5-layer MLP of width 128 on MNIST and a small CNN on CIFAR-10, n from
# 125 to the full training sets, 10 seeds; their fixed model is also trained, not solved. Read
# off their figure, the fixed model needs about 8x the samples on CIFAR-10 and about 4x on MNIST
# at small n, the MNIST curves meeting near n = 32k. The sample-complexity sentence is in the
# abstract of arXiv v1 and v2 but not v3. Our squared loss, one-hidden-layer MLP, explicit
# penalties and sizes to 1,000 are our choices.

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (the values below are cpu's; smoke and full change
#                  some of them: ntkpaper/pipeline/profiles.py)
SEED = 0  # seed of every random draw
# 1-2 · kernel change and rank on the 2-D regression inputs
REG_N_TRAIN = 300  # points of the regression problem
REG_WIDTH = 64  # width of its MLP
REG_DEPTH = 2  # hidden layers of its MLP
BANDS = {"top": [0, 10], "low": [100, 110]}  # eigenvector bands of the initial eNTK: the targets
REG_PENALTY = 1e-4  # ridge / factored penalty of the regression fits
REG_LR = 1e-3  # Adam learning rate of the regression fits
FIT_STEPS = 500  # full-batch Adam steps of every fit of sections 1-2
# 3 · sample complexity; CIFAR-10 is replaced by its stand-in when absent
SAMPLE_LR = 1e-2  # Adam lr of the adaptive model and the network in section 3
SAMPLE_PENALTIES = [1e-4, 1e-3]  # penalties tried at every size and seed (validation)
ADAPTIVE_STEPS = 1000  # Adam steps of each adaptive fit (factors rebalanced half-way)
NET_STEPS = 500  # Adam steps of the network (no penalty)
N_VAL = 1000  # validation images
SAMPLE_SIZES = [10, 30, 100, 300, 1000]  # training-set sizes (the closed form costs (n k)^3)
SAMPLE_WIDTH = 128  # width of the classification MLP
SAMPLE_DEPTH = 1  # hidden layers of the classification MLP
N_TEST = 2000  # test images
DATASETS = ["mnist", "fashion_mnist"]  # data sets (the paper's: MNIST and CIFAR-10)
N_SEEDS = 3  # seeds (initialisations) per size
# 4 · a task where features matter: labels set by a hidden 2-D subspace of Gaussian inputs
SUB_D = 16  # input dimension
SUB_SIZES = [100, 200, 400, 800, 1600]  # training-set sizes
SUB_NET_STEPS = 1000  # Adam steps of the network

# %%
from IPython.display import display

from ntkpaper import data, pipeline
from ntkpaper.experiments import nb05_adaptive_tangent_features as exp

run = pipeline.start(globals())

# %% [markdown]
# ## 1 · How the kernel changes: network vs adaptive model
#
# Inputs: the 2-D regression inputs of notebook 04. Two targets built from the initial eNTK's
# eigenvectors (`BANDS`): one from its top eigenvectors (well represented by the initial tangent
# features) and one from far down the spectrum (poorly represented). For each target we fit the
# network and the adaptive model and compare their kernels with the initial eNTK: the centred
# alignment with the target, the relative change, and the cosine between the two kernel changes
# (network K_T - K_0 vs adaptive K' - K_0), raw and with both changes' component along K_0
# projected out (`projected change cosine`: a shared rescaling of the initial kernel would
# otherwise count as agreement; the claim uses this one). A target the network does not fit
# (final loss >= 10% of its energy) makes its alignment claim inconclusive.

# %%
x_reg, _ = data.regression_task(REG_N_TRAIN, SEED)
targets = exp.eigen_targets(x_reg, REG_WIDTH, REG_DEPTH, BANDS, SEED)
reg_caption = run.caption(f"2-D regression inputs (n={REG_N_TRAIN}), MLP {REG_DEPTH}x{REG_WIDTH}")
with run.section("kernel_change"):
    kc, fits = exp.compute_kernel_change(x_reg, targets, REG_WIDTH, REG_DEPTH, REG_PENALTY,
                                         FIT_STEPS, REG_LR, SEED)
run.record_all(exp.kernel_change_values(kc, fits))  # final losses: how well each model fitted
run.savefig(exp.plot_kernel_change(kc, reg_caption), "kernel_change")
run.claim(exp.CLAIMS["kernel_change_predicted"], kc)
for target in targets:
    run.claim(exp.CLAIMS[f"alignment_rises_{target}"], kc)
kc.round(4)

# %% [markdown]
# How to read it: the raw kernel changes of the network and of the adaptive model point the same
# way (cosines 0.85 and 0.62), but mostly because both grow K_0; with that shared rescaling
# projected out the cosines are 0.36 (top target) and 0.05 (low target), and the claim fails.
# Neither alignment claim can be judged: in `FIT_STEPS` Adam steps the network leaves 12% of the
# top target's energy and all of the low target's (0.000 alignment at both ends), so whether
# training raises the alignment with a poorly represented target is untested here.

# %% [markdown]
# ## 2 · Low-rank structure
#
# Singular values of each layer's learned matrix: V of the fixed model (ridge: no rank
# preference), V of the adaptive model (Schatten-2/3: low rank), and the network's weight change
# W_T - W_0, for the two regression fits. "rank" is the number of singular values holding 90%
# of the squared Frobenius norm. That the adaptive model's rank is lower than the fixed model's
# is true by construction (a Schatten-2/3 penalty against a ridge penalty): a check, not a claim.
# The informative comparison is with the network's weight change.

# %%
ranks = exp.rank_table(fits, 0.9)
run.record_all(exp.rank_values(ranks))
run.savefig(exp.plot_singular_values(fits, reg_caption), "singular_values")
run.claim(exp.CLAIMS["adaptive_low_rank"], ranks)
ranks.pivot_table(index=["fit", "layer"], columns="model", values="rank")

# %% [markdown]
# ## 3 · Sample complexity
#
# Test error vs training-set size (class-balanced subsets) for the three models, on MNIST and on
# Fashion-MNIST (standing in for CIFAR-10), centred one-hot targets, `N_TEST` test images,
# `N_SEEDS` initialisations. Neither tangent-feature model is stopped early: the **fixed** model
# is solved in closed form (kernel ridge regression with the full multi-output
# eNTK, `tangent_features.solve_fixed`; its certificate is the relative gradient norm there),
# the **adaptive** model by `ADAPTIVE_STEPS` Adam steps with its factors rebalanced half-way
# (its "certificate": the relative gap between the factored objective and the Schatten-2/3
# objective of the same V; over 5% the claims that use it say "inconclusive"). **Caveat, found
# by a review after the run**: rebalancing sets that gap to 0 for any V, so a small gap shows
# balanced factors, not an optimum (the problem is non-convex; on a tiny model IRLS started from
# the final V still lowered the objective by 0.5%). A gradient-norm check is the next step. The penalty of each is chosen from `SAMPLE_PENALTIES` on `N_VAL` validation
# images at every size and seed. The network trains `NET_STEPS` Adam steps without penalty. The
# sample-complexity ratio at matched error, per seed: how many samples the fixed model needs to
# reach the adaptive model's error at n (interpolated on that seed's fixed curve; blank where it
# never gets there within the sizes measured); the table gives the median and range over seeds.
# The closed form costs (n k)^3, so sizes stop at 1,000 here (2,000 at `full`).

# %%
with run.section("sample_complexity"):
    sc, ratio = exp.compute_sample_complexity(
        DATASETS, SAMPLE_SIZES, N_TEST, N_VAL, SAMPLE_PENALTIES, SAMPLE_WIDTH, SAMPLE_DEPTH,
        ADAPTIVE_STEPS, NET_STEPS, SAMPLE_LR, N_SEEDS, SEED)
run.record_all(exp.sample_complexity_values(sc, ratio))
run.savefig(exp.plot_sample_complexity(sc, run.caption(f"MLP {SAMPLE_DEPTH}x{SAMPLE_WIDTH}")),
            "sample_complexity")
for name in dict.fromkeys(sc.dataset):  # the data sets in the order they ran
    on = sc[sc.dataset == name]
    run.claim(exp.CLAIMS[f"adaptive_beats_fixed_{name}"], on)
    run.claim(exp.CLAIMS[f"order_of_magnitude_{name}"], ratio[ratio.dataset == name], on)
    run.claim(exp.CLAIMS[f"network_beats_linearisation_{name}"], on)
display(sc.groupby(["data", "model", "n"])[["test_error", "train_error", "certificate"]]
        .agg(["mean", "max"]).round(4))
ratio.round(3)

# %% [markdown]
# How to read it: with the fixed model at its exact optimum and both penalties chosen on
# validation at every size, **the adaptive model is worse, not better**: its test error is
# 0.7-4.7 points above the fixed model's on both data sets (paired over 3 seeds; beyond 2 s.e.
# up to n = 300, within noise at 1,000),
# and the fixed model reaches the adaptive model's error with 0.6-1.0 times the samples (the
# paper: about 10 times fewer for the adaptive model). Formally both claims are inconclusive,
# because some adaptive fits at n <= 100 stopped with their two objectives up to 8% (MNIST) and
# 15% (Fashion-MNIST) apart; at n = 300 and 1,000 every gap is within 0.3% (balanced factors,
# see the caveat above). Both penalties landed on an edge of the two-value grid (fixed 1e-4,
# adaptive 1e-3 from n = 300), so a wider grid may move these numbers. The check beside them says why this setting cannot show the paper's
# effect: the trained network does not beat its own linearisation (MNIST n = 1,000: 0.141 vs
# 0.137; Fashion-MNIST: 0.226 vs 0.204), so there is no feature-learning gain for the adaptive
# model to capture. The earlier version's near-tie (adaptive ahead at some sizes) came from
# stopping both models early. What would test the paper fairly, and is not done: a network that
# clearly beats its linearisation (e.g. a CNN, or muP with a larger learning rate), its
# architecture and loss (not readable here), CIFAR-10, and sizes to 10^4 and beyond.

# %% [markdown]
# ## 4 · A task where the network learns features
#
# Sections 1 and 3 ran where the trained network barely differs from its linearisation, so the
# adaptive model had nothing to capture. Here the label is the XOR of the signs of two hidden
# directions of a Gaussian input in `SUB_D` dimensions (`exp.subspace_task`): learning the
# 2-D subspace (a rank-2 change of the first layer) is what a network can do and a fixed kernel
# cannot, so the network should beat its linearisation clearly, and the low-rank bias of the
# adaptive model should help. Same models, certificates and penalty choice as section 3,
# `N_SEEDS` seeds; the network trains `SUB_NET_STEPS` steps. This task is ours, not the
# paper's; its claims (fixed before the first run of this section, after one exploratory seed)
# ask whether the adaptive model captures a feature-learning gain where one exists.

# %%
with run.section("subspace"):
    sub, sub_ratio = exp.compute_subspace(
        SUB_D, SUB_SIZES, N_VAL, N_TEST, SAMPLE_PENALTIES, SAMPLE_WIDTH, SAMPLE_DEPTH,
        ADAPTIVE_STEPS, SUB_NET_STEPS, SAMPLE_LR, N_SEEDS, SEED)
run.record_all(exp.sample_complexity_values(sub, sub_ratio))
run.savefig(exp.plot_sample_complexity(sub, run.caption(f"MLP {SAMPLE_DEPTH}x{SAMPLE_WIDTH}")),
            "subspace")
for name in ("network_beats_linearisation_subspace", "adaptive_beats_fixed_subspace",
             "adaptive_closes_gap_subspace"):
    run.claim(exp.CLAIMS[name], sub)
sub.groupby(["model", "n"])[["test_error", "train_error", "certificate"]].mean().round(4)

# %% [markdown]
# How to read it: here the network does learn features. At n = 1,600 its test error is 0.094
# against 0.226 for its linearisation (+0.131 +- 0.017), and it reaches the fixed model's
# n = 1,600 error with between 400 and 800 samples. Every adaptive fit's two objectives agree
# within 0.1% (balanced factors, not a proven optimum: see section 3's caveat), and it captures
# little of that gain: it ties the fixed model up to n = 800 and is ahead only at 1,600 (0.204, +0.021 +-
# 0.004), closing 16% of the gap to the network. Both claims fail. Why is not measured here
# (e.g. whether the network's first-layer change aligns with the hidden subspace and the
# adaptive model's does not); the penalty grid and the optimisation are the first suspects.

# %% [markdown]
# ## Claims and checks

# %%
run.finish()
