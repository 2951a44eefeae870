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
# # 04 · The empirical NTK during training: spectrum and alignment
#
# **Papers.** Kopitkov & Indelman 2020, *Neural Spectrum Alignment: Empirical Study* (ICANN);
# Baratin et al. 2021, *Implicit Regularization via Neural Feature Alignment* (AISTATS);
# Lou, Mingard & Hayou 2022, *Feature Learning and Signal Propagation in Deep Neural Networks*
# (ICML, the "equilibrium hypothesis").
#
# **The claim.** A finite network is not a fixed kernel machine: its tangent kernel
# K_t(x, x') = <grad f_t(x), grad f_t(x')> moves during training and turns towards the task.
# Its top eigenvectors come to hold the target's energy (Kopitkov & Indelman); its centred
# alignment with the labels rises, more for real labels than for random ones, and unevenly across
# layers (Baratin et al.); in deep networks the per-layer alignment peaks at a hidden layer whose
# position depends on signal propagation at initialisation (Lou et al.). In the kernel regime
# (NTK parametrization, wide) all of this fades; in muP it does not.
#
# **How it is measured.** `ntkpaper.entk` and `ntkpaper.alignment`: per-layer empirical NTKs
# computed exactly from the dense-layer structure (inputs x backward signals; checked against
# neural-tangents in the tests and ~100-1000x faster than NT's implementations here, see
# `benchmarks/README.md`), kernel-target alignment (centred), kernel distance, spectra, top-k
# energies and a `Recorder` callback for `ntkpaper.training.fit`; the experiments are driven by
# `ntkpaper.experiments.nb04_ntk_alignment`. MLPs from `ntkpaper.parametrization`, no biases,
# full-batch training on the squared loss. Sections 1-3 train standard-parametrization networks
# with Adam, as networks are trained in practice and long enough to fit their training data (an
# earlier draft used NTP with plain gradient descent: those networks stayed near the kernel regime
# and barely fitted random labels or deep ordered-phase nets, so the papers' training-driven
# effects could not show); section 4 contrasts NTP and muP under SGD.

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (the values below are cpu's; smoke and full change
#                  some of them: ntkpaper/pipeline/profiles.py)
SEED = 0  # seed of every random draw
# sections 1-3: standard parametrization trained with Adam (REG_LR etc. = Adam's learning rate);
# section 4: NTP vs muP with SGD (WIDTH_LR = base SGD learning rate)
# 1 · spectrum alignment (Kopitkov & Indelman): 2-D regression, probe = training set
REG_N_TRAIN = 500  # points of the 2-D regression task (also the probe set)
REG_WIDTH = 128  # width of the regression MLP
REG_DEPTH = 3  # hidden layers of the regression MLP
REG_LR = 1e-3  # Adam learning rate
REG_STEPS = 4000  # full-batch training steps
REG_DECAY_AT = 1000  # step at which the decayed run divides its learning rate by 10
N_RECORD = 16  # log-spaced recording steps per run
# 2 · tangent-feature alignment (Baratin et al.): MNIST, true vs partly random labels
LABEL_N_TRAIN = 1000  # MNIST training images for the label study
LABEL_N_PROBE = 500  # training images on which the kernel is measured
LABEL_WIDTH = 256  # width of the label-study MLP
LABEL_DEPTH = 2  # hidden layers of the label-study MLP
LABEL_LR = 1e-3  # Adam learning rate of the label study
LABEL_STEPS = 1000  # steps of the label study
RANDOM_FRACTIONS = [0.0, 0.5]  # shares of training labels replaced at random
N_TEST = 2000  # test images for the generalisation gap
# 3 · layer-wise hierarchy (Lou et al.): deep tanh MLPs on Fashion-MNIST
DEEP_N_TRAIN = 500  # Fashion-MNIST training images for the layer hierarchy
DEEP_N_PROBE = 300  # of which used as the probe set
DEEP_WIDTH = 128  # width of the deep MLPs
DEEP_DEPTH = 12  # hidden layers of the deep MLPs
DEEP_LR = 1e-3  # Adam learning rate of the deep MLPs
DEEP_STEPS = 500  # steps of the deep MLPs
SIGMA_WS = [0.7, 1.0, 1.5]  # initial weight scales: below, at and above the edge of chaos
# 4 · width: NTP vs muP on MNIST
WIDTH_N_TRAIN = 500  # MNIST training images for the width study
WIDTH_N_PROBE = 300  # of which used as the probe set
WIDTHS = [64, 256, 1024]  # widths of the width study
WIDTH_DEPTH = 2  # hidden layers in the width study
WIDTH_LR = 0.5  # base learning rate of the width study (both parametrizations)
WIDTH_STEPS = 200  # steps of the width study
N_SEEDS = 2  # seeds per configuration (sections 3 and 4)

# %%
from ntkpaper import data, pipeline
from ntkpaper.experiments import nb04_ntk_alignment as exp

run = pipeline.start(globals())

# %% [markdown]
# ## 1 · Spectrum alignment (Kopitkov & Indelman)
#
# A ReLU MLP (standard parametrization, Adam) fits a 2-D regression target (a low- and a
# higher-frequency wave; the paper's experiments are 2-D regressions of this kind), once at a
# constant learning rate and once with the rate divided by 10 at `REG_DECAY_AT`. At
# log-spaced steps we record, for the eNTK on the training points: the share of the target's
# energy in the top-k eigenvectors, the share of the network output's energy there, and the top
# eigenvalues.

# %%
x_reg, y_reg = data.regression_task(REG_N_TRAIN, SEED)
reg_title = f"2-D regression (n={REG_N_TRAIN}), MLP {REG_DEPTH}x{REG_WIDTH}"
with run.section("spectrum_alignment"):
    spec, spectra = exp.compute_spectrum_alignment(x_reg, y_reg, REG_WIDTH, REG_DEPTH, REG_LR,
                                                   REG_STEPS, N_RECORD, REG_DECAY_AT, seed=SEED)
run.savefig(exp.plot_spectrum_alignment(spec, spectra, REG_DECAY_AT, run.caption(reg_title)),
            "spectrum_alignment")
spec_summary = exp.spectrum_summary(spec, REG_DECAY_AT)
run.record_all(exp.spectrum_ledger(spec_summary), "reg_")
spec_summary.round(4)

# %%
run.claim(exp.CLAIMS["target_energy_grows"], spec)
run.claim(exp.CLAIMS["output_in_top_span"], spec, n=REG_N_TRAIN)
run.claim(exp.CLAIMS["lr_decay_changes_spectrum"], spec, decay_at=REG_DECAY_AT)

# %% [markdown]
# ## 2 · Tangent-feature alignment with true and random labels (Baratin et al.)
#
# An MLP on MNIST trained on its labels, with a share `RANDOM_FRACTIONS` of the training labels
# replaced at random. Along training: the centred kernel-target alignment of the eNTK (on
# `LABEL_N_PROBE` training images, with the labels being fitted), per layer; the generalisation gap
# (train minus test accuracy); and the tangent-kernel path complexity
# sum_t ||theta_{t+1} - theta_t|| sqrt(tr K_t) / n (`alignment.path_complexity`: our reading of
# Baratin et al.'s complexity of the sequence of tangent-kernel classes along the path).

# %%
x_lab, lab, mnist_title = exp.load_images("mnist", LABEL_N_TRAIN, SEED)
x_te, lab_te, _ = exp.load_images("mnist", N_TEST, SEED, split="test")
label_title = f"{mnist_title} (n={LABEL_N_TRAIN}), MLP {LABEL_DEPTH}x{LABEL_WIDTH}"
with run.section("label_alignment"):
    la = exp.compute_label_alignment(x_lab, lab, x_te, lab_te, 10, RANDOM_FRACTIONS, LABEL_WIDTH,
                                     LABEL_DEPTH, LABEL_LR, LABEL_STEPS, N_RECORD, LABEL_N_PROBE,
                                     seed=SEED)
run.savefig(exp.plot_label_alignment(la, run.caption(label_title)), "label_alignment")
la_end = exp.label_summary(la)
run.record_all(exp.label_ledger(la_end), "label_")
la_end.round(4)

# %%
for claim_id in ("alignment_rises", "alignment_true_vs_random", "layers_differ",
                 "complexity_tracks_gap"):
    run.claim(exp.CLAIMS[claim_id], la)

# %% [markdown]
# ## 3 · The layer-wise alignment hierarchy (Lou et al.)
#
# Deep tanh MLPs (`DEEP_DEPTH` hidden layers, standard parametrization, Adam) on Fashion-MNIST,
# every initial weight scaled by sigma_w: sigma_w^2 < 1 is the ordered phase (inputs' correlations
# flow to 1 with depth), 1 the edge of chaos, > 1 the chaotic phase (correlations decay). After
# `DEEP_STEPS` steps: the centred alignment of each layer's eNTK with the labels, vs layer index.
# The equilibrium hypothesis puts the peak where the forward loss of input information and the
# backward loss of label information balance, so it should move with sigma_w.

# %%
x_deep, lab_deep, fashion_title = exp.load_images("fashion_mnist", DEEP_N_TRAIN, SEED)
deep_title = f"{fashion_title} (n={DEEP_N_TRAIN}), tanh MLP {DEEP_DEPTH}x{DEEP_WIDTH}"
with run.section("layer_hierarchy"):
    hier = exp.compute_layer_hierarchy(x_deep, exp.targets(lab_deep), SIGMA_WS, DEEP_WIDTH,
                                       DEEP_DEPTH, DEEP_LR, DEEP_STEPS, DEEP_N_PROBE, N_SEEDS)
peaks = exp.hierarchy_peaks(hier)
run.record_all(exp.hierarchy_ledger(peaks), "deep_")
run.savefig(exp.plot_layer_hierarchy(hier, run.caption(deep_title)), "layer_hierarchy")
run.claim(exp.CLAIMS["hierarchy_peak_inside"], peaks, depth=DEEP_DEPTH)
run.claim(exp.CLAIMS["peak_moves_with_init"], peaks)
peaks.round(4)

# %% [markdown]
# ## 4 · Width: NTK parametrization vs muP
#
# The same MNIST MLP at several widths, trained `WIDTH_STEPS` steps at one base learning rate in
# NTP and in muP (`ntkpaper.parametrization`). How far the eNTK moved (kernel distance and
# relative Frobenius change from initialisation) and its final alignment, vs width.

# %%
x_w, lab_w, _ = exp.load_images("mnist", WIDTH_N_TRAIN, SEED)
width_title = f"{mnist_title} (n={WIDTH_N_TRAIN}), MLP depth {WIDTH_DEPTH}"
with run.section("width_study"):
    wid = exp.compute_width_study(x_w, exp.targets(lab_w), ["ntp", "mup"], WIDTHS, WIDTH_DEPTH,
                                  WIDTH_LR, WIDTH_STEPS, WIDTH_N_PROBE, N_SEEDS)
run.record_all(exp.width_ledger(wid), "width_")
run.savefig(exp.plot_width(wid, WIDTH_STEPS, run.caption(width_title)), "width")
slopes = exp.width_slopes(wid).rel_change_from_init
run.claim(exp.CLAIMS["ntp_kernel_freezes"], slopes["ntp"])
run.claim(exp.CLAIMS["mup_kernel_moves"], slopes["mup"])
exp.width_means(wid).unstack("width").round(4)

# %% [markdown]
# ## Claims

# %%
run.finish()
