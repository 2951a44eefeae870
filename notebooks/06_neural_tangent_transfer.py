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
# # 06 · Label-free sparse networks by Neural Tangent Transfer
#
# **Paper.** Liu & Zenke 2020, *Finding trainable sparse networks through Neural Tangent
# Transfer* (ICML).
#
# **The claim.** A sparse network that, on unlabelled inputs, reproduces the outputs *and the
# empirical NTK* of the dense network at initialisation trains faster and to higher accuracy than
# sparse networks found at initialisation by label-dependent pruning (SNIP) or at random. The
# paper's public demo: LeNet-300-100 on MNIST at 3% density, about 96.5% test accuracy for NTT
# vs about 93% for a random sparse network, with full-length training.
#
# **What runs here.** Two protocols, side by side. Section 1 runs NTT as the official code does
# (`ntkpaper.ntt`, driven by `ntkpaper.experiments.nb06_neural_tangent_transfer`): the paper's loss, network,
# preprocessing and baselines, with shorter budgets on 2 cores. Sections 2-5 keep our earlier
# variant (`ntkpaper.sparsity`, driven by `ntkpaper.experiments.nb06_neural_tangent_transfer`):
# LeNet-300-100 without biases (He-normal init), raw [0, 1] pixels, the output layer left dense,
# pruned baselines rescaled per layer to the dense layer's norm (`sparsity.rescale`), and an NTT
# that minimises relative output and output-averaged eNTK errors (kept weights only) for
# `NTT_STEPS` steps, with the mask recomputed every `MASK_EVERY` steps. Every sparse network is
# then trained on labels with its mask fixed (Adam, cross-entropy), next to the dense network.
# Training is short in both (`TRAIN_EPOCHS` epochs on `N_TRAIN` images in sections 2-5): compare
# methods with each other at equal budget, not with the paper's absolute numbers. The `full`
# profile trains longer and adds a LeNet-5 CNN (section 5; its eNTK from per-example Jacobians).

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (values below are cpu's; profiles.py holds the changes)
SEED = 0  # seed of the data draws (initialisations use seeds 0 .. N_SEEDS - 1)
# 1 · the official protocol (ntkpaper.ntt); its budgets are the code's where not said otherwise
OFFICIAL_DENSITIES = [0.03]  # densities of every layer, output included (the demo's: 3%)
OFFICIAL_METHODS = ["ntt", "ntt_output_only", "random", "magnitude", "snip_layerwise", "snip"]
OFFICIAL_N_TRAIN = 10000  # training images (the code: 60,000 less a 0.2% validation split)
OFFICIAL_NTT_STEPS = 4000  # transfer steps at batch 64 (the code: 20 epochs, 18,720 steps)
OFFICIAL_TRAIN_STEPS = 5000  # supervised iterations at batch 64 (the demo: 50 epochs of
#                              54,000 images, 42,200)
OFFICIAL_N_SEEDS = 3  # teachers (initialisations) per configuration (the paper: 5)
OFFICIAL_CNN_DENSITIES = []  # LeNet-5-Caffe densities ([] skips section 1b: a GPU's work)
OFFICIAL_CNN_METHODS = ["ntt", "random", "snip_layerwise"]  # methods compared on LeNet-5-Caffe
OFFICIAL_CNN_NTT_STEPS = 2000  # its transfer steps
OFFICIAL_CNN_TRAIN_STEPS = 5000  # its supervised iterations
OFFICIAL_CNN_NTT_BATCH = 64  # its inputs per transfer step (the code: 64)
# 2-5 · our earlier variant (ntkpaper.sparsity)
DIMS = [784, 300, 100, 10]  # layer sizes of the MLP (LeNet-300-100, no biases)
N_TRAIN = 5000  # training images (NTT sees them without labels)
N_TEST = 5000  # test images
DENSITIES = [0.01, 0.03, 0.1]  # shares of hidden-layer weights kept on MNIST (output layer dense)
METHODS = ["random", "random_unscaled", "magnitude", "snip", "snip_layerwise", "ntt"]  # compared
N_SEEDS = 3  # initialisations per configuration
TRAIN_EPOCHS = 5  # supervised epochs (Adam, cross-entropy, mask fixed)
TRAIN_BATCH = 128  # supervised mini-batch size
TRAIN_LR = 1e-3  # supervised Adam learning rate
NTT_STEPS = 150  # label-free transfer steps
NTT_BATCH = 32  # unlabelled inputs per transfer step
NTT_LR = 1e-3  # transfer Adam learning rate
MASK_EVERY = 50  # transfer steps between mask updates
FASHION_DENSITIES = [0.03]  # densities on Fashion-MNIST (second data set)
CNN_DENSITIES = []  # LeNet-5 densities on MNIST ([] skips section 5)
CNN_METHODS = ["random", "magnitude", "snip", "ntt"]  # pruning methods compared on LeNet-5

# %%
from IPython.display import display

from ntkpaper import pipeline
from ntkpaper.experiments import nb06_neural_tangent_transfer as exp

run = pipeline.start(globals())
# the training protocol shared by every section (the sections differ in data, densities, network)
protocol = dict(dims=DIMS, n_train=N_TRAIN, n_test=N_TEST, seed=SEED, n_seeds=N_SEEDS,
                epochs=TRAIN_EPOCHS, batch=TRAIN_BATCH, lr=TRAIN_LR, ntt_steps=NTT_STEPS,
                ntt_batch=NTT_BATCH, ntt_lr=NTT_LR, mask_every=MASK_EVERY)

# %% [markdown]
# ## 1 · The official protocol
#
# `ntkpaper.ntt` follows the official code (fmi-basel/neural-tangent-transfer) rule by rule: its
# docstring lists them. LeNet-300-100 with biases, glorot-normal weights; images standardised by
# the training set's mean and std; every layer pruned to the same density, the output layer
# included. NTT starts from the teacher's magnitude mask and minimises, on batches of 64
# unlabelled images, the mean squared output distance to the dense teacher plus 1e-3 times the
# mean squared distance between the full (32 x 32 x 10 x 10) empirical NTKs on the batch's two
# halves, plus (1e-4 / density) times the squared norm of the kept weights; Adam 5e-4, the mask
# recomputed from weight magnitudes every 100 steps. Baselines prune the same teacher without
# rescaling: the code's random masks and SNIP layer by layer (on the first 100 labelled images);
# ours besides: magnitude (NTT's starting mask), SNIP over all layers pooled, and
# `ntt_output_only`, the same transfer without the kernel term (an ablation). Supervised
# training as the demo: Adam 1e-3, batch 64, cross-entropy plus 1e-8 L2, test accuracy every 100
# iterations (from iteration 0; the code records after iterations 1, 101, ...). **Budgets are cut** to fit 2 cores: `OFFICIAL_NTT_STEPS` transfer steps
# and `OFFICIAL_TRAIN_STEPS` iterations on `OFFICIAL_N_TRAIN` images (the parameters cell gives
# the code's values). The four claims and their margins (2 standard errors over teachers, paired)
# were fixed before the first run.
#
# **What the code's kernel is.** The student's NTK in the official loss is taken at the masked
# weights but with respect to *every* weight, pruned ones included (`empirical_ntk_fn(apply_fn)`
# called on the masked parameters). The sparse network's own NTK, which governs how it trains,
# has derivatives with respect to the kept weights only. We log both distances.

# %%
with run.section("official"):
    o_curves, o_log, o_title = exp.compute_official(
        "mnist", OFFICIAL_DENSITIES, OFFICIAL_METHODS, OFFICIAL_N_TRAIN, N_TEST,
        OFFICIAL_N_SEEDS, SEED, OFFICIAL_NTT_STEPS, OFFICIAL_TRAIN_STEPS)
o_summary = exp.official_summary(o_curves)
o_transfer = exp.transfer_summary(o_log)
run.record_all(exp.official_values(o_summary, o_transfer))
o_rho = exp.closest_density(OFFICIAL_DENSITIES, 0.03)
run.savefig(exp.plot_official(o_curves, o_log, o_rho, run.caption(
    f"{o_title}, LeNet-300-100, official protocol")), "official_mnist")
for name in ("official_ntt_beats_random", "official_ntt_beats_snip", "official_ntt_trains_faster",
             "official_kernel_term_helps"):
    run.claim(exp.CLAIMS[name], o_curves, OFFICIAL_DENSITIES)
run.claim(exp.CLAIMS["official_kernel_transferred"], o_log, OFFICIAL_DENSITIES)
display(o_transfer.round(3))
o_summary.round(4)

# %% [markdown]
# How to read it (3 teachers, 3% density, 4,000 transfer and 5,000 training steps): NTT
# reaches 0.941 against 0.905 for the random sparse net (+0.036 +- 0.003, paired), the gap of
# the official demo (its saved outputs, 2 runs after 50 epochs: 96.46% and 96.46% against
# 93.78% and 93.15%), at lower absolute accuracy because training is an eighth as long. It learns
# faster from the start (mean accuracy over the first 1,000 iterations +0.15 over random; the
# demo at iteration 1,001: about 93.0% against 88.7% and 87.1%), and it beats layer-wise SNIP
# by far: at 3% in every
# layer SNIP's saliency leaves 3 to 5 of the 10 output units without a single incoming weight
# (`dead outputs` in the table: 4 on average), so those classes are never predicted (0.663 +-
# 0.094). The kernel term adds
# little over matching outputs alone (+0.004 +- 0.002: the claim holds, barely), and SNIP with
# its budget pooled over layers, a labelled method outside the paper's layer-wise setting, ties
# NTT (0.944). The kernel the loss matches is the code's: with respect to every weight, pruned
# ones included. Its distance to the teacher's falls from 0.97 to 0.10 (relative to the
# teacher's mean squared entry), while the sparse network's own kernel, over the kept weights,
# only goes from 0.99 to 0.83: the transfer matches a kernel the sparse network does not train
# with.

# %% [markdown]
# ### 1b · LeNet-5-Caffe under the official protocol (`full` profile)
#
# The paper's CNN (conv 5x5x20, max-pool, conv 5x5x50, max-pool, dense 500, 10; 431,080
# parameters), pruned layer-wise as above; its full kernels come from per-example Jacobians
# (neural-tangents), minutes per hundred steps on 2 cores, so this section runs at `full` only
# (`OFFICIAL_CNN_DENSITIES` empty here: its claim is then not tested). The official CNN demo's
# saved outputs (MNIST, 3%, 2 runs): NTT 98.18% and 98.17% against random 96.43% and 97.02%.

# %%
if OFFICIAL_CNN_DENSITIES:
    with run.section("official_lenet5"):
        c_curves, c_log, _ = exp.compute_official(
            "mnist", OFFICIAL_CNN_DENSITIES, OFFICIAL_CNN_METHODS, OFFICIAL_N_TRAIN, N_TEST,
            OFFICIAL_N_SEEDS, SEED, OFFICIAL_CNN_NTT_STEPS, OFFICIAL_CNN_TRAIN_STEPS,
            arch="lenet5_caffe", ntt_batch=OFFICIAL_CNN_NTT_BATCH)
    c_summary = exp.official_summary(c_curves)
    run.record_all({f"lenet5_{k}": v for k, v in exp.official_values(
        c_summary, exp.transfer_summary(c_log)).items()})
    run.claim(exp.CLAIMS["official_ntt_beats_random_lenet5"], c_curves,
              OFFICIAL_CNN_DENSITIES)
    display(c_summary.round(4))
else:
    print("LeNet-5-Caffe skipped at this profile (OFFICIAL_CNN_DENSITIES is empty): its claim "
          "is not tested")

# %% [markdown]
# ## 2 · Our earlier variant on MNIST: accuracy after training, per method and density
#
# Final test accuracy (mean and spread over `N_SEEDS` initialisations) vs density; the dense
# network as a horizontal line. Inputs: pixel values in [0, 1], flattened. Besides our earlier
# baselines (random and magnitude masks with the kept weights rescaled to the dense layer's norm,
# SNIP over all hidden layers at once), the paper's own: a random mask with the initial weights
# kept as they are (`random_unscaled`; the official code does not rescale) and SNIP chosen layer
# by layer (`snip_layerwise`, the layer-wise setting the paper compares in). The two claims
# against those use margins of 2 standard errors over seeds, paired by initialisation. Our NTT is
# still the earlier variant (relative losses, the output-averaged kernel, 150 transfer steps);
# the official loss and budgets are issue 18's next step.

# %%
with run.section("mnist"):
    curves, ntt_log, mnist_title = exp.compute_study("mnist", DENSITIES, METHODS, **protocol)
final = exp.final_accuracy(curves, TRAIN_EPOCHS)
summary = exp.accuracy_table(final, dense=False)
run.record_all(exp.accuracy_values(summary, "mnist", std=True))
run.record("acc_mnist_dense", exp.dense_accuracy(final))
run.savefig(exp.plot_accuracy_vs_density(final, TRAIN_EPOCHS,
                                         run.caption(f"{mnist_title} (n={N_TRAIN})")),
            "accuracy_vs_density_mnist")
rho3 = exp.closest_density(DENSITIES, 0.03)
for other in ("random", "snip", "magnitude"):
    run.claim(exp.CLAIMS[f"ntt_beats_{other}_mnist"], summary, DENSITIES)
run.claim(exp.CLAIMS["ntt_beats_snip_layerwise_mnist"], final, DENSITIES)
run.claim(exp.CLAIMS["ntt_beats_unscaled_random_mnist"], final, DENSITIES)
run.claim(exp.CLAIMS["demo_gap_3pct"], summary, rho3, TRAIN_EPOCHS, N_TRAIN)
summary.round(4)

# %% [markdown]
# How to read it (3 seeds): against the paper's own baselines our short NTT (150 transfer steps)
# wins clearly only where the baselines are weakest. Against layer-wise SNIP it is ahead at every
# density (+0.081 +- 0.057 at 1%, +0.039 +- 0.012 at 3%, +0.0013 +- 0.0007 at 10%), but beyond 2
# standard errors only at 3%. Against the unrescaled random mask it wins big at 1% (+0.117 +-
# 0.049) and ties at 3% and 10%. So the two new claims fail as stated. Global SNIP is stronger
# than layer-wise SNIP at 1% (0.688 against 0.602), and rescaling helps random masks at 1% but
# hurts them at 3%: the baselines' details move accuracies by several points at this budget.

# %% [markdown]
# ## 3 · Training curves at 3% density, and the label-free transfer
#
# Left: test accuracy during supervised training at the density closest to 3% (epoch 0 = right
# after pruning / transfer). Right: NTT's relative output error and relative eNTK error to the
# dense teacher during transfer (measured on 256 training images; NTT never sees labels).

# %%
run.savefig(exp.plot_curves_and_transfer(curves, ntt_log, rho3, run.caption(mnist_title)),
            "curves_and_transfer_mnist")
ntt_end = exp.transfer_errors(ntt_log)
run.record_all(exp.transfer_values(ntt_end, DENSITIES))
run.claim(exp.CLAIMS["label_free_transfer"], ntt_end, DENSITIES)
exp.transfer_table(ntt_end).round(4)

# %% [markdown]
# ## 4 · Fashion-MNIST

# %%
with run.section("fashion"):
    f_final, f_summary, fashion_title = exp.compute_accuracy_study(
        "fashion_mnist", FASHION_DENSITIES, METHODS, **protocol)
run.record_all(exp.accuracy_values(f_summary, "fashion"))
run.savefig(exp.plot_accuracy_bars(f_final, "LeNet-300-100", run.caption(fashion_title)),
            "accuracy_fashion")
run.claim(exp.CLAIMS["ntt_beats_random_fashion"], f_summary, FASHION_DENSITIES)
f_summary.round(4)

# %% [markdown]
# ## 5 · LeNet-5 on MNIST (`full` profile)
#
# A CNN in the spirit of the paper's: conv 5x5x6, pool, conv 5x5x16, pool, dense 120, 84, 10
# (ReLU, no biases; the classic LeNet-5, smaller than the paper's LeNet-5-Caffe); the same
# methods, with every layer but the output pruned. Skipped when `CNN_DENSITIES` is empty (the
# `cpu` profile: NTT's Jacobian eNTK of a CNN costs minutes per density on 2 cores), and then
# its claim is not tested (it is not in the ledger).

# %%
if CNN_DENSITIES:
    with run.section("lenet5"):
        c_final, c_summary, lenet5_data_title = exp.compute_accuracy_study(
            "mnist", CNN_DENSITIES, CNN_METHODS, arch="lenet5", **protocol)
    run.record_all(exp.accuracy_values(c_summary, "lenet5"))
    run.savefig(exp.plot_accuracy_bars(c_final, "LeNet-5", run.caption(lenet5_data_title)),
                "accuracy_lenet5_mnist")
    run.claim(exp.CLAIMS["ntt_beats_random_lenet5"], c_summary, CNN_DENSITIES)
    display(c_summary.round(4))
else:
    print("LeNet-5 section skipped at this profile (CNN_DENSITIES is empty): its claim is not "
          "tested")

# %% [markdown]
# ## Claims
#
# Each claim was tested right after the figure that is its evidence; the table gathers them
# (checks are controls, not counted as the paper's claims held).

# %%
run.finish()
