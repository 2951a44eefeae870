"""Driver of notebook 07 (``notebooks/07_finite_vs_infinite.py``): finite versus infinite
networks, after Lee et al. 2020 (*Finite Versus Infinite Neural Networks: an Empirical Study*,
NeurIPS; arXiv:2007.15801). This version: the kernel findings and the centred/ensembled
networks moved from notebook 01 (the trained-network findings are still to come).

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
