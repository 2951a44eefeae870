"""Fixed and adaptive tangent-feature models of MLPs (LeJeune & Alemohammad, CPAL 2024).

Setting. An MLP ``f(x; theta)`` of :mod:`ntkpaper.parametrization` (dense layers, no biases),
initial parameters ``theta_0``. Layer l computes ``h_l = m_l a_l(x) W_l`` with input ``a_l(x)``
(fan_in,) and ``W_l`` (fan_in, fan_out). Its tangent features for output c are the outer products

    Phi_{l,c}(x) = df_c / dW_l = m_l a_l(x) delta_{l,c}(x)^T        (fan_in, fan_out),

with ``delta_{l,c} = df_c / dh_l`` the backward signal.

Fixed tangent-feature model (the network linearised at ``theta_0``, ``V = theta - theta_0``):

    f_c(x; V) = f_c(x; theta_0) + sum_l <Phi_{l,c}(x), V_l>_F.

Fitted with the ridge penalty ``(lam/2) sum_l ||V_l||_F^2`` on the loss
``(1/2N) sum_{i,c} (f_c(x_i) - y_ic)^2`` it *is* kernel ridge regression with the empirical NTK
``K((x,c),(x',c')) = sum_l m_l^2 <a_l(x), a_l(x')> <delta_{l,c}(x), delta_{l,c'}(x')>`` on the
residual targets ``y - f(x; theta_0)`` (tests check this against neural-tangents); ``lam -> 0``
gives min-norm interpolation.

Adaptive model. Each layer's features may be transformed linearly on both sides, with input-side
``P_l`` (fan_in, fan_in) and output-side ``Q_l`` (fan_out, fan_out) maps and coefficients
``B_l``: ``<P_l Phi_{l,c} Q_l, B_l> = <Phi_{l,c}, P_l^T B_l Q_l^T>``. So the predictor is the
fixed model at ``V_l = P_l^T B_l Q_l^T`` (the bilinear interpolation constraint of the paper),
and the adapted kernel is

    K'((x,c),(x',c')) = sum_l m_l^2 <P_l a_l(x), P_l a_l(x')>
                                    * <Q_l^T delta_{l,c}(x), Q_l^T delta_{l,c'}(x')>.

Regularising transformations and coefficients together, ``(1/2) sum_l (||P_l||^2 + ||B_l||^2 +
||Q_l||^2)``, is the same as regularising V by a Schatten quasi-norm:

    min over P^T B Q^T = V of (||P||_F^2 + ||B||_F^2 + ||Q||_F^2) / 3 = sum_i sigma_i(V)^(2/3).

(>=: Hoelder's inequality for Schatten norms, ``||XYZ||_{S_2/3} <= ||X||_{S_2} ||Y||_{S_2}
||Z||_{S_2}``, then the AM-GM inequality; =: the balanced factors of the SVD ``V = U S W^T``,
``P^T = U S^(1/3)``, ``B = S^(1/3)``, ``Q^T = S^(1/3) W^T``, zero-padded to square.) Hence

    (factored)     min_{P,B,Q} loss(V(P,B,Q)) + (lam/2) sum_l (||P_l||^2 + ||B_l||^2 + ||Q_l||^2)
    (regularised)  min_V       loss(V)        + (3 lam/2) sum_l ||V_l||_{S_2/3}^(2/3)

have the same minimum value and minimisers ``V``: a linearly constrained (in the interpolation
limit) problem whose quasi-norm (p = 2/3 < 1) favours low-rank ``V_l``. We solve the factored
form by gradient descent (:func:`fit_adaptive`) and the regularised form by iteratively
reweighted least squares (:func:`fit_schatten_irls`, Mohan & Fazel 2012); tests check they agree.

Shapes: ``x`` (N, d), ``y`` (N, k); ``V``, ``P``, ``B``, ``Q`` are lists over the L + 1 layers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkpaper import parametrization as pz
from ntkpaper.progress import progress

P_SCHATTEN = 2.0 / 3.0


# ---------------------------------------------------------------------------------------------
# Linear algebra of the regulariser


def schatten_quasi_norm(v: np.ndarray, p: float = P_SCHATTEN) -> float:
    """``sum_i sigma_i(V)^p`` (the p-th power of the Schatten-p quasi-norm)."""
    return float(np.sum(np.linalg.svd(np.asarray(v, np.float64), compute_uv=False) ** p))


def balanced_factors(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Square ``P`` (m, m), ``B`` (m, n), ``Q`` (n, n) with ``P^T B Q^T = V`` (m, n) and
    ``(||P||^2 + ||B||^2 + ||Q||^2) / 3 = sum sigma^(2/3)`` (the minimum over factorisations)."""
    v = np.asarray(v, np.float64)
    m, n = v.shape
    u, s, wt = np.linalg.svd(v, full_matrices=True)
    r = len(s)
    c = np.zeros(max(m, n))
    c[:r] = np.cbrt(s)
    p_t = u * c[:m]  # (m, m): U S^(1/3), zero columns beyond rank
    b = np.zeros((m, n))
    b[:r, :r] = np.diag(c[:r])
    q_t = c[:n, None] * wt  # (n, n): S^(1/3) W^T
    return p_t.T, b, q_t.T


def factored_penalty(p, b, q) -> float:
    """``(||P||^2 + ||B||^2 + ||Q||^2) / 3`` of one layer's factors."""
    return float(sum(np.sum(np.asarray(a, np.float64) ** 2) for a in (p, b, q)) / 3.0)


# ---------------------------------------------------------------------------------------------
# The linearised network


class TangentModel:
    """The MLP linearised at ``params0``: ``f(x; V) = f0(x) + J(x) V`` (jvp, no Jacobians stored).

    Args:
        params0: ``[(d, n), ..., (n, k)]`` initial weights; abc: their parametrization.
    """

    def __init__(self, params0, abc: pz.ABC, activation: str = "relu"):
        if activation not in pz.ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{sorted(pz.ACTIVATIONS)}")
        if len(params0) != len(abc.a):
            raise ValueError(f"{abc.name} has {len(abc.a)} layers but params0 has "
                             f"{len(params0)}")
        self.params0 = [jnp.asarray(p, jnp.float32) for p in params0]
        self.abc, self.activation = abc, activation
        self.shapes = [p.shape for p in self.params0]

    def f0(self, x) -> jax.Array:
        return pz.forward(self.params0, self.abc, jnp.asarray(x, jnp.float32), self.activation)

    def apply(self, v, x) -> jax.Array:
        """(N, k) outputs of the fixed model at coefficients ``v`` (list shaped like params)."""
        self._check(v)
        x = jnp.asarray(x, jnp.float32)
        f = lambda p: pz.forward(p, self.abc, x, self.activation)
        out0, dout = jax.jvp(f, (self.params0,), (list(v),))
        return out0 + dout

    def _check(self, v):
        if len(v) != len(self.shapes) or any(tuple(a.shape) != s for a, s in zip(v, self.shapes)):
            raise ValueError("coefficients must match the layer shapes "
                             f"{self.shapes}, got {[tuple(a.shape) for a in v]}")

    def zeros(self) -> list[jax.Array]:
        return [jnp.zeros(s, jnp.float32) for s in self.shapes]


def _mse(out, y):
    return 0.5 * jnp.mean(jnp.sum((out - y) ** 2, axis=-1))


def _check_xy(model: TangentModel, x, y):
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    if x.ndim != 2 or x.shape[1] != model.shapes[0][0]:
        raise ValueError(f"x must be (N, {model.shapes[0][0]}), got {x.shape}")
    if y.shape != (len(x), model.shapes[-1][1]):
        raise ValueError(f"y must be (N, k) = {(len(x), model.shapes[-1][1])}, got {y.shape}")
    return jnp.asarray(x), jnp.asarray(y)


def fit_fixed(model: TangentModel, x, y, lam: float, steps: int, lr: float = 1e-3):
    """Ridge-regularised fixed tangent-feature model by Adam on ``V`` (from ``V = 0``).

    Returns:
        (V, losses (steps,)).
    """
    x, y = _check_xy(model, x, y)

    def loss(v):
        return _mse(model.apply(v, x), y) + 0.5 * lam * sum(jnp.sum(a**2) for a in v)

    return _run(loss, model.zeros(), steps, lr, "fixed tangent-feature fit step")


def full_kernel(model: TangentModel, x) -> np.ndarray:
    """The full multi-output empirical NTK at ``theta_0``, (N k, N k) float64 (row ``i k + c``,
    as :func:`jacobian_matrix`), from the layer structure: ``sum_l m_l^2 (A_l A_l^T)[i, j]
    (D_l D_l^T)[(i, c), (j, c')]`` with ``A_l`` the layer inputs and ``D_l`` the backward
    signals (:func:`ntkpaper.entk.signals`); cross-output blocks kept."""
    from ntkpaper import entk

    x = jnp.asarray(x, jnp.float32)
    mults = jnp.asarray(pz.multipliers(model.abc, model.shapes[0][1], x.shape[1]))
    acts, deltas = entk.signals_fn(model.activation)(model.params0, mults, x)
    n, k = x.shape[0], model.shapes[-1][1]
    out = np.zeros((n * k, n * k))
    for a, d, m in zip(acts, deltas, np.asarray(mults)):
        a = np.asarray(a, np.float64)
        d = np.asarray(d, np.float64).reshape(n * k, -1)
        out += float(m) ** 2 * np.repeat(np.repeat(a @ a.T, k, 0), k, 1) * (d @ d.T)
    return out


def solve_fixed(model: TangentModel, x, y, lams, kernel: np.ndarray | None = None
                ) -> dict[float, list[jax.Array]]:
    """The ridge-regularised fixed tangent-feature model in closed form, for each penalty.

    The objective ``(1/2N) ||J V - r||^2 + (lam/2) ||V||^2`` (``r = y - f0(x)``, J the (N k, P)
    tangent features) is minimised by ``V = J^T alpha`` with ``alpha = (J J^T + N lam I)^{-1} r``:
    a Cholesky solve with the full kernel (:func:`full_kernel`, float64), then one
    vector-Jacobian product for V. Cost (N k)^3 / 3 per penalty: N k up to ~10^4 on a laptop.

    Returns:
        ``{lam: V}`` (per-layer lists shaped like the parameters).
    """
    import scipy.linalg

    x, y = _check_xy(model, x, y)
    n, k = y.shape
    lams = [float(v) for v in np.atleast_1d(lams)]
    if min(lams) <= 0:
        raise ValueError(f"the closed form needs penalties > 0, got {lams}")
    K = full_kernel(model, x) if kernel is None else np.asarray(kernel, np.float64)
    r = (np.asarray(y, np.float64) - np.asarray(model.f0(x), np.float64)).reshape(-1)
    f = lambda p: pz.forward(p, model.abc, x, model.activation)
    _, vjp = jax.vjp(f, model.params0)
    out = {}
    for lam in lams:
        alpha = scipy.linalg.cho_solve(scipy.linalg.cho_factor(
            K + n * lam * np.eye(n * k), lower=True, check_finite=False), r, check_finite=False)
        out[lam] = list(vjp(jnp.asarray(alpha.reshape(n, k), jnp.float32))[0])
    return out


def fixed_stationarity(model: TangentModel, v, x, y, lam: float) -> float:
    """Relative gradient norm of the fixed model's objective at ``V``:
    ``||J^T (J V - r) / N + lam V|| / ||J^T r / N||`` (0 at the optimum; float32 round-off
    leaves ~1e-4)."""
    x, y = _check_xy(model, x, y)
    n = x.shape[0]
    f = lambda p: pz.forward(p, model.abc, x, model.activation)
    _, vjp = jax.vjp(f, model.params0)
    resid = model.apply(v, x) - y
    g = [a / n + lam * b for a, b in zip(vjp(resid)[0], v)]
    g0 = vjp((y - model.f0(x)) / n)[0]
    norm = lambda t: float(np.sqrt(sum(float(jnp.sum(a**2)) for a in t)))
    return norm(g) / max(norm(g0), 1e-30)


def adaptive_v(factors) -> list[jax.Array]:
    """``V_l = P_l^T B_l Q_l^T`` for ``factors = [(P_l, B_l, Q_l), ...]``."""
    return [p.T @ b @ q.T for p, b, q in factors]


def identity_factors(model: TangentModel) -> list[tuple]:
    """Start of the adaptive model: ``P = I``, ``Q = I`` (the tangent features), ``B = 0``."""
    return [(jnp.eye(i), jnp.zeros((i, o)), jnp.eye(o)) for i, o in model.shapes]


def fit_adaptive(model: TangentModel, x, y, lam: float, steps: int, lr: float = 1e-3,
                 factors=None):
    """The adaptive model in factored form: Adam on ``(P_l, B_l, Q_l)`` with penalty
    ``(lam/2) sum_l (||P_l||^2 + ||B_l||^2 + ||Q_l||^2)``; starts from :func:`identity_factors`.

    Returns:
        (factors, losses (steps,)); ``adaptive_v(factors)`` gives V.
    """
    x, y = _check_xy(model, x, y)

    def loss(fs):
        pen = sum(jnp.sum(p**2) + jnp.sum(b**2) + jnp.sum(q**2) for p, b, q in fs)
        return _mse(model.apply(adaptive_v(fs), x), y) + 0.5 * lam * pen

    return _run(loss, factors if factors is not None else identity_factors(model), steps, lr,
                "adaptive tangent-feature fit step")


def _run(loss, params, steps, lr, desc):
    """Full-batch Adam on ``loss`` through :func:`ntkpaper.training.fit`: (params, losses)."""
    from ntkpaper import training

    params, losses, _ = training.fit(loss, params, optax.adam(lr), steps, desc=desc)
    return params, losses


def objective_regularised(model: TangentModel, v, x, y, lam: float) -> float:
    """``loss(V) + (3 lam / 2) sum_l ||V_l||_{S_2/3}^(2/3)`` (the regularised form)."""
    x, y = _check_xy(model, x, y)
    return float(_mse(model.apply(v, x), y)) + 1.5 * lam * sum(
        schatten_quasi_norm(np.asarray(a)) for a in v)


def objective_factored(model: TangentModel, factors, x, y, lam: float) -> float:
    """``loss(V(P,B,Q)) + (lam/2) sum_l (||P||^2 + ||B||^2 + ||Q||^2)``."""
    x, y = _check_xy(model, x, y)
    return float(_mse(model.apply(adaptive_v(factors), x), y)) + 1.5 * lam * sum(
        factored_penalty(*f) for f in factors)


def jacobian_matrix(model: TangentModel, x) -> np.ndarray:
    """Dense tangent features (N * k, P) (row ``i * k + c``); for small problems only."""
    x = jnp.asarray(x, jnp.float32)
    jac = jax.jacrev(lambda p: pz.forward(p, model.abc, x, model.activation))(model.params0)
    n, k = x.shape[0], model.shapes[-1][1]
    return np.concatenate([np.asarray(j, np.float64).reshape(n * k, -1) for j in jac], axis=1)


def fit_schatten_irls(model: TangentModel, x, y, lam: float, iters: int = 200,
                      eps: float = 1e-8, v0=None) -> list[np.ndarray]:
    """The regularised form by IRLS (Mohan & Fazel 2012), dense and float64: small problems.

    With ``D_l = (V_l V_l^T + eps I)^(p/2 - 1)``, ``sum sigma^p = tr(V^T (V V^T)^(p/2-1) V)``;
    each iteration minimises ``loss(V) + (3 lam/2)(p/2) sum_l tr(V_l^T D_l V_l)`` exactly (a
    weighted ridge regression), which does not increase the objective (majorisation). Starts
    from the ridge (fixed-model) solution unless ``v0`` is given.
    """
    x, y = _check_xy(model, x, y)
    n = x.shape[0]
    j = jacobian_matrix(model, x)  # (N k, P)
    r = (np.asarray(y, np.float64) - np.asarray(model.f0(x), np.float64)).reshape(-1)
    sizes = [int(np.prod(s)) for s in model.shapes]
    gram, rhs = j.T @ j / n, j.T @ r / n
    coef = 1.5 * lam * P_SCHATTEN  # d/dV of (3 lam / 2) tr(V^T D V) (p/2) * 2 / 2
    if v0 is None:
        w = np.linalg.solve(gram + lam * np.eye(len(rhs)), rhs)
    else:
        w = np.concatenate([np.asarray(a, np.float64).ravel() for a in v0])
    for _ in progress(range(iters), desc="IRLS iteration", unit="it", delay=5):
        blocks, off = [], 0
        for s, size in zip(model.shapes, sizes):
            v = w[off:off + size].reshape(s)
            evals, evecs = np.linalg.eigh(v @ v.T + eps * np.eye(s[0]))
            d = (evecs * evals ** (P_SCHATTEN / 2 - 1)) @ evecs.T
            blocks.append(np.kron(d, np.eye(s[1])))  # acts on row-major vec(V)
            off += size
        weight = np.zeros((len(w), len(w)))
        off = 0
        for blk, size in zip(blocks, sizes):
            weight[off:off + size, off:off + size] = blk
            off += size
        w = np.linalg.solve(gram + coef * weight, rhs)
    out, off = [], 0
    for s, size in zip(model.shapes, sizes):
        out.append(w[off:off + size].reshape(s))
        off += size
    return out


# ---------------------------------------------------------------------------------------------
# Kernels and spectra of learned models


def adapted_layer_kernels(model: TangentModel, factors, x, x2=None) -> np.ndarray:
    """Per-layer adapted kernels K'_l (L + 1, N1, N2), averaged over outputs (as the eNTK of
    :mod:`ntkpaper.alignment`): ``m_l^2 <P a, P a'> (1/k) sum_c <Q^T delta_c, Q^T delta'_c>``."""
    from ntkpaper import entk

    x = np.asarray(x, np.float32)
    x2 = x if x2 is None else np.asarray(x2, np.float32)
    mults = jnp.asarray(pz.multipliers(model.abc, model.shapes[0][1], x.shape[1]))
    sig = entk.signals_fn(model.activation)
    a1, d1 = sig(model.params0, mults, jnp.asarray(x))
    a2, d2 = sig(model.params0, mults, jnp.asarray(x2))
    out = []
    for i, (p, _, q) in enumerate(factors):
        fa = (a1[i] @ p.T) @ (a2[i] @ p.T).T
        e1, e2 = d1[i] @ q, d2[i] @ q  # (N, k, fan_out)
        fb = e1.reshape(len(x), -1) @ e2.reshape(len(x2), -1).T / e1.shape[1]
        out.append(float(mults[i]) ** 2 * np.asarray(fa) * np.asarray(fb))
    return np.stack(out).astype(np.float64)


def singular_values(mats) -> list[np.ndarray]:
    """Singular values (descending) of each layer's matrix."""
    return [np.linalg.svd(np.asarray(m, np.float64), compute_uv=False) for m in mats]


def rank_at(s: np.ndarray, share: float = 0.9) -> int:
    """Smallest r with ``sum_{i<r} sigma_i^2 >= share * sum sigma^2`` (energy rank)."""
    e = np.cumsum(np.asarray(s, np.float64) ** 2)
    if e[-1] == 0:
        return 0
    return int(np.searchsorted(e, share * e[-1]) + 1)
