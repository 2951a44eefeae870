"""Experiments of notebook 05: fixed vs adaptive tangent features vs the trained network.

All three models share one MLP initialisation ``theta_0`` (:mod:`ntkpaper.parametrization`, no
biases) and are fitted by full-batch Adam on ``(1/2N) sum ||f(x_i) - y_i||^2``:

* ``fixed``: :func:`ntkpaper.tangent_features.fit_fixed` (the linearised network, ridge ``lam``);
* ``adaptive``: :func:`ntkpaper.tangent_features.fit_adaptive` (factored, penalty ``lam``);
* ``network``: the network itself (:func:`ntkpaper.training.fit`, no penalty).

Shapes: ``x`` (N, d), ``y`` (N, k); frames are tidy.
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
from ntkpaper import tangent_features as tf

MODELS = ("fixed", "adaptive", "network")


def fit_all(x, y, width: int, depth: int, lam, steps: int, lr: float, seed: int = 0,
            parametrization: str = "ntp") -> dict:
    """Fit the three models from one initialisation.

    ``lam``: one penalty for both tangent-feature models, or ``{"fixed": .., "adaptive": ..}``.

    Returns:
        ``model`` (TangentModel), ``v_fixed``, ``factors``, ``v_adaptive``, ``params`` (trained
        network), ``delta_w`` (its weight change), ``losses`` per model.
    """
    abc = pz.named(parametrization, depth)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    p0 = pz.init(jax.random.PRNGKey(seed), abc, x.shape[1], width, y.shape[1])
    model = tf.TangentModel(p0, abc)
    lams = lam if isinstance(lam, dict) else {"fixed": lam, "adaptive": lam}
    v_fixed, l_fixed = tf.fit_fixed(model, x, y, lams["fixed"], steps, lr)
    factors, l_ad = tf.fit_adaptive(model, x, y, lams["adaptive"], steps, lr)
    params, l_net, _ = training.fit(lambda p: pz.mse(p, abc, x, y), p0, optax.adam(lr), steps)
    return {"model": model, "v_fixed": v_fixed, "factors": factors,
            "v_adaptive": tf.adaptive_v(factors), "params": params,
            "delta_w": [a - b for a, b in zip(params, p0)],
            "losses": {"fixed": l_fixed, "adaptive": l_ad, "network": l_net}}


def predict(fit: dict, which: str, x) -> np.ndarray:
    """(N, k) outputs of one fitted model."""
    m = fit["model"]
    if which == "fixed":
        return np.asarray(m.apply(fit["v_fixed"], x))
    if which == "adaptive":
        return np.asarray(m.apply(fit["v_adaptive"], x))
    if which == "network":
        return np.asarray(pz.forward(fit["params"], m.abc, np.asarray(x, np.float32)))
    raise ValueError(f"unknown model {which!r}; choose one of {MODELS}")


def eigen_targets(x, width: int, depth: int, bands: dict[str, tuple[int, int]], seed: int = 0,
                  parametrization: str = "ntp") -> dict[str, np.ndarray]:
    """Targets (N, 1) built from eigenvectors of the initial eNTK on ``x``.

    ``bands = {"name": (i, j)}`` takes eigenvectors i..j-1 (0 = largest eigenvalue) with random
    Gaussian weights; each target is scaled to unit root-mean-square. A band at the top is well
    represented by the initial tangent features, a band far down is poorly represented.
    """
    abc = pz.named(parametrization, depth)
    p0 = pz.init(jax.random.PRNGKey(seed), abc, x.shape[1], width, 1)
    _, v = al.spectrum(entk.mlp_layer_kernels(p0, abc, x).sum(0))
    rng = np.random.default_rng(seed + 7)
    out = {}
    for name, (i, j) in bands.items():
        t = v[:, i:j] @ rng.normal(size=(j - i, 1))
        out[name] = (t / np.sqrt(np.mean(t**2))).astype(np.float32)
    return out


def compute_kernel_change(x, targets: dict[str, np.ndarray], width: int, depth: int,
                          lam: float, steps: int, lr: float, seed: int = 0
                          ) -> tuple[pd.DataFrame, dict]:
    """How the trained network's eNTK changes vs what the adaptive model predicts, per target.

    Returns:
        rows target, kernel ("initial", "network", "adaptive"), alignment (centred, with the
        target), rel_change (from the initial eNTK), plus rows kernel "change cosine" =
        cosine between ``K_net - K_0`` and ``K_adaptive - K_0``; and the fits per target.
    """
    rows, fits = [], {}
    for name, y in targets.items():
        fit = fit_all(x, y, width, depth, lam, steps, lr, seed)
        fits[name] = fit
        m = fit["model"]
        k0 = entk.mlp_layer_kernels(m.params0, m.abc, x).sum(0)
        k_net = entk.mlp_layer_kernels(fit["params"], m.abc, x).sum(0)
        k_ad = tf.adapted_layer_kernels(m, fit["factors"], x).sum(0)
        for kname, k in (("initial", k0), ("network", k_net), ("adaptive", k_ad)):
            rows.append({"target": name, "kernel": kname, "alignment": al.alignment(k, y),
                         "rel_change": float(np.linalg.norm(k - k0) / np.linalg.norm(k0))})
        d1, d2 = (k_net - k0).ravel(), (k_ad - k0).ravel()
        rows.append({"target": name, "kernel": "change cosine",
                     "alignment": float(d1 @ d2 / (np.linalg.norm(d1) * np.linalg.norm(d2))),
                     "rel_change": np.nan})
    return pd.DataFrame(rows), fits


def rank_table(fits: dict, share: float = 0.9) -> pd.DataFrame:
    """Energy rank (:func:`ntkpaper.tangent_features.rank_at`) of each learned per-layer matrix:
    V of the fixed and adaptive models and the network's weight change, per fit and layer."""
    rows = []
    for name, fit in fits.items():
        for which, mats in (("fixed", fit["v_fixed"]), ("adaptive", fit["v_adaptive"]),
                            ("network", fit["delta_w"])):
            for i, s in enumerate(tf.singular_values(mats)):
                rows.append({"fit": name, "model": which, "layer": i + 1,
                             "rank": tf.rank_at(s, share), "size": min(np.asarray(mats[i]).shape),
                             "top_share": float(s[0] ** 2 / np.sum(s**2)) if s.sum() else 0.0})
    return pd.DataFrame(rows)


def choose_lam(x, labels, x_val, labels_val, lams: Sequence[float], n_classes: int,
               width: int, depth: int, steps: int, lr: float, seed: int = 0) -> pd.DataFrame:
    """Validation error of the fixed and adaptive models for each penalty in ``lams``.

    Returns:
        rows lam, model ("fixed"/"adaptive"), val_error.
    """
    from ntkpaper import data

    y = data.one_hot(labels, n_classes, "centered").astype(np.float32)
    rows = []
    for lam in lams:
        fit = fit_all(x, y, width, depth, float(lam), steps, lr, seed)
        for which in ("fixed", "adaptive"):
            rows.append({"lam": float(lam), "model": which, "val_error": 1 - float(np.mean(
                predict(fit, which, x_val).argmax(1) == labels_val))})
    return pd.DataFrame(rows)


def compute_sample_complexity(x, labels, x_test, labels_test, sizes: Sequence[int],
                              n_classes: int, width: int, depth: int, lam, steps: int,
                              lr: float, seeds: int = 1) -> pd.DataFrame:
    """Test error vs training-set size for the three models (class-balanced first-n subsets).

    ``x``/``labels`` must be ordered so that every prefix is roughly class-balanced (as
    :func:`ntkpaper.data.load` returns them). Targets: centred one-hot. ``lam`` as in
    :func:`fit_all`.

    Returns:
        rows n, seed, model, test_error, train_error.
    """
    from ntkpaper import data

    rows = []
    for n in sizes:
        for seed in range(seeds):
            xs, ls = x[:n], labels[:n]
            y = data.one_hot(ls, n_classes, "centered").astype(np.float32)
            fit = fit_all(xs, y, width, depth, lam, steps, lr, seed)
            for which in MODELS:
                rows.append({"n": int(n), "seed": seed, "model": which,
                             "test_error": 1 - float(np.mean(
                                 predict(fit, which, x_test).argmax(1) == labels_test)),
                             "train_error": 1 - float(np.mean(
                                 predict(fit, which, xs).argmax(1) == ls))})
    return pd.DataFrame(rows)


def matched_error_ratio(df: pd.DataFrame, better: str = "adaptive", worse: str = "fixed"
                        ) -> pd.DataFrame:
    """Sample-complexity ratio at matched error: for each n, how many samples ``worse`` needs
    to reach ``better``'s test error at n (log-log interpolation of ``worse``'s mean curve;
    NaN where that error lies outside ``worse``'s measured range).

    Returns:
        rows n, error (of ``better``), n_needed (by ``worse``), ratio = n_needed / n.
    """
    m = df.groupby(["model", "n"]).test_error.mean()
    b, w = m[better], m[worse]
    ns, errs = np.log(w.index.to_numpy(float)), np.log(w.to_numpy())
    rows = []
    for n, e in b.items():
        le = np.log(e)
        needed = np.nan
        for i in range(len(errs) - 1):  # first crossing of the worse curve below error e
            lo, hi = errs[i], errs[i + 1]
            if (lo - le) * (hi - le) <= 0 and lo != hi:
                needed = float(np.exp(ns[i] + (le - lo) / (hi - lo) * (ns[i + 1] - ns[i])))
                break
        rows.append({"n": int(n), "error": float(e), "n_needed": needed,
                     "ratio": needed / n if np.isfinite(needed) else np.nan})
    return pd.DataFrame(rows)
