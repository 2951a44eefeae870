"""Infinite-width baselines vs finite networks (notebook 01): ``compute_*`` -> tidy DataFrames.

References: Lee et al. 2018 (Deep Neural Networks as Gaussian Processes), Lee et al. 2020 (Finite
Versus Infinite Neural Networks: an Empirical Study), Novak et al. 2020 (Neural Tangents).

Data handling shared by every study here: images are flattened and standardised per example
(:func:`ntkpaper.data.standardize_per_example`), targets are Lee et al.'s -0.1/0.9 one-hot codes,
accuracy is the argmax of the 10 regression outputs. Hyper-parameters are chosen on the
validation split (official training images 50k-60k), never on test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from ntkpaper import architectures, cache, data, kernels, stats, training
from ntkpaper.stats import fit_power_law  # noqa: F401  (re-exported for notebook 01)

KINDS = ("nngp", "ntk")


@dataclass
class Split:
    """Flattened, standardised inputs (n, D) float64, labels (n,), targets (n, 10)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    key: dict  # identity for cache keys

    def __len__(self) -> int:
        return len(self.y)


def load_split(name: str, split: str, n: int | None, seed: int, target: str = "lee",
               zca: np.ndarray | None = None) -> Split:
    """A class-balanced subset of a data set, preprocessed as described in the module docstring.

    Args:
        zca: optional (D, D) whitening matrix from :func:`ntkpaper.data.zca_fit` (applied after
            standardisation, then restandardised).
    """
    ds = data.load(name, split, n=n, seed=seed)
    x = data.standardize_per_example(ds.x)
    if zca is not None:
        x = data.zca_apply(x, zca)
    key = {"name": name, "split": split, "n": len(ds), "seed": seed, "target": target,
           "zca": None if zca is None else data.formats.arrays_sha256({"w": zca})}
    return Split(x, ds.y, data.one_hot(ds.y, ds.n_classes, target), key)


def fc_kernel_fn(depth: int, weight_var: float, bias_var: float):
    return architectures.fc(depth, W_std=math.sqrt(weight_var), b_std=math.sqrt(bias_var))[2]


def _kernels(config: dict, train: Split, others: list[Split], use_cache: bool = True
             ) -> dict[str, np.ndarray]:
    """NNGP and NTK on train x train and (each of ``others``) x train, float64, cached."""
    kfn = fc_kernel_fn(config["depth"], config["weight_var"], config["bias_var"])

    def compute():
        out = {}
        tt = kernels.analytic_kernels(kfn, train.x)
        for k in KINDS:
            out[f"{k}_train"] = tt[k]
        for i, o in enumerate(others):
            ot = kernels.analytic_kernels(kfn, o.x, train.x)
            for k in KINDS:
                out[f"{k}_other{i}"] = ot[k]
        return out

    size_mb = 8 * 2 * len(train) * (len(train) + sum(len(o) for o in others)) / 2**20
    params = {"config": config, "train": train.key, "others": [o.key for o in others]}
    small = use_cache and size_mb < 400  # large kernels are cheaper to recompute than to store
    return cache.cached("fc_kernels", params, compute, enabled=None if small else False)


def compute_tuning(name: str, train: Split, val: Split, depths, weight_var: float, bias_vars,
                   diag_regs) -> pd.DataFrame:
    """Validation accuracy on a grid of depth x bias variance x diag_reg, for NNGP and NTK.

    Uses the closed-form ReLU recursion (:func:`ntkpaper.kernels.relu_fc_kernels`, checked against
    neural-tangents in the tests) so that all depths come out of one pass.

    Returns:
        Columns: dataset, kernel, depth, weight_var, bias_var, diag_reg, val_acc.
    """
    rows = []
    for bias_var in bias_vars:
        k_tr = kernels.relu_fc_kernels(train.x, None, depths, weight_var, bias_var)
        k_va = kernels.relu_fc_kernels(val.x, train.x, depths, weight_var, bias_var)
        for depth in depths:
            for kind in KINDS:
                sv = kernels.EigenSolver(k_tr[depth][kind], k_va[depth][kind], train.t)
                for reg in diag_regs:
                    rows.append({"dataset": name, "kernel": kind, "depth": int(depth),
                                 "weight_var": float(weight_var), "bias_var": float(bias_var),
                                 "diag_reg": float(reg),
                                 "val_acc": stats.accuracy(sv.ridge(reg), val.y)})
    return pd.DataFrame(rows)


def compute_depth_test(name: str, tuning: pd.DataFrame, train: Split, test: Split
                       ) -> pd.DataFrame:
    """Test accuracy per kernel and depth, each at its best (bias_var, diag_reg) on validation.

    Returns:
        Columns: dataset, kernel, depth, bias_var, diag_reg, val_acc, test_acc.
    """
    best = {(kind, int(d)): best_config(tuning, kind, depth=d)
            for kind in KINDS for d in sorted(tuning["depth"].unique())}
    depths = sorted({d for _, d in best})
    weight_var = float(tuning["weight_var"].iloc[0])
    rows = []
    for bias_var in sorted({c["bias_var"] for c in best.values()}):
        k_tr = kernels.relu_fc_kernels(train.x, None, depths, weight_var, bias_var)
        k_te = kernels.relu_fc_kernels(test.x, train.x, depths, weight_var, bias_var)
        for (kind, depth), cfg in best.items():
            if cfg["bias_var"] != bias_var:
                continue
            pred = kernels.kernel_regression(k_tr[depth][kind], k_te[depth][kind], train.t,
                                             cfg["diag_reg"])
            rows.append({"dataset": name, "kernel": kind, "depth": depth, "bias_var": bias_var,
                         "diag_reg": cfg["diag_reg"], "val_acc": cfg["val_acc"],
                         "test_acc": stats.accuracy(pred, test.y)})
    return pd.DataFrame(rows).sort_values(["kernel", "depth"]).reset_index(drop=True)


def choose_configs(tuning: pd.DataFrame) -> dict[str, dict]:
    """Per kernel, the best (depth, diag_reg) on validation at one shared bias variance.

    sigma_b^2 is chosen jointly (the value maximising the sum of the two kernels' best validation
    accuracies) so that both kernels come out of one pass of the closed-form recursion
    (:func:`ntkpaper.kernels.relu_fc_kernels`) at every training-set size, which halves the cost
    of the large-n kernels; depth and ridge are chosen per kernel.
    """
    per_bias = tuning.groupby(["bias_var", "kernel"]).val_acc.max().unstack().sum(axis=1)
    bias = float(per_bias.idxmax())
    return {kind: best_config(tuning, kind, bias_var=bias) for kind in KINDS}


def best_config(tuning: pd.DataFrame, kind: str, **fixed) -> dict:
    """The row with the highest validation accuracy for ``kind`` (ties: the first, i.e. smaller
    depth / bias / regulariser), restricted to columns equal to ``fixed``."""
    df = tuning[tuning["kernel"] == kind]
    for col, val in fixed.items():
        df = df[df[col] == val]
    row = df.loc[df["val_acc"].idxmax()]
    return {"depth": int(row["depth"]), "weight_var": float(row["weight_var"]),
            "bias_var": float(row["bias_var"]), "diag_reg": float(row["diag_reg"]),
            "val_acc": float(row["val_acc"])}


def compute_accuracy_vs_n(name: str, configs: dict[str, dict], sizes, test: Split, seed: int,
                          precision_sizes=(), tiny_reg: float = 0.0
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test accuracy of NNGP and NTK kernel regression vs training-set size.

    Kernels come from one pass of :func:`ntkpaper.kernels.relu_fc_kernels` per size (both
    kernels share sigma_b^2, see :func:`choose_configs`); solves are float64 Cholesky.

    Args:
        configs: per kernel (``"nngp"``, ``"ntk"``), the chosen depth/weight_var/bias_var/diag_reg.
        sizes: training-set sizes (class-balanced subsets of the train split).
        precision_sizes: sizes at which the NTK solve is repeated in float32 and float64, at the
            chosen ``diag_reg`` and at ``tiny_reg`` (default 0: plain interpolation, the end point
            of gradient flow).

    Returns:
        ``acc`` (dataset, kernel, n, test_acc, seconds: kernel + solve) and ``precision``
        (dataset, n, diag_reg, acc_f64, acc_f32, rel_diff = ||f32 - f64|| / ||f64||,
        f32_failed).
    """
    if configs["nngp"]["bias_var"] != configs["ntk"]["bias_var"] or (
            configs["nngp"]["weight_var"] != configs["ntk"]["weight_var"]):
        raise ValueError("NNGP and NTK configs must share weight_var and bias_var "
                         "(use choose_configs)")
    wv, bv = configs["ntk"]["weight_var"], configs["ntk"]["bias_var"]
    depths = {kind: configs[kind]["depth"] for kind in KINDS}
    acc_rows, prec_rows = [], []
    for n in sizes:
        train = load_split(name, "train", int(n), seed)
        with kernels.Stopwatch() as sw:
            k_tr = kernels.relu_fc_kernels(train.x, None, set(depths.values()), wv, bv)
            k_te = kernels.relu_fc_kernels(test.x, train.x, set(depths.values()), wv, bv)
        for kind in KINDS:
            ktr, kte = k_tr[depths[kind]][kind], k_te[depths[kind]][kind]
            reg = configs[kind]["diag_reg"]
            with kernels.Stopwatch() as sw2:
                pred = kernels.kernel_regression(ktr, kte, train.t, reg)
            acc_rows.append({"dataset": name, "kernel": kind, "n": int(n),
                             "test_acc": stats.accuracy(pred, test.y),
                             "seconds": sw.seconds / 2 + sw2.seconds})
            if kind != "ntk" or n not in precision_sizes:
                continue
            for r in (reg, tiny_reg):
                try:
                    p64 = pred if r == reg else kernels.kernel_regression(ktr, kte, train.t, r)
                except np.linalg.LinAlgError:
                    continue
                try:
                    p32 = kernels.kernel_regression(ktr, kte, train.t, r, dtype=np.float32)
                    failed, a32 = False, stats.accuracy(p32, test.y)
                    rel = float(np.linalg.norm(p32 - p64) / np.linalg.norm(p64))
                except np.linalg.LinAlgError:
                    failed, rel, a32 = True, float("nan"), float("nan")
                prec_rows.append({"dataset": name, "n": int(n), "diag_reg": r,
                                  "acc_f64": stats.accuracy(p64, test.y), "acc_f32": a32,
                                  "rel_diff": rel, "f32_failed": failed})
        del k_tr, k_te
    return pd.DataFrame(acc_rows), pd.DataFrame(prec_rows)


def compute_reg_vs_early_stopping(name: str, config: dict, train: Split, test: Split, diag_regs,
                                  times) -> pd.DataFrame:
    """NTK test accuracy vs ridge ``diag_reg`` and vs gradient-flow time ``t`` (no ridge).

    Returns:
        Columns: dataset, knob (``"diag_reg"`` or ``"time"``), value, test_acc.
    """
    ks = _kernels({k: config[k] for k in ("depth", "weight_var", "bias_var")}, train, [test])
    solver = kernels.EigenSolver(ks["ntk_train"], ks["ntk_other0"], train.t)
    rows = [{"dataset": name, "knob": "diag_reg", "value": r,
             "test_acc": stats.accuracy(solver.ridge(r), test.y)} for r in diag_regs]
    rows += [{"dataset": name, "knob": "time", "value": t,
              "test_acc": stats.accuracy(solver.gradient_flow(t), test.y)} for t in times]
    return pd.DataFrame(rows)


def compute_zca(name: str, config: dict, n: int, seed: int, strengths, n_val: int, test: Split,
                diag_regs) -> pd.DataFrame:
    """NTK accuracy with regularised ZCA (fitted on the training subset) vs without.

    ``diag_reg`` is re-chosen on validation for each strength.

    Returns:
        Columns: dataset, zca_strength (NaN = no ZCA), diag_reg, val_acc, test_acc.
    """
    rows = []
    base = load_split(name, "train", n, seed)
    for s in [None, *strengths]:
        w = None if s is None else data.zca_fit(base.x, s)
        train = load_split(name, "train", n, seed, zca=w)
        val = load_split(name, "val", n_val, seed, zca=w)
        tst = test if w is None else load_split(name, "test", len(test), seed, zca=w)
        ks = _kernels({k: config[k] for k in ("depth", "weight_var", "bias_var")}, train,
                      [val, tst])
        sv = kernels.EigenSolver(ks["ntk_train"], ks["ntk_other0"], train.t)
        st = kernels.EigenSolver(ks["ntk_train"], ks["ntk_other1"], train.t)
        vals = [stats.accuracy(sv.ridge(r), val.y) for r in diag_regs]
        best = int(np.argmax(vals))
        rows.append({"dataset": name, "zca_strength": np.nan if s is None else s,
                     "diag_reg": diag_regs[best], "val_acc": vals[best],
                     "test_acc": stats.accuracy(st.ridge(diag_regs[best]), test.y)})
    return pd.DataFrame(rows)


def compute_finite_vs_infinite(name: str, n_train: int, n_test: int, widths, ensemble: int,
                               steps: int, lr: float, weight_var: float, bias_var: float,
                               seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train one-hidden-layer ReLU nets of several widths and compare with their limits.

    NTK parameterisation (lr ``lr``) -> the NTK gradient-flow prediction at ``t = lr * steps``.
    Standard parameterisation (lr ``lr * weight_var / width``) -> the gradient-flow prediction of
    :func:`ntkpaper.kernels.sp_limit_kernel` (the readout's NNGP term) at the same ``t``.

    Per width, ``ensemble`` nets from independent seeds are trained three ways: NTK
    parameterisation plain (``f``) and centred (``g = f - f0`` trained, see
    :func:`ntkpaper.training.train_mse_ensemble`), and standard parameterisation centred.
    Variants reported: ``single`` / ``ensemble`` (each plain net / their mean), ``single_centred``
    / ``ensemble_centred`` (each centred net / their mean).

    Returns:
        ``nets``: param, width, variant, member, test_acc, rel_dist (``||f - f_lim|| / ||f_lim||``
        over the test outputs), final_train_loss (mean over members);
        ``limits``: param, t, test accuracy of the limit prediction at ``t`` and at ``t = inf``.
    """
    train = load_split(name, "train", n_train, seed)
    test = load_split(name, "test", n_test, seed)
    w_std, b_std = math.sqrt(weight_var), math.sqrt(bias_var)
    kfn = architectures.fc(1, W_std=w_std, b_std=b_std)[2]
    ks = kernels.analytic_kernels(kfn, train.x)
    kst = kernels.analytic_kernels(kfn, test.x, train.x)
    t = lr * steps
    limit_kernels = {"ntk": (ks["ntk"], kst["ntk"]),
                     "standard": (kernels.sp_limit_kernel(ks["nngp"], b_std),
                                  kernels.sp_limit_kernel(kst["nngp"], b_std))}
    limits, lim_rows = {}, []
    for param, (ktr, kte) in limit_kernels.items():
        solver = kernels.EigenSolver(ktr, kte, train.t)
        limits[param] = solver.gradient_flow(t)
        lim_rows.append({"param": param, "t": t,
                         "test_acc_t": stats.accuracy(limits[param], test.y),
                         "test_acc_inf": stats.accuracy(solver.gradient_flow(np.inf), test.y)})
    rows = []
    runs = [("ntk", False), ("ntk", True), ("standard", True)]
    for i, width in enumerate(widths):
        for j, (param, centre) in enumerate(runs):
            init_fn, apply_fn, _ = architectures.fc(1, width=int(width), W_std=w_std, b_std=b_std,
                                                    parameterization=param)
            key = jax.random.fold_in(jax.random.PRNGKey(seed), 1000 * i + j)
            params = training.init_ensemble(init_fn, key, ensemble, train.x.shape[1:])
            lr_here = lr if param == "ntk" else lr * weight_var / width
            out = training.train_mse_ensemble(apply_fn, params, train.x, train.t, test.x,
                                              lr_here, [0, steps], centre=centre)
            f_t = out["test"][-1]  # (E, m, k)
            lim = limits[param]
            suffix = "_centred" if centre else ""
            variants = {f"single{suffix}": f_t, f"ensemble{suffix}": f_t.mean(0, keepdims=True)}
            for variant, f in variants.items():
                for m, fm in enumerate(f):
                    rows.append({"param": param, "width": int(width), "variant": variant,
                                 "member": m, "test_acc": stats.accuracy(fm, test.y),
                                 "rel_dist": float(np.linalg.norm(fm - lim) / np.linalg.norm(lim)),
                                 "final_train_loss": float(out["train_loss"][-1].mean())})
    return pd.DataFrame(rows), pd.DataFrame(lim_rows)
