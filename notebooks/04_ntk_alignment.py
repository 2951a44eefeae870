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
# **How it is measured.** `ntkpaper.alignment`: per-layer empirical NTKs computed exactly from
# the dense-layer structure (inputs x backward signals; checked against neural-tangents in the
# tests and ~100-1000x faster than NT's implementations here, see `benchmarks/README.md`),
# kernel-target alignment (centred), kernel distance, spectra, top-k energies and a `Recorder`
# callback for `ntkpaper.training.fit`. MLPs from `ntkpaper.parametrization`, no biases,
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
REG_N = 500  # points of the 2-D regression task (also the probe set)
REG_WIDTH = 128  # width of the regression MLP
REG_DEPTH = 3  # hidden layers of the regression MLP
REG_LR = 1e-3  # Adam learning rate
REG_STEPS = 4000  # gradient-descent steps
REG_DECAY_AT = 1000  # step at which the decayed run divides its learning rate by 10
N_RECORD = 16  # log-spaced recording steps per run
# 2 · tangent-feature alignment (Baratin et al.): MNIST, true vs partly random labels
LABEL_N = 1000  # MNIST training images for the label study
LABEL_PROBE = 500  # training images on which the kernel is measured
LABEL_WIDTH = 256  # width of the label-study MLP
LABEL_DEPTH = 2  # hidden layers of the label-study MLP
LABEL_LR = 1e-3  # Adam learning rate of the label study
LABEL_STEPS = 1000  # steps of the label study
RANDOM_FRACTIONS = [0.0, 0.5]  # shares of training labels replaced at random
N_TEST = 2000  # test images for the generalisation gap
# 3 · layer-wise hierarchy (Lou et al.): deep tanh MLPs on Fashion-MNIST
DEEP_N = 500  # Fashion-MNIST training images for the layer hierarchy
DEEP_PROBE = 300  # of which used as the probe set
DEEP_WIDTH = 128  # width of the deep MLPs
DEEP_DEPTH = 12  # hidden layers of the deep MLPs
DEEP_LR = 1e-3  # Adam learning rate of the deep MLPs
DEEP_STEPS = 500  # steps of the deep MLPs
# initial weight scales (ordered, critical, chaotic) (ordered, edge of chaos, chaotic (tanh, no
# biases))
SIGMA_WS = [0.7, 1.0, 1.5]
# 4 · width: NTP vs muP on MNIST
WIDTH_N = 500  # MNIST training images for the width study
WIDTH_PROBE = 300  # of which used as the probe set
WIDTHS = [64, 256, 1024]  # widths of the width study
WIDTH_DEPTH = 2  # hidden layers in the width study
WIDTH_LR = 0.5  # base learning rate of the width study (both parametrizations)
WIDTH_STEPS = 200  # steps of the width study
N_SEEDS = 2  # seeds per configuration (sections 3 and 4)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ntkpaper import data, session
from ntkpaper.experiments import nb04_ntk_alignment as nd
from ntkpaper.stats import fit_power_law

NOTEBOOK = "04_ntk_alignment"
run = session.start(NOTEBOOK, PROFILE, SEED, namespace=globals())
P = run.p


def mnist_like(name, n, seed=SEED, split="train"):
    ds = data.load(name, split, n=n, seed=seed)
    return data.standardize_per_example(ds.x), ds.y, ds.meta["title"]


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
x_reg, y_reg = data.regression_task(P.REG_N, SEED)
REG = f"2-D regression (n={P.REG_N}), MLP {P.REG_DEPTH}x{P.REG_WIDTH}"
with run.section("spectrum_alignment"):
    spec, spectra = nd.compute_spectrum_alignment(x_reg, y_reg, P.REG_WIDTH, P.REG_DEPTH,
                                                  P.REG_LR, P.REG_STEPS, P.N_RECORD,
                                                  P.REG_DECAY_AT, seed=SEED)
s_all = spec[spec.layer == "all"].pivot_table(index=["run", "step"], columns="metric",
                                              values="value")
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for run_name, g in s_all.groupby(level="run"):
    st = g.index.get_level_values("step")
    st = np.maximum(st, 0.5)  # step 0 drawn at 0.5 on the log axis
    ls = "-" if run_name == "constant lr" else "--"
    for k, c in ((10, "C0"), (50, "C1")):
        axes[0].plot(st, g[f"energy_target_top{k}"], ls, color=c, label=f"target, top {k} ({run_name})")
        axes[1].plot(st, g[f"energy_output_top{k}"], ls, color=c, label=f"output, top {k} ({run_name})")
    lam = np.stack([spectra[run_name][s][:5] for s in g.index.get_level_values("step")])
    for i in range(5):
        axes[2].plot(st, lam[:, i], ls, color=f"C{i}", label=f"lambda_{i + 1}" if ls == "-" else None)
axes[2].axvline(P.REG_DECAY_AT, color="grey", lw=0.8)
for ax, yl in zip(axes, ["share of target energy", "share of output energy", "eigenvalue"]):
    ax.set(xscale="log", xlabel="step", ylabel=yl, title=run.caption(REG))
axes[2].set_yscale("log")
axes[0].legend(fontsize=7)
axes[1].legend(fontsize=7)
axes[2].legend(fontsize=7, title="solid: constant lr, dashed: decay", title_fontsize=7)
run.savefig(fig, "spectrum_alignment")
last = s_all.index.get_level_values("step").max()
spec_summary = s_all.loc[(slice(None), [0, P.REG_DECAY_AT, last]),
                         ["energy_target_top10", "energy_target_top50", "energy_output_top10",
                          "energy_output_top50", "top_eigenvalue", "effective_rank", "loss"]]
for (rn, st), r in spec_summary.iterrows():
    for m in ("energy_target_top10", "energy_output_top10", "top_eigenvalue"):
        run.ledger.record(f"reg_{m}_{rn.replace(' ', '_')}_step{st}", r[m])
spec_summary.round(4)

# %% [markdown]
# ## 2 · Tangent-feature alignment with true and random labels (Baratin et al.)
#
# An MLP on MNIST trained on its labels, with a share `RANDOM_FRACTIONS` of the training labels
# replaced at random. Along training: the centred kernel-target alignment of the eNTK (on
# `LABEL_PROBE` training images, with the labels being fitted), per layer; the generalisation gap
# (train minus test accuracy); and the tangent-kernel path complexity
# sum_t ||theta_{t+1} - theta_t|| sqrt(tr K_t) / n (`alignment.path_complexity`: our reading of
# Baratin et al.'s complexity of the sequence of tangent-kernel classes along the path).

# %%
x_lab, lab, TITLE = mnist_like("mnist", P.LABEL_N)
x_te, lab_te, _ = mnist_like("mnist", P.N_TEST, split="test")
LAB = f"{TITLE} (n={P.LABEL_N}), MLP {P.LABEL_DEPTH}x{P.LABEL_WIDTH}"
with run.section("label_alignment"):
    la = nd.compute_label_alignment(x_lab, lab, x_te, lab_te, 10, P.RANDOM_FRACTIONS,
                                    P.LABEL_WIDTH, P.LABEL_DEPTH, P.LABEL_LR, P.LABEL_STEPS,
                                    P.N_RECORD, P.LABEL_PROBE, seed=SEED)
la["step_plot"] = la.step.clip(lower=0.5)
fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
panels = [("alignment", "all", "centred alignment (whole eNTK)"),
          ("alignment", None, "centred alignment per layer"),
          ("gap", "all", "train - test accuracy"),
          ("path_complexity", "all", "path complexity")]
for ax, (metric, layer, yl) in zip(axes, panels):
    d = la[la.metric == metric]
    if layer is None:
        d = d[d.layer != "all"]
        sns.lineplot(data=d, x="step_plot", y="value", hue="layer", style="random_fraction",
                     ax=ax)
    else:
        d = d[d.layer == layer]
        sns.lineplot(data=d, x="step_plot", y="value", hue="random_fraction", ax=ax,
                     palette="rocket")
    ax.set(xscale="log", xlabel="step", ylabel=yl, title=run.caption(LAB))
run.savefig(fig, "label_alignment")
la_end = la[la.step.isin([0, la.step.max()])].pivot_table(
    index=["random_fraction", "step"], columns=["metric", "layer"], values="value")
keep = [("alignment", "all"), ("alignment", "1"), ("alignment", "2"), ("alignment", "3"),
        ("train_acc", "all"), ("test_acc", "all"), ("gap", "all"), ("path_complexity", "all")]
keep = [c for c in keep if c in la_end.columns]
for (frac, st), r in la_end[keep].iterrows():
    for (m, layer), v in r.items():
        run.ledger.record(f"label_{m}_{layer}_rand{frac:g}_step{st}", v)
la_end[keep].round(4)

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
x_deep, lab_deep, TITLE_F = mnist_like("fashion_mnist", P.DEEP_N)
y_deep = data.one_hot(lab_deep, 10, "centered").astype(np.float32)
DEEP = f"{TITLE_F} (n={P.DEEP_N}), tanh MLP {P.DEEP_DEPTH}x{P.DEEP_WIDTH}"
with run.section("layer_hierarchy"):
    hier = nd.compute_layer_hierarchy(x_deep, y_deep, P.SIGMA_WS, P.DEEP_WIDTH, P.DEEP_DEPTH,
                                      P.DEEP_LR, P.DEEP_STEPS, P.DEEP_PROBE, P.N_SEEDS)
h_al = hier[hier.metric == "alignment"]
h_mean = h_al.groupby(["sigma_w", "step", "layer"]).value.mean().reset_index()
final = h_mean[h_mean.step == P.DEEP_STEPS]
peaks = final.loc[final.groupby("sigma_w").value.idxmax()].set_index("sigma_w")
h_loss = hier[hier.metric == "loss"].groupby("sigma_w").value.mean()
for sw, r in peaks.iterrows():
    run.ledger.record(f"deep_peak_layer_sigma{sw:g}", r.layer)
    run.ledger.record(f"deep_peak_alignment_sigma{sw:g}", r.value)
    run.ledger.record(f"deep_final_loss_sigma{sw:g}", h_loss[sw])
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, step in zip(axes, (0, P.DEEP_STEPS)):
    sns.lineplot(data=h_al[h_al.step == step], x="layer", y="value", hue="sigma_w", marker="o",
                 ax=ax, palette="coolwarm")
    ax.set(xlabel="layer (1 = input weights)", ylabel="centred alignment of K_l",
           title=f"step {step}: {run.caption(DEEP)}")
run.savefig(fig, "layer_hierarchy")
pd.DataFrame({"peak layer": peaks.layer, "peak alignment": peaks.value,
              "final loss": h_loss}).round(4)

# %% [markdown]
# ## 4 · Width: NTK parametrization vs muP
#
# The same MNIST MLP at several widths, trained `WIDTH_STEPS` steps at one base learning rate in
# NTP and in muP (`ntkpaper.parametrization`). How far the eNTK moved (kernel distance and
# relative Frobenius change from initialisation) and its final alignment, vs width.

# %%
x_w, lab_w, _ = mnist_like("mnist", P.WIDTH_N)
y_w = data.one_hot(lab_w, 10, "centered").astype(np.float32)
WID = f"{TITLE} (n={P.WIDTH_N}), MLP depth {P.WIDTH_DEPTH}"
with run.section("width_study"):
    wid = nd.compute_width_study(x_w, y_w, ["ntp", "mup"], P.WIDTHS, P.WIDTH_DEPTH, P.WIDTH_LR,
                                 P.WIDTH_STEPS, P.WIDTH_PROBE, P.N_SEEDS)
w_mean = wid.groupby(["parametrization", "metric", "width"]).value.mean()
w_slope = {}
for nm in ("ntp", "mup"):
    for metric in ("rel_change_from_init", "distance_from_init"):
        g = w_mean[(nm, metric)]
        w_slope[(nm, metric)] = fit_power_law(g.index, g.to_numpy())[0]
        run.ledger.record(f"width_slope_{metric}_{nm}", w_slope[(nm, metric)])
    for w, v in w_mean[(nm, "alignment")].items():
        run.ledger.record(f"width_alignment_{nm}_w{w}", v)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for nm in ("ntp", "mup"):
    g = w_mean[(nm, "rel_change_from_init")]
    axes[0].plot(g.index, g, "o-",
                 label=f"{nm} (slope {w_slope[(nm, 'rel_change_from_init')]:.2f})")
    axes[1].plot(w_mean[(nm, "alignment_init")].index, w_mean[(nm, "alignment_init")], "o:",
                 label=f"{nm}, init")
    axes[1].plot(w_mean[(nm, "alignment")].index, w_mean[(nm, "alignment")], "o-",
                 label=f"{nm}, step {P.WIDTH_STEPS}")
axes[0].set(xscale="log", yscale="log", xlabel="width", ylabel="||K_T - K_0|| / ||K_0||",
            title=run.caption(WID))
axes[1].set(xscale="log", xlabel="width", ylabel="centred alignment", title=run.caption(WID))
for ax in axes:
    ax.legend(fontsize=8)
run.savefig(fig, "width")
w_mean.unstack("width").round(4)

# %% [markdown]
# ## Claims

# %%
L = run.ledger
c, d = s_all.loc["constant lr"], s_all.loc["lr decay"]
L.claim("target_energy_grows", "The top-10 eNTK eigenvectors hold a growing share of the "
        "target's energy during training (Kopitkov & Indelman; constant lr)",
        f"{c.energy_target_top10.iloc[0]:.3f} at step 0 -> {c.energy_target_top10.iloc[-1]:.3f} "
        f"at step {last} (max {c.energy_target_top10.max():.3f}; with lr decay "
        f"{d.energy_target_top10.iloc[-1]:.3f})", "higher at the end, by > 0.05",
        c.energy_target_top10.iloc[-1] > c.energy_target_top10.iloc[0] + 0.05)
out50 = c.energy_output_top50.iloc[1:]
L.claim("output_in_top_span", "The network output stays almost entirely in the span of the top "
        "eNTK eigenvectors", f"share in the top 50 (of {P.REG_N}): min {out50.min():.3f} over "
        "steps >= 1", ">= 0.95 at every recorded step >= 1", bool(out50.min() >= 0.95))
lam_c, lam_d = c.top_eigenvalue.iloc[-1], d.top_eigenvalue.iloc[-1]
lam_at = c.top_eigenvalue[c.index >= P.REG_DECAY_AT].iloc[0]
L.claim("lr_decay_changes_spectrum", "Learning-rate decay changes the trend of the top "
        "eigenvalue", f"lambda_1 from step {P.REG_DECAY_AT} to {last}: constant lr "
        f"{lam_at:.3g} -> {lam_c:.3g}, decayed {lam_at:.3g} -> {lam_d:.3g}",
        "final lambda_1 differs by > 10%", abs(lam_d - lam_c) / lam_c > 0.1)
al_all = la[(la.metric == "alignment") & (la.layer == "all")].pivot_table(
    index="step", columns="random_fraction", values="value")
fr = sorted(P.RANDOM_FRACTIONS)
rise = {f: al_all[f].iloc[-1] - al_all[f].iloc[0] for f in fr}
L.claim("alignment_rises", "Centred kernel-target alignment rises during training (true labels)",
        f"{al_all[0.0].iloc[0]:.3f} -> {al_all[0.0].iloc[-1]:.3f}", "higher at the end",
        rise[0.0] > 0)
L.claim("alignment_true_vs_random", "Alignment rises more with true labels than with random ones",
        "rise " + ", ".join(f"{f:g} random: {rise[f]:+.3f}" for f in fr),
        "rise largest at 0% random labels", rise[0.0] == max(rise.values()))
per_layer = la[(la.metric == "alignment") & (la.layer != "all") & (la.random_fraction == 0.0)
               & (la.step == la.step.max())].set_index("layer").value
L.claim("layers_differ", "Per-layer alignment differs across layers (true labels, end)",
        ", ".join(f"layer {k}: {v:.3f}" for k, v in per_layer.items()),
        "max / min > 1.2", per_layer.max() / per_layer.min() > 1.2)
pc = la[(la.metric.isin(["path_complexity", "gap"])) & (la.step == la.step.max())].pivot_table(
    index="random_fraction", columns="metric", values="value")
L.claim("complexity_tracks_gap", "The path complexity is larger when the generalisation gap is "
        "(random labels)", "; ".join(f"{f:g} random: complexity {r.path_complexity:.3g}, gap "
                                     f"{r.gap:.3f}" for f, r in pc.iterrows()),
        "complexity and gap both largest at the largest random share",
        pc.path_complexity.idxmax() == pc.gap.idxmax() == max(fr))
interior = {sw: 1 < r.layer < P.DEEP_DEPTH + 1 for sw, r in peaks.iterrows()}
L.claim("hierarchy_peak_inside", "In deep nets the per-layer alignment peaks at a hidden layer "
        "(ascent-descent; Baratin et al., Lou et al.)",
        ", ".join(f"sigma_w={sw:g}: layer {int(r.layer)}" for sw, r in peaks.iterrows()),
        f"peak strictly between layer 1 and {P.DEEP_DEPTH + 1} for every sigma_w",
        all(interior.values()))
sw_lo, sw_hi = min(P.SIGMA_WS), max(P.SIGMA_WS)
move = int(peaks.layer[sw_hi] - peaks.layer[sw_lo])
L.claim("peak_moves_with_init", "The peak layer moves with the initial weight scale (signal "
        "propagation; Lou et al.)", f"peak layers {peaks.layer.astype(int).tolist()} for "
        f"sigma_w {list(peaks.index)} (ordered -> chaotic: {move:+d} layers)",
        "|move| >= 2 layers between the smallest and largest sigma_w (one layer is within the "
        "seed-to-seed spread)", abs(move) >= 2)
L.claim("ntp_kernel_freezes", "NTP: the eNTK moves less as width grows",
        f"slope {w_slope[('ntp', 'rel_change_from_init')]:.2f}", "slope <= -0.25",
        w_slope[("ntp", "rel_change_from_init")] <= -0.25)
L.claim("mup_kernel_moves", "muP: the eNTK keeps moving as width grows",
        f"slope {w_slope[('mup', 'rel_change_from_init')]:.2f}", "slope > -0.15",
        w_slope[("mup", "rel_change_from_init")] > -0.15)
run.finish()
