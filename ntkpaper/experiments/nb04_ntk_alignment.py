"""Experiments of notebook 04: the empirical NTK of finite MLPs moving during training.

Every function trains :mod:`ntkpaper.parametrization` MLPs (no biases) with
:func:`ntkpaper.training.fit` and records :class:`ntkpaper.alignment.Recorder` measures on a
probe set. Shapes: ``x`` (N, d) float inputs; ``y`` (N, k) targets; outputs tidy DataFrames.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
import optax
import pandas as pd

from ntkpaper import alignment as al
from ntkpaper import entk, training
from ntkpaper import parametrization as pz


def _net(abc, d, width, k, seed, sigma_w=1.0):
    params = pz.init(jax.random.PRNGKey(seed), abc, d, width, k)
    return [p * sigma_w for p in params]


def train_and_record(abc: pz.ABC, x, y, width: int, eta: float, steps: int, record: int,
                     probe: int, seed: int = 0, activation: str = "relu",
                     schedule=None, sigma_w: float = 1.0, tags: dict | None = None,
                     extra: dict | None = None, ks=(1, 10, 50), optimizer: str = "sgd"):
    """Train one MLP by full-batch GD on the MSE, recording eNTK measures on ``x[:probe]``.

    Args:
        record: number of log-spaced recording steps (:func:`ntkpaper.alignment.log_steps`),
            or the list of steps.
        schedule: optional step -> learning-rate multiplier (optax schedule).
        sigma_w: multiplies every initial weight (signal-propagation studies).
        extra: ``{metric: params -> float}`` also recorded.
        optimizer: "sgd" or "adam" (per-layer rates of :func:`ntkpaper.parametrization.optimizer`).

    Returns:
        (recorder frame, recorder (with ``.spectra``), dict with ``params``, ``losses``,
        ``lengths``).
    """
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    params = _net(abc, x.shape[1], width, y.shape[1], seed, sigma_w)
    xp, yp = x[:probe], y[:probe]
    rec = al.Recorder(lambda p: entk.mlp_layer_kernels(p, abc, xp, activation=activation), yp,
                      al.log_steps(steps, record) if np.isscalar(record) else record,
                      outputs=lambda p: pz.forward(p, abc, xp, activation), ks=ks,
                      tags=tags, extra=extra)
    loss = lambda p: pz.mse(p, abc, x, y, activation)
    tx = pz.optimizer(abc, eta, width, optimizer, schedule=schedule)
    params, losses, lengths = training.fit(loss, params, tx, steps, callback=rec)
    return rec.frame(), rec, {"params": params, "losses": losses, "lengths": lengths}


def compute_spectrum_alignment(x, y, width: int, depth: int, eta: float, steps: int,
                               record: int, decay_at: int, decay: float = 0.1, seed: int = 0,
                               parametrization: str = "sp", optimizer: str = "adam"
                               ) -> tuple[pd.DataFrame, dict[str, dict[int, np.ndarray]]]:
    """Kopitkov & Indelman: NTK spectrum and target/output energies, constant lr vs decayed lr.

    Recording steps: ``record`` log-spaced ones plus ``decay_at``.

    Returns:
        (frame with a ``run`` column "constant lr" / "lr decay", spectra per run and step).
    """
    abc = pz.named(parametrization, depth)
    record_at = sorted(set(al.log_steps(steps, record)) | {int(decay_at)})
    frames, spectra = [], {}
    for run, sched in (("constant lr", None),
                       ("lr decay", optax.piecewise_constant_schedule(1.0, {decay_at: decay}))):
        df, rec, out = train_and_record(abc, x, y, width, eta, steps, record_at, len(x), seed,
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
                            eta: float, steps: int, record: int, probe: int, seed: int = 0,
                            parametrization: str = "sp", optimizer: str = "adam"
                            ) -> pd.DataFrame:
    """Baratin et al.: alignment with true vs partly random labels, per layer, with the
    generalisation gap and the tangent-kernel path complexity.

    Args:
        x: (N, d) training inputs; labels: (N,) true labels (targets: centred one-hot of the
            possibly corrupted labels).
        random_fractions: share of training labels replaced by uniformly random ones.

    Returns:
        Recorder rows plus ``train_acc``, ``test_acc``, ``gap`` and ``path_complexity`` rows,
        with a ``random_fraction`` column. Alignment is measured with the labels trained on.
    """
    from ntkpaper import data

    abc = pz.named(parametrization, depth)
    x_test = np.asarray(x_test, np.float32)
    frames = []
    xj = np.asarray(x, np.float32)
    for frac in random_fractions:
        rng = np.random.default_rng(seed + 1)
        lab = np.array(labels)
        flip = rng.random(len(lab)) < frac
        lab[flip] = rng.integers(0, n_classes, flip.sum())
        y = data.one_hot(lab, n_classes, "centered").astype(np.float32)
        extra = {"train_acc": lambda p, lab=lab: float(np.mean(
                     np.asarray(pz.forward(p, abc, xj)).argmax(1) == lab)),
                 "test_acc": lambda p: float(np.mean(
                     np.asarray(pz.forward(p, abc, x_test)).argmax(1) == labels_test))}
        df, rec, out = train_and_record(abc, x, y, width, eta, steps, record, probe, seed,
                                        tags={"random_fraction": frac}, extra=extra,
                                        optimizer=optimizer)
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
                            eta: float, steps: int, probe: int, seeds: int = 1,
                            activation: str = "tanh", parametrization: str = "sp",
                            optimizer: str = "adam") -> pd.DataFrame:
    """Lou et al.: per-layer centred alignment after training vs layer index, for several
    initial weight scales sigma_w (every weight multiplied by sigma_w; for tanh without biases
    sigma_w^2 < 1 is the ordered phase, 1 the edge of chaos, > 1 chaotic).

    Returns:
        rows sigma_w, seed, step (0 and ``steps``), layer (1..depth + 1), alignment, plus the
        final training loss as metric ``loss``.
    """
    abc = pz.named(parametrization, depth)
    rows = []
    for sw in sigma_ws:
        for seed in range(seeds):
            params = _net(abc, x.shape[1], width, y.shape[1], seed, sw)
            xp, yp = np.asarray(x[:probe], np.float32), y[:probe]
            loss = lambda p: pz.mse(p, abc, x, y, activation)
            kl0 = entk.mlp_layer_kernels(params, abc, xp, activation=activation)
            tx = pz.optimizer(abc, eta, width, optimizer)
            params, losses, _ = training.fit(loss, params, tx, steps)
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
                        eta: float, steps: int, probe: int, seeds: int = 1) -> pd.DataFrame:
    """Kernel movement and alignment after training vs width, per parametrization.

    Returns:
        rows parametrization, width, seed, metric (``distance_from_init``,
        ``rel_change_from_init``, ``alignment`` at the end and ``alignment_init``), value.
    """
    rows = []
    for name in names:
        abc = pz.named(name, depth)
        for width in widths:
            for seed in range(seeds):
                df, _, _ = train_and_record(abc, x, y, int(width), eta, steps, [0, steps],
                                                 probe, seed)
                m = df[df.layer == "all"].set_index(["step", "metric"]).value
                for metric in ("distance_from_init", "rel_change_from_init", "alignment"):
                    rows.append({"parametrization": name, "width": int(width), "seed": seed,
                                 "metric": metric, "value": m[(steps, metric)]})
                rows.append({"parametrization": name, "width": int(width), "seed": seed,
                             "metric": "alignment_init", "value": m[(0, "alignment")]})
    return pd.DataFrame(rows)
