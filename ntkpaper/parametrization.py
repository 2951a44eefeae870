"""abc-parametrizations of MLPs in plain jax (Yang & Hu 2021, *Tensor Programs IV*, Sec. 3).

An MLP with ``L`` hidden layers of width ``n`` has ``L + 1`` weight matrices. In an
abc-parametrization layer ``l`` (1-based) computes with ``W^l = n^{-a_l} w^l``, its trainable
parameters are initialised as ``w^l_ij ~ N(0, n^{-2 b_l})``, and SGD uses the learning rate
``eta * n^{-c}`` for every parameter. Here the input dimension ``d`` is fixed, and we also divide
the first layer by ``sqrt(d)`` (a width-independent constant that keeps inputs of norm ``sqrt(d)``
at O(1) pre-activations); biases are omitted, as in the paper's analysis.

The named members (TP4 Table 1, with layer 1 the input layer and ``L + 1`` the readout)::

    name  a_1    a_2..a_L  a_{L+1}  b_1   b_2..b_{L+1}  c    notes
    sp    0      0         0        0     1/2           0    PyTorch default; unstable: use c=1
    sp_lr 0      0         0        0     1/2           1    SP with its stable lr ~ 1/n
    ntp   0      1/2       1/2      0     0             0    kernel (NTK) regime
    mup   -1/2   0         1/2      1/2   1/2           0    maximal update: feature learning
    mfp   0      -         1        0     0             -1   mean field, one hidden layer only

(The paper's symmetry ``(a, b, c) -> (a + theta, b - theta, c - 2 theta)`` leaves the dynamics
unchanged, so other tables that list muP differently describe the same network.)

After one SGD step, the coordinates of the last hidden pre-activation change by
``Theta(n^{1/2})`` in SP with c=0 (blow-up), ``Theta(n^{-1/2})`` in NTP and in SP with c=1 (no
feature learning) and ``Theta(1)`` in muP (maximal feature learning); tests check these slopes.

Shapes: ``x`` (N, d); params are a list of arrays ``[(d, n), (n, n) x (L-1), (n, k)]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ntkpaper.scaling import fit_power_law


@dataclass(frozen=True)
class ABC:
    """Exponents of an abc-parametrization for ``len(a) - 1`` hidden layers."""

    name: str
    a: tuple[float, ...]
    b: tuple[float, ...]
    c: float

    @property
    def n_hidden(self) -> int:
        return len(self.a) - 1


NAMES = ("sp", "sp_lr", "ntp", "mup", "mfp")


def named(name: str, n_hidden: int = 2) -> ABC:
    """One of the paper's named parametrizations (see the module table) for ``n_hidden`` layers.

    Raises:
        ValueError: unknown name (lists the known ones), ``n_hidden < 1``, or MFP with more than
            one hidden layer (the mean-field parametrization is defined for one).
    """
    if n_hidden < 1:
        raise ValueError(f"n_hidden must be >= 1, got {n_hidden}")
    L = n_hidden
    if name in ("sp", "sp_lr"):
        return ABC(name, (0.0,) * (L + 1), (0.0,) + (0.5,) * L, 0.0 if name == "sp" else 1.0)
    if name == "ntp":
        return ABC(name, (0.0,) + (0.5,) * L, (0.0,) * (L + 1), 0.0)
    if name == "mup":
        return ABC(name, (-0.5,) + (0.0,) * (L - 1) + (0.5,), (0.5,) * (L + 1), 0.0)
    if name == "mfp":
        if L != 1:
            raise ValueError("the mean-field parametrization 'mfp' is defined for one hidden "
                             f"layer; got n_hidden={L}")
        return ABC(name, (0.0, 1.0), (0.0, 0.0), -1.0)
    raise ValueError(f"unknown parametrization {name!r}; choose one of {NAMES} or build one "
                     "with custom(a, b, c)")


def custom(a, b, c: float, name: str = "custom") -> ABC:
    """Any abc-parametrization; ``a`` and ``b`` need one entry per weight matrix (L + 1)."""
    a, b = tuple(float(v) for v in a), tuple(float(v) for v in b)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"a and b need the same length L + 1 >= 2, got {len(a)} and {len(b)}")
    return ABC(name, a, b, float(c))


def init(key: jax.Array, abc: ABC, d_in: int, width: int, d_out: int) -> list[jax.Array]:
    """Parameters ``w^l ~ N(0, width^{-2 b_l})`` with shapes ``[(d, n), (n, n)..., (n, k)]``."""
    if width < 1 or d_in < 1 or d_out < 1:
        raise ValueError(f"sizes must be >= 1, got d_in={d_in}, width={width}, d_out={d_out}")
    dims = [d_in] + [width] * abc.n_hidden + [d_out]
    keys = jax.random.split(key, len(dims) - 1)
    return [jax.random.normal(k, (i, o)) * width ** (-b)
            for k, i, o, b in zip(keys, dims[:-1], dims[1:], abc.b)]


_ACT = {"relu": jax.nn.relu, "tanh": jnp.tanh, "identity": lambda z: z}


def forward(params: list[jax.Array], abc: ABC, x: jax.Array, activation: str = "relu",
            return_hidden: bool = False):
    """Network output (N, k); with ``return_hidden`` also the pre-activations ``[h^1..h^L]``."""
    if activation not in _ACT:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACT)}")
    if len(params) != len(abc.a):
        raise ValueError(f"{abc.name} has {len(abc.a)} layers but params has {len(params)}")
    phi = _ACT[activation]
    width = params[0].shape[1]
    h = (x @ params[0]) * (width ** (-abc.a[0]) / np.sqrt(x.shape[-1]))
    hidden = [h]
    for w, a in zip(params[1:-1], abc.a[1:-1]):
        h = (phi(h) @ w) * width ** (-a)
        hidden.append(h)
    out = (phi(h) @ params[-1]) * width ** (-abc.a[-1])
    return (out, hidden) if return_hidden else out


def learning_rate(abc: ABC, eta: float, width: int) -> float:
    """The SGD learning rate ``eta * width^{-c}``."""
    return float(eta * width ** (-abc.c))


def mse(params, abc, x, y, activation="relu"):
    """``1/(2N) sum_i ||f(x_i) - y_i||^2``."""
    return 0.5 * jnp.mean(jnp.sum((forward(params, abc, x, activation) - y) ** 2, axis=-1))


def compute_coord_check(abc: ABC, widths, x: np.ndarray, y: np.ndarray, eta: float,
                        steps: int = 1, seeds: int = 3, activation: str = "relu"
                        ) -> pd.DataFrame:
    """Coordinate sizes at initialisation and after ``steps`` SGD steps, per layer and width.

    Returns:
        Tidy frame: parametrization, width, seed, layer (1..L, and ``"out"``), h0 (mean |h_0|),
        dh (mean |h_t - h_0|), over the coordinates and the N inputs of ``x`` (N, d).
    """
    rows = []
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    for width in widths:
        for seed in range(seeds):
            p0 = init(jax.random.PRNGKey(seed), abc, x.shape[1], int(width), y.shape[1])
            out0, hid0 = forward(p0, abc, x, activation, return_hidden=True)
            p1 = train(p0, abc, x, y, eta, steps, activation)[0]
            out1, hid1 = forward(p1, abc, x, activation, return_hidden=True)
            layers = [(str(i + 1), h0, h1) for i, (h0, h1) in enumerate(zip(hid0, hid1))]
            for layer, h0, h1 in layers + [("out", out0, out1)]:
                rows.append({"parametrization": abc.name, "width": int(width), "seed": seed,
                             "layer": layer, "h0": float(jnp.mean(jnp.abs(h0))),
                             "dh": float(jnp.mean(jnp.abs(h1 - h0)))})
    return pd.DataFrame(rows)


def fit_slopes(df: pd.DataFrame, value: str = "dh") -> pd.DataFrame:
    """Log-log slope of ``value`` (mean over seeds) vs width, per parametrization and layer."""
    out = []
    for (name, layer), g in df.groupby(["parametrization", "layer"]):
        m = g.groupby("width")[value].mean()
        out.append({"parametrization": name, "layer": layer, "value": value,
                    "slope": fit_power_law(m.index, m.to_numpy())[0]})
    return pd.DataFrame(out)


def train(params, abc: ABC, x, y, eta: float, steps: int, activation: str = "relu"):
    """``steps`` full-batch SGD steps in one jitted ``lax.scan``.

    Returns:
        (params after training, losses (steps + 1,) with the loss before each step and at the end).
    """
    lr = learning_rate(abc, eta, params[0].shape[1])
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    @jax.jit
    def run(p):
        def step(p, _):
            loss, g = jax.value_and_grad(mse)(p, abc, x, y, activation)
            return [w - lr * gw for w, gw in zip(p, g)], loss

        p, losses = jax.lax.scan(step, p, None, length=steps)
        return p, jnp.append(losses, mse(p, abc, x, y, activation))

    return run(params)


def compute_feature_movement(abc: ABC, widths, x, y, eta: float, steps: int, seeds: int = 2,
                             activation: str = "relu", ntk_probe: int = 0) -> pd.DataFrame:
    """How much the last hidden representation (and the empirical NTK) move in training, vs width.

    ``rel_change = ||phi(h^L_T) - phi(h^L_0)||_F / ||phi(h^L_0)||_F`` over the training inputs
    (N, d); a kernel-regime parametrization gives ~ width^-1/2, a feature-learning one ~ width^0.
    With ``ntk_probe > 0`` also ``ntk_rel_change = ||K_T - K_0||_F / ||K_0||_F`` of the
    empirical NTK on the first ``ntk_probe`` training inputs (neural-tangents, implementation 2).

    Returns:
        parametrization, width, seed, rel_change, final_loss[, ntk_rel_change].
    """
    from ntkpaper import kernels

    def entk(p):
        f = lambda params, inputs: forward(params, abc, inputs, activation)
        return kernels.empirical_ntk(f, p, np.asarray(x[:ntk_probe], np.float32),
                                     implementation=2)

    phi = _ACT[activation]
    rows = []
    xj = jnp.asarray(x, jnp.float32)
    for width in widths:
        for seed in range(seeds):
            p0 = init(jax.random.PRNGKey(seed), abc, x.shape[1], int(width), y.shape[1])
            p1, losses = train(p0, abc, x, y, eta, steps, activation)
            a0 = phi(forward(p0, abc, xj, activation, return_hidden=True)[1][-1])
            a1 = phi(forward(p1, abc, xj, activation, return_hidden=True)[1][-1])
            row = {"parametrization": abc.name, "width": int(width), "seed": seed,
                   "rel_change": float(jnp.linalg.norm(a1 - a0) / jnp.linalg.norm(a0)),
                   "final_loss": float(losses[-1])}
            if ntk_probe:
                k0, k1 = entk(p0), entk(p1)
                row["ntk_rel_change"] = float(np.linalg.norm(k1 - k0) / np.linalg.norm(k0))
            rows.append(row)
    return pd.DataFrame(rows)


def compute_lr_sweep(abc: ABC, widths, etas, x, y, steps: int, seeds: int = 1,
                     activation: str = "relu") -> pd.DataFrame:
    """Training loss after ``steps`` SGD steps for each base learning rate ``eta`` and width.

    A diverged run (non-finite or larger than 10x its initial loss) is recorded as NaN.

    Returns:
        parametrization, width, eta, seed, loss.
    """
    rows = []
    for width in widths:
        for seed in range(seeds):
            p0 = init(jax.random.PRNGKey(seed), abc, x.shape[1], int(width), y.shape[1])
            for eta in etas:
                _, losses = train(p0, abc, x, y, float(eta), steps, activation)
                final = float(losses[-1])
                ok = np.isfinite(final) and final < 10 * float(losses[0])
                rows.append({"parametrization": abc.name, "width": int(width), "eta": float(eta),
                             "seed": seed, "loss": final if ok else float("nan")})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The muP limit of a one-hidden-layer linear network, computed exactly
#
# Network (muP, L = 1, identity activation): f(x) = x A B with A = w1 sqrt(n / d) (d, n) and
# B = w2 / sqrt(n) (n, k), w1 ~ N(0, 1/n), w2 ~ N(0, 1/n). SGD with learning rate eta on (w1, w2)
# moves A by -(eta n / d) dL/dA and B by -(eta / n) dL/dB. With R = (X M - Y) / N (the loss
# gradient w.r.t. the outputs, N training points) and the state
#     M = A B (d, k),   G_A = A A^T / n (d, d),   G_B = n B^T B (k, k),
# one step is, exactly and at any width (the hidden layer enters only through G_A and G_B):
#     M'   = M - (eta/d) X^T R G_B - eta G_A X^T R + (eta^2/d) X^T R M^T X^T R
#     G_A' = G_A - (eta/d) (M R^T X + X^T R M^T) + (eta^2/d^2) X^T R G_B R^T X
#     G_B' = G_B - eta (M^T X^T R + R^T X M) + eta^2 R^T X G_A X^T R
# At initialisation M = O(n^-1/2), G_A = I/d + O(n^-1/2), G_B = I_k + O(n^-1/2): the
# infinite-width limit is the same recursion started from (0, I/d, I_k). Finite networks
# differ from it only through their initial state, hence by O(n^-1/2).

def linear_state(params: list[jax.Array]) -> dict[str, np.ndarray]:
    """(M, G_A, G_B) of a one-hidden-layer muP linear network's parameters ``[(d, n), (n, k)]``."""
    if len(params) != 2:
        raise ValueError("the exact muP limit is implemented for one hidden layer only")
    w1, w2 = (np.asarray(p, np.float64) for p in params)
    d, n = w1.shape
    a, b = w1 * np.sqrt(n / d), w2 / np.sqrt(n)
    return {"M": a @ b, "G_A": a @ a.T / n, "G_B": n * b.T @ b}


def linear_limit_state(d: int, k: int) -> dict[str, np.ndarray]:
    """The infinite-width initial state (M = 0, G_A = I/d, G_B = I)."""
    return {"M": np.zeros((d, k)), "G_A": np.eye(d) / d, "G_B": np.eye(k)}


def linear_limit_train(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, eta: float,
                       steps: int, x_test: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Run the closed recursion above (float64) for ``steps`` SGD steps.

    Args:
        state: from :func:`linear_state` (a finite network) or :func:`linear_limit_state`.
        x: (N, d) training inputs; y: (N, k) targets; x_test: (m, d) or ``None``.

    Returns:
        final ``M``, ``G_A``, ``G_B``, ``loss`` (steps + 1,) and, with ``x_test``, ``test``
        (steps + 1, m, k) outputs ``x_test M`` after each step.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n_pts, d = x.shape
    m, ga, gb = (np.array(state[k], np.float64) for k in ("M", "G_A", "G_B"))
    if m.shape != (d, y.shape[1]):
        raise ValueError(f"state M has shape {m.shape}, expected {(d, y.shape[1])}")
    losses, outs = [], []
    for _ in range(steps + 1):
        r = (x @ m - y) / n_pts
        losses.append(0.5 * n_pts * float(np.sum(r**2)))
        if x_test is not None:
            outs.append(np.asarray(x_test, np.float64) @ m)
        if len(losses) > steps:
            break
        xr = x.T @ r  # (d, k)
        m, ga, gb = (m - (eta / d) * xr @ gb - eta * ga @ xr + (eta**2 / d) * xr @ m.T @ xr,
                     ga - (eta / d) * (m @ xr.T + xr @ m.T) + (eta**2 / d**2) * xr @ gb @ xr.T,
                     gb - eta * (m.T @ xr + xr.T @ m) + eta**2 * xr.T @ ga @ xr)
    out = {"M": m, "G_A": ga, "G_B": gb, "loss": np.array(losses)}
    if x_test is not None:
        out["test"] = np.stack(outs)
    return out


def compute_linear_limit_convergence(x, y, x_test, widths, eta: float, steps: int,
                                     seeds: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """Train real one-hidden-layer muP linear nets and compare them with the computed limit.

    Args:
        x: (N, d) training inputs; y: (N, k) targets; x_test: (m, d).

    Returns:
        ``nets``: width, seed, rel_dist = ``||f_net - f_lim|| / ||f_lim||`` on ``x_test``,
        final_loss; and the limit's test outputs (m, k).
    """
    abc = named("mup", 1)
    d, k = x.shape[1], y.shape[1]
    limit = linear_limit_train(linear_limit_state(d, k), x, y, eta, steps, x_test)["test"][-1]
    rows = []
    xt = jnp.asarray(x_test, jnp.float32)
    for width in widths:
        for seed in range(seeds):
            p0 = init(jax.random.PRNGKey(seed), abc, d, int(width), k)
            p1, losses = train(p0, abc, x, y, eta, steps, activation="identity")
            out = np.asarray(forward(p1, abc, xt, "identity"), np.float64)
            rows.append({"width": int(width), "seed": seed,
                         "rel_dist": float(np.linalg.norm(out - limit) / np.linalg.norm(limit)),
                         "final_loss": float(losses[-1])})
    return pd.DataFrame(rows), limit
