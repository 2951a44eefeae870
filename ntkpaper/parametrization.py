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

Adam (an extension beyond TP4): its step ignores the gradient's scale, so muP needs per-layer
learning rates, ``ABC.c_adam`` (derived in :func:`learning_rates`; TP5 Table 3). SP with one global
Adam rate has hidden updates ~ n and output updates ~ n^3/2 (tested).

Shapes: ``x`` (N, d); params are a list of arrays ``[(d, n), (n, n) x (L-1), (n, k)]``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from ntkpaper.progress import progress


@dataclass(frozen=True)
class ABC:
    """Exponents of an abc-parametrization for ``len(a) - 1`` hidden layers."""

    name: str
    a: tuple[float, ...]
    b: tuple[float, ...]
    c: float
    c_adam: tuple[float, ...] | None = None  # per-layer Adam lr exponents; None: c everywhere

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
        a = (-0.5,) + (0.0,) * (L - 1) + (0.5,)
        return ABC(name, a, (0.5,) * (L + 1), 0.0, c_adam=_adam_exponents(a))
    if name == "mfp":
        if L != 1:
            raise ValueError("the mean-field parametrization 'mfp' is defined for one hidden "
                             f"layer; got n_hidden={L}")
        return ABC(name, (0.0, 1.0), (0.0, 0.0), -1.0)
    raise ValueError(f"unknown parametrization {name!r}; choose one of {NAMES} or build one "
                     "with custom(a, b, c)")


def custom(a, b, c: float, name: str = "custom", c_adam=None) -> ABC:
    """Any abc-parametrization; ``a`` and ``b`` (and ``c_adam``) need one entry per weight matrix.

    ``c_adam="maximal"`` derives the per-layer Adam exponents that give every layer a Theta(1)
    update (see :func:`learning_rates`); ``None`` uses ``c`` for every layer under Adam too.
    """
    a, b = tuple(float(v) for v in a), tuple(float(v) for v in b)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"a and b need the same length L + 1 >= 2, got {len(a)} and {len(b)}")
    if isinstance(c_adam, str):
        if c_adam != "maximal":
            raise ValueError(f"c_adam must be None, 'maximal' or one exponent per layer; "
                             f"got {c_adam!r}")
        c_adam = _adam_exponents(a)
    elif c_adam is not None:
        c_adam = tuple(float(v) for v in c_adam)
        if len(c_adam) != len(a):
            raise ValueError(f"c_adam needs one exponent per weight matrix ({len(a)}), "
                             f"got {len(c_adam)}")
    return ABC(name, a, b, float(c), c_adam)


def _adam_exponents(a: tuple[float, ...]) -> tuple[float, ...]:
    """Adam lr exponents ``c_l = [l > 1] - a_l`` (derivation in :func:`learning_rates`)."""
    return tuple((0.0 if i == 0 else 1.0) - ai for i, ai in enumerate(a))


def init(key: jax.Array, abc: ABC, d_in: int, width: int, d_out: int) -> list[jax.Array]:
    """Parameters ``w^l ~ N(0, width^{-2 b_l})`` with shapes ``[(d, n), (n, n)..., (n, k)]``."""
    if width < 1 or d_in < 1 or d_out < 1:
        raise ValueError(f"sizes must be >= 1, got d_in={d_in}, width={width}, d_out={d_out}")
    dims = [d_in] + [width] * abc.n_hidden + [d_out]
    keys = jax.random.split(key, len(dims) - 1)
    return [jax.random.normal(k, (i, o)) * width ** (-b)
            for k, i, o, b in zip(keys, dims[:-1], dims[1:], abc.b)]


ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "identity": lambda z: z}


def multipliers(abc: ABC, width: int, d_in: int) -> np.ndarray:
    """(L + 1,) layer multipliers ``n^{-a_l}``, the first also divided by ``sqrt(d_in)``."""
    m = np.asarray([width ** (-a) for a in abc.a], np.float32)
    m[0] /= np.sqrt(d_in)
    return m


def forward_multiplied(params, mults, x, phi):
    """Forward pass with (possibly traced) multipliers: one compilation serves every abc."""
    h = (x @ params[0]) * mults[0]
    hidden = [h]
    for i, w in enumerate(params[1:-1], start=1):
        h = (phi(h) @ w) * mults[i]
        hidden.append(h)
    return (phi(h) @ params[-1]) * mults[-1], hidden


def forward(params: list[jax.Array], abc: ABC, x: jax.Array, activation: str = "relu",
            return_hidden: bool = False):
    """Network output (N, k); with ``return_hidden`` also the pre-activations ``[h^1..h^L]``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    if len(params) != len(abc.a):
        raise ValueError(f"{abc.name} has {len(abc.a)} layers but params has {len(params)}")
    out, hidden = forward_multiplied(params, multipliers(abc, params[0].shape[1], x.shape[-1]), x,
                           ACTIVATIONS[activation])
    return (out, hidden) if return_hidden else out


OPTIMIZERS = ("sgd", "adam")


def learning_rate(abc: ABC, eta: float, width: int) -> float:
    """The SGD learning rate ``eta * width^{-c}``."""
    return float(eta * width ** (-abc.c))


def learning_rates(abc: ABC, eta: float, width: int, optimizer: str = "sgd") -> list[float]:
    """Per-layer learning rates, one per weight matrix.

    SGD (TP4): ``eta * n^{-c}`` for every layer. Adam (a documented extension; TP5, Yang et al.
    2022, Table 3, and TP IVb for its limit): Adam's update of each entry of ``w^l`` is
    ``~ lr_l`` whatever the gradient's scale, and it is correlated with the layer's input, so
    the layer's output moves by ``n^{-a_l} lr_l fan_in_l``. Asking for Theta(1) with
    ``fan_in = d`` (fixed) for the input layer and ``n`` otherwise gives
    ``lr_l = eta * n^{-c_l}``, ``c_l = [l > 1] - a_l``: for muP ``(1/2, 1, ..., 1, 1/2)``
    (``ABC.c_adam``). Parametrizations without ``c_adam`` use one global ``eta * n^{-c}``, as
    SP is used in practice (its hidden updates then grow like ``n``).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    exps = abc.c_adam if (optimizer == "adam" and abc.c_adam is not None) else (abc.c,) * len(abc.a)
    return [float(eta * width ** (-c)) for c in exps]


def mse(params, abc, x, y, activation="relu"):
    """``1/(2N) sum_i ||f(x_i) - y_i||^2``."""
    return 0.5 * jnp.mean(jnp.sum((forward(params, abc, x, activation) - y) ** 2, axis=-1))


def compute_coord_check(abc: ABC, widths, x: np.ndarray, y: np.ndarray, eta: float,
                        steps: int = 1, seeds: int = 3, activation: str = "relu",
                        optimizer: str = "sgd") -> pd.DataFrame:
    """Coordinate sizes at initialisation and after ``steps`` steps, per layer and width.

    Returns:
        Tidy frame: parametrization, width, seed, layer (1..L, and ``"out"``), h0 (mean |h_0|),
        dh (mean |h_t - h_0|), over the coordinates and the N inputs of ``x`` (N, d).
    """
    rows = []
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    for width in progress(widths, desc=f"coord check {abc.name}", unit="width"):
        for seed in range(seeds):
            p0 = init(jax.random.PRNGKey(seed), abc, x.shape[1], int(width), y.shape[1])
            out0, hid0 = forward(p0, abc, x, activation, return_hidden=True)
            p1 = train(p0, abc, x, y, eta, steps, activation, optimizer)[0]
            out1, hid1 = forward(p1, abc, x, activation, return_hidden=True)
            layers = [(str(i + 1), h0, h1) for i, (h0, h1) in enumerate(zip(hid0, hid1))]
            for layer, h0, h1 in layers + [("out", out0, out1)]:
                rows.append({"parametrization": abc.name, "optimizer": optimizer,
                             "width": int(width), "seed": seed, "layer": layer,
                             "h0": float(jnp.mean(jnp.abs(h0))),
                             "dh": float(jnp.mean(jnp.abs(h1 - h0)))})
    return pd.DataFrame(rows)


def optimizer(abc: ABC, eta: float, width: int, kind: str = "sgd",
              schedule: Callable[[int], float] | None = None) -> optax.GradientTransformation:
    """An optax optimizer with this parametrization's per-layer learning rates.

    ``kind`` is "sgd" or "adam" (rates from :func:`learning_rates`); ``schedule`` (step ->
    multiplier, e.g. ``optax.piecewise_constant_schedule``) scales every layer's rate. For
    :func:`ntkpaper.training.fit` with params ``[(d, n), ..., (n, k)]``.
    """
    lrs = learning_rates(abc, eta, width, kind)
    parts = [optax.scale_by_adam()] if kind == "adam" else []
    if schedule is not None:
        parts.append(optax.scale_by_schedule(schedule))
    labels = [str(i) for i in range(len(lrs))]
    parts.append(optax.multi_transform({lab: optax.scale(-lr) for lab, lr in zip(labels, lrs)},
                                       labels))
    return optax.chain(*parts)


@functools.lru_cache(maxsize=32)
def _trainer(n_layers: int, activation: str, steps: int, optimizer: str):
    """Jitted ``(params, mults, x, y, lrs) -> (params, losses)``. The multipliers ``mults`` and
    learning rates ``lrs`` (both (L + 1,)) are traced, so one compilation per shape serves every
    parametrization and learning rate. (Mapping over learning rates with vmap instead compiles
    4-6x slower on CPU and runs no faster at the widths used here.)"""
    tx = optax.scale_by_adam() if optimizer == "adam" else optax.identity()
    phi = ACTIVATIONS[activation]

    def loss_fn(p, mults, x, y):
        return 0.5 * jnp.mean(jnp.sum((forward_multiplied(p, mults, x, phi)[0] - y) ** 2, axis=-1))

    def run(p, mults, x, y, lrs):
        def step(carry, _):
            p, state = carry
            loss, g = jax.value_and_grad(loss_fn)(p, mults, x, y)
            u, state = tx.update(g, state, p)
            return ([w - lrs[i] * ui for i, (w, ui) in enumerate(zip(p, u))], state), loss

        (p, _), losses = jax.lax.scan(step, (p, tx.init(p)), None, length=steps)
        return p, jnp.append(losses, loss_fn(p, mults, x, y))

    return jax.jit(run)


def train(params, abc: ABC, x, y, eta: float, steps: int, activation: str = "relu",
          optimizer: str = "sgd"):
    """``steps`` full-batch steps of SGD or Adam (optax) on :func:`mse` in one jitted scan.

    Learning rates per layer from :func:`learning_rates`. Returns (params after training,
    losses (steps + 1,) with the loss before each step and at the end).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    if len(params) != len(abc.a):
        raise ValueError(f"{abc.name} has {len(abc.a)} layers but params has {len(params)}")
    width = params[0].shape[1]
    lrs = jnp.asarray(learning_rates(abc, eta, width, optimizer), jnp.float32)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    mults = jnp.asarray(multipliers(abc, width, x.shape[1]))
    return _trainer(len(params), activation, int(steps), optimizer)(params, mults, x, y, lrs)


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
