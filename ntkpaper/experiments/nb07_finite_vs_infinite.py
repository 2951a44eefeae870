"""Driver of notebook 07 (``notebooks/07_finite_vs_infinite.py``): finite versus infinite
networks, after Lee et al. 2020 (*Finite Versus Infinite Neural Networks: an Empirical Study*,
NeurIPS; arXiv:2007.15801). This version: the kernel findings, the centred/ensembled networks
moved from notebook 01, and trained FC networks (the trained CNNs are still to come).

Sections and what their functions return:

1. :func:`compute_shared_kernels` - analytic NNGP and NTK kernels of an FC net (ReLU, ``depth``
   hidden layers) and of CNN-VEC (``depth`` 3x3 SAME convolutions + ReLU, flattened, dense
   readout; no pooling), train x train, val x train and test x train, computed once at the
   largest training-set size and sliced for the nested smaller ones. :func:`compute_regression`
   solves every (data set, architecture, kernel, n) with ``diag_reg`` chosen on validation (and,
   for section 2, the early-stopping time chosen on validation); :func:`nngp_vs_ntk` pairs the
   two kernels on the shared test points.
2. :func:`ridge_vs_early_stopping` - the two validation-tuned predictors compared on test.
3. :func:`compute_precision` - kernels computed *and* solved in float32 against float64.
4. :func:`compute_zca` - regularised ZCA (fitted on the training pool) with both kernels.
5. :func:`compute_centred_ensembles` - FC networks, plain and centred, vs the NTK prediction.
6. :func:`compute_width_study` - trained FC nets (NTK and standard parameterisation, plain and
   centred) across widths, learning rate and stopping step chosen on validation
   (:func:`choose_networks`), against the FC kernel (:func:`kernel_vs_network`), NTK vs SP
   (:func:`parameterisation_pairs`) and across widths (:func:`width_steps`);
   :func:`compute_decay_study` - weight decay and learning rate vs the distance to the NTK
   prediction (:func:`decay_contrasts`).

Data handling: images are standardised per example (over all pixels and channels); FC kernels see
the flat vector, CNN-VEC the same values as an (H, W, C) image. Targets are the -0.1/0.9 one-hot
codes, accuracy the argmax of the 10 outputs. Training sets are nested: one class-balanced pool
per data set, ordered so that every prefix is (nearly) class-balanced
(:func:`nested_order`); ``n`` training points are its first ``n``. Validation points come from the
official training images 50k-60k (``split="val"``), test points from the official test set; the
same test points serve every architecture, kernel and ``n``, so differences between methods carry
paired standard errors (:func:`ntkpaper.stats.paired_difference` over test points).

What could and could not be read of the paper (``build/lee2020_protocol.md``): only its abstract.
Every claim cites the abstract's clause; the paper's own numbers are not shown (they could not be
read here) and section numbers are never cited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import scipy.linalg

from ntkpaper import architectures, cache, claims, data, kernels, plotting, stats, training
from ntkpaper.claims import Claim
from ntkpaper.progress import progress

KINDS = ("nngp", "ntk")
ARCHS = ("fc", "cnn")
ARCH_LABEL = {"fc": "FC", "cnn": "CNN-VEC"}
ARCH_STYLE = {"fc": "-", "cnn": "--"}
ARCH_MARKER = {"fc": "o", "cnn": "s"}
ARCH_COLOUR = {"fc": (0.25, 0.25, 0.25), "cnn": plotting.colour("ntk")}  # NTK-only figures
SHORT = {"mnist": "mnist", "fashion_mnist": "fashion", "cifar10": "cifar10"}
METHODS = ("ridge", "early_stopping")
EPS32 = float(np.finfo(np.float32).eps)  # 2^-23: float32's unit round-off x 2
PAPER_NUMBERS = ("the paper's numbers could not be read here (arXiv:2007.15801v2); to be added")

# ---------------------------------------------------------------------------------------------
# Claims and checks, declared before any number exists

_LEE20 = "Lee et al. 2020, abstract (arXiv:2007.15801)"
_LEE19 = ("the width^-1/2 rate of a network's deviation from its linearised (kernel) dynamics: "
          "Lee et al. 2019 (Wide Neural Networks of Any Depth Evolve as Linear Models Under "
          "Gradient Descent)")


def _abstract(clause: str) -> str:
    """The source of a claim: the abstract's clause in quotes, then the paper."""
    return f"'{clause}', {_LEE20}"


_CENTRED = ("centered and ensembled finite networks have reduced posterior variance and behave "
            "more similarly to infinite networks")

CLAIMS = claims.collect(
    Claim("nngp_vs_ntk",
          "NNGP kernels frequently outperform NTK kernels (every data set, architecture and "
          "training-set size)",
          source=_abstract("neural network Gaussian process (NNGP) kernels frequently "
                           "outperform neural tangent (NT) kernels"),
          criterion="over all (data set, architecture, n) cells, each kernel with diag_reg "
                    "chosen on validation: NNGP - NTK test accuracy > 0 in more than half of "
                    "the cells, and NNGP ahead by > 2 paired s.e. in at least as many cells as "
                    "NTK ahead by > 2 paired s.e.",
          test=lambda pairs: _nngp_vs_ntk(pairs)),
    Claim("ridge_like_early_stopping",
          "Diagonal regularisation of a kernel and early stopping of its gradient flow, each "
          "tuned on validation, are equally accurate",
          source=_abstract("diagonal regularization of kernels acts similarly to early "
                           "stopping"),
          criterion="at the largest n of every (data set, architecture, kernel): the 95% "
                    "interval (+-1.96 paired s.e.) of acc(early stopping) - acc(ridge) lies "
                    "within +-0.02",
          test=lambda es: _ridge_like_early_stopping(es)),
    Claim("float32_critical_size",
          "Kernels computed and solved in float32 lose accuracy beyond a critical training-set "
          "size",
          source=_abstract("floating point precision limits kernel performance beyond a "
                           "critical dataset size"),
          criterion="NTK, diag_reg 0: some n* among the profile's sizes (FC or CNN-VEC) where "
                    "float32 test accuracy falls > 2 paired s.e. below float64, or the float32 "
                    "Cholesky fails; no such n: inconclusive (the critical size lies beyond this "
                    "profile)",
          test=lambda prec: _float32_critical_size(prec)),
    Claim("float32_path_is_float32",
          "The float32 path computes the kernels and the solve in float32 (not cast from "
          "float64)",
          source="control of this notebook (Sec. 3), not a finding of the paper",
          criterion="kernel and prediction dtypes float32 for every float32 row, and the float32 "
                    "kernel differs from the float64 kernel rounded to float32 (computed, not "
                    "cast), by at most 1e-2 of the largest entry (the same kernel)",
          kind="check",
          test=lambda prec: _float32_path(prec)),
    Claim("zca_helps_cnn",
          "Regularised ZCA whitening (strength chosen on validation) improves CNN-VEC kernels",
          source=_abstract("regularized ZCA whitening improves accuracy") + "; that the gain "
                 "is for convolutional kernels on images is our reading, not checked against "
                 "the paper's body",
          criterion="for both kernels (NNGP, NTK) of CNN-VEC: test accuracy with the "
                    "validation-chosen strength minus without ZCA > 2 paired s.e.",
          test=lambda effects: _zca_helps(effects, "cnn")),
    Claim("centring_reduces_variance",
          "Centred networks have a smaller variance across initialisations than plain ones",
          source=_abstract(_CENTRED),
          criterion="variance of the test outputs across members: centred < 0.5 x plain at "
                    "every width",
          test=lambda summary: _centring_reduces_variance(summary)),
    Claim("centred_converge_ntk",
          "Centred NTK-parameterised nets approach the NTK gradient-flow prediction as width "
          "grows, ~ width^-1/2",
          source=f"{_abstract(_CENTRED)}; {_LEE19}",
          criterion="slope of the members' mean distance vs width in [-0.75, -0.25]",
          test=lambda slopes: claims.in_range("slope", slopes["centred"], -0.75, -0.25)),
    Claim("ensemble_variance_dominated",
          "What separates a centred net from the infinite-width prediction is variance, which "
          "ensembling removes: an ensemble of E is 1/sqrt(E) as far as one member",
          source=_abstract(_CENTRED),
          criterion="at the widest width, distance(centred ensemble of E) / mean distance "
                    "(centred member) in [0.8, 1.25] x 1/sqrt(E) (a bias, e.g. a wrong limit, "
                    "would push it towards 1)",
          test=lambda summary: _ensemble_variance_dominated(summary)),
    Claim("uncentred_no_converge",
          "Plain (uncentred) nets keep their random initial function f0, so they do not "
          "converge to the mean prediction",
          source="control of this notebook (Sec. 5), not a finding of the paper: f0 is a "
                 "width-independent GP sample",
          criterion="slope > -0.15 and distance at the widest width > 0.3",
          kind="check",
          test=lambda summary, slopes: _uncentred_no_converge(summary, slopes)),
    Claim("kernel_beats_fc_net",
          "The FC kernel outperforms the trained FC network of the same architecture",
          source=_abstract("kernel methods outperform fully-connected finite-width networks, but "
                           "underperform convolutional finite width networks") + " (FC part; "
                           "the convolutional part: cnn_net_beats_kernel)",
          criterion="at NET_N_TRAIN: the validation-chosen FC kernel (NNGP or NTK, ridge) minus "
                    "the validation-chosen trained FC net (plain or centred, parameterisation, "
                    "width, learning rate, stopping step; test answers averaged over seeds) "
                    "> 2 paired s.e. on the shared test points",
          test=lambda kvn: _kernel_beats_net(kvn)),
    Claim("ntk_param_beats_sp",
          "NTK parameterisation outperforms standard parameterisation at the widest widths, "
          "each with its learning rate and stopping step chosen on validation",
          source=_abstract("the NTK parameterization outperforms the standard parameterization "
                           "for finite width networks"),
          criterion="plain (uncentred) nets: holds if NTK - SP > 2 paired s.e. at the widest "
                    "width, or > 0 at both of the two widest; fails if SP - NTK > 2 paired "
                    "s.e. at either of the two widest; otherwise inconclusive (a tie within the "
                    "noise)",
          test=lambda pp: _ntk_param_beats_sp(pp)),
    Claim("width_non_monotone",
          "The validation-chosen accuracy of FC nets depends non-monotonically on width, and "
          "not (only) through the interpolation threshold",
          source=_abstract("finite network performance depends non-monotonically on width in "
                           "ways not captured by double descent phenomena"),
          criterion="plain (uncentred) nets, for at least one parameterisation: some wider "
                    "width beats a narrower one by > 2 paired s.e. AND some wider width loses "
                    "to a narrower one by > 2 paired s.e., the narrower of that pair already "
                    "above the interpolation threshold (parameters > n x classes); "
                    "seed-averaged test answers; replaces notebook 01's wider_is_better",
          test=lambda steps: _width_non_monotone(steps)),
    Claim("decay_lr_break_correspondence",
          "Weight decay and a large learning rate move a centred network away from the NTK "
          "gradient-flow prediction at the same time t = lr x steps",
          source=_abstract("weight decay and the use of a large learning rate break the "
                           "correspondence between finite and infinite networks"),
          criterion="both: distance at the largest L2 minus at L2 = 0, and distance at the "
                    "largest learning rate minus at the smallest, > 2 s.e. over seeds (paired by "
                    "initialisation); accuracy is recorded without a claim (the abstract fixes "
                    "no direction)",
          test=lambda contrasts: _decay_lr_break(contrasts)),
    Claim("layerwise_l2_beats_plain",
          "Layer-wise scaled weight decay (standard L2 on the function's weights) generalises "
          "better than plain L2 on the NTK-parameterised weights",
          source=_abstract("Our experiments additionally motivate an improved layer-wise "
                           "scaling for weight decay which improves generalization in "
                           "finite-width networks") + "; the scaling is our derivation "
                 "(training.layerwise_l2), not checked against the paper's formula",
          criterion="plain NTK-parameterised FC nets at NET_DECAY_WIDTH, each method's strength "
                    "(its grid plus 0) and stopping step chosen on validation: holds if "
                    "layer-wise - plain > 2 paired s.e.; fails if plain - layer-wise > 2 paired "
                    "s.e.; otherwise inconclusive",
          test=lambda lw: _layerwise_beats_plain(lw)),
    Claim("cnn_net_beats_kernel",
          "Trained CNNs outperform their (CNN-VEC) kernel",
          source=_abstract("kernel methods outperform fully-connected finite-width networks, but "
                           "underperform convolutional finite width networks") + " (CNN part; "
                           "without pooling here, CNN-GAP at `full`)",
          criterion="at CNN_NET_N_TRAIN on pooled images: the validation-chosen trained CNN "
                    "(shared filters; channels, learning rate, stopping step; seed-averaged "
                    "test answers) minus the validation-chosen CNN-VEC kernel (NNGP or NTK, "
                    "ridge) > 2 paired s.e. on the shared test points",
          test=lambda kvc: _cnn_beats_kernel(kvc)),
    Claim("sharing_helps_narrow_only",
          "Weight sharing (equivariance) helps narrow CNNs and its benefit fades with width "
          "(without pooling the two infinite-width kernels are equal)",
          source=_abstract("equivariance of CNNs is only beneficial for narrow networks far "
                           "from the kernel regime") + "; equal kernels: Novak et al. 2019 "
                 "(Bayesian Deep Convolutional Networks with Many Channels are Gaussian "
                 "Processes)",
          criterion="validation-chosen CNN minus its locally connected twin: > 2 paired s.e. "
                    "at the narrowest width, AND that gap minus the gap at the widest width > 2 "
                    "paired s.e. (seed-averaged answers on the shared test points)",
          test=lambda gaps: _sharing_helps_narrow(gaps)),
)


# ---------------------------------------------------------------------------------------------
# Data


@dataclass
class Split:
    """Standardised inputs ``x`` (n, D) float64, labels ``y`` (n,), targets ``t`` (n, k), the
    image shape ``(H, W, C)`` and ``key``, the split's identity in cache keys."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    shape: tuple
    key: dict

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int) -> Split:
        """The first ``n`` points (a nested subset of a pool)."""
        if not 1 <= n <= len(self):
            raise ValueError(f"n={n} must be between 1 and the pool's {len(self)} points")
        return Split(self.x[:n], self.y[:n], self.t[:n], self.shape, {**self.key, "head": n})

    def inputs(self, arch: str) -> np.ndarray:
        """(n, D) for FC, (n, H, W, C) for CNN-VEC."""
        return self.x if arch == "fc" else self.x.reshape(len(self.x), *self.shape)

    def whiten(self, w: np.ndarray) -> Split:
        """The split after a ZCA matrix ``w`` (D, D) from :func:`ntkpaper.data.zca_fit` (and
        per-example restandardisation)."""
        key = {**self.key, "zca": data.formats.arrays_sha256({"w": w})}
        return Split(data.zca_apply(self.x, w), self.y, self.t, self.shape, key)


def nested_order(y: np.ndarray, n_classes: int) -> np.ndarray:
    """An order of the indices of ``y`` in which every prefix is as class-balanced as possible:
    the i-th example of every class comes before the (i+1)-th of any class (within a rank, the
    order of ``y`` is kept).

    Args:
        y: (N,) integer labels.

    Returns:
        (N,) int64 permutation.
    """
    y = np.asarray(y)
    rank = np.empty(len(y), np.int64)
    for c in range(n_classes):
        members = np.flatnonzero(y == c)
        rank[members] = np.arange(len(members))
    return np.argsort(rank, kind="stable").astype(np.int64)


def load_split(name: str, split: str, n: int | None, seed: int, nested: bool = False) -> Split:
    """A class-balanced subset of ``split``, standardised per example; ``nested`` reorders it
    with :func:`nested_order` (for a training pool).

    Returns:
        A :class:`Split` with ``x`` (n, D), ``y`` (n,), ``t`` (n, k).
    """
    ds = data.load(name, split, n=n, seed=seed)
    x, y = data.standardize_per_example(ds.x), ds.y
    if nested:
        order = nested_order(y, ds.n_classes)
        x, y = x[order], y[order]
    key = {"name": name, "split": split, "n": len(y), "seed": seed, "nested": nested}
    return Split(x, y, data.one_hot(y, ds.n_classes, "lee"), tuple(ds.x.shape[1:]), key)


def load_splits(datasets, n_pool: int, n_val: int, n_test: int, seed: int
                ) -> dict[str, tuple[Split, Split, Split]]:
    """``{data set: (training pool, validation, test)}``; the pool holds ``n_pool`` points in
    nested order (:func:`nested_order`)."""
    return {name: (load_split(name, "train", n_pool, seed, nested=True),
                   load_split(name, "val", n_val, seed), load_split(name, "test", n_test, seed))
            for name in datasets}


def data_title(datasets) -> str:
    """``["mnist", "fashion_mnist"]`` -> ``"MNIST and Fashion-MNIST (stand-in for CIFAR-10)"``."""
    stands_for = {v: k for k, v in data.STAND_INS.items()}
    names = [plotting.label(d) + (f" (stand-in for {plotting.label(stands_for[d])})"
                                  if d in stands_for else "") for d in datasets]
    return " and ".join(names)


# ---------------------------------------------------------------------------------------------
# Kernels


@dataclass(frozen=True)
class Setup:
    """The kernels of this notebook: per architecture its depth and nested training-set sizes,
    the shared sigma_w^2 and sigma_b^2, and the relative ``diag_reg`` grid (ascending)."""

    depths: dict
    sizes: dict
    weight_var: float
    bias_var: float
    diag_regs: tuple = field(default=())

    def kernel_fn(self, arch: str):
        """neural-tangents ``kernel_fn`` of ``arch`` (``"fc"`` or ``"cnn"``, i.e. CNN-VEC)."""
        w, b = math.sqrt(self.weight_var), math.sqrt(self.bias_var)
        if arch == "fc":
            return architectures.fc(self.depths[arch], W_std=w, b_std=b)[2]
        if arch == "cnn":
            return architectures.cnn(self.depths[arch], W_std=w, b_std=b, readout="flatten")[2]
        raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHS}")


def setup(fc_depth: int, cnn_depth: int, fc_sizes, cnn_sizes, weight_var: float,
          bias_var: float, diag_regs) -> Setup:
    """A :class:`Setup` from the notebook's parameters (sizes and ridges sorted)."""
    return Setup({"fc": int(fc_depth), "cnn": int(cnn_depth)},
                 {"fc": sorted(int(n) for n in fc_sizes), "cnn": sorted(int(n) for n in cnn_sizes)},
                 float(weight_var), float(bias_var), tuple(sorted(float(r) for r in diag_regs)))


def pool_size(*size_lists) -> int:
    """The training pool every nested size is cut from: the largest size of all lists."""
    return max(int(n) for sizes in size_lists for n in sizes)


@dataclass
class Kernels:
    """NNGP and NTK of one architecture: ``train`` {kind: (n, n)}, ``others`` [{kind: (m, n)}]
    (one per other split, in the order given), all of one dtype."""

    train: dict
    others: list

    def head(self, n: int) -> Kernels:
        """The kernels of the first ``n`` training points (nested sizes)."""
        return Kernels({k: v[:n, :n] for k, v in self.train.items()},
                       [{k: v[:, :n] for k, v in o.items()} for o in self.others])


def compute_kernels(st: Setup, arch: str, train: Split, others, x64: bool = True) -> Kernels:
    """NNGP and NTK of ``arch`` on ``train`` x ``train`` and each of ``others`` x ``train``,
    through neural-tangents (``kernels.analytic_kernels``) in float64 (``x64``) or float32 (jax's
    default dtype: inputs, kernel recursion and output all float32). CNN-VEC kernels are cached
    on disk (:mod:`ntkpaper.cache`); FC kernels are cheaper to recompute.

    Returns:
        :class:`Kernels` with arrays of dtype float64 or float32.
    """
    kfn = st.kernel_fn(arch)
    pair_cost = 1 if arch == "fc" else int(np.prod(train.shape[:2]))

    def compute():
        out = {}
        tt = kernels.analytic_kernels(kfn, train.inputs(arch), x64=x64, pair_cost=pair_cost)
        for kind in KINDS:
            out[f"{kind}_train"] = tt[kind]
        for i, o in enumerate(others):
            ot = kernels.analytic_kernels(kfn, o.inputs(arch), train.inputs(arch), x64=x64,
                                          pair_cost=pair_cost)
            for kind in KINDS:
                out[f"{kind}_other{i}"] = ot[kind]
        return out

    params = {"arch": arch, "depth": st.depths[arch], "weight_var": st.weight_var,
              "bias_var": st.bias_var, "x64": x64, "train": train.key,
              "others": [o.key for o in others]}
    arrays = cache.cached("nb07_kernels", params, compute,
                          enabled=None if arch == "cnn" else False)
    return Kernels({k: arrays[f"{k}_train"] for k in KINDS},
                   [{k: arrays[f"{k}_other{i}"] for k in KINDS} for i in range(len(others))])


def compute_shared_kernels(splits: dict[str, tuple[Split, Split, Split]], st: Setup
                           ) -> dict[tuple[str, str], Kernels]:
    """Float64 kernels of every (data set, architecture) at that architecture's largest size:
    ``others`` = [validation, test].

    Returns:
        ``{(data set, arch): Kernels}``; train (n_max, n_max), val (n_val, n_max), test
        (n_test, n_max).
    """
    out = {}
    jobs = [(name, arch) for name in splits for arch in ARCHS]
    for name, arch in progress(jobs, desc="07 kernels", unit="kernel"):
        pool, val, test = splits[name]
        out[(name, arch)] = compute_kernels(st, arch, pool.head(max(st.sizes[arch])), [val, test])
    return out


# ---------------------------------------------------------------------------------------------
# 1-2. Kernel regression: ridge and early stopping, chosen on validation


@dataclass
class Regression:
    """``table``: one row per (dataset, arch, kernel, n, method) with the chosen ``diag_reg``
    (ridge) or equivalent ridge ``n / (t mean diag K)`` (early stopping; ``time`` = t), whether
    it sits on the grid's edge, validation and test accuracy. ``correct``: the same keys ->
    (m,) bool, test point answered correctly. ``curves``: validation accuracy over the whole grid
    (dataset, arch, kernel, n, method, reg, val_acc)."""

    table: pd.DataFrame
    correct: dict
    curves: pd.DataFrame


def fit_cell(k_train: np.ndarray, k_val: np.ndarray, k_test: np.ndarray, t_train: np.ndarray,
             y_val: np.ndarray, y_test: np.ndarray, diag_regs) -> dict[str, dict]:
    """Ridge and early stopping of one kernel, each tuned on validation.

    One eigendecomposition (:class:`ntkpaper.kernels.EigenSolver`) serves every ridge ``r`` and
    every gradient-flow time. The times are those at which early stopping and ridge filter the
    kernel's eigenvalues alike, ``t = n / (r mean diag K)`` (the flow's filter
    ``1 - exp(-t s / n)`` and ridge's ``s / (s + r mean diag K)`` cross at ``s = n / t``), so
    the two knobs are searched on the same grid.

    Args:
        k_train: (n, n); k_val: (v, n); k_test: (m, n) kernels; t_train: (n, k) targets;
        y_val: (v,), y_test: (m,) labels; diag_regs: ascending relative ridges (> 0).

    Returns:
        ``{method: {"reg", "time", "edge", "val_acc", "test_acc", "correct" (m,) bool,
        "curve" (len(diag_regs),) validation accuracies}}``.
    """
    regs = [float(r) for r in diag_regs]
    if not regs or min(regs) <= 0:
        raise ValueError(f"diag_regs must be positive, got {diag_regs}")
    n, nv = len(k_train), len(k_val)
    solver = kernels.EigenSolver(k_train, np.vstack([k_val, k_test]), t_train)
    out = {}
    for method in METHODS:
        times = [n / (r * solver.mean_diag) for r in regs]
        preds = [solver.ridge(r) if method == "ridge" else solver.gradient_flow(t)
                 for r, t in zip(regs, times)]
        curve = np.array([stats.accuracy(p[:nv], y_val) for p in preds])
        best = int(np.argmax(curve))  # ties: the smaller ridge / the longer time
        correct = np.argmax(preds[best][nv:], axis=-1) == np.asarray(y_test)
        out[method] = {"reg": regs[best], "time": times[best] if method != "ridge" else np.nan,
                       "edge": best in (0, len(regs) - 1), "val_acc": float(curve[best]),
                       "test_acc": float(correct.mean()), "correct": correct, "curve": curve}
    return out


def compute_regression(shared: dict[tuple[str, str], Kernels],
                       splits: dict[str, tuple[Split, Split, Split]], st: Setup) -> Regression:
    """:func:`fit_cell` for every (data set, architecture, kernel, nested size n).

    Returns:
        A :class:`Regression`.
    """
    rows, correct, curves = [], {}, []
    for (name, arch), ks in progress(shared.items(), desc="07 regression", unit="kernel"):
        pool, val, test = splits[name]
        for n in st.sizes[arch]:
            sub = ks.head(n)
            for kind in KINDS:
                cell = fit_cell(sub.train[kind], sub.others[0][kind], sub.others[1][kind],
                                pool.t[:n], val.y, test.y, st.diag_regs)
                for method, r in cell.items():
                    key = (name, arch, kind, int(n), method)
                    correct[key] = r["correct"]
                    rows.append(dict(zip(("dataset", "arch", "kernel", "n", "method"), key),
                                     diag_reg=r["reg"], time=r["time"], edge=r["edge"],
                                     val_acc=r["val_acc"], test_acc=r["test_acc"]))
                    curves += [dict(zip(("dataset", "arch", "kernel", "n", "method"), key),
                                    reg=reg, val_acc=a) for reg, a in zip(st.diag_regs, r["curve"])]
    return Regression(pd.DataFrame(rows), correct, pd.DataFrame(curves))


def chosen_reg(reg: Regression, dataset: str, arch: str, kind: str, n: int) -> float:
    """The validation-chosen ridge of (dataset, arch, kind) at the largest computed size <= ``n``
    (the smallest size if ``n`` is below all)."""
    t = reg.table
    t = t[(t.dataset == dataset) & (t.arch == arch) & (t.kernel == kind) & (t.method == "ridge")]
    below = t[t.n <= n]
    row = below.loc[below.n.idxmax()] if len(below) else t.loc[t.n.idxmin()]
    return float(row.diag_reg)


def _paired(reg: Regression, a: tuple, b: tuple) -> tuple[float, float]:
    return stats.paired_difference(reg.correct[a], reg.correct[b])


def nngp_vs_ntk(reg: Regression) -> pd.DataFrame:
    """NNGP - NTK test accuracy (ridge, each with its validation-chosen ``diag_reg``) per
    (dataset, arch, n), with its paired standard error over the shared test points.

    Returns:
        Columns: dataset, arch, n, nngp, ntk, diff, se.
    """
    t = reg.table[reg.table.method == "ridge"]
    rows = []
    for (name, arch, n), g in t.groupby(["dataset", "arch", "n"], sort=False):
        acc = g.set_index("kernel").test_acc
        d, se = _paired(reg, (name, arch, "nngp", n, "ridge"), (name, arch, "ntk", n, "ridge"))
        rows.append({"dataset": name, "arch": arch, "n": int(n), "nngp": acc["nngp"],
                     "ntk": acc["ntk"], "diff": d, "se": se})
    return pd.DataFrame(rows)


def ridge_vs_early_stopping(reg: Regression) -> pd.DataFrame:
    """acc(early stopping) - acc(ridge) per (dataset, arch, kernel, n), each tuned on
    validation, with its paired standard error; ``largest`` marks the largest n of its
    (dataset, arch).

    Returns:
        Columns: dataset, arch, kernel, n, ridge, early_stopping, diff, se, ridge_reg,
        early_stopping_reg, largest.
    """
    t = reg.table
    rows = []
    for (name, arch, kind, n), g in t.groupby(["dataset", "arch", "kernel", "n"], sort=False):
        g = g.set_index("method")
        d, se = _paired(reg, (name, arch, kind, n, "early_stopping"),
                        (name, arch, kind, n, "ridge"))
        rows.append({"dataset": name, "arch": arch, "kernel": kind, "n": int(n),
                     "ridge": g.test_acc["ridge"], "early_stopping": g.test_acc["early_stopping"],
                     "diff": d, "se": se, "ridge_reg": g.diag_reg["ridge"],
                     "early_stopping_reg": g.diag_reg["early_stopping"]})
    out = pd.DataFrame(rows)
    out["largest"] = out.n == out.groupby(["dataset", "arch"]).n.transform("max")
    return out


def regression_records(reg: Regression, pairs: pd.DataFrame) -> dict[str, float]:
    """Ledger entries: ``{kernel}_{arch}_acc_{short}_n{n}`` (ridge test accuracy), the chosen
    ``diag_reg_{kernel}_{arch}_{short}_n{n}`` and ``nngp_minus_ntk_{arch}_{short}_n{n}``."""
    out = {}
    t = reg.table[reg.table.method == "ridge"]
    for r in t.itertuples():
        tag = f"{r.kernel}_{r.arch}_{SHORT.get(r.dataset, r.dataset)}_n{r.n}"
        out[f"acc_{tag}"] = r.test_acc
        out[f"diag_reg_{tag}"] = r.diag_reg
    for r in pairs.itertuples():
        out[f"nngp_minus_ntk_{r.arch}_{SHORT.get(r.dataset, r.dataset)}_n{r.n}"] = r.diff
    return out


def early_stopping_records(es: pd.DataFrame) -> dict[str, float]:
    """Ledger entries ``es_minus_ridge_{kernel}_{arch}_{short}`` at the largest n."""
    return {f"es_minus_ridge_{r.kernel}_{r.arch}_{SHORT.get(r.dataset, r.dataset)}": r.diff
            for r in es[es.largest].itertuples()}


# ---------------------------------------------------------------------------------------------
# 3. float32 vs float64


def cond_estimate(k: np.ndarray, diag_reg: float) -> float:
    """1-norm condition number of ``K + diag_reg mean(diag K) I`` (float64), estimated by LAPACK
    ``dpocon`` from its Cholesky factor; ``inf`` if the factorisation fails.

    Args:
        k: (n, n) symmetric kernel.
    """
    a = np.array(k, dtype=np.float64, copy=True)
    a[np.diag_indices_from(a)] += diag_reg * float(np.mean(np.diag(a)))
    anorm = float(np.abs(a).sum(axis=0).max())
    try:
        c, _ = scipy.linalg.cho_factor(a, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        return math.inf
    rcond, info = scipy.linalg.lapack.dpocon(c, anorm)
    return math.inf if info != 0 or rcond <= 0 else 1.0 / float(rcond)


def precision_cell(k64: np.ndarray, kt64: np.ndarray, k32: np.ndarray, kt32: np.ndarray,
                   t_train: np.ndarray, y_test: np.ndarray, diag_reg: float) -> dict:
    """NTK regression of one size in float64 (kernel and solve) and float32 (kernel and solve).

    Args:
        k64, k32: (n, n) training kernels in float64 / float32; kt64, kt32: (m, n) test kernels.
        t_train: (n, k) targets; y_test: (m,) labels.

    Returns:
        ``acc_f64``, ``acc_f32``, ``diff`` (f32 - f64) and paired ``se``, ``f32_failed`` and
        ``f64_failed`` (Cholesky not positive definite), ``cond`` (:func:`cond_estimate`),
        ``kernel_dtype`` and ``pred_dtype`` of the float32 path, ``max_rel_kernel_diff`` and
        ``frac_kernel_differs`` (float32 kernel vs the float64 kernel rounded to float32).
    """
    out = {"diag_reg": diag_reg, "cond": cond_estimate(k64, diag_reg)}
    correct = {}
    for dtype, k, kt in ((np.float64, k64, kt64), (np.float32, k32, kt32)):
        tag = "f64" if dtype == np.float64 else "f32"
        try:
            pred = kernels.kernel_regression(k, kt, np.asarray(t_train, dtype), diag_reg,
                                             dtype=dtype)
        except np.linalg.LinAlgError:
            out[f"{tag}_failed"], out[f"acc_{tag}"] = True, math.nan
            continue
        out[f"{tag}_failed"] = False
        correct[tag] = np.argmax(pred, axis=-1) == np.asarray(y_test)
        out[f"acc_{tag}"] = float(correct[tag].mean())
        if tag == "f32":
            out["pred_dtype"] = str(pred.dtype)
    out["kernel_dtype"] = str(k32.dtype)
    out.setdefault("pred_dtype", "none (solve failed)")
    out["diff"], out["se"] = (stats.paired_difference(correct["f32"], correct["f64"])
                              if len(correct) == 2 else (math.nan, math.nan))
    rounded = np.asarray(k64, np.float32)
    out["max_rel_kernel_diff"] = float(np.max(np.abs(k32.astype(np.float64) - k64))
                                       / np.max(np.abs(k64)))
    out["frac_kernel_differs"] = float(np.mean(k32 != rounded))
    return out


def compute_precision(name: str, split: tuple[Split, Split, Split],
                      shared: dict[tuple[str, str], Kernels], reg: Regression, st: Setup,
                      fc_sizes) -> pd.DataFrame:
    """float32 vs float64 NTK regression on one data set, at ``diag_reg`` 0 and at the
    validation-chosen ridge (:func:`chosen_reg`).

    FC: kernels of the nested pool's first ``max(fc_sizes)`` points computed in both dtypes.
    CNN-VEC: the shared float64 kernels of section 1 and the same kernels computed in float32,
    at CNN-VEC's sizes.

    Returns:
        One row per (arch, n, ridge ``"none"`` or ``"validation"``) with the columns of
        :func:`precision_cell`.
    """
    pool, _, test = split
    rows = []
    for arch in ARCHS:
        sizes = sorted(int(n) for n in fc_sizes) if arch == "fc" else st.sizes["cnn"]
        train = pool.head(max(sizes))
        k32 = compute_kernels(st, arch, train, [test], x64=False)
        k64 = (compute_kernels(st, arch, train, [test]) if arch == "fc" else
               Kernels(shared[(name, arch)].train, [shared[(name, arch)].others[1]]))
        for n in progress(sizes, desc=f"07 precision {arch}", unit="size"):
            a, b = k64.head(n), k32.head(n)
            for which, r in (("none", 0.0), ("validation", chosen_reg(reg, name, arch, "ntk", n))):
                cell = precision_cell(a.train["ntk"], a.others[0]["ntk"], b.train["ntk"],
                                      b.others[0]["ntk"], pool.t[:n], test.y, r)
                rows.append({"dataset": name, "arch": arch, "n": n, "ridge": which, **cell})
    return pd.DataFrame(rows)


def critical_sizes(prec: pd.DataFrame) -> dict[str, float]:
    """Per architecture, n* = the smallest n (diag_reg 0) where float32 accuracy falls more than 2
    paired s.e. below float64, or the float32 solve fails where the float64 one does not (NaN:
    not reached)."""
    out = {}
    for arch, g in prec[prec.ridge == "none"].groupby("arch", sort=False):
        bad = g[(g.f32_failed & ~g.f64_failed) | (g["diff"] < -2 * g.se)]
        out[arch] = float(bad.n.min()) if len(bad) else math.nan
    return out


def precision_records(prec: pd.DataFrame) -> dict[str, float]:
    """Ledger entries: n* per architecture (NaN: not reached), and at the largest n without
    ridge the condition number and the float32 - float64 accuracy difference."""
    out = {f"critical_n_{a}": v for a, v in critical_sizes(prec).items()}
    for arch, g in prec[prec.ridge == "none"].groupby("arch", sort=False):
        last = g.loc[g.n.idxmax()]
        out[f"cond_no_ridge_{arch}_n{last.n}"] = last.cond
        out[f"f32_minus_f64_no_ridge_{arch}_n{last.n}"] = last["diff"]
    return out


# ---------------------------------------------------------------------------------------------
# 4. Regularised ZCA


def compute_zca(name: str, split: tuple[Split, Split, Split],
                shared: dict[tuple[str, str], Kernels], st: Setup, n: int, strengths,
                n_fit: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """NNGP and NTK regression of both architectures on ``n`` training points with regularised
    ZCA whitening of every split, for each strength, and without ZCA (the shared kernels).

    The ZCA matrix is fitted (:func:`ntkpaper.data.zca_fit`, regulariser ``strength x`` the mean
    eigenvalue of the pixel covariance) on ``n_fit`` class-balanced images of the training split
    (the training pool, not the ``n`` points the kernels see); ``diag_reg`` is re-chosen on
    validation for every (strength, arch, kernel).

    Returns:
        ``table`` (dataset, arch, kernel, zca_strength (NaN: none), diag_reg, val_acc,
        test_acc) and ``correct`` {(arch, kernel, strength or None): (m,) bool}.
    """
    pool, val, test = split
    base = load_split(name, "train", n_fit, seed).x
    rows, correct = [], {}
    for s in progress([None, *strengths], desc=f"07 ZCA {name}", unit="strength"):
        if s is None:
            ks = {arch: shared[(name, arch)].head(n) for arch in ARCHS}
            tr, va, te = pool.head(n), val, test
        else:
            w = data.zca_fit(base, s)
            tr, va, te = pool.head(n).whiten(w), val.whiten(w), test.whiten(w)
            ks = {arch: compute_kernels(st, arch, tr, [va, te]) for arch in ARCHS}
        for arch in ARCHS:
            for kind in KINDS:
                cell = fit_cell(ks[arch].train[kind], ks[arch].others[0][kind],
                                ks[arch].others[1][kind], tr.t, va.y, te.y, st.diag_regs)["ridge"]
                correct[(arch, kind, s)] = cell["correct"]
                rows.append({"dataset": name, "arch": arch, "kernel": kind,
                             "zca_strength": np.nan if s is None else float(s),
                             "diag_reg": cell["reg"], "val_acc": cell["val_acc"],
                             "test_acc": cell["test_acc"]})
    return pd.DataFrame(rows), correct


def zca_effects(table: pd.DataFrame, correct: dict) -> pd.DataFrame:
    """Per (arch, kernel, strength): test accuracy with ZCA minus without, its paired s.e., and
    whether the strength is the one chosen on validation.

    Returns:
        Columns: arch, kernel, zca_strength, test_acc, none_acc, diff, se, chosen.
    """
    rows = []
    for (arch, kind), g in table.groupby(["arch", "kernel"], sort=False):
        none = g[g.zca_strength.isna()].iloc[0]
        whitened = g.dropna(subset=["zca_strength"])
        best = whitened.loc[whitened.val_acc.idxmax()].zca_strength
        for r in whitened.itertuples():
            d, se = stats.paired_difference(correct[(arch, kind, r.zca_strength)],
                                            correct[(arch, kind, None)])
            rows.append({"arch": arch, "kernel": kind, "zca_strength": r.zca_strength,
                         "test_acc": r.test_acc, "none_acc": none.test_acc, "diff": d, "se": se,
                         "chosen": r.zca_strength == best})
    return pd.DataFrame(rows)


def zca_records(effects: pd.DataFrame) -> dict[str, float]:
    """Ledger entries per (arch, kernel): the chosen strength and its test accuracy - none's."""
    out = {}
    for r in effects[effects.chosen].itertuples():
        out[f"zca_strength_{r.kernel}_{r.arch}"] = r.zca_strength
        out[f"zca_minus_none_{r.kernel}_{r.arch}"] = r.diff
    return out


# ---------------------------------------------------------------------------------------------
# 5. Centred and ensembled networks


def compute_centred_ensembles(name: str, n_train: int, n_test: int, widths, members: int,
                              steps: int, lr: float, weight_var: float, bias_var: float,
                              seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One-hidden-layer ReLU FC nets, NTK parameterisation, full-batch gradient descent on the MSE
    loss for ``steps`` steps at rate ``lr``, against the NTK gradient-flow prediction at the same
    time ``t = lr * steps`` (:meth:`ntkpaper.kernels.EigenSolver.gradient_flow`).

    Per width, ``members`` nets from independent initialisations are trained twice from the same
    initial parameters: plain (``f``) and centred (``g = f - f0`` trained,
    :func:`ntkpaper.training.train_mse_ensemble`).

    Returns:
        ``members`` (width, variant ``"plain"``/``"centred"``, member, test_acc, rel_dist =
        ``||f - f_lim|| / ||f_lim||`` over the (n_test, 10) test outputs, train_loss),
        ``ensembles`` (width, variant, test_acc and rel_dist of the members' mean, var_members =
        the variance across members of the test outputs, mean over points and outputs,
        n_members) and ``limits`` (t, test accuracy of the prediction at ``t`` and at ``inf``).
    """
    train = load_split(name, "train", n_train, seed)
    test = load_split(name, "test", n_test, seed)
    w_std, b_std = math.sqrt(weight_var), math.sqrt(bias_var)
    kfn = architectures.fc(1, W_std=w_std, b_std=b_std)[2]
    solver = kernels.EigenSolver(kernels.analytic_kernels(kfn, train.x)["ntk"],
                                 kernels.analytic_kernels(kfn, test.x, train.x)["ntk"], train.t)
    t = lr * steps
    limit = solver.gradient_flow(t)
    limits = pd.DataFrame([{"t": t, "test_acc_t": stats.accuracy(limit, test.y),
                            "test_acc_inf": stats.accuracy(solver.gradient_flow(np.inf),
                                                           test.y)}])
    member_rows, ens_rows = [], []
    for i, width in enumerate(progress(widths, desc=f"07 centred nets {name}", unit="width")):
        init_fn, apply_fn, _ = architectures.fc(1, width=int(width), W_std=w_std, b_std=b_std,
                                                out_dim=train.t.shape[1])
        params = training.init_ensemble(init_fn, jax.random.fold_in(jax.random.PRNGKey(seed), i),
                                        members, train.x.shape[1:])
        for variant, centre in (("plain", False), ("centred", True)):
            out = training.train_mse_ensemble(apply_fn, params, train.x, train.t, test.x, lr,
                                              [0, steps], centre=centre)
            f = np.asarray(out["test"][-1], np.float64)  # (E, m, k)
            for m, fm in enumerate(f):
                member_rows.append({"width": int(width), "variant": variant, "member": m,
                                    "test_acc": stats.accuracy(fm, test.y),
                                    "rel_dist": stats.relative_distance(fm, limit),
                                    "train_loss": float(out["train_loss"][-1][m])})
            mean = f.mean(axis=0)
            ens_rows.append({"width": int(width), "variant": variant,
                             "test_acc": stats.accuracy(mean, test.y),
                             "rel_dist": stats.relative_distance(mean, limit),
                             "var_members": member_variance(f), "n_members": len(f)})
    return pd.DataFrame(member_rows), pd.DataFrame(ens_rows), limits


def member_variance(f: np.ndarray) -> float:
    """Variance across members (axis 0, unbiased) of outputs ``f`` (E, ...), averaged over the
    other axes. For E independent members the variance of their mean is this / E."""
    f = np.asarray(f, np.float64)
    if len(f) < 2:
        raise ValueError("the variance across members needs at least two members")
    return float(np.var(f, axis=0, ddof=1).mean())


def summarise_finite(members: pd.DataFrame, ensembles: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, width): mean and spread over members of test accuracy and distance, the
    ensemble's, the ratio ensemble / single distance, and the variance across members.

    Returns:
        Columns: variant, width, acc_mean, acc_sd, dist_single, acc_ensemble, dist_ensemble,
        ratio, var_members, n_members.
    """
    s = members.groupby(["variant", "width"], sort=False).agg(
        acc_mean=("test_acc", "mean"), acc_sd=("test_acc", "std"),
        dist_single=("rel_dist", "mean")).reset_index()
    e = ensembles.rename(columns={"test_acc": "acc_ensemble", "rel_dist": "dist_ensemble"})
    out = s.merge(e, on=["variant", "width"])
    out["ratio"] = out.dist_ensemble / out.dist_single
    return out


def distance_slopes(members: pd.DataFrame) -> pd.Series:
    """Power-law slope of the members' mean distance to the limit vs width, per variant."""
    return stats.power_law_slopes(members, "width", "rel_dist", "variant")


def finite_records(summary: pd.DataFrame, slopes: pd.Series) -> dict[str, float]:
    """Ledger entries: distance slopes, and per width the ensemble/single ratio (centred) and the
    centred/plain variance ratio."""
    out = {f"dist_slope_{v}": s for v, s in slopes.items()}
    var = summary.pivot_table(index="width", columns="variant", values="var_members")
    ratio = summary[summary.variant == "centred"].set_index("width").ratio
    for w in var.index:
        out[f"var_centred_over_plain_w{w}"] = float(var.centred[w] / var.plain[w])
        out[f"ensemble_over_single_centred_w{w}"] = float(ratio[w])
    var_c = summary[summary.variant == "centred"]
    out["var_slope_centred"] = stats.fit_power_law(var_c.width, var_c.var_members)[0]
    return out


# ---------------------------------------------------------------------------------------------
# 6. Trained FC networks vs their kernels: parameterisation, width, weight decay, learning rate

PARAMS = ("ntk", "standard")
VARIANTS = ("plain", "centred")  # f trained, or f - f0 (section 5)
RUN_KEY = ("variant", "param", "width", "lr_frac", "seed", "step")
PARAM_LABEL = {"ntk": "NTK param.", "standard": "standard param."}
PARAM_COLOUR = {"ntk": plotting.colour("ntp"), "standard": plotting.colour("sp")}


def top_ntk_eigenvalue(apply_fn, params, x: np.ndarray, iters: int = 20, seed: int = 0) -> float:
    """Largest eigenvalue of a network's empirical NTK on ``x`` (the (n k) x (n k) Gram matrix
    ``J J^T`` of the Jacobian of all outputs), by power iteration on ``J^T J`` with a
    jvp/vjp pair (no Jacobian is formed). Gradient descent on the MSE loss
    ``1/(2n) sum ||f - y||^2`` is stable (near initialisation) below ``lr = 2 n / lambda_max``.

    Args:
        params: one network's parameters; x: (n, ...) inputs.
    """
    xj = jnp.asarray(x, jnp.float32)
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    v = jax.tree_util.tree_unflatten(tree, [jax.random.normal(k, a.shape, a.dtype)
                                            for k, a in zip(keys, leaves)])
    norm = lambda t: jnp.sqrt(sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(t)))

    # params and x are arguments, not closure constants: XLA would constant-fold the products
    # (slow, and it logs a "Constant folding ... > 1s" message into the notebook)
    @jax.jit
    def power(v, p, xs):
        f = lambda q: apply_fn(q, xs)
        _, jv = jax.jvp(f, (p,), (v,))
        u = jax.vjp(f, p)[1](jv)[0]
        nu = norm(u)
        return jax.tree_util.tree_map(lambda a: a / nu, u), nu / norm(v)

    lam = jnp.nan
    for _ in range(iters):
        v, lam = power(v, params, xj)
    return float(lam)


def net_record_steps(steps: int, n_records: int = 5) -> list[int]:
    """Halvings of ``steps`` (the candidate stopping steps, chosen on validation), with 0."""
    return sorted({0, *(max(1, round(steps / 2**i)) for i in range(n_records))})


def _net(depth: int, width: int, weight_var: float, bias_var: float, param: str, k: int):
    return architectures.fc(depth, width=int(width), W_std=math.sqrt(weight_var),
                            b_std=math.sqrt(bias_var), parameterization=param, out_dim=k)


def _acc_rows(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(E, m) bool: correct answers of each member; non-finite outputs (diverged) count wrong."""
    ok = np.isfinite(f).all(axis=-1)
    return (np.argmax(np.nan_to_num(f), axis=-1) == np.asarray(y)) & ok


@dataclass
class NetStudy:
    """Trained FC networks: ``runs`` one row per (variant, param, width, lr_frac, seed, step)
    with lr, lambda_max, val_acc, test_acc, train_loss, n_params; ``correct`` {same key: (m,)
    bool} on the shared test points."""

    runs: pd.DataFrame
    correct: dict


def compute_width_study(split: tuple[Split, Split, Split], n: int, widths, lr_fractions,
                        steps: int, n_seeds: int, depth: int, weight_var: float,
                        bias_var: float, seed: int) -> NetStudy:
    """FC nets (ReLU, ``depth`` hidden layers, the kernels' sigma_w^2 and sigma_b^2) in both
    parameterisations at each width, full-batch gradient descent on the MSE loss to the
    kernels' targets, on the first ``n`` points of the nested pool.

    The learning rates of each (parameterisation, width) are fractions of ``2 n / lambda_max``,
    lambda_max the largest eigenvalue of that network's own empirical NTK at initialisation
    (:func:`top_ntk_eigenvalue`, first seed): the edge of stability of gradient descent, which
    scales like 1/width in standard parameterisation and not at all in NTK parameterisation, so
    the same fractions are a fair grid for both. Every (learning rate, seed) is one member of a
    vmapped grid (:func:`ntkpaper.training.train_mse_grid`); validation and test outputs are
    recorded at :func:`net_record_steps` (the stopping step is chosen on validation).
    """
    pool, val, test = split
    train = pool.head(n)
    x_eval = np.vstack([val.x, test.x])
    nv, k = len(val), train.t.shape[1]
    fracs = [float(f) for f in lr_fractions]
    record = net_record_steps(int(steps))
    rows, correct = [], {}
    jobs = [(p, int(w)) for p in PARAMS for w in widths]
    for param, width in progress(jobs, desc="07 trained nets", unit="net"):
        init_fn, apply_fn, _ = _net(depth, width, weight_var, bias_var, param, k)
        # the same random draws for both parameterisations
        one = training.init_ensemble(init_fn, jax.random.fold_in(jax.random.PRNGKey(seed),
                                                                 1000 + width),
                                     n_seeds, train.x.shape[1:])
        first = jax.tree_util.tree_map(lambda a: a[0], one)
        lam = top_ntk_eigenvalue(apply_fn, first, train.x, seed=seed)
        lrs = [f * 2 * n / lam for f in fracs]
        grid = jax.tree_util.tree_map(lambda a: jnp.concatenate([a] * len(fracs)), one)
        for variant in VARIANTS:
            out = training.train_mse_grid(apply_fn, grid, train.x, train.t, x_eval,
                                          np.repeat(lrs, n_seeds), record,
                                          centre=variant == "centred")
            for ti, s in enumerate(record):
                f = np.asarray(out["eval"][ti], np.float64)
                ok_val, ok_test = _acc_rows(f[:, :nv], val.y), _acc_rows(f[:, nv:], test.y)
                for e in range(len(f)):
                    fi, si = divmod(e, n_seeds)
                    key = (variant, param, width, fracs[fi], si, int(s))
                    correct[key] = ok_test[e]
                    rows.append(dict(zip(RUN_KEY, key), lr=lrs[fi], lambda_max=lam,
                                     val_acc=float(ok_val[e].mean()),
                                     test_acc=float(ok_test[e].mean()),
                                     train_loss=float(out["train_loss"][ti][e])))
    runs = pd.DataFrame(rows)
    runs["n_params"] = [_fc_params(train.x.shape[1], w, depth, k) for w in runs.width]
    return NetStudy(runs, correct)


def _fc_params(d: int, width: int, depth: int, k: int) -> int:
    return (d + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * k


def choose_networks(study: NetStudy) -> tuple[pd.DataFrame, dict]:
    """Per (variant, param, width): the learning rate and stopping step (> 0) with the best
    validation accuracy averaged over seeds; its test accuracy (mean and s.d. over seeds).

    Returns:
        (table: variant, param, width, n_params, lr_frac, lr, step, val_acc, test_acc, test_sd,
        lr_edge (the grid's largest or smallest fraction), last_step (the budget's last
        step: the net may be limited by the budget), {(variant, param, width): (m,)
        fraction of seeds answering each test point correctly}).
    """
    r = study.runs[study.runs.step > 0]
    mean = r.groupby(["variant", "param", "width", "lr_frac", "step"], sort=False).agg(
        val_acc=("val_acc", "mean"), test_acc=("test_acc", "mean"), test_sd=("test_acc", "std"),
        lr=("lr", "first"), n_params=("n_params", "first")).reset_index()
    fracs = sorted(set(r.lr_frac))
    rows, correct = [], {}
    for (variant, param, width), g in mean.groupby(["variant", "param", "width"], sort=False):
        best = g.loc[g.val_acc.idxmax()]  # ties: the first (smallest lr, earliest step)
        seeds = sorted(set(r.seed))
        key = (variant, param, int(width))
        correct[key] = np.mean([study.correct[(*key, best.lr_frac, s, int(best.step))]
                                for s in seeds], axis=0)
        rows.append({"variant": variant, "param": param, "width": int(width),
                     "n_params": int(best.n_params),
                     "lr_frac": best.lr_frac, "lr": best.lr, "step": int(best.step),
                     "val_acc": best.val_acc, "test_acc": best.test_acc, "test_sd": best.test_sd,
                     "lr_edge": best.lr_frac in (fracs[0], fracs[-1]),
                     "last_step": int(best.step) == int(r.step.max())})
    return pd.DataFrame(rows), correct


def kernel_vs_network(reg: Regression, dataset: str, n: int, chosen: pd.DataFrame,
                      correct: dict) -> pd.DataFrame:
    """The validation-chosen FC kernel (NNGP or NTK, ridge, section 1) against the
    validation-chosen trained FC network (parameterisation, width, learning rate, step), paired
    on the shared test points.

    Returns:
        One row: kernel, kernel_acc, net (its label), net_acc, diff (kernel - net), se,
        budget_limited (the net chose the last step or an edge of the learning-rate grid).
    """
    t = reg.table
    t = t[(t.dataset == dataset) & (t.arch == "fc") & (t.n == n) & (t.method == "ridge")]
    if t.empty:
        raise ValueError(f"no FC kernel at n={n} for {dataset}: NET_N_TRAIN must be one of "
                         "FC_N_TRAIN_SIZES")
    kern = t.loc[t.val_acc.idxmax()]
    net = chosen.loc[chosen.val_acc.idxmax()]
    k_correct = reg.correct[(dataset, "fc", kern.kernel, int(n), "ridge")].astype(float)
    d, se = stats.paired_difference(k_correct, correct[(net.variant, net.param, int(net.width))])
    return pd.DataFrame([{"kernel": kern.kernel, "kernel_acc": kern.test_acc,
                          "net": f"{net.variant}, {PARAM_LABEL[net.param]}, width {net.width}",
                          "net_acc": net.test_acc, "diff": d, "se": se,
                          "budget_limited": bool(net.last_step or net.lr_edge)}])


def parameterisation_pairs(chosen: pd.DataFrame, correct: dict) -> pd.DataFrame:
    """NTK - standard parameterisation test accuracy per width (each validation-chosen), with
    the paired s.e. over the shared test points (seed-averaged answers).

    Returns:
        Columns: width, ntk, standard, diff, se.
    """
    rows = []
    for variant, g in chosen.groupby("variant", sort=False):
        acc = g.pivot_table(index="width", columns="param", values="test_acc")
        for w in acc.index:
            d, se = stats.paired_difference(correct[(variant, "ntk", w)],
                                            correct[(variant, "standard", w)])
            rows.append({"variant": variant, "width": int(w), "ntk": acc.ntk[w],
                         "standard": acc.standard[w], "diff": d, "se": se})
    return pd.DataFrame(rows)


def width_steps(chosen: pd.DataFrame, correct: dict, threshold: float) -> pd.DataFrame:
    """Every pair of widths (narrower, wider) of each parameterisation: acc(wider) -
    acc(narrower) with its paired s.e., and whether both lie above the interpolation threshold
    (parameter count > ``threshold`` = n x classes).

    Returns:
        Columns: param, narrow, wide, diff, se, above_threshold.
    """
    rows = []
    for (variant, param), g in chosen.groupby(["variant", "param"], sort=False):
        g = g.sort_values("width")
        for i, a in enumerate(g.itertuples()):
            for b in list(g.itertuples())[i + 1:]:
                d, se = stats.paired_difference(correct[(variant, param, b.width)],
                                                correct[(variant, param, a.width)])
                rows.append({"variant": variant, "param": param, "narrow": a.width,
                             "wide": b.width, "diff": d, "se": se,
                             "above_threshold": bool(a.n_params > threshold)})
    return pd.DataFrame(rows)


def interpolation_threshold(split: tuple[Split, Split, Split], n: int, depth: int
                            ) -> tuple[int, float]:
    """``(n x classes, the width at which the FC net's parameter count reaches it)``."""
    pool = split[0]
    k = pool.t.shape[1]
    return n * k, interpolation_width(pool.x.shape[1], depth, k, n * k)


def interpolation_width(d: int, depth: int, k: int, threshold: float) -> float:
    """The (real) width at which the FC net's parameter count equals ``threshold``."""
    a, b, c = depth - 1, d + 1 + (depth - 1) + k, k - threshold
    return (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a) if a else -c / b


def compute_decay_study(split: tuple[Split, Split, Split], ks: Kernels, n: int, width: int,
                        lr_fractions, l2s, steps: int, n_seeds: int, depth: int,
                        weight_var: float, bias_var: float, seed: int) -> pd.DataFrame:
    """Weight decay and large learning rates against the kernel correspondence, at one width.

    Centred FC nets (NTK parameterisation; ``f - f0`` trained, so the distance measures the
    correspondence and not the random initial function) trained for the same time ``T`` by
    gradient descent, compared with the NTK gradient-flow prediction at ``T`` (section 1's
    float64 kernel of the same depth). Learning rates are fractions of ``2 n / lambda_max`` of
    the *analytic* NTK (the linearised model's edge of stability); the smallest runs ``steps``
    steps, which fixes ``T``, and each other rate runs ``T / lr`` steps. The L2 strengths are
    run at the smallest learning rate. All settings and seeds are one vmapped grid (the same
    initialisations for every setting).

    Returns:
        One row per (kind "lr"/"l2", lr_frac, l2, seed): lr, steps, t, rel_dist (test outputs vs
        the prediction), test_acc, and the prediction's test accuracy ``kernel_acc``.
    """
    pool, _, test = split
    train = pool.head(n)
    sub = ks.head(n)
    k_train, k_test = sub.train["ntk"], sub.others[1]["ntk"]
    lam = float(np.linalg.eigvalsh(k_train)[-1])
    fracs = sorted(float(f) for f in lr_fractions)
    settings = [("lr", f, 0.0) for f in fracs] + [("l2", fracs[0], float(v)) for v in l2s]
    lr0 = fracs[0] * 2 * n / lam
    t_end = lr0 * steps
    own = [max(1, round(t_end / (f * 2 * n / lam))) for _, f, _ in settings]
    record = sorted({0, *own})
    solver = kernels.EigenSolver(k_train, k_test, train.t)
    init_fn, apply_fn, _ = _net(depth, width, weight_var, bias_var, "ntk", train.t.shape[1])
    one = training.init_ensemble(init_fn, jax.random.fold_in(jax.random.PRNGKey(seed), 7),
                                 n_seeds, train.x.shape[1:])
    grid = jax.tree_util.tree_map(lambda a: jnp.concatenate([a] * len(settings)), one)
    lrs = np.repeat([f * 2 * n / lam for _, f, _ in settings], n_seeds)
    wds = np.repeat([l2 for *_, l2 in settings], n_seeds)
    out = training.train_mse_grid(apply_fn, grid, train.x, train.t, test.x, lrs, record,
                                  weight_decays=wds, centre=True)
    rows = []
    for i, (kind, frac, l2) in enumerate(settings):
        s = own[i]
        t = frac * 2 * n / lam * s
        limit = solver.gradient_flow(t)
        f = np.asarray(out["eval"][record.index(s)], np.float64)
        for j in range(n_seeds):
            fj = f[i * n_seeds + j]
            finite = bool(np.isfinite(fj).all())
            rows.append({"kind": kind, "lr_frac": frac, "l2": l2, "seed": j,
                         "lr": frac * 2 * n / lam, "steps": s, "t": t,
                         "rel_dist": stats.relative_distance(fj, limit) if finite else math.inf,
                         "test_acc": float(_acc_rows(fj[None], test.y)[0].mean()),
                         "kernel_acc": stats.accuracy(limit, test.y)})
    return pd.DataFrame(rows)


def decay_contrasts(decay: pd.DataFrame) -> pd.DataFrame:
    """Per kind ("lr", "l2"): mean distance and accuracy at each grid value, and the distance at
    the grid's largest value minus at its smallest (L2 = 0 for "l2"), paired by seed, with its
    s.e. over seeds.

    Returns:
        Columns: kind, value, dist, dist_sd, acc, diff (largest - smallest; on the largest
        value's row), se.
    """
    rows = []
    for kind, col in (("lr", "lr_frac"), ("l2", "l2")):
        g = decay[decay.kind == kind]
        if kind == "l2":
            g = pd.concat([decay[(decay.kind == "lr") & (decay.lr_frac == decay.lr_frac.min())],
                           g])
        vals = sorted(set(g[col]))
        base = g[g[col] == vals[0]].sort_values("seed").rel_dist.to_numpy()
        for v in vals:
            h = g[g[col] == v].sort_values("seed")
            d, se = stats.paired_difference(h.rel_dist.to_numpy(), base)
            rows.append({"kind": kind, "value": v, "dist": h.rel_dist.mean(),
                         "dist_sd": h.rel_dist.std(), "acc": h.test_acc.mean(),
                         "diff": d, "se": se})
    return pd.DataFrame(rows)


def network_records(kvn: pd.DataFrame, chosen: pd.DataFrame, param_pairs: pd.DataFrame,
                    contrasts: pd.DataFrame) -> dict[str, float]:
    """Ledger entries: kernel - net, the chosen nets' test accuracies per (param, width),
    NTK - SP per width, and the distance and accuracy along the L2 and learning-rate grids."""
    out = {"kernel_minus_fc_net": float(kvn["diff"].iloc[0]),
           "fc_net_acc": float(kvn.net_acc.iloc[0]), "fc_kernel_acc": float(kvn.kernel_acc.iloc[0])}
    for r in chosen.itertuples():
        tag = f"{'sp' if r.param == 'standard' else 'ntk'}_{r.variant}_w{r.width}"
        out[f"net_acc_{tag}"] = r.test_acc
    for r in param_pairs.itertuples():
        out[f"ntk_minus_sp_{r.variant}_w{r.width}"] = r.diff
    for r in contrasts.itertuples():
        out[f"decay_dist_{r.kind}_{r.value:g}"] = r.dist
        out[f"decay_acc_{r.kind}_{r.value:g}"] = r.acc
    return out


def compute_layerwise_study(split: tuple[Split, Split, Split], n: int, width: int,
                            lr_fraction: float, plain_l2s, layerwise_l2s, steps: int,
                            n_seeds: int, depth: int, weight_var: float, bias_var: float,
                            seed: int) -> NetStudy:
    """Plain L2 against layer-wise L2 (:func:`ntkpaper.training.layerwise_l2`) for plain
    (uncentred) NTK-parameterised FC nets of one width, one learning rate
    (``lr_fraction`` x 2n / lambda_max of the net's own eNTK) and the stopping step and strength
    chosen on validation. Strength 0 is run once and belongs to both methods' grids. One vmapped
    grid, the same initialisations for every setting.

    Returns:
        A :class:`NetStudy` whose ``runs`` have ``variant`` "plain", ``param`` the method
        ("none", "plain_l2", "layerwise_l2"), ``lr_frac`` the strength (the column the chooser
        tunes), ``width``.
    """
    pool, val, test = split
    train = pool.head(n)
    x_eval = np.vstack([val.x, test.x])
    nv, k = len(val), train.t.shape[1]
    settings = ([("none", 0.0)] + [("plain_l2", float(v)) for v in plain_l2s]
                + [("layerwise_l2", float(v)) for v in layerwise_l2s])
    init_fn, apply_fn, _ = _net(depth, width, weight_var, bias_var, "ntk", k)
    one = training.init_ensemble(init_fn, jax.random.fold_in(jax.random.PRNGKey(seed), 11),
                                 n_seeds, train.x.shape[1:])
    lam = top_ntk_eigenvalue(apply_fn, jax.tree_util.tree_map(lambda a: a[0], one), train.x,
                             seed=seed)
    lr = float(lr_fraction) * 2 * n / lam
    grid = jax.tree_util.tree_map(lambda a: jnp.concatenate([a] * len(settings)), one)
    strengths = np.repeat([v for _, v in settings], n_seeds)
    layerwise = np.repeat([m == "layerwise_l2" for m, _ in settings], n_seeds)
    coef = training.layerwise_l2(grid, math.sqrt(weight_var), math.sqrt(bias_var), strengths)
    wds = jax.tree_util.tree_map(lambda c: np.where(layerwise, c, strengths), coef)
    record = net_record_steps(int(steps))
    out = training.train_mse_grid(apply_fn, grid, train.x, train.t, x_eval,
                                  np.full(len(strengths), lr), record, weight_decays=wds)
    rows, correct = [], {}
    for ti, s in enumerate(record):
        f = np.asarray(out["eval"][ti], np.float64)
        ok_val, ok_test = _acc_rows(f[:, :nv], val.y), _acc_rows(f[:, nv:], test.y)
        for e in range(len(f)):
            (method, value), si = settings[e // n_seeds], e % n_seeds
            key = ("plain", method, int(width), value, si, int(s))
            correct[key] = ok_test[e]
            rows.append(dict(zip(RUN_KEY, key), lr=lr, lambda_max=lam,
                             val_acc=float(ok_val[e].mean()), test_acc=float(ok_test[e].mean()),
                             train_loss=float(out["train_loss"][ti][e]),
                             n_params=_fc_params(train.x.shape[1], width, depth, k)))
    return NetStudy(pd.DataFrame(rows), correct)


def layerwise_contrast(study: NetStudy) -> pd.DataFrame:
    """Each method's validation-chosen (strength, step) among its own grid and strength 0, its
    test accuracy, and layer-wise - plain with the paired s.e. over the shared test points
    (seed-averaged answers).

    Returns:
        Rows "none", "plain_l2", "layerwise_l2": method, l2, step, val_acc, test_acc, and on the
        layer-wise row diff (layer-wise - plain) and se; ``edge`` marks a choice at the grid's
        largest strength.
    """
    runs = study.runs
    rows, answers = [], {}
    for method in ("none", "plain_l2", "layerwise_l2"):
        keep = runs.param.isin(["none", method])
        sub = NetStudy(runs[keep].assign(param=method), {
            (v, method, w, f, s, st): c for (v, m, w, f, s, st), c in study.correct.items()
            if m in ("none", method)})
        chosen, corr = choose_networks(sub)
        r = chosen.iloc[0]
        answers[method] = corr[("plain", method, int(r.width))]
        largest = runs[runs.param == method].lr_frac.max() if method != "none" else 0.0
        rows.append({"method": method, "l2": r.lr_frac, "step": int(r.step),
                     "val_acc": r.val_acc, "test_acc": r.test_acc,
                     "edge": bool(method != "none" and r.lr_frac == largest)})
    out = pd.DataFrame(rows)
    d, se = stats.paired_difference(answers["layerwise_l2"], answers["plain_l2"])
    out["diff"], out["se"] = np.nan, np.nan
    out.loc[out.method == "layerwise_l2", ["diff", "se"]] = d, se
    return out


# ---------------------------------------------------------------------------------------------
# 7. Trained CNNs: kernel vs network, and weight sharing at narrow and wide width

CNN_ARCHS = ("shared", "local")
CNN_LABEL = {"shared": "CNN (shared filters)", "local": "locally connected (no sharing)"}


def pooled(s: Split, factor: int) -> Split:
    """``s`` with its images average-pooled by ``factor`` in both directions (28x28 -> 7x7 for
    4), then standardised per example again; FC-style ``x`` (n, D') as every split."""
    h, w, c = s.shape
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"pool factor {factor} must divide the image size {h}x{w}")
    img = s.x.reshape(len(s), h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
    x = data.standardize_per_example(img.reshape(len(s), -1))
    return Split(x, s.y, s.t, (h // factor, w // factor, c), {**s.key, "pool": factor})


def _cnn_params(shape, channels: int, depth: int, k: int, local: bool) -> int:
    h, w, c = shape
    positions = h * w if local else 1
    total, cin = 0, c
    for _ in range(depth):
        total += positions * (9 * cin + 1) * channels
        cin = channels
    return total + (h * w * channels + 1) * k


def compute_cnn_study(split: tuple[Split, Split, Split], n: int, widths, lr_fractions,
                      steps: int, n_seeds: int, depth: int, weight_var: float, bias_var: float,
                      seed: int) -> NetStudy:
    """CNN-VEC networks (:func:`ntkpaper.architectures.conv_net`, NTK parameterisation, ReLU,
    ``depth`` 3x3 layers, flattened readout) and their locally connected twins, at each number
    of channels, trained as section 6's FC nets: full-batch gradient descent on the MSE loss,
    learning rates as fractions of 2n / lambda_max of each net's own eNTK, stopping step
    chosen on validation, one vmapped grid of (learning rate, seed) per (architecture,
    width). ``split`` holds images (``Split.shape``), e.g. :func:`pooled`.

    Returns:
        A :class:`NetStudy`; ``runs`` with ``variant`` "plain" and ``param`` "shared" or
        "local".
    """
    pool, val, test = split
    train = pool.head(n)
    inputs = lambda s: s.x.reshape(len(s), *s.shape).astype(np.float32)
    x_train, x_eval = inputs(train), np.vstack([inputs(val), inputs(test)])
    nv, k = len(val), train.t.shape[1]
    fracs = [float(f) for f in lr_fractions]
    record = net_record_steps(int(steps))
    rows, correct = [], {}
    jobs = [(a, int(w)) for a in CNN_ARCHS for w in widths]
    for arch, width in progress(jobs, desc="07 trained CNNs", unit="net"):
        init_fn, apply_fn = architectures.conv_net(depth, width, local=arch == "local",
                                                   W_std=math.sqrt(weight_var),
                                                   b_std=math.sqrt(bias_var), out_dim=k)
        one = training.init_ensemble(init_fn, jax.random.fold_in(jax.random.PRNGKey(seed),
                                                                 2000 + width),
                                     n_seeds, (1, *train.shape))
        lam = top_ntk_eigenvalue(apply_fn, jax.tree_util.tree_map(lambda a: a[0], one),
                                 x_train, seed=seed)
        lrs = [f * 2 * n / lam for f in fracs]
        grid = jax.tree_util.tree_map(lambda a: jnp.concatenate([a] * len(fracs)), one)
        out = training.train_mse_grid(apply_fn, grid, x_train, train.t, x_eval,
                                      np.repeat(lrs, n_seeds), record)
        n_params = _cnn_params(train.shape, width, depth, k, arch == "local")
        for ti, s in enumerate(record):
            f = np.asarray(out["eval"][ti], np.float64)
            ok_val, ok_test = _acc_rows(f[:, :nv], val.y), _acc_rows(f[:, nv:], test.y)
            for e in range(len(f)):
                fi, si = divmod(e, n_seeds)
                key = ("plain", arch, width, fracs[fi], si, int(s))
                correct[key] = ok_test[e]
                rows.append(dict(zip(RUN_KEY, key), lr=lrs[fi], lambda_max=lam,
                                 val_acc=float(ok_val[e].mean()),
                                 test_acc=float(ok_test[e].mean()),
                                 train_loss=float(out["train_loss"][ti][e]),
                                 n_params=n_params))
    return NetStudy(pd.DataFrame(rows), correct)


def cnn_kernel_cells(st: Setup, split: tuple[Split, Split, Split], n: int) -> dict[str, dict]:
    """CNN-VEC NNGP and NTK (float64, cached) on the first ``n`` points of ``split`` (e.g.
    pooled images) with the validation split, ridge chosen on validation (:func:`fit_cell`).

    Returns:
        ``{kind: fit_cell's "ridge" entry}``.
    """
    pool, val, test = split
    ks = compute_kernels(st, "cnn", pool.head(n), [val, test])
    return {kind: fit_cell(ks.train[kind], ks.others[0][kind], ks.others[1][kind], pool.t[:n],
                           val.y, test.y, st.diag_regs)["ridge"] for kind in KINDS}


def kernel_vs_cnn(cells: dict[str, dict], chosen: pd.DataFrame, correct: dict) -> pd.DataFrame:
    """The validation-chosen trained CNN (shared filters; width, learning rate and step chosen
    on validation) minus the validation-chosen CNN-VEC kernel (NNGP or NTK, ridge), paired on
    the shared test points.

    Returns:
        One row: kernel, kernel_acc, net (label), net_acc, diff (net - kernel), se,
        budget_limited.
    """
    kind = max(KINDS, key=lambda kd: cells[kd]["val_acc"])
    shared = chosen[chosen.param == "shared"]
    net = shared.loc[shared.val_acc.idxmax()]
    d, se = stats.paired_difference(correct[("plain", "shared", int(net.width))],
                                    cells[kind]["correct"].astype(float))
    return pd.DataFrame([{"kernel": kind, "kernel_acc": cells[kind]["test_acc"],
                          "net": f"{net.width} channels", "net_acc": net.test_acc,
                          "diff": d, "se": se,
                          "budget_limited": bool(net.last_step or net.lr_edge)}])


def sharing_gaps(chosen: pd.DataFrame, correct: dict) -> pd.DataFrame:
    """Shared - local test accuracy per width (each validation-chosen; seed-averaged answers on
    the shared test points, paired s.e.), and on the widest row the narrowest gap minus the
    widest (``shrink``, with its paired s.e. over test points).

    Returns:
        Columns: width, shared, local, diff, se, shrink, shrink_se.
    """
    acc = chosen.pivot_table(index="width", columns="param", values="test_acc")
    widths = sorted(acc.index)
    gap = {w: correct[("plain", "shared", w)] - correct[("plain", "local", w)] for w in widths}
    rows = []
    for w in widths:
        d, se = stats.paired_difference(correct[("plain", "shared", w)],
                                        correct[("plain", "local", w)])
        rows.append({"width": int(w), "shared": acc.shared[w], "local": acc.local[w],
                     "diff": d, "se": se, "shrink": np.nan, "shrink_se": np.nan})
    out = pd.DataFrame(rows)
    if len(widths) > 1:
        s, se = stats.paired_difference(gap[widths[0]], gap[widths[-1]])
        out.loc[out.width == widths[-1], ["shrink", "shrink_se"]] = s, se
    return out


def cnn_records(kvc: pd.DataFrame, chosen: pd.DataFrame, gaps: pd.DataFrame,
                layerwise: pd.DataFrame) -> dict[str, float]:
    """Ledger entries of the trained CNNs (section 7) and of the layer-wise L2 study."""
    out = {"cnn_net_minus_kernel": float(kvc["diff"].iloc[0]),
           "cnn_net_acc": float(kvc.net_acc.iloc[0]),
           "cnn_kernel_acc": float(kvc.kernel_acc.iloc[0])}
    for r in chosen.itertuples():
        out[f"cnn_acc_{r.param}_w{r.width}"] = r.test_acc
    for r in gaps.itertuples():
        out[f"shared_minus_local_w{r.width}"] = r.diff
    for r in layerwise.itertuples():
        out[f"l2_acc_{r.method}"] = r.test_acc
    out["layerwise_minus_plain_l2"] = float(layerwise["diff"].dropna().iloc[0])
    return out


# ---------------------------------------------------------------------------------------------
# Claims' tests


def _nngp_vs_ntk(pairs: pd.DataFrame) -> claims.Verdict:
    n_cells = len(pairs)
    ahead = int((pairs["diff"] > 0).sum())
    sig_nngp = int((pairs["diff"] > 2 * pairs.se).sum())
    sig_ntk = int((pairs["diff"] < -2 * pairs.se).sum())
    per_arch = ", ".join(f"{ARCH_LABEL.get(a, a)} {int((g['diff'] > 0).sum())}/{len(g)}"
                         for a, g in pairs.groupby("arch", sort=False))
    text = (f"NNGP ahead in {ahead}/{n_cells} cells ({per_arch}); beyond 2 paired s.e.: "
            f"NNGP {sig_nngp}, NTK {sig_ntk}")
    return text, ahead > n_cells / 2 and sig_nngp >= sig_ntk


def _ridge_like_early_stopping(es: pd.DataFrame) -> claims.Verdict:
    last = es[es.largest]
    reach = (last["diff"].abs() + 1.96 * last.se.fillna(0))
    worst = last.loc[reach.idxmax()]
    text = (f"{int((reach <= 0.02).sum())}/{len(last)} cells within +-0.02; widest interval "
            f"{worst['diff']:+.4f} +- {1.96 * worst.se:.4f} ({plotting.label(worst.dataset)} "
            f"{ARCH_LABEL[worst.arch]} {plotting.label(worst.kernel)}, n={worst.n})")
    return text, bool((reach <= 0.02).all())


def _float32_critical_size(prec: pd.DataFrame) -> claims.Verdict:
    crit = critical_sizes(prec)
    none = prec[prec.ridge == "none"]
    found = {a: n for a, n in crit.items() if not math.isnan(n)}
    conds = ", ".join(f"{ARCH_LABEL[a]} cond {g.cond.max():.2g} at n={g.loc[g.cond.idxmax()].n}"
                      for a, g in none.groupby("arch", sort=False))
    if found:
        text = ", ".join(f"{ARCH_LABEL[a]} n* = {int(n)}" for a, n in found.items())
        return f"{text} ({conds}; 1/eps32 = {1 / EPS32:.2g})", True
    return (f"n* not reached: float32 within 2 paired s.e. of float64 at every n ({conds}; "
            f"1/eps32 = {1 / EPS32:.2g}); needs larger n (`full`)"), None


def _float32_path(prec: pd.DataFrame) -> claims.Verdict:
    dtypes = set(prec.kernel_dtype) | set(prec.pred_dtype[~prec.f32_failed])
    rel, frac = prec.max_rel_kernel_diff.max(), prec.frac_kernel_differs.min()
    text = (f"dtypes {sorted(dtypes)}; float32 kernel vs rounded float64: max rel. diff "
            f"{rel:.1e}, differs in >= {frac:.0%} of entries")
    return text, dtypes == {"float32"} and frac > 0 and rel <= 1e-2


def _zca_helps(effects: pd.DataFrame, arch: str) -> claims.Verdict:
    chosen = effects[(effects.arch == arch) & effects.chosen]
    grid = sorted(set(effects.zca_strength))
    edge = {grid[0]: ", the grid's strongest", grid[-1]: ", the grid's weakest"}
    parts = [f"{plotting.label(r.kernel)} {r.diff:+.4f} +- {r.se:.4f} (strength "
             f"{r.zca_strength:g}{edge.get(r.zca_strength, '') if len(grid) > 1 else ''})"
             for r in chosen.itertuples()]
    return "; ".join(parts), bool((chosen["diff"] > 2 * chosen.se).all()) and len(chosen) > 0


def _centring_reduces_variance(summary: pd.DataFrame) -> claims.Verdict:
    var = summary.pivot_table(index="width", columns="variant", values="var_members")
    ratio = var.centred / var.plain
    return (f"centred / plain variance {ratio.max():.3f} (worst width) to {ratio.min():.3f}",
            bool((ratio < 0.5).all()))


def _ensemble_variance_dominated(summary: pd.DataFrame) -> claims.Verdict:
    c = summary[summary.variant == "centred"].sort_values("width").iloc[-1]
    expect = 1 / math.sqrt(c.n_members)
    return (f"ratio {c.ratio:.3f} at width {c.width} (1/sqrt({c.n_members}) = {expect:.3f}; "
            f"{c.ratio / expect:.2f} x)", 0.8 <= c.ratio / expect <= 1.25)


def _uncentred_no_converge(summary: pd.DataFrame, slopes: pd.Series) -> claims.Verdict:
    plain = summary[summary.variant == "plain"].sort_values("width")
    s, widest = slopes["plain"], plain.dist_single.iloc[-1]
    return f"slope {s:.2f}, distance at widest {widest:.2f}", s > -0.15 and widest > 0.3


def _wins_beyond_2se(r: pd.Series, text: str) -> claims.Verdict:
    """``diff > 2 se``, the measured text flagged when the net was budget-limited."""
    if r.get("budget_limited", False):
        text += " (the net chose the last step or an edge of the lr grid: budget-limited)"
    return text, bool(r["diff"] > 2 * r.se)


def _kernel_beats_net(kvn: pd.DataFrame) -> claims.Verdict:
    r = kvn.iloc[0]
    return _wins_beyond_2se(r, f"{plotting.label(r.kernel)} kernel {r.kernel_acc:.4f} vs net "
                               f"({r.net}) {r.net_acc:.4f}: {r['diff']:+.4f} +- {r.se:.4f}")


def _ntk_param_beats_sp(pp: pd.DataFrame) -> claims.Verdict:
    last = pp[pp.variant == "plain"].sort_values("width").tail(2)
    text = "; ".join(f"width {r.width}: NTK - SP {r.diff:+.4f} +- {r.se:.4f}"
                     for r in last.itertuples())
    widest = last.iloc[-1]
    if (last["diff"] < -2 * last.se).any():
        return text, False
    if widest["diff"] > 2 * widest.se or (last["diff"] > 0).all():
        return text, True
    return text + " (within the noise: inconclusive)", None


def _width_non_monotone(steps: pd.DataFrame) -> claims.Verdict:
    parts, held = [], False
    for param, g in steps[steps.variant == "plain"].groupby("param", sort=False):
        up = g[g["diff"] > 2 * g.se]
        down = g[(g["diff"] < -2 * g.se) & g.above_threshold]
        drop = g.loc[(g["diff"] / g.se.where(g.se > 0)).idxmin()] if len(g) else None
        parts.append(f"{PARAM_LABEL[param]}: {len(up)} significant rises, {len(down)} "
                     f"significant drops above the threshold"
                     + (f" (largest drop {drop.narrow}->{drop.wide}: {drop['diff']:+.4f} +- "
                        f"{drop.se:.4f})" if drop is not None else ""))
        held = held or (len(up) > 0 and len(down) > 0)
    return "; ".join(parts), held


def _decay_lr_break(contrasts: pd.DataFrame) -> claims.Verdict:
    parts, ok = [], True
    for kind, word in (("l2", "L2"), ("lr", "lr")):
        g = contrasts[contrasts.kind == kind].sort_values("value")
        r = g.iloc[-1]
        sig = bool(not np.isfinite(r.dist) or r["diff"] > 2 * r.se)  # inf: diverged
        ok = ok and sig
        parts.append(f"{word} {g.value.iloc[0]:g}->{r.value:g}: distance {g.dist.iloc[0]:.3f}"
                     f"->{r.dist:.3f} ({r['diff']:+.3f} +- {r.se:.3f})")
    return "; ".join(parts), ok


def _layerwise_beats_plain(lw: pd.DataFrame) -> claims.Verdict:
    r = lw.set_index("method")
    text = (f"layer-wise (L2 {r.l2['layerwise_l2']:g}) {r.test_acc['layerwise_l2']:.4f} vs plain "
            f"(L2 {r.l2['plain_l2']:g}) {r.test_acc['plain_l2']:.4f}: "
            f"{r['diff']['layerwise_l2']:+.4f} +- {r.se['layerwise_l2']:.4f}; no L2 "
            f"{r.test_acc['none']:.4f}")
    d, se = r["diff"]["layerwise_l2"], r.se["layerwise_l2"]
    if d > 2 * se:
        return text, True
    if d < -2 * se:
        return text, False
    return text + " (within the noise: inconclusive)", None


def _cnn_beats_kernel(kvc: pd.DataFrame) -> claims.Verdict:
    r = kvc.iloc[0]
    return _wins_beyond_2se(r, f"CNN ({r.net}) {r.net_acc:.4f} vs CNN-VEC "
                               f"{plotting.label(r.kernel)} kernel {r.kernel_acc:.4f}: "
                               f"{r['diff']:+.4f} +- {r.se:.4f}")


def _sharing_helps_narrow(gaps: pd.DataFrame) -> claims.Verdict:
    g = gaps.sort_values("width")
    narrow, wide = g.iloc[0], g.iloc[-1]
    text = (f"shared - local: {int(narrow.width)} channels {narrow['diff']:+.4f} +- "
            f"{narrow.se:.4f}, {int(wide.width)} channels {wide['diff']:+.4f} +- {wide.se:.4f}; "
            "shrink "
            f"{wide.shrink:+.4f} +- {wide.shrink_se:.4f}")
    return text, bool(narrow["diff"] > 2 * narrow.se and wide.shrink > 2 * wide.shrink_se)


# ---------------------------------------------------------------------------------------------
# Figures


def _log_ticks(ax, values) -> None:
    """A log x axis labelled at ``values`` only (plain numbers, no minor ticks)."""
    ax.set_xscale("log")
    ax.set_xticks(sorted(set(values)), [f"{v:g}" for v in sorted(set(values))])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def plot_kernels(reg: Regression, pairs: pd.DataFrame, caption: str):
    """Top: test accuracy vs n (ridge, validation-chosen) per data set, one line per
    (architecture, kernel). Bottom: NNGP - NTK with +-2 paired s.e."""
    datasets = list(dict.fromkeys(pairs.dataset))
    fig, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 6.4), squeeze=False,
                             sharex=True)
    t = reg.table[reg.table.method == "ridge"]
    for j, name in enumerate(datasets):
        ax = axes[0, j]
        for arch in ARCHS:
            for kind in KINDS:
                g = t[(t.dataset == name) & (t.arch == arch) & (t.kernel == kind)].sort_values("n")
                ax.plot(g.n, g.test_acc, ARCH_STYLE[arch], marker=ARCH_MARKER[arch],
                        color=plotting.colour(kind),
                        label=f"{ARCH_LABEL[arch]} {plotting.label(kind)}")
        ax.set(ylabel="test accuracy", title=plotting.label(name))
        _log_ticks(ax, t[t.dataset == name].n)
        ax.legend()
        ax = axes[1, j]
        for k, arch in enumerate(ARCHS):
            g = pairs[(pairs.dataset == name) & (pairs.arch == arch)]
            ax.errorbar(g.n * (1.04 if k else 1.0), g["diff"], yerr=2 * g.se,
                        fmt=ARCH_MARKER[arch], ls=ARCH_STYLE[arch], color="k",
                        capsize=3, label=ARCH_LABEL[arch])
        ax.axhline(0, color="gray", lw=1)
        ax.set(xlabel="training-set size n", ylabel="NNGP - NTK (+-2 paired s.e.)")
        _log_ticks(ax, t[t.dataset == name].n)
        ax.legend()
    fig.suptitle(f"Kernel regression (diag_reg chosen on validation): {caption}")
    return fig


def plot_ridge_vs_early_stopping(reg: Regression, es: pd.DataFrame, caption: str):
    """Validation accuracy of ridge and of early stopping (as its equivalent ridge
    ``n / (t mean diag K)``) at the largest n, one panel per (data set, architecture); the
    legend gives the test difference of the two validation-chosen predictors."""
    cells = list(dict.fromkeys(zip(es.dataset, es.arch)))
    fig, axes = plt.subplots(1, len(cells), figsize=(4.2 * len(cells), 3.6), squeeze=False,
                             sharey=True)
    c = reg.curves
    for ax, (name, arch) in zip(axes[0], cells):
        row = es[(es.dataset == name) & (es.arch == arch) & es.largest]
        n = int(row.n.iloc[0])
        for kind in KINDS:
            d = row[row.kernel == kind].iloc[0]
            for method, style in (("ridge", "-"), ("early_stopping", ":")):
                g = c[(c.dataset == name) & (c.arch == arch) & (c.kernel == kind) & (c.n == n)
                      & (c.method == method)]
                lab = f"{plotting.label(kind)} {method.replace('_', ' ')}"
                if method == "early_stopping":
                    lab += f" (test {d['diff']:+.3f} +- {1.96 * d.se:.3f})"
                ax.plot(g.reg, g.val_acc, style, color=plotting.colour(kind), label=lab)
        ax.set(xscale="log", xlabel="relative ridge, or n / (t mean diag K)",
               title=f"{plotting.label(name)}, {ARCH_LABEL[arch]}, n={n}")
        ax.legend(fontsize="x-small")
    axes[0, 0].set_ylabel("validation accuracy")
    fig.suptitle(f"Ridge vs early stopping: {caption}")
    return fig


def plot_precision(prec: pd.DataFrame, caption: str):
    """Left: condition number of the NTK (float64, no ridge and validation ridge) vs n, with
    1/eps32. Right: float32 - float64 test accuracy (+-2 paired s.e.); x: float32 solve failed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for arch in ARCHS:
        for ridge, style in (("none", "-"), ("validation", ":")):
            g = prec[(prec.arch == arch) & (prec.ridge == ridge)].sort_values("n")
            lab = f"{ARCH_LABEL[arch]}, {'no ridge' if ridge == 'none' else 'validation ridge'}"
            axes[0].plot(g.n, g.cond, style, marker=ARCH_MARKER[arch], color=ARCH_COLOUR[arch],
                         label=lab)
            ok = g[~g.f32_failed]
            axes[1].errorbar(ok.n, ok["diff"], yerr=2 * ok.se, fmt=ARCH_MARKER[arch], ls=style,
                             color=ARCH_COLOUR[arch], capsize=3, label=lab)
            bad = g[g.f32_failed]
            if len(bad):
                axes[1].scatter(bad.n, np.zeros(len(bad)), marker="x", color="k", zorder=5,
                                label=f"{lab}: float32 Cholesky failed")
    axes[0].axhline(1 / EPS32, color="k", ls="--", lw=1, label="1 / eps(float32)")
    axes[0].set(yscale="log", xlabel="training-set size n",
                ylabel="cond(K) (1-norm estimate)", title="NTK conditioning (float64)")
    axes[1].axhline(0, color="gray", lw=1)
    axes[1].set(xlabel="training-set size n", ylabel="acc(float32) - acc(float64) (+-2 s.e.)",
                title="NTK regression, float32 vs float64")
    for ax in axes:
        _log_ticks(ax, prec.n)
        ax.legend(fontsize="x-small")
    fig.suptitle(f"Float precision: {caption}")
    return fig


def plot_zca(effects: pd.DataFrame, n: int, caption: str):
    """Test accuracy with ZCA minus without (+-2 paired s.e.) vs strength, one panel per
    architecture; the validation-chosen strength is filled."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, arch in zip(axes, ARCHS):
        for k, kind in enumerate(KINDS):
            g = effects[(effects.arch == arch) & (effects.kernel == kind)]
            x = g.zca_strength * (1.06 if k else 1.0)
            ax.errorbar(x, g["diff"], yerr=2 * g.se, fmt="-o", mfc="white",
                        color=plotting.colour(kind), capsize=3, label=plotting.label(kind))
            ch = g[g.chosen]
            ax.plot(ch.zca_strength * (1.06 if k else 1.0), ch["diff"], "o",
                    color=plotting.colour(kind), zorder=5)
        ax.axhline(0, color="gray", lw=1)
        ax.set(xlabel="ZCA strength (x mean eigenvalue)",
               title=f"{ARCH_LABEL[arch]}, n={n} (filled: chosen on validation)")
        _log_ticks(ax, effects.zca_strength)
        ax.legend()
    axes[0].set_ylabel("acc(ZCA) - acc(no ZCA)")
    fig.suptitle(f"Regularised ZCA: {caption}")
    return fig


def plot_centred_ensembles(summary: pd.DataFrame, slopes: pd.Series, limits: pd.DataFrame,
                           n_train: int, caption: str):
    """(a) variance across members vs width; (b) distance to the NTK prediction vs width
    (members and ensembles, plain and centred); (c) ensemble / member distance with 1/sqrt(E);
    (d) test accuracy vs width (members: mean +- s.d.) with the NTK prediction's."""
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.1))
    e = int(summary.n_members.iloc[0])
    # plotting's method names (one colour each) and this figure's words for them
    method = {("plain", "single"): "network", ("plain", "ensemble"): "ensemble",
              ("centred", "single"): "centred", ("centred", "ensemble"): "centred ensemble"}
    words = {("plain", "single"): "plain network", ("plain", "ensemble"): f"plain ensemble of {e}",
             ("centred", "single"): "centred network",
             ("centred", "ensemble"): f"centred ensemble of {e}"}
    for variant in ("plain", "centred"):
        g = summary[summary.variant == variant].sort_values("width")
        one, ens = (variant, "single"), (variant, "ensemble")
        colour_one, colour_ens = plotting.colour(method[one]), plotting.colour(method[ens])
        axes[0].plot(g.width, g.var_members, marker="o", color=colour_one, label=words[one])
        axes[1].plot(g.width, g.dist_single, marker="o", color=colour_one,
                     label=f"{words[one]} (slope {slopes[variant]:.2f})")
        axes[1].plot(g.width, g.dist_ensemble, marker="s", color=colour_ens, label=words[ens])
        axes[2].plot(g.width, g.ratio, marker="o", color=colour_ens, label=variant)
        axes[3].errorbar(g.width, g.acc_mean, yerr=g.acc_sd, marker="o", capsize=3,
                         color=colour_one, label=f"{words[one]} (mean +- s.d.)")
        axes[3].plot(g.width, g.acc_ensemble, "--", marker="s", color=colour_ens,
                     label=words[ens])
    axes[2].axhline(1 / math.sqrt(e), color="k", ls="--", lw=1, label=f"1/sqrt({e})")
    lim = limits.iloc[0]
    axes[3].axhline(lim.test_acc_t, color=plotting.colour("ntk"), lw=1,
                    label=f"NTK prediction at t={lim.t:g}")
    axes[0].set(yscale="log", ylabel="variance across members (test outputs)",
                title="(a) variance across initialisations")
    axes[1].set(yscale="log", ylabel="relative distance to the NTK prediction",
                title="(b) distance to the infinite-width prediction")
    axes[2].set(ylabel="ensemble / member distance", title="(c) what ensembling removes")
    axes[3].set(ylabel="test accuracy", title="(d) test accuracy")
    for ax in axes:
        _log_ticks(ax, summary.width)
        ax.set_xlabel("width")
        ax.legend(fontsize="x-small")
    fig.suptitle(f"Centred and ensembled FC networks (n={n_train}): {caption}")
    return fig


def plot_trained_networks(chosen: pd.DataFrame, kvn: pd.DataFrame, pp: pd.DataFrame,
                          contrasts: pd.DataFrame, threshold_width: float, n: int, width: int,
                          caption: str):
    """(a) validation-chosen test accuracy vs width, both parameterisations (mean +- s.d. over
    seeds), the chosen kernel's, and the interpolation threshold; (b) NTK - SP per width with
    +-2 paired s.e.; (c) distance to the NTK prediction and accuracy vs L2 strength; (d) the
    same vs learning rate (fraction of the kernel's 2 n / lambda_max)."""
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.1))
    for (variant, param), g in chosen.groupby(["variant", "param"], sort=False):
        g = g.sort_values("width")
        axes[0].errorbar(g.width, g.test_acc, yerr=g.test_sd.fillna(0), marker="o", capsize=3,
                         ls="-" if variant == "plain" else "--",
                         label=f"{PARAM_LABEL[param]}, {variant}", color=PARAM_COLOUR[param])
    k = kvn.iloc[0]
    axes[0].axhline(k.kernel_acc, color=plotting.colour(k.kernel), lw=1,
                    label=f"FC {plotting.label(k.kernel)} kernel (chosen)")
    axes[0].axvline(threshold_width, color="k", ls=":", lw=1,
                    label=f"parameters = n x classes (width {threshold_width:.1f})")
    axes[0].set(xscale="log", xlabel="width", ylabel="test accuracy",
                title="(a) trained FC nets vs their kernel")
    for variant, g in pp.groupby("variant", sort=False):
        axes[1].errorbar(g.width, g["diff"], yerr=2 * g.se, marker="o", capsize=3, color="k",
                         ls="-" if variant == "plain" else "--", label=variant)
    axes[1].axhline(0, color="grey", lw=1)
    axes[1].set(xscale="log", xlabel="width", ylabel="NTK - SP test accuracy (+-2 s.e.)",
                title="(b) NTK vs standard parameterisation")
    for ax, kind, xlabel in ((axes[2], "l2", "L2 strength (0 shown at the left)"),
                             (axes[3], "lr", "learning rate / (2 n / lambda_max)")):
        g = contrasts[contrasts.kind == kind].sort_values("value")
        x = g.value.to_numpy(float)
        if kind == "l2":
            x = np.where(x > 0, x, x[x > 0].min() / 10 if (x > 0).any() else 1.0)
        ax.errorbar(x, g.dist, yerr=g.dist_sd.fillna(0), marker="o", capsize=3, color="k",
                    label="distance to the NTK prediction")
        twin = ax.twinx()
        twin.plot(x, g.acc, "--s", color=plotting.colour("ntk"), label="test accuracy")
        twin.set_ylabel("test accuracy")
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="relative distance")
        twin.legend(fontsize="x-small", loc="lower right")
    axes[2].set_title(f"(c) weight decay (width {width}, centred)")
    axes[3].set_title(f"(d) learning rate (width {width}, centred)")
    for ax in axes[:2]:
        ax.legend(fontsize="x-small", loc="upper left")
    for ax in axes[2:]:
        ax.legend(fontsize="x-small", loc="center left")
    fig.suptitle(f"Trained FC networks (n={n}): {caption}")
    return fig


def l2_curves(study: NetStudy) -> pd.DataFrame:
    """Per (method, L2 strength) of :func:`compute_layerwise_study`: the stopping step chosen on
    validation (seed means) and its validation and test accuracy.

    Returns:
        Columns: method, l2, step, val_acc, test_acc.
    """
    r = study.runs[study.runs.step > 0]
    mean = r.groupby(["param", "lr_frac", "step"]).agg(val_acc=("val_acc", "mean"),
                                                       test_acc=("test_acc", "mean"))
    best = mean.loc[mean.groupby(level=[0, 1]).val_acc.idxmax()].reset_index()
    return best.rename(columns={"param": "method", "lr_frac": "l2"})[
        ["method", "l2", "step", "val_acc", "test_acc"]]


def plot_layerwise_l2(curves: pd.DataFrame, lw: pd.DataFrame, width: int, caption: str):
    """Test accuracy (at the validation-chosen step) vs L2 strength, plain and layer-wise, with
    no L2 as a line and each method's validation-chosen strength marked."""
    fig, ax = plt.subplots(figsize=(6.2, 4.1))
    none = curves[curves.method == "none"].test_acc.iloc[0]
    ax.axhline(none, color="grey", lw=1, label="no L2")
    for method, colour, label in (("plain_l2", plotting.colour("sp"), "plain L2 on omega"),
                                  ("layerwise_l2", plotting.colour("ntp"),
                                   "layer-wise L2 (standard L2 on W)")):
        g = curves[curves.method == method].sort_values("l2")
        ax.plot(g.l2, g.test_acc, "-o", color=colour, label=label)
        pick = lw[lw.method == method].iloc[0]
        if pick.l2 > 0:
            ax.plot([pick.l2], [pick.test_acc], "*", ms=14, color=colour)
    ax.set(xscale="log", xlabel="L2 strength lambda", ylabel="test accuracy",
           title=f"Plain vs layer-wise weight decay (NTK param., width {width}; * chosen)")
    ax.legend(fontsize="x-small")
    fig.suptitle(caption, fontsize="small")
    return fig


def plot_trained_cnns(chosen: pd.DataFrame, kvc: pd.DataFrame, gaps: pd.DataFrame, n: int,
                      shape: tuple, caption: str):
    """(a) validation-chosen test accuracy vs channels of CNNs and their locally connected
    twins (mean +- s.d. over seeds) with the chosen CNN-VEC kernel; (b) shared - local per
    width with +-2 paired s.e."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.1))
    for arch, colour in (("shared", plotting.colour("ntk")), ("local", (0.4, 0.4, 0.4))):
        g = chosen[chosen.param == arch].sort_values("width")
        axes[0].errorbar(g.width, g.test_acc, yerr=g.test_sd.fillna(0), marker="o", capsize=3,
                         color=colour, label=CNN_LABEL[arch])
    k = kvc.iloc[0]
    axes[0].axhline(k.kernel_acc, color=plotting.colour(k.kernel), lw=1, ls="--",
                    label=f"CNN-VEC {plotting.label(k.kernel)} kernel (chosen; equal for both)")
    axes[0].set(xscale="log", xlabel="channels", ylabel="test accuracy",
                title="(a) trained CNNs vs their kernel")
    axes[1].errorbar(gaps.width, gaps["diff"], yerr=2 * gaps.se, marker="o", capsize=3,
                     color="k")
    axes[1].axhline(0, color="grey", lw=1)
    axes[1].set(xscale="log", xlabel="channels",
                ylabel="shared - local test accuracy (+-2 s.e.)",
                title="(b) what weight sharing buys, by width")
    axes[0].legend(fontsize="x-small")
    for ax in axes:
        ax.set_xticks(sorted(set(gaps.width)), [str(w) for w in sorted(set(gaps.width))])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    fig.suptitle(f"Trained CNNs, {shape[0]}x{shape[1]} images (n={n}): {caption}")
    return fig
