"""Driver of notebook 04 (``notebooks/04_ntk_alignment.py``): the empirical NTK of finite MLPs
moving during training, its spectrum and its alignment with the task.

Every ``compute_*`` function trains :mod:`ntkpaper.parametrization` MLPs (no biases) with
:func:`ntkpaper.training.fit` and records :class:`ntkpaper.alignment.Recorder` measures on a
probe set; it returns a tidy DataFrame (columns ``step``, ``layer``, ``metric``, ``value`` plus
the configuration's columns). The ``*_summary`` and ``*_ledger`` functions reduce those tables to
the numbers the notebook shows and records (``{key: value}`` dicts for ``run.record_all``), the
``plot_*`` functions return one figure each, and :data:`CLAIMS` holds the notebook's claims with
their sources and criteria. Shapes: ``x`` (N, d) float inputs; ``y`` (N, k) targets.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from ntkpaper import alignment as al
from ntkpaper import claims, data, entk, plotting, stats, training
from ntkpaper import parametrization as pz
from ntkpaper.claims import Claim
from ntkpaper.progress import progress

# kernel-movement metrics of the width study, fitted against width
MOVEMENT = ("rel_change_from_init", "distance_from_init")
# the measures of the spectrum study shown in its table
SPECTRUM_COLUMNS = ["energy_target_top10", "energy_target_top50", "energy_output_top10",
                    "energy_output_top50", "top_eigenvalue", "effective_rank", "loss"]
# (metric, layer) columns of the label study's table and ledger
LABEL_COLUMNS = [("alignment", "all"), ("alignment", "1"), ("alignment", "2"),
                 ("alignment", "3"), ("train_acc", "all"), ("test_acc", "all"), ("gap", "all"),
                 ("path_complexity", "all")]


# ---------------------------------------------------------------------------------------------
# claims: criteria fixed here, before any number exists; tests read the tidy tables below

def _spectrum_runs(spec: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    s_all = spectrum_table(spec)
    return s_all.loc["constant lr"], s_all.loc["lr decay"], int(s_all.index
                                                                .get_level_values("step").max())


def _target_energy_grows(spec: pd.DataFrame) -> claims.Verdict:
    c, d, last = _spectrum_runs(spec)
    e = c.energy_target_top10
    return (f"{e.iloc[0]:.3f} at step 0 -> {e.iloc[-1]:.3f} at step {last} (max {e.max():.3f}; "
            f"with lr decay {d.energy_target_top10.iloc[-1]:.3f})", e.iloc[-1] > e.iloc[0] + 0.05)


def _output_in_top_span(spec: pd.DataFrame, n: int) -> claims.Verdict:
    out50 = _spectrum_runs(spec)[0].energy_output_top50.iloc[1:]
    return (f"share in the top 50 (of {n}): min {out50.min():.3f} over steps >= 1",
            bool(out50.min() >= 0.95))


def _lr_decay_changes_spectrum(spec: pd.DataFrame, decay_at: int) -> claims.Verdict:
    c, d, last = _spectrum_runs(spec)
    lam_c, lam_d = c.top_eigenvalue.iloc[-1], d.top_eigenvalue.iloc[-1]
    lam_at = c.top_eigenvalue[c.index >= decay_at].iloc[0]
    return (f"lambda_1 from step {decay_at} to {last}: constant lr {lam_at:.3g} -> {lam_c:.3g}, "
            f"decayed {lam_at:.3g} -> {lam_d:.3g}", abs(lam_d - lam_c) / lam_c > 0.1)


def _alignment_rise(la: pd.DataFrame) -> tuple[pd.DataFrame, dict[float, float]]:
    al_all = la[(la.metric == "alignment") & (la.layer == "all")].pivot_table(
        index="step", columns="random_fraction", values="value")
    return al_all, {f: al_all[f].iloc[-1] - al_all[f].iloc[0]
                    for f in sorted(la.random_fraction.unique())}


def _alignment_rises(la: pd.DataFrame) -> claims.Verdict:
    al_all, rise = _alignment_rise(la)
    return f"{al_all[0.0].iloc[0]:.3f} -> {al_all[0.0].iloc[-1]:.3f}", rise[0.0] > 0


def _alignment_true_vs_random(la: pd.DataFrame) -> claims.Verdict:
    rise = _alignment_rise(la)[1]
    return ("rise " + ", ".join(f"{f:g} random: {r:+.3f}" for f, r in rise.items()),
            rise[0.0] == max(rise.values()))


def _layers_differ(la: pd.DataFrame) -> claims.Verdict:
    per_layer = la[(la.metric == "alignment") & (la.layer != "all") & (la.random_fraction == 0.0)
                   & (la.step == la.step.max())].set_index("layer").value
    return (", ".join(f"layer {k}: {v:.3f}" for k, v in per_layer.items()),
            per_layer.max() / per_layer.min() > 1.2)


def _complexity_tracks_gap(la: pd.DataFrame) -> claims.Verdict:
    pc = la[(la.metric.isin(["path_complexity", "gap"])) & (la.step == la.step.max())] \
        .pivot_table(index="random_fraction", columns="metric", values="value")
    return ("; ".join(f"{f:g} random: complexity {r.path_complexity:.3g}, gap {r.gap:.3f}"
                      for f, r in pc.iterrows()),
            pc.path_complexity.idxmax() == pc.gap.idxmax() == la.random_fraction.max())


def _hierarchy_peak_inside(peaks: pd.DataFrame, depth: int) -> claims.Verdict:
    interior = [1 < r.peak_layer < depth + 1 for _, r in peaks.iterrows()]
    return (", ".join(f"sigma_w={sw:g}: layer {int(r.peak_layer)}" for sw, r in peaks.iterrows()),
            all(interior))


def _peak_moves_with_init(peaks: pd.DataFrame) -> claims.Verdict:
    move = int(peaks.peak_layer[max(peaks.index)] - peaks.peak_layer[min(peaks.index)])
    return (f"peak layers {peaks.peak_layer.astype(int).tolist()} for sigma_w "
            f"{list(peaks.index)} (ordered -> chaotic: {move:+d} layers)", abs(move) >= 2)


KOPITKOV = "Kopitkov & Indelman 2020 (ICANN; arXiv 1910.08720)"
BARATIN = "Baratin et al. 2021 (AISTATS; arXiv 2008.00938)"
LOU = "Lou et al. 2022 (ICML; arXiv 2110.11749)"

CLAIMS = claims.collect(
    Claim("target_energy_grows", "The top-10 eNTK eigenvectors hold a growing share of the "
          "target's energy during training (Kopitkov & Indelman; constant lr)",
          source=f"{KOPITKOV}, abstract: the top eigenfunctions of the NTK align toward the "
          "target function during optimisation",
          criterion="higher at the end, by > 0.05", test=_target_energy_grows),
    Claim("output_in_top_span", "The network output stays almost entirely in the span of the "
          "top eNTK eigenvectors",
          source=f"{KOPITKOV}, abstract: the function represented by the network is spanned "
          "almost completely by the top eigenfunctions for the entire optimisation",
          criterion=">= 0.95 at every recorded step >= 1", test=_output_in_top_span),
    # a check, not a claim: two schedules that differ after the decay step end at different top
    # eigenvalues almost surely; the paper's trends (issue 18) are not what this tests
    Claim("lr_decay_changes_spectrum", "Learning-rate decay changes the top eigenvalue "
          "(a control: near-certain for any two schedules)",
          source=f"{KOPITKOV}, abstract: how the neural spectrum is affected by learning-rate "
          "decay (the learning-rate-decay experiment; section not checked)",
          criterion="final lambda_1 differs by > 10%", test=_lr_decay_changes_spectrum,
          kind="check"),
    Claim("alignment_rises", "Centred kernel-target alignment rises during training (true "
          "labels)",
          source=f"{BARATIN}, abstract: a dynamical alignment of the neural tangent features "
          "along a small number of task-relevant directions",
          criterion="higher at the end", test=_alignment_rises),
    Claim("alignment_true_vs_random", "Alignment rises more with true labels than with random "
          "ones",
          source=f"{BARATIN}, the experiments with partly random labels (section not checked)",
          criterion="rise largest at 0% random labels", test=_alignment_true_vs_random),
    Claim("layers_differ", "Per-layer alignment differs across layers (true labels, end)",
          source=f"{BARATIN}, per-layer alignment; {LOU}, abstract: some layers align much more "
          "with the data than others",
          criterion="max / min > 1.2", test=_layers_differ),
    Claim("complexity_tracks_gap", "The path complexity is larger when the generalisation gap "
          "is (random labels)",
          source=f"{BARATIN}, abstract: a complexity measure in terms of sequences of tangent "
          "kernel classes along optimisation paths (its comparison with the generalisation "
          "gap; section not checked)",
          criterion="complexity and gap both largest at the largest random share",
          test=_complexity_tracks_gap),
    Claim("hierarchy_peak_inside", "In deep nets the per-layer alignment peaks at a hidden "
          "layer (ascent-descent; Baratin et al., Lou et al.)",
          source=f"{LOU}, abstract: the alignment vs layer index shows an ascent-descent "
          "pattern with its maximum at some hidden layer (after Baratin et al. 2021)",
          criterion="peak strictly between layer 1 and the readout layer (depth + 1) for every "
          "sigma_w", test=_hierarchy_peak_inside),
    Claim("peak_moves_with_init", "The peak layer moves with the initial weight scale (signal "
          "propagation; Lou et al.)",
          source=f"{LOU}, abstract: the Equilibrium Hypothesis connects the alignment pattern "
          "to signal propagation (its dependence on the initialisation; section not checked)",
          criterion="|move| >= 2 layers between the smallest and largest sigma_w (one layer is "
          "within the seed-to-seed spread)", test=_peak_moves_with_init),
    Claim("ntp_kernel_freezes", "NTP: the eNTK moves less as width grows",
          source="Jacot, Gabriel & Hongler 2018 (NeurIPS; arXiv 1806.07572): the NTK stays "
          "constant during training in the infinite-width limit; Yang & Hu 2021 (Tensor "
          "Programs IV, arXiv 2011.14522): NTP is in the kernel regime",
          criterion="slope <= -0.25",
          test=lambda slope: (f"slope {slope:.2f}", slope <= -0.25)),
    Claim("mup_kernel_moves", "muP: the eNTK keeps moving as width grows",
          source="Yang & Hu 2021 (Tensor Programs IV, arXiv 2011.14522): muP learns features "
          "in the infinite-width limit, where NTP does not",
          criterion="slope > -0.15",
          test=lambda slope: (f"slope {slope:.2f}", slope > -0.15)),
)


# ---------------------------------------------------------------------------------------------
# data

def load_images(name: str, n: int, seed: int = 0, split: str = "train"
                ) -> tuple[np.ndarray, np.ndarray, str]:
    """``n`` images of a data set, flattened and standardised per example.

    Returns:
        ``(x, labels, title)``: x (n, H*W*C) float32, labels (n,) int, the data set's title.
    """
    ds = data.load(name, split, n=n, seed=seed)
    return data.standardize_per_example(ds.x), ds.y, ds.meta["title"]


def targets(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Centred one-hot targets (N, n_classes) float32 of labels (N,)."""
    return data.one_hot(labels, n_classes, "centered").astype(np.float32)


# ---------------------------------------------------------------------------------------------
# compute

def _net(abc, d, width, k, seed, sigma_w=1.0):
    params = pz.init(jax.random.PRNGKey(seed), abc, d, width, k)
    return [p * sigma_w for p in params]


def train_and_record(abc: pz.ABC, x, y, width: int, lr: float, steps: int, record, probe: int,
                     seed: int = 0, activation: str = "relu", schedule=None,
                     sigma_w: float = 1.0, tags: dict | None = None, extra: dict | None = None,
                     ks=(1, 10, 50), optimizer: str = "sgd"):
    """Train one MLP by full-batch GD on the MSE, recording eNTK measures on ``x[:probe]``.

    Args:
        abc: the parametrization (:func:`ntkpaper.parametrization.named`).
        x: (N, d) inputs; y: (N, k) targets.
        lr: base learning rate (per-layer rates of :func:`ntkpaper.parametrization.optimizer`).
        record: number of log-spaced recording steps (:func:`ntkpaper.alignment.log_steps`),
            or the list of steps.
        probe: the first ``probe`` training points are the probe set of the kernels.
        schedule: optional step -> learning-rate multiplier (optax schedule).
        sigma_w: multiplies every initial weight (signal-propagation studies).
        extra: ``{metric: params -> float}`` also recorded.
        optimizer: "sgd" or "adam".

    Returns:
        (recorder frame (see :class:`ntkpaper.alignment.Recorder`), the recorder (with
        ``.spectra``: step -> (probe,) eigenvalues), dict with ``params``, ``losses`` (steps,)
        and ``lengths`` (steps,) update norms).
    """
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    params = _net(abc, x.shape[1], width, y.shape[1], seed, sigma_w)
    xp, yp = x[:probe], y[:probe]
    rec = al.Recorder(lambda p: entk.mlp_layer_kernels(p, abc, xp, activation=activation), yp,
                      al.log_steps(steps, record) if np.isscalar(record) else record,
                      outputs=lambda p: pz.forward(p, abc, xp, activation), ks=ks,
                      tags=tags, extra=extra)
    tx = pz.optimizer(abc, lr, width, optimizer, schedule=schedule)
    params, losses, lengths = training.fit(lambda p: pz.mse(p, abc, x, y, activation), params,
                                           tx, steps, callback=rec)
    return rec.frame(), rec, {"params": params, "losses": losses, "lengths": lengths}


def compute_spectrum_alignment(x, y, width: int, depth: int, lr: float, steps: int,
                               record: int, decay_at: int, decay: float = 0.1, seed: int = 0,
                               parametrization: str = "sp", optimizer: str = "adam"
                               ) -> tuple[pd.DataFrame, dict[str, dict[int, np.ndarray]]]:
    """Kopitkov & Indelman: eNTK spectrum and target/output energies on the training set,
    constant learning rate vs one divided by ``1 / decay`` at ``decay_at``.

    Args:
        x: (N, 2) inputs; y: (N, 1) targets (:func:`ntkpaper.data.regression_task`); the probe
            set is the whole training set.
        record: number of log-spaced recording steps (``decay_at`` is recorded too).

    Returns:
        (tidy frame with a ``run`` column "constant lr" / "lr decay" and the training ``loss``
        as a metric, ``{run: {step: (N,) eigenvalues}}``).
    """
    abc = pz.named(parametrization, depth)
    record_at = sorted(set(al.log_steps(steps, record)) | {int(decay_at)})
    frames, spectra = [], {}
    runs = (("constant lr", None),
            ("lr decay", optax.piecewise_constant_schedule(1.0, {decay_at: decay})))
    for run, sched in progress(runs, desc="04 spectrum and alignment", unit="run"):
        df, rec, out = train_and_record(abc, x, y, width, lr, steps, record_at, len(x), seed,
                                        schedule=sched, tags={"run": run},
                                        optimizer=optimizer)
        steps_rec = sorted(rec.spectra)
        loss_rows = pd.DataFrame({"run": run, "step": steps_rec, "layer": "all",
                                  "metric": "loss",
                                  "value": [float(out["losses"][min(s, steps - 1)])
                                            for s in steps_rec]})
        frames += [df, loss_rows]
        spectra[run] = rec.spectra
    return pd.concat(frames, ignore_index=True), spectra


def compute_label_alignment(x, labels, x_test, labels_test, n_classes: int,
                            random_fractions: Sequence[float], width: int, depth: int,
                            lr: float, steps: int, record: int, probe: int, seed: int = 0,
                            parametrization: str = "sp", optimizer: str = "adam"
                            ) -> pd.DataFrame:
    """Baratin et al.: alignment with true vs partly random labels, per layer, with the
    generalisation gap and the tangent-kernel path complexity.

    Args:
        x: (N, d) training inputs; labels: (N,) true labels (targets: centred one-hot of the
            possibly corrupted labels).
        x_test: (M, d) test inputs; labels_test: (M,) their labels.
        random_fractions: share of training labels replaced by uniformly random ones.
        probe: the kernels are measured on the first ``probe`` training images.

    Returns:
        Recorder rows plus ``train_acc``, ``test_acc``, ``gap`` and ``path_complexity`` rows,
        with a ``random_fraction`` column. Alignment is measured with the labels trained on.
    """
    abc = pz.named(parametrization, depth)
    x_test = np.asarray(x_test, np.float32)
    frames = []
    xj = np.asarray(x, np.float32)
    for frac in progress(random_fractions, desc="04 label alignment", unit="fraction"):
        rng = np.random.default_rng(seed + 1)
        lab = np.array(labels)
        flip = rng.random(len(lab)) < frac
        lab[flip] = rng.integers(0, n_classes, flip.sum())
        extra = {"train_acc": lambda p, lab=lab: float(np.mean(
                     np.asarray(pz.forward(p, abc, xj)).argmax(1) == lab)),
                 "test_acc": lambda p: float(np.mean(
                     np.asarray(pz.forward(p, abc, x_test)).argmax(1) == labels_test))}
        df, rec, out = train_and_record(abc, x, targets(lab, n_classes), width, lr, steps,
                                        record, probe, seed, tags={"random_fraction": frac},
                                        extra=extra, optimizer=optimizer)
        m = df[df.layer == "all"].pivot_table(index="step", columns="metric", values="value")
        comp = al.path_complexity(out["lengths"], list(m.index),
                                  list(m["trace"] * len(x) / probe), len(x))
        add = pd.DataFrame({"random_fraction": frac, "step": np.repeat(m.index, 2),
                            "layer": "all", "metric": ["gap", "path_complexity"] * len(m),
                            "value": np.ravel(np.column_stack(
                                [m.train_acc - m.test_acc, comp]))})
        frames += [df, add]
    return pd.concat(frames, ignore_index=True)


def compute_layer_hierarchy(x, y, sigma_ws: Sequence[float], width: int, depth: int,
                            lr: float, steps: int, probe: int, seeds: int = 1,
                            activation: str = "tanh", parametrization: str = "sp",
                            optimizer: str = "adam") -> pd.DataFrame:
    """Lou et al.: per-layer centred alignment after training vs layer index, for several
    initial weight scales sigma_w (every initial weight multiplied by sigma_w).

    Args:
        x: (N, d) inputs; y: (N, k) targets; the probe set is the first ``probe`` points.
        seeds: networks per sigma_w (seeds 0 .. seeds - 1).

    Returns:
        rows sigma_w, seed, step (0 and ``steps``), layer (1..depth + 1), metric
        ``alignment``, value; plus the final training loss as metric ``loss`` (layer 0).
    """
    abc = pz.named(parametrization, depth)
    rows = []
    for sw in progress(sigma_ws, desc="04 layer hierarchy", unit="sigma_w"):
        for seed in range(seeds):
            params = _net(abc, x.shape[1], width, y.shape[1], seed, sw)
            xp, yp = np.asarray(x[:probe], np.float32), y[:probe]
            kl0 = entk.mlp_layer_kernels(params, abc, xp, activation=activation)
            tx = pz.optimizer(abc, lr, width, optimizer)
            params, _, _ = training.fit(lambda p: pz.mse(p, abc, x, y, activation), params, tx,
                                        steps)
            kl1 = entk.mlp_layer_kernels(params, abc, xp, activation=activation)
            for step, kl in ((0, kl0), (steps, kl1)):
                for i, k in enumerate(kl):
                    rows.append({"sigma_w": sw, "seed": seed, "step": step, "layer": i + 1,
                                 "metric": "alignment", "value": al.alignment(k, yp)})
            rows.append({"sigma_w": sw, "seed": seed, "step": steps, "layer": 0,
                         "metric": "loss", "value": float(pz.mse(params, abc, x, y,
                                                                 activation))})
    return pd.DataFrame(rows)


def compute_width_study(x, y, names: Sequence[str], widths: Sequence[int], depth: int,
                        lr: float, steps: int, probe: int, seeds: int = 1) -> pd.DataFrame:
    """Kernel movement and alignment after ``steps`` SGD steps vs width, per parametrization.

    Args:
        x: (N, d) inputs; y: (N, k) targets; the probe set is the first ``probe`` points.
        names: parametrizations (:func:`ntkpaper.parametrization.named`), e.g. ntp, mup.

    Returns:
        rows parametrization, width, seed, metric (``distance_from_init``,
        ``rel_change_from_init``, ``alignment`` at the end and ``alignment_init``), value.
    """
    rows = []
    for name in names:
        abc = pz.named(name, depth)
        for width in progress(widths, desc=f"04 width study {name}", unit="width"):
            for seed in range(seeds):
                df, _, _ = train_and_record(abc, x, y, int(width), lr, steps, [0, steps], probe,
                                            seed)
                m = df[df.layer == "all"].set_index(["step", "metric"]).value
                for metric in (*MOVEMENT, "alignment"):
                    rows.append({"parametrization": name, "width": int(width), "seed": seed,
                                 "metric": metric, "value": m[(steps, metric)]})
                rows.append({"parametrization": name, "width": int(width), "seed": seed,
                             "metric": "alignment_init", "value": m[(0, "alignment")]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# summaries: the tables the notebook shows and the numbers it records

def spectrum_table(spec: pd.DataFrame) -> pd.DataFrame:
    """The whole-kernel measures of :func:`compute_spectrum_alignment`, one row per (run, step)
    and one column per metric."""
    return spec[spec.layer == "all"].pivot_table(index=["run", "step"], columns="metric",
                                                 values="value")


def spectrum_summary(spec: pd.DataFrame, decay_at: int) -> pd.DataFrame:
    """:func:`spectrum_table` at step 0, ``decay_at`` and the last step, columns
    :data:`SPECTRUM_COLUMNS`."""
    s_all = spectrum_table(spec)
    last = s_all.index.get_level_values("step").max()
    return s_all.loc[(slice(None), [0, decay_at, last]), SPECTRUM_COLUMNS]


def spectrum_ledger(summary: pd.DataFrame) -> dict[str, float]:
    """``{"energy_target_top10_constant_lr_step0": value, ...}`` from :func:`spectrum_summary`:
    the top-10 energies of target and output and the top eigenvalue, per run and step."""
    return {f"{m}_{run.replace(' ', '_')}_step{step}": r[m]
            for (run, step), r in summary.iterrows()
            for m in ("energy_target_top10", "energy_output_top10", "top_eigenvalue")}


def label_summary(la: pd.DataFrame) -> pd.DataFrame:
    """:func:`compute_label_alignment` at the first and last step: rows (random_fraction,
    step), columns the (metric, layer) pairs of :data:`LABEL_COLUMNS` that were measured."""
    end = la[la.step.isin([0, la.step.max()])].pivot_table(
        index=["random_fraction", "step"], columns=["metric", "layer"], values="value")
    return end[[c for c in LABEL_COLUMNS if c in end.columns]]


def label_ledger(summary: pd.DataFrame) -> dict[str, float]:
    """``{"alignment_all_rand0_step0": value, ...}`` from :func:`label_summary`."""
    return {f"{m}_{layer}_rand{frac:g}_step{step}": v
            for (frac, step), r in summary.iterrows() for (m, layer), v in r.items()}


def hierarchy_peaks(hier: pd.DataFrame) -> pd.DataFrame:
    """The layer of the largest seed-mean alignment after training, per sigma_w.

    Args:
        hier: rows of :func:`compute_layer_hierarchy`.

    Returns:
        index sigma_w; columns ``peak_layer``, ``peak_alignment`` (seed mean at that layer) and
        ``final_loss`` (seed mean).
    """
    h_al = hier[hier.metric == "alignment"]
    h_mean = h_al.groupby(["sigma_w", "step", "layer"]).value.mean().reset_index()
    final = h_mean[h_mean.step == h_mean.step.max()]
    peaks = final.loc[final.groupby("sigma_w").value.idxmax()].set_index("sigma_w")
    loss = hier[hier.metric == "loss"].groupby("sigma_w").value.mean()
    return pd.DataFrame({"peak_layer": peaks.layer, "peak_alignment": peaks.value,
                         "final_loss": loss})


def hierarchy_ledger(peaks: pd.DataFrame) -> dict[str, float]:
    """``{"peak_layer_sigma0.7": 10, "peak_alignment_sigma0.7": ..., "final_loss_sigma0.7":
    ...}`` from :func:`hierarchy_peaks`."""
    return {f"{col}_sigma{sw:g}": r[col] for sw, r in peaks.iterrows()
            for col in ("peak_layer", "peak_alignment", "final_loss")}


def width_means(wid: pd.DataFrame) -> pd.Series:
    """Seed means of :func:`compute_width_study`, indexed by (parametrization, metric, width)."""
    return wid.groupby(["parametrization", "metric", "width"]).value.mean()


def width_slopes(wid: pd.DataFrame) -> pd.DataFrame:
    """Power-law slopes vs width of the seed-mean kernel movement.

    Returns:
        rows parametrization (in the order of ``wid``), columns :data:`MOVEMENT`.
    """
    slopes = pd.DataFrame({m: stats.power_law_slopes(wid[wid.metric == m], "width", "value",
                                                     "parametrization") for m in MOVEMENT})
    return slopes.loc[wid.parametrization.unique()]


def width_ledger(wid: pd.DataFrame) -> dict[str, float]:
    """``{"slope_rel_change_from_init_ntp": ..., "alignment_ntp_w64": ...}``: the slopes of
    :func:`width_slopes` and the final alignment per width, per parametrization."""
    slopes, means = width_slopes(wid), width_means(wid)
    out = {}
    for name in slopes.index:
        out.update({f"slope_{m}_{name}": slopes.loc[name, m] for m in MOVEMENT})
        out.update({f"alignment_{name}_w{w}": v for w, v in means[(name, "alignment")].items()})
    return out


# ---------------------------------------------------------------------------------------------
# figures

def plot_spectrum_alignment(spec: pd.DataFrame, spectra: dict, decay_at: int, caption: str):
    """Share of the target's and of the output's energy in the top-10 and top-50 eigenvectors,
    and the top-5 eigenvalues, vs step (log axis; step 0 drawn at 0.5), for both runs of
    :func:`compute_spectrum_alignment` (solid: constant lr, dashed: decay).

    Returns:
        the figure (1 x 3 panels).
    """
    s_all = spectrum_table(spec)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for run_name, g in s_all.groupby(level="run"):
        steps = g.index.get_level_values("step")
        st = np.maximum(steps, 0.5)
        ls = "-" if run_name == "constant lr" else "--"
        for k, c in ((10, "C0"), (50, "C1")):
            axes[0].plot(st, g[f"energy_target_top{k}"], ls, color=c,
                         label=f"target, top {k} ({run_name})")
            axes[1].plot(st, g[f"energy_output_top{k}"], ls, color=c,
                         label=f"output, top {k} ({run_name})")
        lam = np.stack([spectra[run_name][s][:5] for s in steps])
        for i in range(lam.shape[1]):
            axes[2].plot(st, lam[:, i], ls, color=f"C{i}",
                         label=rf"$\lambda_{i + 1}$" if ls == "-" else None)
    axes[2].axvline(decay_at, color="grey", lw=0.8)
    for ax, yl in zip(axes, ["share of target energy", "share of output energy",
                             "eigenvalue of the eNTK"]):
        ax.set(xscale="log", xlabel="step", ylabel=yl, title=caption)
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    axes[2].legend(fontsize=7, title="solid: constant lr, dashed: decay", title_fontsize=7)
    return fig


def plot_label_alignment(la: pd.DataFrame, caption: str):
    """Along training (log step axis): centred alignment of the whole eNTK, per layer, the
    generalisation gap and the path complexity, one line per share of random labels.

    Args:
        la: rows of :func:`compute_label_alignment`.

    Returns:
        the figure (1 x 4 panels).
    """
    share = "share of random labels"
    la = la.assign(step_plot=la.step.clip(lower=0.5)).rename(columns={"random_fraction": share})
    fractions = sorted(la[share].unique())
    # one visible colour per share (a continuous map would draw the largest share almost white)
    shades = dict(zip(fractions, sns.color_palette("rocket", len(fractions))))
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    panels = [("alignment", "all", "centred alignment (whole eNTK)"),
              ("alignment", None, "centred alignment per layer"),
              ("gap", "all", "train - test accuracy"),
              ("path_complexity", "all", "path complexity")]
    for ax, (metric, layer, yl) in zip(axes, panels):
        d = la[la.metric == metric]
        if layer is None:
            sns.lineplot(data=d[d.layer != "all"], x="step_plot", y="value", hue="layer",
                         style=share, ax=ax)
        else:
            sns.lineplot(data=d[d.layer == layer], x="step_plot", y="value", hue=share, ax=ax,
                         palette=shades)
        ax.set(xscale="log", xlabel="step", ylabel=yl, title=caption)
    return fig


def plot_layer_hierarchy(hier: pd.DataFrame, caption: str):
    """Centred alignment of each layer's eNTK vs layer index, at initialisation and after
    training, one line per sigma_w (mean and range over seeds).

    Args:
        hier: rows of :func:`compute_layer_hierarchy`.

    Returns:
        the figure (1 x 2 panels, shared y axis).
    """
    scale = r"initial weight scale $\sigma_w$"
    h_al = hier[hier.metric == "alignment"].rename(columns={"sigma_w": scale})
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, step in zip(axes, (0, h_al.step.max())):
        sns.lineplot(data=h_al[h_al.step == step], x="layer", y="value", hue=scale, marker="o",
                     ax=ax, palette="coolwarm")
        ax.set(xlabel="layer (1 = input weights)", ylabel=r"centred alignment of $K_l$",
               title=f"step {step}: {caption}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def plot_width(wid: pd.DataFrame, steps: int, caption: str):
    """Relative change of the eNTK from initialisation vs width (log-log, with fitted slopes)
    and its centred alignment at initialisation and after ``steps`` steps, per parametrization.

    Args:
        wid: rows of :func:`compute_width_study`.

    Returns:
        the figure (1 x 2 panels).
    """
    means, slopes = width_means(wid), width_slopes(wid)
    names = list(slopes.index)
    change = means.xs("rel_change_from_init", level="metric").loc[names].reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    plotting.scaling_plot(axes[0], change, "width", "value", hue="parametrization",
                          slopes=slopes["rel_change_from_init"].to_dict(),
                          ylabel="||K_T - K_0|| / ||K_0||", title=caption)
    for name in names:
        for metric, ls, when in (("alignment_init", ":", "init"),
                                 ("alignment", "-", f"step {steps}")):
            g = means[(name, metric)]
            axes[1].plot(g.index, g, marker="o", ls=ls, color=plotting.colour(name),
                         label=f"{plotting.label(name)}, {when}")
    axes[1].set(xscale="log", xlabel="width", ylabel="centred alignment", title=caption)
    axes[1].legend(fontsize=8)
    return fig
