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
# # 07 · Finite versus infinite networks: kernels, precision, whitening, centring
#
# **Paper.** Lee, Schoenholz, Pennington, Adlam, Xiao, Novak & Sohl-Dickstein 2020, *Finite
# Versus Infinite Neural Networks: an Empirical Study* (NeurIPS; arXiv:2007.15801).
#
# **The claims.** The abstract lists about twelve findings; this notebook tests eleven:
# "neural network Gaussian process (NNGP) kernels frequently outperform neural tangent (NT)
# kernels"; "diagonal regularization of kernels acts similarly to early stopping"; "floating
# point precision limits kernel performance beyond a critical dataset size"; "regularized ZCA
# whitening improves accuracy"; "centered and ensembled finite networks have reduced posterior
# variance and behave more similarly to infinite networks"; with trained FC networks (section
# 6): "kernel methods outperform fully-connected finite-width networks"; "the NTK
# parameterization outperforms the standard parameterization for finite width networks";
# "finite network performance depends non-monotonically on width in ways not captured by
# double descent phenomena"; "weight decay and the use of a large learning rate break the
# correspondence between finite and infinite networks"; the "improved layer-wise scaling for
# weight decay" (in our derivation); and with trained CNNs (section 7): kernels "underperform
# convolutional finite width networks"; "equivariance of CNNs is only beneficial for narrow
# networks far from the kernel regime". Not tested: the "novel ensembling technique" of the
# paper's best practices, which the abstract does not describe. Only the abstract could be read
# here, so every claim cites its clause; section numbers and the paper's own numbers are not
# given: the paper's numbers could not be read here (arXiv:2007.15801v2); to be added.
#
# **What runs here.** Real MNIST and Fashion-MNIST (official splits, checksum-verified), with
# Fashion-MNIST standing in for the paper's CIFAR-10 (the `full` profile uses CIFAR-10 itself,
# which must then be in `data/`). Analytic kernels of two architectures, sigma_w^2 = 2 and
# sigma_b^2 = 0.05 in every layer: a ReLU FC network with `FC_DEPTH` hidden layers, and CNN-VEC,
# `CNN_DEPTH` 3x3 convolutions + ReLU with a flattened dense readout. Training sets are nested,
# validation points come from the official training images 50k-60k, and every method is scored
# on the same test points, so differences carry paired standard errors.
#
# **Where we depart from the paper (as far as its abstract tells).** Fashion-MNIST instead of
# CIFAR-10, and at most a few thousand training points (the budget of 2 CPU cores; the paper's
# sizes could not be read). No pooling at `cpu`: the pooled CNN-GAP kernel needs every pair of
# pixel positions and costs orders of magnitude more per pair of images (to come, at `full`). The
# finite networks are FC nets and small CNNs on average-pooled images (7x7 at `cpu`), trained by
# full-batch gradient descent for a few hundred steps at a few hundred training points
# (sections 6 and 7), narrower than the paper's widest.

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (values below: cpu; others: ntkpaper/pipeline/profiles.py)
SEED = 0  # seed of every random draw (subsets, initialisations)
DATASETS = ["mnist", "fashion_mnist"]  # kernel data sets (Fashion-MNIST stands in for CIFAR-10)
WEIGHT_VAR = 2.0  # sigma_w^2 of every layer (ReLU's critical value)
BIAS_VAR = 0.05  # sigma_b^2 of every layer
FC_DEPTH = 3  # hidden layers of the FC kernels
CNN_DEPTH = 2  # 3x3 SAME convolutions of CNN-VEC (flattened readout, no pooling)
FC_N_TRAIN_SIZES = [125, 250, 500, 1000, 2000]  # nested training-set sizes, FC kernels
CNN_N_TRAIN_SIZES = [125, 250, 500]  # nested training-set sizes, CNN-VEC kernels
N_VAL = 500  # validation points (official training images 50k-60k)
N_TEST = 1000  # test points, shared by every method (paired standard errors)
# relative ridges tried (x mean kernel diagonal); early-stopping times on the same grid
DIAG_REGS = [1e-7, 1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0]
PRECISION_DATASET = "mnist"  # data set of the float32 vs float64 study
PRECISION_FC_N_TRAIN_SIZES = [500, 1000, 2000, 4000]  # float32 study, FC sizes (CNN: its own)
ZCA_DATASET = "fashion_mnist"  # data set of the ZCA study (the stand-in for CIFAR-10)
ZCA_N_TRAIN = 250  # training points of the ZCA study (a prefix of the nested pool)
ZCA_N_FIT = 50000  # training images the ZCA matrix is fitted on (50000: the whole train split)
ZCA_STRENGTHS = [0.01, 0.1, 1.0]  # ZCA regulariser (x mean eigenvalue), chosen on validation
FINITE_N_TRAIN = 256  # centred/ensembled nets: MNIST training points
FINITE_N_TEST = 1000  # centred/ensembled nets: test points
FINITE_WIDTHS = [64, 128, 256, 512, 1024]  # hidden widths of the one-hidden-layer nets
FINITE_N_MEMBERS = 8  # networks per width and variant (independent initialisations)
FINITE_STEPS = 100  # full-batch gradient-descent steps
FINITE_LR = 0.5  # learning rate (NTK parameterisation); the kernel's time is t = lr x steps
NET_DATASET = "mnist"  # trained FC nets: data set (one of DATASETS)
NET_N_TRAIN = 500  # trained FC nets: training points (one of FC_N_TRAIN_SIZES: its kernel)
NET_WIDTHS = [4, 16, 64, 256]  # hidden widths (FC_DEPTH layers), both parameterisations
NET_LR_FRACTIONS = [0.5, 1.0, 2.0, 4.0]  # learning rates, x 2n / lambda_max(net's own eNTK)
NET_STEPS = 300  # full-batch GD steps; stopping step chosen on validation among its halvings
NET_N_SEEDS = 2  # initialisations per setting
NET_DECAY_WIDTH = 256  # width of the weight-decay / learning-rate study (centred, NTK param.)
NET_DECAY_LR_FRACTIONS = [0.1, 0.3, 1.0, 1.8]  # its learning rates, x 2n / lambda_max(NTK)
NET_L2S = [1e-3, 1e-2, 1e-1]  # its L2 strengths (at the smallest learning rate; 0 included)
NET_DECAY_STEPS = 400  # steps at the smallest learning rate (fixes t; others run t / lr)
NET_L2_LR_FRACTION = 1.0  # plain vs layer-wise L2 (width NET_DECAY_WIDTH): lr x 2n / lambda_max
NET_PLAIN_L2S = [1e-4, 1e-3, 1e-2, 1e-1]  # plain L2 strengths on the NTK-param. weights (+ 0)
NET_LAYERWISE_L2S = [0.01, 0.1, 1.0, 10.0]  # layer-wise strengths (x W_std^2 / fan-in; + 0)
CNN_NET_POOL = 4  # trained CNNs: images average-pooled by this factor (28x28 -> 7x7)
CNN_NET_N_TRAIN = 256  # trained CNNs: training points (NET_DATASET's nested pool)
CNN_NET_WIDTHS = [4, 16, 32]  # channels of the CNNs and their locally connected twins
CNN_NET_LR_FRACTIONS = [0.5, 1.0, 2.0]  # learning rates, x 2n / lambda_max(net's own eNTK)
CNN_NET_STEPS = 300  # full-batch GD steps; stopping step chosen on validation

# %%
from ntkpaper import pipeline
from ntkpaper.experiments import nb07_finite_vs_infinite as exp

run = pipeline.start(globals())

# %% [markdown]
# ## 1 · Shared kernels; NNGP vs NTK at every size
#
# NNGP and NTK kernels of FC and CNN-VEC on each data set, computed once (float64) at each
# architecture's largest training-set size: train x train, validation x train, test x train;
# the smaller nested sizes are slices. Each (data set, architecture, kernel, n) gets its own
# relative ridge `diag_reg`, chosen on validation (the chosen values and whether they sit on the
# grid's edge are in the table below). The NNGP prediction is the GP posterior mean, the NTK's
# the end point of gradient flow, both kernel ridge regressions.
#
# The abstract says NNGP kernels *frequently* outperform NT kernels: a claim about a majority,
# judged over every (data set, architecture, n) with paired standard errors on the shared test
# points (criterion in the claims table, fixed before the run).

# %%
st = exp.setup(FC_DEPTH, CNN_DEPTH, FC_N_TRAIN_SIZES, CNN_N_TRAIN_SIZES, WEIGHT_VAR, BIAS_VAR,
               DIAG_REGS)
n_pool = exp.pool_size(FC_N_TRAIN_SIZES, CNN_N_TRAIN_SIZES, PRECISION_FC_N_TRAIN_SIZES)
with run.section("kernels"):
    splits = exp.load_splits(DATASETS, n_pool, N_VAL, N_TEST, SEED)
    shared = exp.compute_shared_kernels(splits, st)
with run.section("regression"):
    reg = exp.compute_regression(shared, splits, st)
pairs = exp.nngp_vs_ntk(reg)
run.record_all(exp.regression_records(reg, pairs))

# %%
run.savefig(exp.plot_kernels(reg, pairs, run.caption(exp.data_title(DATASETS))),
            "kernel_accuracy")
run.claim(exp.CLAIMS["nngp_vs_ntk"], pairs)
pairs.round(4)

# %%
reg.table[reg.table.method == "ridge"].pivot_table(
    index=["dataset", "arch", "n"], columns="kernel", values=["test_acc", "diag_reg", "edge"])

# %% [markdown]
# ## 2 · Ridge vs early stopping
#
# Both are spectral filters of the same kernel: ridge `r` keeps eigen-directions with
# eigenvalue s above about `r mean(diag K)`, gradient flow stopped at time t those above about
# n/t. So the stopping time is searched on the grid `t = n / (r mean(diag K))`, r over the same
# ridges, and each knob is chosen on validation (not the best test value of each, as notebook 01
# used to do). The two chosen predictors are then compared on the shared test points; they "act
# similarly" if the 95% interval of their difference stays within +-0.02. Where validation
# prefers no regularisation at all, both knobs choose (nearly) the interpolant and agree
# trivially; the cells with an interior optimum (`ridge_reg` above the grid's smallest value in
# the table) and the overlap of the whole validation curves in the figure are the informative
# part.

# %%
es = exp.ridge_vs_early_stopping(reg)
run.record_all(exp.early_stopping_records(es))
run.savefig(exp.plot_ridge_vs_early_stopping(reg, es, run.caption(exp.data_title(DATASETS))),
            "ridge_vs_early_stopping")
run.claim(exp.CLAIMS["ridge_like_early_stopping"], es)
es[es.largest].round(4)

# %% [markdown]
# ## 3 · float32 vs float64
#
# The NTK regression of one data set computed twice: kernels *and* solves in float64, and
# kernels and solves in float32 (neural-tangents under jax's default 32-bit types, then a
# float32 Cholesky; nothing is cast down from float64). Without ridge (the end point of
# gradient flow) and at the validation-chosen ridge. The critical size n* is the smallest n at
# which float32 accuracy falls more than 2 paired s.e. below float64, or float32 Cholesky fails.
# The left panel shows why it is hard to reach with few points: float32 should break only when
# cond(K) nears 1/eps(float32) ~ 8e6. A float32 kernel is also not the float64 kernel rounded:
# the ReLU recursion's arccos has an infinite slope at correlation 1, so entries on and near the
# diagonal carry errors far above float32's round-off (the check reports the largest). (That
# the paper computed its kernels in float32 could not be checked here.)

# %%
with run.section("precision"):
    prec = exp.compute_precision(PRECISION_DATASET, splits[PRECISION_DATASET], shared, reg, st,
                                 PRECISION_FC_N_TRAIN_SIZES)
run.record_all(exp.precision_records(prec))
run.savefig(exp.plot_precision(prec, run.caption(exp.data_title([PRECISION_DATASET]))),
            "float32_vs_float64")
run.claim(exp.CLAIMS["float32_critical_size"], prec)
run.claim(exp.CLAIMS["float32_path_is_float32"], prec)
prec[["arch", "n", "ridge", "diag_reg", "cond", "acc_f64", "acc_f32", "diff", "se"]].round(5)

# %% [markdown]
# ## 4 · Regularised ZCA whitening
#
# Every split whitened by `W = U (S + strength x mean(S))^(-1/2) U^T`, fitted on `ZCA_N_FIT`
# training images, then kernels of both architectures on `ZCA_N_TRAIN` points, `diag_reg`
# re-chosen on validation for each strength, and the strength chosen on validation. The
# paper's gain is said to be one for convolutional kernels on images; that is unverified here,
# so CNN-VEC carries the claim and FC is shown as a contrast. Note that ZCA mixes pixels, so the
# CNN then no longer sees a local image.

# %%
with run.section("zca"):
    zca, zca_correct = exp.compute_zca(ZCA_DATASET, splits[ZCA_DATASET], shared, st, ZCA_N_TRAIN,
                                       ZCA_STRENGTHS, ZCA_N_FIT, SEED)
effects = exp.zca_effects(zca, zca_correct)
run.record_all(exp.zca_records(effects))
run.savefig(exp.plot_zca(effects, ZCA_N_TRAIN, run.caption(exp.data_title([ZCA_DATASET]))),
            "zca_whitening")
run.claim(exp.CLAIMS["zca_helps_cnn"], effects)
effects.round(4)

# %% [markdown]
# ## 5 · Centred and ensembled networks (moved from notebook 01)
#
# One-hidden-layer ReLU nets (NTK parameterisation) on `FINITE_N_TRAIN` MNIST images, full-batch
# gradient descent on the MSE loss for `FINITE_STEPS` steps; the infinite-width prediction is NTK
# gradient flow for the same time t = lr x steps. Per width, `FINITE_N_MEMBERS` initialisations,
# each trained plain (f) and centred (g = f - f0 trained as such). A plain net keeps its random
# initial function f0, a GP sample whose size does not shrink with width; centring removes it.
# What remains of a centred net's distance to the prediction should be a fluctuation of size
# ~ width^-1/2 with mean zero: then an ensemble of E members is 1/sqrt(E) as far from the
# prediction as one member. A *bias* (a wrong limit, or finite-width corrections dominating)
# would keep that ratio near 1, so this ratio, not the triangle inequality, is what is tested.

# %%
with run.section("centred_ensembles"):
    members, ensembles, limits = exp.compute_centred_ensembles(
        "mnist", FINITE_N_TRAIN, FINITE_N_TEST, FINITE_WIDTHS, FINITE_N_MEMBERS, FINITE_STEPS,
        FINITE_LR, WEIGHT_VAR, BIAS_VAR, SEED)
summary = exp.summarise_finite(members, ensembles)
slopes = exp.distance_slopes(members)
run.record_all(exp.finite_records(summary, slopes))
limits

# %%
run.savefig(exp.plot_centred_ensembles(summary, slopes, limits, FINITE_N_TRAIN,
                                       run.caption("MNIST")), "centred_ensembles")
run.claim(exp.CLAIMS["centring_reduces_variance"], summary)
run.claim(exp.CLAIMS["centred_converge_ntk"], slopes)
run.claim(exp.CLAIMS["ensemble_variance_dominated"], summary)
run.claim(exp.CLAIMS["uncentred_no_converge"], summary, slopes)
summary.round(4)

# %% [markdown]
# The accuracy panel (d) is not the paper's width finding: these nets are trained for a short,
# fixed time with one learning rate. Section 6 tunes them.
#
# ## 6 · Trained FC networks vs their kernels
#
# FC nets of section 1's FC kernel architecture (`FC_DEPTH` ReLU layers, the same sigma_w^2,
# sigma_b^2 and targets) on the first `NET_N_TRAIN` points of the nested `NET_DATASET` pool,
# full-batch gradient descent on the MSE loss, scored on the shared test points. Per
# parameterisation (NTK, standard) and width, the learning rate is a fraction of
# 2n / lambda_max of that net's own empirical NTK at initialisation (the edge of stability,
# ~1/width in SP, width-free in NTK parameterisation, so one grid of fractions is fair to
# both) and, with the stopping step, chosen on validation; each net is trained plain (f, the
# paper's networks) and centred (f - f0, section 5). Then:
# **kernel vs network** (the validation-chosen FC kernel of section 1 against the
# validation-chosen net, plain or centred); **NTK vs SP** per width; **accuracy vs width**
# (plain nets; where the parameter count crosses n x classes is marked); and, at
# `NET_DECAY_WIDTH`, **weight decay and learning rate**: centred NTK-parameterised nets (so
# the distance measures the correspondence, not the random f0) trained to the same time
# t = lr x steps, against the NTK gradient-flow prediction at t. Learning rates there are
# fractions of the analytic NTK's 2n / lambda_max (above 1, the linearised dynamics diverge);
# L2 (on the trained parameters) runs at the smallest. The convolutional half of the first
# finding is in section 7.

# %%
with run.section("trained_fc"):
    study = exp.compute_width_study(splits[NET_DATASET], NET_N_TRAIN, NET_WIDTHS,
                                    NET_LR_FRACTIONS, NET_STEPS, NET_N_SEEDS, FC_DEPTH,
                                    WEIGHT_VAR, BIAS_VAR, SEED)
    decay = exp.compute_decay_study(splits[NET_DATASET], shared[(NET_DATASET, "fc")],
                                    NET_N_TRAIN, NET_DECAY_WIDTH, NET_DECAY_LR_FRACTIONS,
                                    NET_L2S, NET_DECAY_STEPS, NET_N_SEEDS, FC_DEPTH, WEIGHT_VAR,
                                    BIAS_VAR, SEED)
chosen, net_correct = exp.choose_networks(study)
kvn = exp.kernel_vs_network(reg, NET_DATASET, NET_N_TRAIN, chosen, net_correct)
param_pairs = exp.parameterisation_pairs(chosen, net_correct)
threshold, threshold_width = exp.interpolation_threshold(splits[NET_DATASET], NET_N_TRAIN,
                                                         FC_DEPTH)
width_pairs = exp.width_steps(chosen, net_correct, threshold)
contrasts = exp.decay_contrasts(decay)
run.record_all(exp.network_records(kvn, chosen, param_pairs, contrasts))

# %%
run.savefig(exp.plot_trained_networks(chosen, kvn, param_pairs, contrasts, threshold_width,
                                      NET_N_TRAIN, NET_DECAY_WIDTH,
                                      run.caption(exp.data_title([NET_DATASET]))),
            "trained_fc_networks")
run.claim(exp.CLAIMS["kernel_beats_fc_net"], kvn)
run.claim(exp.CLAIMS["ntk_param_beats_sp"], param_pairs)
run.claim(exp.CLAIMS["width_non_monotone"], width_pairs)
run.claim(exp.CLAIMS["decay_lr_break_correspondence"], contrasts)
chosen.round(4)

# %% [markdown]
# In the table, `lr_edge` (the grid's largest or smallest learning-rate fraction) and
# `last_step` (the budget's last step) mark nets that this profile's budget limits: where they
# are set, a longer run or a wider grid could still raise the network's accuracy, and the
# kernel-vs-network, NTK-vs-SP and width verdicts are about nets trained for `NET_STEPS`
# full-batch steps, not to convergence. Below: distance and accuracy along the L2 and
# learning-rate grids (the L2 = 0 row is the smallest learning rate's).

# %%
contrasts.round(4)

# %% [markdown]
# ### 6b · Layer-wise weight decay
#
# Plain L2 on an NTK-parameterised net's trained weights omega is, in terms of the weights W =
# W_std omega / sqrt(fan-in) of the function it computes, a penalty (fan-in / W_std^2) ||W||^2
# that grows with each layer's width. Scaling each layer's strength by W_std^2 / fan-in
# (biases by b_std^2) turns it into standard L2 on W (`training.layerwise_l2`; the test checks
# the derivation on a small network step by step). This is our derivation of the layer-wise
# scaling the abstract says its experiments motivate; the paper's exact formula could not be
# read. Plain nets at `NET_DECAY_WIDTH`, one learning rate, each method's strength (its grid
# plus 0) and stopping step chosen on validation.

# %%
with run.section("layerwise_l2"):
    lw_study = exp.compute_layerwise_study(splits[NET_DATASET], NET_N_TRAIN, NET_DECAY_WIDTH,
                                           NET_L2_LR_FRACTION, NET_PLAIN_L2S, NET_LAYERWISE_L2S,
                                           NET_STEPS, NET_N_SEEDS, FC_DEPTH, WEIGHT_VAR,
                                           BIAS_VAR, SEED)
layerwise = exp.layerwise_contrast(lw_study)
run.savefig(exp.plot_layerwise_l2(exp.l2_curves(lw_study), layerwise, NET_DECAY_WIDTH,
                                  run.caption(exp.data_title([NET_DATASET]))),
            "layerwise_weight_decay")
run.claim(exp.CLAIMS["layerwise_l2_beats_plain"], layerwise)
layerwise.round(4)

# %% [markdown]
# How to read this verdict: these nets are far from converged. At this learning rate (a quarter
# of the largest fraction, which section 6's validation chose at this width) the net without L2
# stays well below section 6's chosen net of the same width, and both kinds of decay raise it.
# One plausible reason, not tested here: decay shrinks the plain net's random initial function
# f0, which section 5 showed keeps plain nets away from the kernel prediction. So the claim
# compares two regularisers of an under-trained net; the paper's claim is about networks trained
# to convergence with tuned hyperparameters (`full` trains longer).

# %% [markdown]
# ## 7 · Trained CNNs: kernel vs network, and what weight sharing buys
#
# The convolutional half of the first finding, and the equivariance finding, with trained
# CNN-VEC networks (`CNN_DEPTH` 3x3 ReLU layers, flattened readout, NTK parameterisation, the
# kernels' sigma_w^2 and sigma_b^2) and their *locally connected* twins: the same layers with a
# separate filter at every position. Without pooling the two have the same infinite-width
# kernel (Novak et al. 2019; `architectures.conv_net`'s test checks it by Monte Carlo), so
# whatever sharing buys is a finite-width effect, and the abstract says it is "only
# beneficial for narrow networks far from the kernel regime". Trained as the FC nets of
# section 6 (learning rate and stopping step chosen on validation). Two cores cannot train
# CNNs on 28x28 images within the budget (~0.5 s per full-batch step for 32 channels at
# n=500), so the images are average-pooled `CNN_NET_POOL` x `CNN_NET_POOL` and the CNN-VEC
# kernel is recomputed on the same pooled images; the `full` profile trains on larger images.
# (The first `cpu` run of this section used widths 4, 16 and 64 and took 294 s, half the
# notebook's budget; 64 channels were cut to 32 for time. That run's verdicts: the 64-channel CNN
# reached 0.776 against the kernel's 0.882, and the locally connected twin was ahead at every
# width, -0.29, -0.07 and -0.02 for shared - local: both claims did not hold. No criterion was
# changed.)

# %%
cnn_split = tuple(exp.pooled(s, CNN_NET_POOL) for s in splits[NET_DATASET])
with run.section("trained_cnns"):
    cnn_cells = exp.cnn_kernel_cells(st, cnn_split, CNN_NET_N_TRAIN)
    cnn_study = exp.compute_cnn_study(cnn_split, CNN_NET_N_TRAIN, CNN_NET_WIDTHS,
                                      CNN_NET_LR_FRACTIONS, CNN_NET_STEPS, NET_N_SEEDS,
                                      CNN_DEPTH, WEIGHT_VAR, BIAS_VAR, SEED)
cnn_chosen, cnn_correct = exp.choose_networks(cnn_study)
kvc = exp.kernel_vs_cnn(cnn_cells, cnn_chosen, cnn_correct)
gaps = exp.sharing_gaps(cnn_chosen, cnn_correct)
run.record_all(exp.cnn_records(kvc, cnn_chosen, gaps, layerwise))
run.savefig(exp.plot_trained_cnns(cnn_chosen, kvc, gaps, CNN_NET_N_TRAIN, cnn_split[0].shape,
                                  run.caption(exp.data_title([NET_DATASET]))), "trained_cnns")
run.claim(exp.CLAIMS["cnn_net_beats_kernel"], kvc)
run.claim(exp.CLAIMS["sharing_helps_narrow_only"], gaps)
cnn_chosen.round(4)

# %%
gaps.round(4)

# %% [markdown]
# How to read these verdicts: every chosen CNN stopped at the budget's last step, most at the
# largest learning rate (`last_step`, `lr_edge` above), so the networks are budget-limited and
# the kernel is not beaten at this profile. On 7x7 images the locally connected twin has about
# 49 times the weights per layer (at 4 channels the CNN has ~2,000 parameters), and within 300
# steps that capacity wins at every width: sharing does not help the narrow nets here, the
# opposite of the abstract's finding. What the measurement does show is the kernel side of the
# finding: the gap between the twins shrinks towards zero as the width grows (the `shrink`
# column), as their equal infinite-width kernels predict. Translation equivariance needs room
# to matter (larger images, pooling, longer training): the `full` profile's 14x14 images and
# 1,000 steps are the next test.

# %% [markdown]
# ## Claims
#
# Each row: the paper's claim (or a check: a control, shown but never counted as a claim that
# holds), its source (the abstract's clause), what we measured, the criterion (fixed in
# `ntkpaper.experiments.nb07_finite_vs_infinite` before the data), and whether it held at this
# profile. Not tested here: the paper's kernel ensembling technique (the abstract does not
# say what it is, and the paper's body could not be read).

# %%
run.finish()
