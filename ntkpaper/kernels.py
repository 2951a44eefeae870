"""Analytic and empirical kernels, kernel regression / GP posterior, gradient-descent predictions.

Conventions (used throughout ntkpaper):

* Kernels are traced over outputs: ``K`` has shape (n1, n2), the same for every output.
* Training loss is ``L = 1/(2n) sum_i ||f(x_i) - y_i||^2`` (mean over examples, sum over
  outputs). Gradient flow with learning rate ``eta`` for time ``t = eta * steps`` on a network
  whose NTK is fixed gives, from a zero-mean start (the ensemble mean, or the centred ``f - f0``):
  ``f_t(x) = K(x, X) K^{-1} (I - exp(-t K / n)) Y``. At ``t = inf`` this is kernel regression.
  (neural-tangents' ``predict.gradient_descent_mse`` normalises by ``n * k`` instead: its time is
  ours times ``k``; a test checks the two agree.)
* ``diag_reg`` is relative to the mean of the training kernel's diagonal unless
  ``relative=False``: ``K + diag_reg * mean(diag K) * I`` (Lee et al. 2020's convention).
* Kernel matrices are computed in float64 (``ntkpaper.nt.x64``) because the solves are
  ill conditioned at small ``diag_reg``; solves run in scipy in the dtype you ask for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from ntkpaper import nt
from ntkpaper.progress import progress


def _pad_rows(x: np.ndarray, multiple: int) -> tuple[np.ndarray, int]:
    n = len(x)
    pad = (-n) % multiple
    if pad:
        x = np.concatenate([x, np.repeat(x[:1], pad, axis=0)])
    return x, n


def default_batch_size(n1: int, n2: int | None = None, pair_cost: int = 1,
                       memory_mb: float = 512.0) -> int:
    """Largest kernel block side ``b`` whose intermediates fit ``memory_mb``.

    ``pair_cost`` is the number of float64 values the kernel needs per pair of inputs (1 for FC,
    ``H*W`` for CNN-VEC, ``(H*W)**2`` for CNN-GAP); a block holds ``b*b*pair_cost`` of them, times
    a safety factor of 8 for the layer-wise intermediates.
    """
    b = int(math.sqrt(memory_mb * 2**20 / (8 * 8 * max(pair_cost, 1))))
    return max(1, min(b, 2000, max(n1, n2 or n1)))


def analytic_kernels(kernel_fn, x1: np.ndarray, x2: np.ndarray | None = None,
                     get: Sequence[str] = ("nngp", "ntk"), batch_size: int | None = None,
                     x64: bool = True, device_count: int = -1, pair_cost: int = 1
                     ) -> dict[str, np.ndarray]:
    """Infinite-width kernels of a stax network, computed in memory-bounded blocks.

    Uses ``nt.batch`` (which shards blocks over all local devices when ``device_count=-1``).
    Inputs are padded to a multiple of the block size and the padding is cut off again, so any
    sizes work.

    Args:
        kernel_fn: the third element of a stax triple.
        x1: (n1, ...) inputs.
        x2: (n2, ...) inputs, or ``None`` for ``x1`` against itself.
        get: which kernels, among ``"nngp"`` and ``"ntk"``.
        batch_size: block side; default :func:`default_batch_size`.
        x64: compute in float64.
        pair_cost: see :func:`default_batch_size`.

    Returns:
        dict name -> (n1, n2) numpy array (float64 if ``x64``).
    """
    get = tuple(get)
    bad = set(get) - {"nngp", "ntk"}
    if bad:
        raise ValueError(f"unknown kernel(s) {sorted(bad)}; choose from 'nngp', 'ntk'")
    dtype = np.float64 if x64 else np.float32
    n1 = len(x1)
    n2 = None if x2 is None else len(x2)
    if batch_size is None:
        batch_size = default_batch_size(n1, n2, pair_cost)
    batch_size = max(1, min(batch_size, n1, n2 or n1))
    devices = jax.local_device_count() if device_count == -1 else max(device_count, 1)
    multiple = batch_size * devices
    ctx = nt.x64(x64)
    with ctx:
        a, _ = _pad_rows(np.asarray(x1, dtype), multiple)
        b = None if x2 is None else _pad_rows(np.asarray(x2, dtype), multiple)[0]
        fn = nt.batch(kernel_fn, batch_size=batch_size, device_count=device_count,
                      store_on_device=False)
        out = fn(a, b, get)
    out = out if isinstance(out, tuple) else (out,)
    n2 = n1 if x2 is None else n2
    return {g: np.asarray(k, dtype=dtype)[:n1, :n2] for g, k in zip(get, out)}


def _reg_matrix(k: np.ndarray, diag_reg: float, relative: bool) -> np.ndarray:
    if diag_reg < 0:
        raise ValueError(f"diag_reg must be >= 0, got {diag_reg}")
    scale = float(np.mean(np.diag(k))) if relative else 1.0
    out = np.array(k, copy=True)
    out[np.diag_indices_from(out)] += diag_reg * scale
    return out


def _check_shapes(k_train, k_test_train, y_train):
    n = k_train.shape[0]
    if k_train.shape != (n, n):
        raise ValueError(f"k_train must be square (n, n), got {k_train.shape}")
    if k_test_train is not None and k_test_train.shape[1] != n:
        raise ValueError(f"k_test_train must be (m, {n}), got {k_test_train.shape}")
    if y_train.shape[0] != n:
        raise ValueError(f"y_train must have {n} rows like k_train, got {y_train.shape}")


def kernel_regression(k_train: np.ndarray, k_test_train: np.ndarray, y_train: np.ndarray,
                      diag_reg: float = 0.0, relative: bool = True, dtype=np.float64
                      ) -> np.ndarray:
    """Kernel ridge regression / GP posterior mean ``K_*X (K_XX + reg I)^{-1} Y``.

    Args:
        k_train: (n, n) training kernel.
        k_test_train: (m, n) test-train kernel.
        y_train: (n, k) targets.
        diag_reg: ridge (relative to mean diagonal unless ``relative=False``).
        dtype: dtype of the Cholesky solve (``np.float32`` to study precision loss).

    Returns:
        (m, k) predictions. Raises ``numpy.linalg.LinAlgError`` if the (regularised) kernel is not
        numerically positive definite in ``dtype``.
    """
    y_train = np.asarray(y_train)
    _check_shapes(k_train, k_test_train, y_train)
    a = _reg_matrix(k_train, diag_reg, relative).astype(dtype)
    c = scipy.linalg.cho_factor(a, lower=True, check_finite=False)
    alpha = scipy.linalg.cho_solve(c, y_train.astype(dtype), check_finite=False)
    if not np.all(np.isfinite(alpha)):
        raise np.linalg.LinAlgError("kernel solve produced non-finite values")
    return np.asarray(k_test_train, dtype) @ alpha


def gp_posterior(k_train: np.ndarray, k_test_train: np.ndarray, k_test_diag: np.ndarray,
                 y_train: np.ndarray, diag_reg: float = 0.0, relative: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """GP posterior mean (m, k) and marginal variance (m,) (the same for every output)."""
    y_train = np.asarray(y_train)
    _check_shapes(k_train, k_test_train, y_train)
    a = _reg_matrix(k_train, diag_reg, relative)
    c = scipy.linalg.cho_factor(a, lower=True)
    mean = k_test_train @ scipy.linalg.cho_solve(c, y_train)
    v = scipy.linalg.solve_triangular(c[0], k_test_train.T, lower=True)
    return mean, np.asarray(k_test_diag) - np.sum(v**2, axis=0)


class EigenSolver:
    """One eigendecomposition of the training kernel, then many regularisers or training times.

    ``K = V diag(s) V^T`` costs O(n^3) once; each ridge or time after that is O(n^2 k).

    Args:
        k_train: (n, n) training kernel.
        k_test_train: (m, n) test-train kernel.
        y_train: (n, k) targets.
    """

    def __init__(self, k_train: np.ndarray, k_test_train: np.ndarray, y_train: np.ndarray):
        y_train = np.asarray(y_train, dtype=np.float64)
        _check_shapes(k_train, k_test_train, y_train)
        self.n = k_train.shape[0]
        self.mean_diag = float(np.mean(np.diag(k_train)))
        s, v = np.linalg.eigh(np.asarray(k_train, np.float64))
        self.s = np.clip(s, 0.0, None)
        self.proj_y = v.T @ y_train  # (n, k)
        self.test_v = np.asarray(k_test_train, np.float64) @ v  # (m, n)

    def ridge(self, diag_reg: float, relative: bool = True) -> np.ndarray:
        """(m, k) kernel-regression predictions at ``diag_reg``."""
        reg = diag_reg * (self.mean_diag if relative else 1.0)
        return self.test_v @ (self.proj_y / (self.s + reg)[:, None])

    def gradient_flow(self, t: float) -> np.ndarray:
        """(m, k) predictions after gradient flow for time ``t`` (``t=np.inf``: interpolation).

        ``f_t = K_*X V diag((1 - exp(-t s / n)) / s) V^T Y`` (zero-mean start).
        """
        if t == np.inf:
            gain = np.where(self.s > 1e-12 * self.s.max(), 1.0 / np.where(self.s > 0, self.s, 1),
                            0.0)
        else:
            gain = -np.expm1(-t * self.s / self.n) / np.where(self.s > 0, self.s, 1.0)
            gain = np.where(self.s > 0, gain, t / self.n)
        return self.test_v @ (self.proj_y * gain[:, None])


def gradient_flow_predictions(k_train: np.ndarray, k_test_train: np.ndarray,
                              y_train: np.ndarray, times: Sequence[float]) -> np.ndarray:
    """(len(times), m, k) predictions of gradient flow on the MSE loss at each time."""
    solver = EigenSolver(k_train, k_test_train, y_train)
    return np.stack([solver.gradient_flow(float(t)) for t in times])


def sp_limit_kernel(nngp: np.ndarray, b_std: float) -> np.ndarray:
    """Limit kernel of a one-hidden-layer standard-parameterization net trained with lr/width.

    In SP the weights are the parameters (``W ~ N(0, W_std^2 / fan_in)``). With learning rate
    ``eta * W_std^2 / width`` the tangent kernel scaled by that factor converges to the readout's
    term alone, ``W_std^2 E[phi(h) phi(h')]``: the hidden layer's and the biases' contributions
    vanish as 1/width. That is the network's NNGP minus the readout bias variance. (Only for one
    hidden layer: deeper SP nets keep the middle layers' contributions.)

    Args:
        nngp: (n1, n2) NNGP kernel of the network (with readout bias ``b_std``).
        b_std: readout bias standard deviation.
    """
    return nngp - b_std**2


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds`` - wall time of a block."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def relu_fc_kernels(x1: np.ndarray, x2: np.ndarray | None, depths: Sequence[int],
                    weight_var: float, bias_var: float, block: int = 2000
                    ) -> dict[int, dict[str, np.ndarray]]:
    """Closed-form NNGP and NTK of ReLU FC networks for several depths in one pass (float64).

    The arc-cosine recursion (Cho & Saul 2009; Lee et al. 2018; Jacot et al. 2018) in NT's
    NTK parameterisation, with ``D`` the input dimension::

        K1 = weight_var * x.x' / D + bias_var,  Theta1 = K1
        c = K / sqrt(K(x,x) K(x',x')),  theta = arccos(c)
        K   <- weight_var * sqrt(K(x,x) K(x',x')) (sin theta + (pi - theta) cos theta) / (2 pi)
               + bias_var
        Theta <- K(new) + weight_var * (pi - theta) / (2 pi) * Theta

    A network with ``L`` hidden layers applies the update ``L`` times. Equal to
    ``architectures.fc(L, W_std=sqrt(weight_var), b_std=sqrt(bias_var))`` 's ``kernel_fn`` (a test
    checks it); computing all depths at once makes a depth sweep cost one deepest kernel.

    Args:
        x1: (n1, D) inputs; x2: (n2, D) or ``None``.
        depths: numbers of hidden layers wanted.

    Returns:
        ``{L: {"nngp": (n1, n2), "ntk": (n1, n2)}}`` float64.
    """
    depths = sorted({int(d) for d in depths})
    if not depths or depths[0] < 0:
        raise ValueError(f"depths must be non-negative ints, got {depths}")
    x1 = np.asarray(x1, np.float64)
    x2 = x1 if x2 is None else np.asarray(x2, np.float64)
    if x1.shape[1:] != x2.shape[1:] or x1.ndim != 2:
        raise ValueError(f"x1 and x2 must be (n, D) with the same D, got {x1.shape}, {x2.shape}")
    d_in = x1.shape[1]
    max_depth = depths[-1]

    def diag_chain(x):
        k = weight_var * np.sum(x * x, axis=1) / d_in + bias_var
        chain = [k]
        for _ in range(max_depth):
            k = weight_var * k / 2 + bias_var
            chain.append(k)
        return chain  # chain[l] = K^{l+1}(x, x) after l hidden layers

    d1, d2 = diag_chain(x1), diag_chain(x2)

    with nt.x64():
        @jax.jit
        def blockfn(a, b, da, db):
            k = weight_var * (a @ b.T) / d_in + bias_var
            th = k
            outs = {}
            if 0 in depths:
                outs[0] = (k, th)
            for layer in range(1, max_depth + 1):
                norm = jnp.sqrt(da[layer - 1][:, None] * db[layer - 1][None, :])
                c = jnp.clip(k / norm, -1.0, 1.0)
                theta = jnp.arccos(c)
                k_new = (weight_var * norm * (jnp.sin(theta) + (jnp.pi - theta) * c)
                         / (2 * jnp.pi) + bias_var)
                th = k_new + weight_var * (jnp.pi - theta) / (2 * jnp.pi) * th
                k = k_new
                if layer in depths:
                    outs[layer] = (k, th)
            return outs

        out = {d: {"nngp": np.empty((len(x1), len(x2))), "ntk": np.empty((len(x1), len(x2)))}
               for d in depths}
        da_all, db_all = np.stack(d1), np.stack(d2)
        for i in progress(range(0, len(x1), block), desc="ReLU kernel block", unit="block",
                          delay=5):
            res = blockfn(x1[i:i + block], x2, da_all[:, i:i + block], db_all)
            for d, (k, th) in res.items():
                out[d]["nngp"][i:i + block] = np.asarray(k)
                out[d]["ntk"][i:i + block] = np.asarray(th)
    return out
