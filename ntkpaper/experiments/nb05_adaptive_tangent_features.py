"""Driver of notebook 05 (``notebooks/05_adaptive_tangent_features.py``): fixed vs adaptive
tangent features vs the trained network (LeJeune & Alemohammad).

All three models share one MLP initialisation ``theta_0`` (:mod:`ntkpaper.parametrization`, no
biases) and minimise ``(1/2N) sum ||f(x_i) - y_i||^2`` (plus their penalty):

* ``fixed``: the linearised network, ridge ``lam``: by Adam in sections 1-2
  (:func:`ntkpaper.tangent_features.fit_fixed`), in closed form in section 3
  (:func:`ntkpaper.tangent_features.solve_fixed`);
* ``adaptive``: factored, penalty ``lam`` (:func:`ntkpaper.tangent_features.fit_adaptive`; in
  section 3 :func:`fit_adaptive_rebalanced`, with an optimality certificate);
* ``network``: the network itself (:func:`ntkpaper.training.fit`, no penalty).

What the functions return: ``compute_kernel_change`` (section 1) a tidy table of alignments and
kernel changes plus the fits, ``rank_table`` (section 2) the energy ranks of the learned
per-layer matrices, ``compute_sample_complexity`` (section 3) the test errors, certificates,
chosen penalties and per-seed matched-error ratios over data sets; ``*_values`` the ledger's
``{key: value}`` of each section; ``plot_*`` one figure each; :data:`CLAIMS` the notebook's
claims and checks.

Shapes: ``x`` (N, d), ``y`` (N, k); tables are tidy (one row per measurement).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax
import pandas as pd
import seaborn as sns

from ntkpaper import (
    alignment,
    claims,
    data,
    entk,
    parametrization,
    plotting,
    tangent_features,
    training,
)
from ntkpaper.claims import Claim
from ntkpaper.progress import progress

MODELS = ("fixed", "adaptive", "network")

# ---------------------------------------------------------------------------------------------
# Claims and checks, declared before any number exists

PAPER = "LeJeune & Alemohammad, CPAL 2024 (PMLR 234:379-394; arXiv 2308.15478)"
# section numbers of the paper were not checked (its full text was not read): the abstract is cited
_SAMPLE_SOURCE = (f"{PAPER}, abstract of arXiv v1 and PMLR: 'an order of magnitude lower sample "
                  "complexity than the fixed tangent feature model on MNIST and CIFAR-10' "
                  "(sample-complexity experiment; section not checked)")
# what the claims of section 3 call each data set (the paper's second set is CIFAR-10)
DATA_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST (standing in for CIFAR-10)",
               "cifar10": "CIFAR-10"}
BAND_NAMES = ("top", "low")  # the eigenvector bands of the parameters cell (BANDS)


def _change_cosines(kc: pd.DataFrame, kernel: str = "change cosine") -> dict[str, float]:
    """``{target: cosine between the network's and the adaptive model's kernel change}``
    (``kernel="projected change cosine"``: after removing both changes' component along
    K_0, a shared rescaling of the initial kernel)."""
    rows = kc[kc.kernel == kernel]
    return dict(zip(rows.target, rows.alignment))


def _kernel_change_verdict(kc: pd.DataFrame) -> claims.Verdict:
    raw = _change_cosines(kc)
    cos = _change_cosines(kc, "projected change cosine")
    return (", ".join(f"{t}: cosine {c:.2f} with K0 projected out ({raw[t]:.2f} raw)"
                      for t, c in cos.items()), min(cos.values()) > 0.3)


FIT_TOL = 0.1  # a target counts as fitted when the network's final loss is < 10% of its energy


def _alignment_verdict(kc: pd.DataFrame, target: str) -> claims.Verdict:
    rows = kc[kc.target == target].set_index("kernel")
    a = rows.alignment
    a0, an, aa = a["initial"], a["network"], a["adaptive"]
    text = f"initial {a0:.3f}, network {an:.3f}, adaptive {aa:.3f}"
    rel = float(rows.network_rel_loss.iloc[0])
    if not rel < FIT_TOL:
        return (f"{text}; inconclusive: the network left {rel:.0%} of the target's energy "
                f"(>= {FIT_TOL:.0%})", None)
    return text, an > a0


def mean_hidden_ranks(ranks: pd.DataFrame) -> pd.Series:
    """Mean energy rank of the hidden-layer matrices (all layers but the readout) per model.

    Args:
        ranks: the table of :func:`rank_table`.

    Returns:
        Series indexed by model.
    """
    return ranks[ranks.layer < ranks.layer.max()].groupby("model")["rank"].mean()


def _low_rank_verdict(ranks: pd.DataFrame) -> claims.Verdict:
    top = mean_hidden_ranks(ranks)
    return (f"mean 90%-energy rank of hidden-layer matrices: adaptive {top['adaptive']:.1f}, "
            f"fixed {top['fixed']:.1f}, network change {top['network']:.1f}",
            top["adaptive"] < top["fixed"])


CERTIFICATE_TOL = 0.05  # an adaptive fit is at its optimum when its two objectives agree to 5%


def _not_converged(sc: pd.DataFrame) -> str:
    """'' when every adaptive fit's objectives agree within CERTIFICATE_TOL, else which did not."""
    a = sc[sc.model == "adaptive"]
    bad = a[~(a.certificate.abs() <= CERTIFICATE_TOL)]
    if not len(bad):
        return ""
    return (f"the adaptive model did not reach its optimum in {len(bad)} of {len(a)} fits "
            f"(objective gap up to {bad.certificate.abs().max():.1%} > "
            f"{CERTIFICATE_TOL:.0%}, e.g. n = {int(bad.n.iloc[0])})")


def _beats_fixed_verdict(sc: pd.DataFrame) -> claims.Verdict:
    t = sc.pivot_table(index=["n", "seed"], columns="model", values="test_error")
    d = (t["fixed"] - t["adaptive"]).groupby("n")
    mean, se = d.mean(), d.std(ddof=1) / np.sqrt(d.count())
    wins = int(np.sum(mean > 2 * se))
    text = (f"fixed minus adaptive test error beyond 2 s.e. at {wins} of {len(mean)} sizes ("
            + ", ".join(f"n={n}: {m:+.3f} +- {e:.3f}" for n, m, e in zip(mean.index, mean, se))
            + ")")
    gap = _not_converged(sc)
    if gap:
        return f"{text}; inconclusive: {gap}", None
    return text, wins == len(mean)


def _order_of_magnitude_verdict(ratio: pd.DataFrame, sc: pd.DataFrame) -> claims.Verdict:
    r = ratio.ratio_median
    med = float(np.nanmedian(r)) if np.isfinite(r).any() else float("nan")
    text = (f"median over sizes of the seed-median ratio {med:.2f} ({int(np.isfinite(r).sum())} "
            f"of {len(r)} sizes matched; per-size seed ranges " + ", ".join(
                f"n={q.n}: {q.ratio_min:.2f}-{q.ratio_max:.2f}" for q in ratio.itertuples()
                if np.isfinite(q.ratio_median)) + ")")
    gap = _not_converged(sc)
    if gap:
        return f"{text}; inconclusive: {gap}", None
    return text, bool(np.isfinite(med) and med >= 5)


def _network_beats_linearisation(sc: pd.DataFrame) -> claims.Verdict:
    n = sc.n.max()
    t = sc[sc.n == n].pivot_table(index="seed", columns="model", values="test_error")
    d = (t["fixed"] - t["network"]).to_numpy()
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return (f"n={n}: fixed {t['fixed'].mean():.3f}, network {t['network'].mean():.3f} "
            f"({d.mean():+.3f} +- {se:.3f}); a feature-learning model can only close a gap "
            "the network opens", bool(d.mean() > 2 * se and d.mean() > 0.02))


def _closes_gap(sc: pd.DataFrame) -> claims.Verdict:
    n = sc.n.max()
    t = sc[sc.n == n].pivot_table(index="seed", columns="model", values="test_error").mean()
    gap, closed = t["fixed"] - t["network"], t["fixed"] - t["adaptive"]
    text = (f"n={n}: fixed {t['fixed']:.3f}, adaptive {t['adaptive']:.3f}, network "
            f"{t['network']:.3f}: the adaptive model closes {closed / gap:.0%} of the gap"
            if gap > 0 else f"n={n}: the network does not beat the fixed model")
    problem = _not_converged(sc)
    if gap <= 0 or problem:
        return text + (f"; inconclusive: {problem}" if problem else "; inconclusive"), None
    return text, closed >= 0.5 * gap


_SUBSPACE_SOURCE = (f"{PAPER}, abstract: the adaptive model captures how features change in "
                    "training (our test of that mechanism on a synthetic task where the trained "
                    "network clearly beats its linearisation; not an experiment of the paper)")

CLAIMS = claims.collect(
    Claim("kernel_change_predicted",
          "The adaptive model's kernel change points the way the trained network's eNTK changes",
          source=f"{PAPER}, abstract: 'insights into how the features and thus the kernel "
                 "function change', verified 'in real neural networks on a simple regression "
                 "problem' (arXiv v1; section not checked)",
          criterion="cosine > 0.3 for both targets, after projecting K_0 out of both changes",
          test=_kernel_change_verdict,
          history="2026-11-24 (issue 18), before the run it judges: was the cosine of the raw "
                  "changes, which a shared rescaling of K_0 inflates (0.85 / 0.63 raw against "
                  "0.36 / 0.07 with it removed, in the review of the earlier run)"),
    *(Claim(f"alignment_rises_{t}",
            f"Training raises the kernel's alignment with the target ('{t}' target)",
            source=f"{PAPER}, abstract: the kernel alignment of real neural networks, with "
                   "'nuance' when the target is poorly represented by tangent features "
                   "(regression experiment; section not checked)",
            criterion="network > initial; inconclusive when the network leaves >= 10% of the "
                      "target's energy",
            test=functools.partial(_alignment_verdict, target=t),
            history="2026-11-24 (issue 18), before the run it judges: was 'network > initial' "
                    "whether or not the network fitted the target") for t in BAND_NAMES),
    Claim("adaptive_low_rank",
          "The adaptive model's per-layer matrices have lower rank than the fixed model's "
          "(by construction: a Schatten-2/3 penalty against a ridge penalty)",
          source=f"{PAPER}, abstract: 'structured regularization that encourages approximately "
                 "low rank solutions'",
          criterion="adaptive < fixed", test=_low_rank_verdict, kind="check"),
    Claim("network_beats_linearisation_subspace",
          "Subspace XOR: the trained network beats its own linearisation (the fixed model) "
          "clearly at the largest size", source="a check of the setting: it is chosen so that "
          "features matter (a label set by a hidden 2-D subspace)",
          criterion="fixed minus network test error > 2 s.e. (paired) and > 0.02",
          test=_network_beats_linearisation, kind="check"),
    Claim("adaptive_beats_fixed_subspace",
          "Subspace XOR: the adaptive model has lower test error than the fixed model",
          source=_SUBSPACE_SOURCE,
          criterion="fixed minus adaptive test error > 2 s.e. (paired by seed) at every size; "
                    "inconclusive unless every adaptive fit reached its optimum",
          test=_beats_fixed_verdict),
    Claim("adaptive_closes_gap_subspace",
          "Subspace XOR: the adaptive model closes at least half of the network's advantage "
          "over the fixed model", source=_SUBSPACE_SOURCE,
          criterion="(fixed - adaptive) >= 0.5 (fixed - network) in mean test error at the "
                    "largest size; inconclusive if the network does not beat the fixed model or "
                    "an adaptive fit did not reach its optimum",
          test=_closes_gap),
    *(c for name, title in DATA_TITLES.items() for c in (
        Claim(f"adaptive_beats_fixed_{name}",
              f"{title}: the adaptive model has lower test error than the fixed tangent-feature "
              "model", source=_SAMPLE_SOURCE,
              criterion="fixed minus adaptive test error > 2 s.e. (paired by seed) at every "
                        "size; inconclusive unless every adaptive fit reached its optimum",
              test=_beats_fixed_verdict,
              history="2026-11-24 (issue 18), before the run it judges: was 'lower at every "
                      "size' on one seed of Adam fits stopped after 500 steps (neither model "
                      "at its optimum); now paired over seeds with a 2 s.e. margin, both "
                      "models at certified optima"),
        Claim(f"order_of_magnitude_{name}",
              f"{title}: the fixed model needs ~10x the samples to match the adaptive model "
              "(LeJeune & Alemohammad)", source=_SAMPLE_SOURCE,
              criterion="median over sizes of the seed-median matched-error ratio >= 5; "
                        "inconclusive unless every adaptive fit reached its optimum",
              test=_order_of_magnitude_verdict,
              history="2026-11-24 (issue 18), before the run it judges: was 'median ratio >= "
                      "5' from one seed's curves with Adam-fitted models; now per-seed ratios "
                      "of certified optima (fixed in closed form, penalties chosen at every "
                      "size)"),
        Claim(f"network_beats_linearisation_{name}",
              f"{title}: the trained network beats its own linearisation (the fixed model) "
              "clearly at the largest size", source="a check of the setting (issue 18's "
              "review): the adaptive model is meant to explain the network's advantage",
              criterion="fixed minus network test error > 2 s.e. (paired) and > 0.02",
              test=_network_beats_linearisation, kind="check"))),
)

# ---------------------------------------------------------------------------------------------
# The three models


def fit_all(x, y, width: int, depth: int, lam, steps: int, lr: float, seed: int = 0,
            scheme: str = "ntp") -> dict:
    """Fit the three models from one initialisation.

    Args:
        x: (N, d) inputs; y: (N, k) targets.
        width, depth: the MLP's hidden width and number of hidden layers.
        lam: one penalty for both tangent-feature models, or ``{"fixed": .., "adaptive": ..}``.
        steps, lr: full-batch Adam steps and learning rate (the same for all three models).
        seed: seed of the initialisation ``theta_0``.
        scheme: the parametrization's name (:func:`ntkpaper.parametrization.named`).

    Returns:
        ``model`` (TangentModel), ``v_fixed``, ``factors``, ``v_adaptive`` (per-layer lists of
        (fan_in, fan_out) matrices), ``params`` (trained network), ``delta_w`` (its weight
        change, per layer), ``losses`` per model ((steps,) each).
    """
    abc = parametrization.named(scheme, depth)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    p0 = parametrization.init(jax.random.PRNGKey(seed), abc, x.shape[1], width, y.shape[1])
    model = tangent_features.TangentModel(p0, abc)
    lams = lam if isinstance(lam, dict) else {"fixed": lam, "adaptive": lam}
    v_fixed, l_fixed = tangent_features.fit_fixed(model, x, y, lams["fixed"], steps, lr)
    factors, l_ad = tangent_features.fit_adaptive(model, x, y, lams["adaptive"], steps, lr)
    params, l_net, _ = training.fit(lambda p: parametrization.mse(p, abc, x, y), p0,
                                    optax.adam(lr), steps, desc="network fit step")
    return {"model": model, "v_fixed": v_fixed, "factors": factors,
            "v_adaptive": tangent_features.adaptive_v(factors), "params": params,
            "delta_w": [a - b for a, b in zip(params, p0)],
            "losses": {"fixed": l_fixed, "adaptive": l_ad, "network": l_net}}


def predict(fit: dict, which: str, x) -> np.ndarray:
    """Outputs of one fitted model.

    Args:
        fit: a result of :func:`fit_all`; which: one of :data:`MODELS`; x: (N, d) inputs.

    Returns:
        (N, k) outputs.
    """
    m = fit["model"]
    if which == "fixed":
        return np.asarray(m.apply(fit["v_fixed"], x))
    if which == "adaptive":
        return np.asarray(m.apply(fit["v_adaptive"], x))
    if which == "network":
        return np.asarray(parametrization.forward(fit["params"], m.abc,
                                                  np.asarray(x, np.float32)))
    raise ValueError(f"unknown model {which!r}; choose one of {MODELS}")


def _error(fit: dict, which: str, x, labels) -> float:
    """Classification error (fraction of argmax mistakes) of one fitted model."""
    return 1 - float(np.mean(predict(fit, which, x).argmax(1) == labels))


# ---------------------------------------------------------------------------------------------
# Section 1: how the kernel changes


def eigen_targets(x, width: int, depth: int, bands: dict[str, Sequence[int]], seed: int = 0,
                  scheme: str = "ntp") -> dict[str, np.ndarray]:
    """Targets built from eigenvectors of the initial eNTK on ``x``.

    A band at the top is well represented by the initial tangent features, a band far down is
    poorly represented.

    Args:
        x: (N, d) inputs; width, depth, seed, scheme: the MLP as in :func:`fit_all`.
        bands: ``{"name": (i, j)}``: eigenvectors i..j-1 (0 = largest eigenvalue), combined with
            random Gaussian weights.

    Returns:
        ``{name: (N, 1) float32 target}``, each scaled to unit root-mean-square.
    """
    abc = parametrization.named(scheme, depth)
    p0 = parametrization.init(jax.random.PRNGKey(seed), abc, x.shape[1], width, 1)
    _, v = alignment.spectrum(entk.mlp_layer_kernels(p0, abc, x).sum(0))
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

    Args:
        x: (N, d) inputs; targets: ``{name: (N, 1)}`` (from :func:`eigen_targets`).
        width, depth, lam, steps, lr, seed: as in :func:`fit_all`.

    Returns:
        A table with rows target, kernel ("initial", "network", "adaptive"), alignment (centred,
        with the target), rel_change (from the initial eNTK), plus rows kernel "change cosine"
        (alignment = the cosine between ``K_net - K_0`` and ``K_adaptive - K_0``, rel_change
        NaN); and ``{target: fit}`` (from :func:`fit_all`).
    """
    rows, fits = [], {}
    for name, y in progress(targets.items(), desc="05 kernel change", unit="target"):
        fit = fit_all(x, y, width, depth, lam, steps, lr, seed)
        fits[name] = fit
        m = fit["model"]
        k0 = entk.mlp_layer_kernels(m.params0, m.abc, x).sum(0)
        k_net = entk.mlp_layer_kernels(fit["params"], m.abc, x).sum(0)
        k_ad = tangent_features.adapted_layer_kernels(m, fit["factors"], x).sum(0)
        for kname, k in (("initial", k0), ("network", k_net), ("adaptive", k_ad)):
            rows.append({"target": name, "kernel": kname,
                         "alignment": alignment.alignment(k, y),
                         "rel_change": float(np.linalg.norm(k - k0) / np.linalg.norm(k0))})
        d1, d2 = (k_net - k0).ravel(), (k_ad - k0).ravel()
        rows.append({"target": name, "kernel": "change cosine",
                     "alignment": float(d1 @ d2 / (np.linalg.norm(d1) * np.linalg.norm(d2))),
                     "rel_change": np.nan})
        u = k0.ravel() / np.linalg.norm(k0)  # the shared rescaling of K_0, projected out
        p1, p2 = d1 - (d1 @ u) * u, d2 - (d2 @ u) * u
        rows.append({"target": name, "kernel": "projected change cosine",
                     "alignment": float(p1 @ p2 / (np.linalg.norm(p1) * np.linalg.norm(p2))),
                     "rel_change": np.nan})
        fit_loss = float(fit["losses"]["network"][-1]) / float(0.5 * np.mean(np.sum(y**2, 1)))
        for r in rows:
            if r["target"] == name:
                r["network_rel_loss"] = fit_loss  # the network's final loss / the target's
    return pd.DataFrame(rows), fits


def kernel_change_values(kc: pd.DataFrame, fits: dict) -> dict:
    """The ledger's values of section 1.

    Args:
        kc, fits: the results of :func:`compute_kernel_change`.

    Returns:
        ``{key: value}``: each model's final training loss per target
        (``reg_final_loss_<target>_<model>``), each kernel's alignment and, where defined, its
        relative change (``kernel_<target>_<kernel>_alignment`` / ``_rel_change``).
    """
    out = {}
    for name, fit in fits.items():  # how well each model fitted (relative to the target's energy)
        for which, losses in fit["losses"].items():
            out[f"reg_final_loss_{name}_{which}"] = losses[-1]
    for r in kc.itertuples():
        out[f"kernel_{r.target}_{r.kernel.replace(' ', '_')}_alignment"] = r.alignment
        if np.isfinite(r.rel_change):
            out[f"kernel_{r.target}_{r.kernel}_rel_change"] = r.rel_change
    return out


# colours and names of the kernels; the initial eNTK is the fixed tangent-feature model's kernel
_KERNELS = {"initial": ("fixed", "initial eNTK (fixed features)"),
            "network": ("network", plotting.label("network")),
            "adaptive": ("adaptive", plotting.label("adaptive"))}


def plot_kernel_change(kc: pd.DataFrame, caption: str) -> plt.Figure:
    """Bars of each kernel's centred alignment with the target and of its relative change.

    Args:
        kc: the table of :func:`compute_kernel_change`; caption: the data and profile.
    """
    kk = kc[kc.kernel.isin(list(_KERNELS))].assign(
        kernel=lambda d: d.kernel.map(lambda k: _KERNELS[k][1]))
    order = [name for _, name in _KERNELS.values()]
    pal = {name: plotting.colour(method) for method, name in _KERNELS.values()}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.barplot(data=kk, x="target", y="alignment", hue="kernel", hue_order=order, palette=pal,
                ax=axes[0])
    sns.barplot(data=kk[kk.kernel != order[0]], x="target", y="rel_change", hue="kernel",
                hue_order=order[1:], palette=pal, ax=axes[1])
    axes[0].set(xlabel="target (eigenvector band of K_0)",
                ylabel="centred alignment with the target", title=caption)
    axes[1].set(xlabel="target (eigenvector band of K_0)", ylabel="||K - K_0|| / ||K_0||",
                title=caption)
    for ax in axes:
        ax.legend(title=None)
    return fig


# ---------------------------------------------------------------------------------------------
# Section 2: low-rank structure

_MATRICES = (("fixed", "v_fixed"), ("adaptive", "v_adaptive"), ("network", "delta_w"))


def rank_table(fits: dict, share: float = 0.9) -> pd.DataFrame:
    """Energy rank (:func:`ntkpaper.tangent_features.rank_at`) of each learned per-layer matrix:
    V of the fixed and adaptive models and the network's weight change, per fit and layer.

    Args:
        fits: ``{name: fit}`` (from :func:`compute_kernel_change`); share: the energy share.

    Returns:
        A table with rows fit, model, layer (1 = first), rank, size (the smaller side),
        top_share (share of the squared Frobenius norm in the largest singular value).
    """
    rows = []
    for name, fit in fits.items():
        for which, key in _MATRICES:
            mats = fit[key]
            for i, s in enumerate(tangent_features.singular_values(mats)):
                rows.append({"fit": name, "model": which, "layer": i + 1,
                             "rank": tangent_features.rank_at(s, share),
                             "size": min(np.asarray(mats[i]).shape),
                             "top_share": float(s[0] ** 2 / np.sum(s**2)) if s.sum() else 0.0})
    return pd.DataFrame(rows)


def rank_values(ranks: pd.DataFrame) -> dict:
    """The ledger's values of section 2: ``{"rank90_<fit>_<model>_layer<l>": rank}``.

    Args:
        ranks: the table of :func:`rank_table` (at share 0.9).
    """
    return {f"rank90_{r.fit}_{r.model}_layer{r.layer}": r.rank for r in ranks.itertuples()}


_MATRIX_LABELS = {"fixed": "fixed tangent features (V)",
                  "adaptive": "adaptive tangent features (V)",
                  "network": "finite network (W_T - W_0)"}
_LAYER_STYLES = ("-", "--", ":", "-.")


def plot_singular_values(fits: dict, caption: str) -> plt.Figure:
    """Normalised singular values of each hidden layer's learned matrix, one panel per fit
    (colour: the model; line style: the layer).

    Args:
        fits: ``{name: fit}`` (from :func:`compute_kernel_change`); caption: data and profile.
    """
    fig, axes = plt.subplots(1, len(fits), figsize=(5 * len(fits), 3.8), sharey=True)
    for ax, (name, fit) in zip(np.atleast_1d(axes), fits.items()):
        for which, key in _MATRICES:
            svs = tangent_features.singular_values(fit[key])[:-1]  # hidden-layer matrices
            for i, s in enumerate(svs):
                ax.plot(np.arange(1, len(s) + 1), s / s[0],
                        _LAYER_STYLES[i % len(_LAYER_STYLES)], color=plotting.colour(which),
                        label=f"{_MATRIX_LABELS[which]}, layer {i + 1}")
        ax.set(yscale="log", xscale="log", ylim=(1e-4, 1.5), xlabel="index i",
               ylabel="singular value / largest", title=f"target '{name}'\n{caption}")
        ax.legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------------------------
# Section 3: sample complexity


def _errors(out, labels) -> float:
    return 1 - float(np.mean(np.asarray(out).argmax(1) == np.asarray(labels)))


def fit_adaptive_rebalanced(model, x, y, lam: float, steps: int, lr: float) -> list[tuple]:
    """:func:`ntkpaper.tangent_features.fit_adaptive` for ``steps // 2`` Adam steps, then each
    layer's factors replaced by the balanced factors of its V (same V, the factored penalty
    lowered to the Schatten one), then ``steps - steps // 2`` more steps from there."""
    factors, _ = tangent_features.fit_adaptive(model, x, y, lam, steps // 2, lr)
    v = tangent_features.adaptive_v(factors)
    balanced = [tuple(jax.numpy.asarray(a, jax.numpy.float32)
                      for a in tangent_features.balanced_factors(np.asarray(m))) for m in v]
    factors, _ = tangent_features.fit_adaptive(model, x, y, lam, steps - steps // 2, lr,
                                               factors=balanced)
    return factors


def certified_curve(x, labels, x_val, labels_val, x_test, labels_test, sizes: Sequence[int],
                    n_classes: int, width: int, depth: int, lams: Sequence[float],
                    adaptive_steps: int, net_steps: int, lr: float, seeds: int = 1,
                    scheme: str = "ntp") -> pd.DataFrame:
    """Test error vs training-set size with each tangent-feature model at its optimum and its
    penalty chosen on validation at every size and seed.

    * ``fixed``: closed form (:func:`ntkpaper.tangent_features.solve_fixed`) for every penalty in
      ``lams``; the one with the lowest validation error is kept; ``certificate`` is its
      relative gradient norm (:func:`ntkpaper.tangent_features.fixed_stationarity`).
    * ``adaptive``: :func:`fit_adaptive_rebalanced` (``adaptive_steps`` Adam steps, factors
      rebalanced half-way) for every penalty; the lowest validation error is kept;
      ``certificate`` is the relative gap between its factored objective and the regularised
      (Schatten-2/3) objective of its V, which are equal at an optimum.
    * ``network``: the network itself, ``net_steps`` Adam steps without penalty.

    Args:
        x: (N, d) training inputs, prefixes roughly class-balanced; labels: (N,) ints.
        x_val, labels_val: validation set; x_test, labels_test: test set.
        sizes: training-set sizes (prefixes); lams: penalties tried (both models).

    Returns:
        rows n, seed, model, lam, val_error, test_error, train_error, certificate.
    """
    rows = []
    jobs = [(int(n), s) for n in sizes for s in range(seeds)]
    for n, seed in progress(jobs, desc="05 sample complexity", unit="fit"):
        rows += _certified_fits(x, labels, (x_val, labels_val), (x_test, labels_test), n, seed,
                                n_classes, width, depth, lams, adaptive_steps, net_steps, lr,
                                scheme)
    return pd.DataFrame(rows)


def _certified_fits(x, labels, val, test, n, seed, n_classes, width, depth, lams,
                    adaptive_steps, net_steps, lr, scheme) -> list[dict]:
    """The three models of :func:`certified_curve` at one size and seed: its rows."""
    xs, ls = np.asarray(x[:n], np.float32), labels[:n]
    y = data.one_hot(ls, n_classes, "centered").astype(np.float32)
    abc = parametrization.named(scheme, depth)
    p0 = parametrization.init(jax.random.PRNGKey(seed), abc, xs.shape[1], width, n_classes)
    model = tangent_features.TangentModel(p0, abc)
    rows = []

    def record(which, lam, predict_fn, certificate):
        rows.append({"n": n, "seed": seed, "model": which, "lam": lam,
                     "val_error": _errors(predict_fn(val[0]), val[1]),
                     "test_error": _errors(predict_fn(test[0]), test[1]),
                     "train_error": _errors(predict_fn(xs), ls), "certificate": certificate})

    fixed = tangent_features.solve_fixed(model, xs, y, lams)
    best = min(fixed, key=lambda lam: _errors(model.apply(fixed[lam], val[0]), val[1]))
    v = fixed[best]
    record("fixed", best, lambda inputs: model.apply(v, inputs),
           tangent_features.fixed_stationarity(model, v, xs, y, best))
    fits = {float(lam): fit_adaptive_rebalanced(model, xs, y, float(lam), adaptive_steps, lr)
            for lam in lams}
    best = min(fits, key=lambda lam: _errors(
        model.apply(tangent_features.adaptive_v(fits[lam]), val[0]), val[1]))
    v_ad = tangent_features.adaptive_v(fits[best])
    obj_f = tangent_features.objective_factored(model, fits[best], xs, y, best)
    obj_r = tangent_features.objective_regularised(model, v_ad, xs, y, best)
    record("adaptive", best, lambda inputs: model.apply(v_ad, inputs), (obj_f - obj_r) / obj_r)
    params, _, _ = training.fit(lambda p: parametrization.mse(p, abc, xs, y), p0,
                                optax.adam(lr), net_steps, desc="network fit step")
    record("network", np.nan, lambda inputs: parametrization.forward(
        params, abc, np.asarray(inputs, np.float32)), np.nan)
    return rows


def paired_ratio_intervals(df: pd.DataFrame, better: str = "adaptive", worse: str = "fixed"
                           ) -> pd.DataFrame:
    """:func:`matched_error_ratio` per seed, summarised: per n the median ratio over seeds and
    its range (seeds with no crossing are left out and counted).

    Returns:
        rows n, ratio_median, ratio_min, ratio_max, seeds_matched, seeds.
    """
    per_seed = [matched_error_ratio(g, better, worse).assign(seed=s)
                for s, g in df.groupby("seed")]
    r = pd.concat(per_seed)
    g = r.groupby("n").ratio
    return pd.DataFrame({"ratio_median": g.median(), "ratio_min": g.min(),
                         "ratio_max": g.max(), "seeds_matched": g.count(),
                         "seeds": g.size()}).reset_index()


def matched_error_ratio(df: pd.DataFrame, better: str = "adaptive", worse: str = "fixed"
                        ) -> pd.DataFrame:
    """Sample-complexity ratio at matched error: for each n, how many samples ``worse`` needs
    to reach ``better``'s test error at n (log-log interpolation of ``worse``'s mean curve;
    NaN where that error lies outside ``worse``'s measured range).

    Args:
        df: a table with columns model, n, test_error (e.g. :func:`certified_curve`).

    Returns:
        A table with rows n, error (of ``better``), n_needed (by ``worse``), ratio = n_needed / n.
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


def compute_sample_complexity(datasets: Sequence[str], sizes: Sequence[int], n_test: int,
                              n_val: int, lams: Sequence[float], width: int, depth: int,
                              adaptive_steps: int, net_steps: int, lr: float, n_seeds: int,
                              seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sample-complexity study over data sets (a data set that cannot be had offline is
    replaced by its stand-in, :data:`ntkpaper.data.STAND_INS`, and says so).

    For each data set: per-example standardised images, :func:`certified_curve` (penalties
    chosen on ``n_val`` validation images at every size and seed) and the matched-error ratios
    per seed (:func:`paired_ratio_intervals`).

    Args:
        datasets: names for :func:`ntkpaper.data.load`; sizes: training-set sizes.
        n_test, n_val: test and validation images; lams: the penalties tried.
        width, depth, adaptive_steps, net_steps, lr: as in :func:`certified_curve`.
        n_seeds: initialisations per size; seed: seed of the data subsets.

    Returns:
        ``(sc, ratio)``: the curves (rows of :func:`certified_curve` with columns data (title)
        and dataset (name) added) and the ratios (rows of :func:`paired_ratio_intervals`, same
        added columns).
    """
    sc_frames, ratios = [], []
    for name in datasets:
        suffix = ""
        try:
            tr = data.load(name, "train", n=max(sizes), seed=seed)
        except data.DatasetUnavailable as err:  # CIFAR-10 offline: its stand-in, said so
            print(f"{name} unavailable ({str(err).splitlines()[0]}); using stand-in "
                  f"{data.STAND_INS[name]}")
            suffix = f" (stand-in for {data.REGISTRY[name].title})"
            name = data.STAND_INS[name]
            tr = data.load(name, "train", n=max(sizes), seed=seed)
        ts = data.load(name, "test", n=n_test, seed=seed)
        va = data.load(name, "val", n=n_val, seed=seed)
        flat = lambda d: data.standardize_per_example(d.x).reshape(len(d), -1)
        title = tr.meta["title"] + suffix  # the ledger keys use its first word only
        df = certified_curve(flat(tr), tr.y, flat(va), va.y, flat(ts), ts.y, sizes,
                             tr.n_classes, width, depth, lams, adaptive_steps, net_steps, lr,
                             n_seeds)
        rt = paired_ratio_intervals(df)
        for frame, frames in ((df, sc_frames), (rt, ratios)):
            frame["data"], frame["dataset"] = title, name
            frames.append(frame)
    return pd.concat(sc_frames, ignore_index=True), pd.concat(ratios, ignore_index=True)


def subspace_task(n_train: int, n_val: int, n_test: int, d: int, seed: int = 0
                  ) -> tuple[np.ndarray, ...]:
    """A classification task whose label depends on a hidden 2-D subspace of the inputs.

    ``x ~ N(0, I_d)``; with ``z = U^T x`` for a random orthonormal ``U`` (d, 2), the label is the
    XOR of the signs of ``z_1`` and ``z_2`` (2 balanced classes). A network that learns the
    subspace (a rank-2 first-layer change) needs few samples; a fixed kernel needs many (its
    target is a degree-2 function of d inputs). The same ``U`` for all splits.

    Returns:
        ``(x, labels, x_val, labels_val, x_test, labels_test)``: float32 (n, d), int64 (n,).
    """
    if d < 2:
        raise ValueError(f"d must be >= 2, got {d}")
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(d, 2)))
    out = []
    for n in (n_train, n_val, n_test):
        x = rng.normal(size=(n, d)).astype(np.float32)
        z = x @ u
        out += [x, ((z[:, 0] > 0) ^ (z[:, 1] > 0)).astype(np.int64)]
    return tuple(out)


def compute_subspace(d: int, sizes: Sequence[int], n_val: int, n_test: int,
                     lams: Sequence[float], width: int, depth: int, adaptive_steps: int,
                     net_steps: int, lr: float, n_seeds: int, seed: int = 0
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`certified_curve` and :func:`paired_ratio_intervals` on :func:`subspace_task`
    (data title ``"Subspace XOR (d = <d>)"``, dataset ``"subspace"``)."""
    x, lab, xv, lv, xt, lt = subspace_task(max(sizes), n_val, n_test, d, seed)
    sc = certified_curve(x, lab, xv, lv, xt, lt, sizes, 2, width, depth, lams, adaptive_steps,
                         net_steps, lr, n_seeds)
    title = f"Subspace XOR (d = {d})"
    rt = paired_ratio_intervals(sc)
    return (sc.assign(data=title, dataset="subspace"), rt.assign(data=title, dataset="subspace"))


def _short(title: str) -> str:
    """The data set's part of a ledger key: ``"Fashion-MNIST" -> "fashion-mnist"``."""
    return title.split()[0].lower()


def sample_complexity_values(sc: pd.DataFrame, ratio: pd.DataFrame) -> dict:
    """The ledger's values of section 3.

    Args:
        sc, ratio: the results of :func:`compute_sample_complexity`.

    Returns:
        ``{key: value}``: mean test and train errors over seeds
        (``test_error_<data>_<model>_n<n>``, ``train_error_...``), the largest certificate over
        seeds (``certificate_<data>_<model>_n<n>``; fixed: relative gradient norm, adaptive:
        relative objective gap), the median chosen penalty (``lam_<data>_<model>_n<n>``) and
        the finite seed-median matched-error ratios with their range (``ratio_<data>_n<n>``,
        ``ratio_min_...``, ``ratio_max_...``).
    """
    out = {}
    g = sc.groupby(["data", "model", "n"])
    mean = g[["test_error", "train_error"]].mean().join(g.certificate.max()).join(
        g.lam.median())
    for r in mean.reset_index().itertuples():
        key = f"{_short(r.data)}_{r.model}_n{r.n}"
        out[f"test_error_{key}"] = r.test_error
        out[f"train_error_{key}"] = r.train_error
        if np.isfinite(r.certificate):
            out[f"certificate_{key}"] = r.certificate
            out[f"lam_{key}"] = r.lam
    for r in ratio.itertuples():
        if np.isfinite(r.ratio_median):
            out[f"ratio_{_short(r.data)}_n{r.n}"] = r.ratio_median
            out[f"ratio_min_{_short(r.data)}_n{r.n}"] = r.ratio_min
            out[f"ratio_max_{_short(r.data)}_n{r.n}"] = r.ratio_max
    return out


def plot_sample_complexity(sc: pd.DataFrame, caption: str) -> plt.Figure:
    """Test error vs training-set size of the three models, one panel per data set.

    Args:
        sc: the curves of :func:`compute_sample_complexity`; caption: the model and profile.
    """
    titles = list(dict.fromkeys(sc.data))
    words = sc.assign(model=sc.model.map(plotting.label))
    pal = {plotting.label(m): plotting.colour(m) for m in MODELS}
    fig, axes = plt.subplots(1, len(titles), figsize=(5.5 * len(titles), 3.8), sharey=True)
    for ax, title in zip(np.atleast_1d(axes), titles):
        sns.lineplot(data=words[words.data == title], x="n", y="test_error", hue="model",
                     hue_order=list(pal), palette=pal, marker="o", ax=ax)
        ax.set(xscale="log", yscale="log", xlabel="training samples", ylabel="test error",
               title=f"{title}, {caption}")
        ax.legend(title=None)
    return fig
