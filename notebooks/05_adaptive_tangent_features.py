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
# model are in its docstring; tests check the equivalences) and `ntkpaper.tangent_experiments`.
# Three models from one initialisation of an MLP (NTK parametrization, ReLU, no biases), all
# fitted by full-batch Adam on the squared loss for the same number of steps: the fixed
# tangent-feature model (ridge penalty), the adaptive one (factored form, its penalty), and the
# network itself. **CIFAR-10 is not available offline here: Fashion-MNIST stands in for it**
# (`full` profile: CIFAR-10 when its archive is present).

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (the values below are cpu's; smoke and full change
#                  some of them: ntkpaper/pipeline/profiles.py)
SEED = 0  # seed of every random draw
# 1-2 · kernel change and rank on the 2-D regression inputs
REG_N = 300  # points of the regression problem
REG_WIDTH = 64  # width of its MLP
REG_DEPTH = 2  # hidden layers of its MLP
# eigenvector bands of the initial eNTK that define the targets
BANDS = {"top": [0, 10], "low": [100, 110]}
LAM = 1e-4  # ridge / factored penalty of the regression fits
# Adam learning rate of the regression fits (penalty and Adam lr of the regression fits (sections
# 1-2))
REG_LR = 1e-3
STEPS = 500  # Adam steps for every fit (Adam steps of every fit)
# section 3: lr 1e-2 so that all three models fit their training sets in 500 full-batch
# steps (at 1e-3 none did: a budget problem, not a finding); penalties chosen per model on
# the validation split at n=VAL_N from LAMS
LR = 1e-2  # Adam learning rate of the sample-complexity fits
LAMS = [1e-4, 1e-3, 1e-2]  # penalties tried on the validation split (section 3)
VAL_N = 300  # training size at which the penalty is chosen
N_VAL = 2000  # validation images
# 3 · sample complexity; CIFAR-10 is replaced by its stand-in when absent
SIZES = [10, 30, 100, 300, 1000, 3000]  # training-set sizes of the sample-complexity study
WIDTH = 128  # width of the classification MLP
DEPTH = 1  # hidden layers of the classification MLP
N_TEST = 2000  # test images
DATASETS = ["mnist", "fashion_mnist"]  # data sets of the sample-complexity study
N_SEEDS = 1  # seeds per size

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ntkpaper import data, session
from ntkpaper.experiments import nb05_adaptive_tangent_features as te

NOTEBOOK = "05_adaptive_tangent_features"
run = session.start(NOTEBOOK, PROFILE, SEED, namespace=globals())
P = run.p

# %% [markdown]
# ## 1 · How the kernel changes: network vs adaptive model
#
# Inputs: the 2-D regression inputs of notebook 04. Two targets built from the initial eNTK's
# eigenvectors (`BANDS`): one from its top eigenvectors (well represented by the initial tangent
# features) and one from far down the spectrum (poorly represented). For each target we fit the
# network and the adaptive model and compare their kernels with the initial eNTK: the centred
# alignment with the target, the relative change, and the cosine between the two kernel changes
# (network K_T - K_0 vs adaptive K' - K_0).

# %%
x_reg, _ = data.regression_task(P.REG_N, SEED)
bands = {k: tuple(v) for k, v in P.BANDS.items()}
targets = te.eigen_targets(x_reg, P.REG_WIDTH, P.REG_DEPTH, bands, SEED)
REG = f"2-D regression inputs (n={P.REG_N}), MLP {P.REG_DEPTH}x{P.REG_WIDTH}"
with run.section("kernel_change"):
    kc, fits = te.compute_kernel_change(x_reg, targets, P.REG_WIDTH, P.REG_DEPTH, P.LAM,
                                        P.STEPS, P.REG_LR, SEED)
for name, fit in fits.items():  # how well each model fitted (relative to the target's energy)
    for which, losses in fit["losses"].items():
        run.ledger.record(f"reg_final_loss_{name}_{which}", losses[-1])
for r in kc.itertuples():
    run.ledger.record(f"kernel_{r.target}_{r.kernel.replace(' ', '_')}_alignment", r.alignment)
    if np.isfinite(r.rel_change):
        run.ledger.record(f"kernel_{r.target}_{r.kernel}_rel_change", r.rel_change)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
kk = kc[kc.kernel != "change cosine"]
sns.barplot(data=kk, x="target", y="alignment", hue="kernel", ax=axes[0])
sns.barplot(data=kk[kk.kernel != "initial"], x="target", y="rel_change", hue="kernel", ax=axes[1])
axes[0].set(ylabel="centred alignment with the target", title=run.caption(REG))
axes[1].set(ylabel="||K - K_0|| / ||K_0||", title=run.caption(REG))
run.savefig(fig, "kernel_change")
kc.round(4)

# %% [markdown]
# ## 2 · Low-rank structure
#
# Singular values of each layer's learned matrix: V of the fixed model (ridge: no rank
# preference), V of the adaptive model (Schatten-2/3: low rank), and the network's weight change
# W_T - W_0, for the two regression fits. "rank" is the number of singular values holding 90%
# of the squared Frobenius norm.

# %%
from ntkpaper import tangent_features as tf

ranks = te.rank_table(fits, 0.9)
for r in ranks.itertuples():
    run.ledger.record(f"rank90_{r.fit}_{r.model}_layer{r.layer}", r.rank)
fig, axes = plt.subplots(1, len(fits), figsize=(5 * len(fits), 3.6), sharey=True)
for ax, (name, fit) in zip(np.atleast_1d(axes), fits.items()):
    for which, mats, ls in (("fixed", fit["v_fixed"], ":"), ("adaptive", fit["v_adaptive"], "-"),
                            ("network", fit["delta_w"], "--")):
        for i, s in enumerate(tf.singular_values(mats)[:-1]):  # hidden-layer matrices
            ax.plot(np.arange(1, len(s) + 1), s / s[0], ls, color=f"C{i}",
                    label=f"{which}, layer {i + 1}")
    ax.set(yscale="log", xscale="log", ylim=(1e-4, 1.5), xlabel="index",
           ylabel="sigma_i / sigma_1", title=f"target '{name}'\n{run.caption(REG)}")
    ax.legend(fontsize=7)
run.savefig(fig, "singular_values")
ranks.pivot_table(index=["fit", "layer"], columns="model", values="rank")

# %% [markdown]
# ## 3 · Sample complexity
#
# Test error vs training-set size (class-balanced subsets) for the three models, on MNIST and on
# Fashion-MNIST (standing in for CIFAR-10), centred one-hot targets, `N_TEST` test images. Every
# model is trained until it (nearly) fits its training set (training errors in the ledger); the
# penalty of each tangent-feature model is chosen from `LAMS` on the validation split at
# n = `VAL_N`. The
# sample-complexity ratio at matched error: how many samples the fixed model needs to reach the
# adaptive model's error at n (interpolated on the fixed model's curve; blank where the fixed
# model never gets there within the sizes measured).

# %%
sc_frames, ratios, chosen = [], [], {}
with run.section("sample_complexity"):
    for name in P.DATASETS:
        try:
            tr = data.load(name, "train", n=max(P.SIZES), seed=SEED)
        except data.DatasetUnavailable as err:  # CIFAR-10 offline: its stand-in, said so
            print(f"{name} unavailable ({str(err).splitlines()[0]}); using stand-in "
                  f"{data.STAND_INS[name]}")
            name = data.STAND_INS[name]
            tr = data.load(name, "train", n=max(P.SIZES), seed=SEED)
        ts = data.load(name, "test", n=P.N_TEST, seed=SEED)
        va = data.load(name, "val", n=P.N_VAL, seed=SEED)
        x_tr = data.standardize_per_example(tr.x)
        val = te.choose_lam(x_tr[:P.VAL_N], tr.y[:P.VAL_N], data.standardize_per_example(va.x),
                            va.y, P.LAMS, tr.n_classes, P.WIDTH, P.DEPTH, P.STEPS, P.LR, SEED)
        lam = val.loc[val.groupby("model").val_error.idxmin()].set_index("model").lam.to_dict()
        chosen[tr.meta["title"]] = lam
        df = te.compute_sample_complexity(
            x_tr, tr.y, data.standardize_per_example(ts.x), ts.y,
            P.SIZES, tr.n_classes, P.WIDTH, P.DEPTH, lam, P.STEPS, P.LR, P.N_SEEDS)
        df["data"] = tr.meta["title"]
        sc_frames.append(df)
        rt = te.matched_error_ratio(df)
        rt["data"] = tr.meta["title"]
        ratios.append(rt)
sc, ratio = pd.concat(sc_frames, ignore_index=True), pd.concat(ratios, ignore_index=True)
for r in sc.groupby(["data", "model", "n"])[["test_error", "train_error"]].mean() \
        .reset_index().itertuples():
    run.ledger.record(f"test_error_{r.data.split()[0].lower()}_{r.model}_n{r.n}", r.test_error)
    run.ledger.record(f"train_error_{r.data.split()[0].lower()}_{r.model}_n{r.n}", r.train_error)
for title, lam in chosen.items():
    for which, v in lam.items():
        run.ledger.record(f"lam_{title.split()[0].lower()}_{which}", v)
print("penalties chosen on validation:", chosen)
for r in ratio.itertuples():
    if np.isfinite(r.ratio):
        run.ledger.record(f"ratio_{r.data.split()[0].lower()}_n{r.n}", r.ratio)
titles = list(dict.fromkeys(sc.data))
fig, axes = plt.subplots(1, len(titles), figsize=(5.5 * len(titles), 3.8), sharey=True)
for ax, title in zip(np.atleast_1d(axes), titles):
    sns.lineplot(data=sc[sc.data == title], x="n", y="test_error", hue="model", marker="o", ax=ax)
    ax.set(xscale="log", yscale="log", xlabel="training samples", ylabel="test error",
           title=f"{title}, MLP {P.DEPTH}x{P.WIDTH}, profile {run.profile}")
run.savefig(fig, "sample_complexity")
ratio.round(3)

# %% [markdown]
# ## Claims

# %%
L = run.ledger
kci = kc.set_index(["target", "kernel"])
good, bad = list(bands)
cos = {t: kci.loc[(t, "change cosine"), "alignment"] for t in bands}
L.claim("kernel_change_predicted", "The adaptive model's kernel change points the way the trained "
        "network's eNTK changes", ", ".join(f"{t}: cosine {c:.2f}" for t, c in cos.items()),
        "cosine > 0.3 for both targets", min(cos.values()) > 0.3)
for t in bands:
    a0, an = kci.loc[(t, "initial"), "alignment"], kci.loc[(t, "network"), "alignment"]
    aa = kci.loc[(t, "adaptive"), "alignment"]
    L.claim(f"alignment_rises_{t}", f"Training raises the kernel's alignment with the target "
            f"('{t}' target)", f"initial {a0:.3f}, network {an:.3f}, adaptive {aa:.3f}",
            "network > initial", an > a0)
top = ranks[ranks.layer < ranks.layer.max()].groupby("model")["rank"].mean()
L.claim("adaptive_low_rank", "The adaptive model's per-layer matrices have lower rank than the "
        "fixed model's", f"mean 90%-energy rank of hidden-layer matrices: adaptive "
        f"{top['adaptive']:.1f}, fixed {top['fixed']:.1f}, network change {top['network']:.1f}",
        "adaptive < fixed", top["adaptive"] < top["fixed"])
err = sc.groupby(["data", "model", "n"]).test_error.mean()
for title in titles:
    e = err[title]
    wins = int(np.sum(e["adaptive"] < e["fixed"]))
    r = ratio[ratio.data == title].ratio
    L.claim(f"adaptive_beats_fixed_{title.split()[0].lower()}",
            f"{title}: the adaptive model has lower test error than the fixed tangent-feature "
            "model", f"lower at {wins} of {len(e['fixed'])} sizes", "lower at every size",
            wins == len(e["fixed"]))
    med = float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan")
    L.claim(f"order_of_magnitude_{title.split()[0].lower()}",
            f"{title}: the fixed model needs ~10x the samples to match the adaptive model "
            "(LeJeune & Alemohammad)", f"median ratio {med:.2f} over "
            f"{int(np.isfinite(r).sum())} matched sizes", "median ratio >= 5",
            bool(np.isfinite(med) and med >= 5))
run.finish()
