"""The empirical (finite-width) NTK, in one place: whole, per layer, masked.

For a network ``f(x) in R^k`` with parameters theta the empirical NTK on a probe set
``X`` (N, d) is ``K(x, x') = (1/k) sum_c <df_c(x)/dtheta, df_c(x')/dtheta>`` (averaged over the
k outputs, as neural-tangents does with ``trace_axes=(-1,)``); it is the sum of one kernel per
parameter group, ``K = sum_l K_l``.

Two ways to compute it:

* :func:`mlp_layer_kernels` - exact and fast for the MLPs of :mod:`ntkpaper.parametrization`.
  A dense layer ``h_l = m_l a_{l-1} W_l`` has tangent features that are outer products of its
  input ``a_{l-1}(x)`` and its backward signal ``delta_{l,c}(x) = df_c/dh_l``, so
  ``K_l(x, x') = m_l^2 <a_{l-1}(x), a_{l-1}(x')> (1/k) sum_c <delta_{l,c}(x), delta_{l,c}(x')>``.
  Cost: one forward pass and k backward passes per input, then Gram matrices of size N^2 n,
  instead of contracting Jacobians of size N k P (P = number of parameters).
* :func:`nt_layer_kernels` - any jax model whose parameters are a list of groups, through
  neural-tangents (:func:`empirical_ntk`, implementation 1 or 2; NT 0.6.5's
  implementation 3, its structured-derivative version of the trick above, is broken).

``benchmarks/entk_benchmark.py`` times both (and NT's implementations 1 vs 2). Measured on the
2-core CPU for the MLP 784-256-256-10 (``benchmarks/results/entk_cpu.md``): probe 100 / 300 /
1000 points take 0.02 / 0.06 / 0.33 s here (1.3 s with compilation, 0.4 GB peak), against
2.7 / 23 / 275 s (up to 2.3 GB) for NT implementation 1 and 2.3 / 17 / 178 s (1.6 GB) for
implementation 2 on the whole kernel. Implementation 2 is the faster NT path for such MLPs and
the default of :func:`nt_layer_kernels` should be 2 for them; the structured computation is
~500x faster still, so the notebooks use :func:`mlp_layer_kernels` (tests check it against
neural-tangents to float32 precision) and keep NT for models that are not plain dense stacks.


Masked networks (:mod:`ntkpaper.sparsity`, notebook 06): :func:`masked_mlp_entk` drops the
tangent features of pruned weights with the same structure, and :func:`jacobian_entk` contracts
per-example Jacobians for any other architecture (LeNet-5).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ntkpaper import nt
from ntkpaper import parametrization as pz

# ---------------------------------------------------------------------------------------------
# Any model, through neural-tangents


def empirical_ntk(apply_fn, params, x1: np.ndarray, x2: np.ndarray | None = None,
                  implementation: int = 2, batch_size: int = 256) -> np.ndarray:
    """Empirical (finite-width) NTK ``sum_p df_j(x1)/dp df_j(x2)/dp``, averaged over outputs j.

    Args:
        apply_fn, params: the network.
        x1: (n1, ...) inputs; x2: (n2, ...) or ``None``.
        implementation: 1 (Jacobian contraction) or 2 (NTK-vector products). NT 0.6.5's 3
            (structured derivatives) is broken and refused.
        batch_size: rows per block (memory bound).

    Returns:
        (n1, n2) float array.
    """
    if implementation not in (1, 2):
        raise ValueError("empirical NTK implementation must be 1 or 2 (3 is broken in "
                         f"neural-tangents 0.6.5), got {implementation!r}")
    fn = jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0,
                                     implementation=implementation))
    x2_ = x1 if x2 is None else x2
    rows = []
    for i in range(0, len(x1), batch_size):
        cols = [np.asarray(fn(x1[i:i + batch_size], x2_[j:j + batch_size], params))
                for j in range(0, len(x2_), batch_size)]
        rows.append(np.concatenate(cols, axis=1))
    return np.concatenate(rows, axis=0)  # NT averages (not sums) over the traced output axis


# ---------------------------------------------------------------------------------------------
# Per-layer kernels of dense networks


def _with_one(a):
    return jnp.concatenate([a, jnp.ones((*a.shape[:-1], 1), a.dtype)], axis=-1)


def signals(params, mults, x, phi, bias: bool = False):
    """Layer inputs ``a_{l-1}`` (N, fan_in) and backward signals ``delta_l`` (N, k, fan_out) of
    the MLP ``h_l = m_l phi(h_{l-1}) W_l`` (params: list of (fan_in, fan_out); mults: (L+1,)).

    ``bias=True``: every layer has a bias, stored as the last row of its matrix (params of shape
    (fan_in + 1, fan_out)) and fed a constant 1, ``h_l = m_l [phi(h_{l-1}), 1] W_l``; the
    returned inputs then carry that 1, so the per-layer kernels include the bias."""
    n_layers = len(params)
    aug = _with_one if bias else (lambda a: a)

    def single(xi, eps):
        h = (aug(xi) @ params[0]) * mults[0] + eps[0]
        for i in range(1, n_layers):
            h = (aug(phi(h)) @ params[i]) * mults[i] + eps[i]
        return h

    def inputs(x):
        acts, h = [aug(x)], aug(x) @ params[0] * mults[0]
        for i in range(1, n_layers):
            acts.append(aug(phi(h)))
            h = (aug(phi(h)) @ params[i]) * mults[i]
        return acts

    eps0 = [jnp.zeros((p.shape[1],), x.dtype) for p in params]
    deltas = jax.vmap(lambda xi: jax.jacrev(single, argnums=1)(xi, eps0))(x)
    return inputs(x), deltas


@functools.cache
def signals_fn(activation: str, bias: bool = False):
    phi = pz.ACTIVATIONS[activation]
    return jax.jit(lambda p, m, xb: signals(p, m, xb, phi, bias))


@jax.jit
def _gram(a1, a2, d1, d2, m2):
    k = d1.shape[1]
    return m2 * (a1 @ a2.T) * (d1.reshape(d1.shape[0], -1) @ d2.reshape(d2.shape[0], -1).T) / k


def mlp_layer_kernels(params, abc: pz.ABC, x: np.ndarray, x2: np.ndarray | None = None,
                      activation: str = "relu", block: int = 512) -> np.ndarray:
    """Per-layer empirical NTKs of a :mod:`ntkpaper.parametrization` MLP, exactly.

    Args:
        params: ``[(d, n), (n, n)..., (n, k)]``; abc: its parametrization.
        x: (N1, d) inputs; x2: (N2, d) or ``None`` (then ``x``).
        block: inputs per block (bounds memory at ``block * k * width`` floats per layer).

    Returns:
        (L + 1, N1, N2) float64: one kernel per weight matrix; their sum is the whole eNTK.
    """
    if activation not in pz.ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; "
                         f"choose one of {sorted(pz.ACTIVATIONS)}")
    if len(params) != len(abc.a):
        raise ValueError(f"{abc.name} has {len(abc.a)} layers but params has {len(params)}")
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[1] != params[0].shape[0]:
        raise ValueError(f"x must be (N, {params[0].shape[0]}), got {x.shape}")
    x2 = x if x2 is None else np.asarray(x2, np.float32)
    mults = jnp.asarray(pz.multipliers(abc, params[0].shape[1], x.shape[1]))
    sig = signals_fn(activation)
    b1 = [sig(params, mults, x[i:i + block]) for i in range(0, len(x), block)]
    b2 = b1 if x2 is x else [sig(params, mults, x2[i:i + block]) for i in range(0, len(x2), block)]
    out = np.zeros((len(params), len(x), len(x2)))
    for i in range(len(params)):
        m2 = float(mults[i]) ** 2
        out[i] = np.concatenate([np.concatenate(
            [np.asarray(_gram(a1[i], a2[i], d1[i], d2[i], m2)) for a2, d2 in b2], axis=1)
            for a1, d1 in b1], axis=0)
    return out


# ---------------------------------------------------------------------------------------------
# Alignment of the full multi-output tangent kernel (Baratin et al. 2021; Lou et al. 2022)


def _center_examples(k):
    """Centre an (N, k, N, k) multi-output kernel over the examples, for each output pair: the
    kernel of per-output Jacobians with their mean over the N examples removed."""
    return (k - k.mean(0, keepdims=True) - k.mean(2, keepdims=True)
            + k.mean((0, 2), keepdims=True))


@jax.jit
def _full_alignment(k, yc):
    """``yc^T K yc / (||K||_F ||yc||^2)`` with K (N, k, N, k) and yc (N, k)."""
    return jnp.einsum("ncmd,nc,md->", k, yc, yc) / (jnp.linalg.norm(k) * jnp.sum(yc**2))


@jax.jit
def _centred_layer_kernel(a, d, m2):
    """(N, k, N, k) centred full tangent kernel of one dense layer: m^2 <a, a'> <delta_c,
    delta'_c'>."""
    return _center_examples(m2 * (a @ a.T)[:, None, :, None] * jnp.einsum("ncj,mdj->ncmd", d, d))


def tangent_alignment(kernels: Iterable, y: np.ndarray) -> np.ndarray:
    """Baratin et al.'s alignment of each (N, k, N, k) full tangent kernel in ``kernels`` and of
    their sum (last entry): ``y^T K y / (||K||_F ||y||^2)`` with ``y`` (N, k) centred over the
    examples and flattened, K built from Jacobians centred over the examples (pass kernels that
    are already centred, e.g. from :func:`mlp_layer_tangent_alignment`'s helpers)."""
    yc = jnp.asarray(y, jnp.float32)
    yc = yc - yc.mean(0)
    if not float(jnp.sum(yc**2)) > 0:
        raise ValueError("alignment is undefined for constant targets")
    out, total = [], 0.0
    for i, k in enumerate(kernels):
        if not float(jnp.linalg.norm(k)) > 0:
            raise ValueError(f"alignment is undefined for a zero kernel (group {i + 1})")
        out.append(float(_full_alignment(k, yc)))
        total = total + k
    out.append(float(_full_alignment(total, yc)))
    return np.array(out)


def mlp_layer_tangent_alignment(params, abc: pz.ABC, x: np.ndarray, y: np.ndarray,
                                activation: str = "relu", bias: bool = False) -> np.ndarray:
    """Per-layer and whole-network alignment of the **full multi-output** tangent kernel, as
    Baratin et al. 2021 and Lou et al. 2022 define it (their code: tfjgeorge/ntk_alignment
    ``alignment.py``, ``layer_alignment``): per-example Jacobians of every output centred over
    the examples, K the (N k, N k) Gram of the centred Jacobians (cross-output blocks kept),
    y the one-hot targets centred over the examples and flattened, and
    ``A = y^T K y / (||K||_F ||y||^2)``.

    :func:`ntkpaper.alignment.alignment` is the other common definition (Cortes et al. 2012:
    the output-averaged N x N kernel against ``Y Y^T``, both centred); the two differ in value
    (about 10x) and can order layers differently.

    Args:
        params, abc, activation: a :mod:`ntkpaper.parametrization` MLP (weights only), or with
            ``bias=True`` one whose matrices carry a bias as their last row (see
            :func:`signals`; each layer's kernel then covers its weights and its bias, as a
            layer of Baratin et al.'s code does).
        x: (N, d) probe inputs; y: (N, k) targets (one-hot).

    Returns:
        (L + 2,) float: one alignment per weight matrix, then the whole network's.
        Memory: (N k)^2 floats per layer (100 MB at N = 500, k = 10).
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    if y.ndim != 2 or len(y) != len(x) or y.shape[1] != params[-1].shape[1]:
        raise ValueError(f"y must be (N, k) = ({len(x)}, {params[-1].shape[1]}), got {y.shape}")
    mults = jnp.asarray(pz.multipliers(abc, params[0].shape[1], x.shape[1]))
    acts, deltas = signals_fn(activation, bias)(params, mults, x)
    kernels = (_centred_layer_kernel(a, d, float(m) ** 2)
               for a, d, m in zip(acts, deltas, np.asarray(mults)))
    return tangent_alignment(kernels, y)  # one layer kernel in memory at a time (and the sum)


def nt_layer_kernels(apply_fn: Callable, params: Sequence, x: np.ndarray,
                     x2: np.ndarray | None = None, implementation: int = 2,
                     batch_size: int = 128) -> np.ndarray:
    """Per-parameter-group empirical NTKs through neural-tangents (any model).

    Args:
        apply_fn: ``(params, x) -> (N, k)``; params: a list of parameter groups (pytrees).
        x: (N1, ...) inputs; x2: (N2, ...) or ``None``.

    Returns:
        (len(params), N1, N2) float64.
    """
    params = list(params)
    out = []
    for i in range(len(params)):
        def f_group(p_i, inputs, i=i):
            return apply_fn(params[:i] + [p_i] + params[i + 1:], inputs)

        out.append(empirical_ntk(f_group, params[i], np.asarray(x),
                                         None if x2 is None else np.asarray(x2),
                                         implementation=implementation, batch_size=batch_size))
    return np.stack(out).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Masked networks


def jacobian_entk(apply_fn: Callable, params: Sequence, x) -> jax.Array:
    """(N, N) output-averaged eNTK ``(1/k) sum_c J_c J_c^T`` from per-example Jacobians.

    Args:
        apply_fn: ``(params, x) -> (N, k)`` (for a masked network, the mask applied inside, so
            that masked weights have zero tangent features); params: a list of arrays.
        x: (N, ...) inputs.
    """
    # per-example Jacobians (vmap over examples): jacrev of the whole batch would back-propagate
    # N k cotangents through all N examples' activations (tens of GB for a CNN at N = 256)
    jac = jax.vmap(jax.jacrev(lambda p, xi: apply_fn(p, xi[None])[0]),
                   in_axes=(None, 0))(list(params), x)  # [(N, k, *shape)]
    n, k = x.shape[0], jac[0].shape[1]
    return sum(jnp.einsum("na,ma->nm", j.reshape(n, -1), j.reshape(n, -1)) for j in jac) / k


def mask_indices(masks) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, cols) of the kept weights of each layer (fixed sizes for a fixed density)."""
    return [tuple(np.nonzero(np.asarray(m))) for m in masks]


def masked_mlp_entk(params, masks, x, indices=None) -> jax.Array:
    """(N, N) output-averaged empirical NTK of a masked ReLU MLP with unit multipliers
    (``params``: ``[(d, n1), ..., (n_L, k)]``), differentiable in params.

    Masked weights are not parameters, so their tangent features are dropped. Dense
    (``masks=None``): ``K = (1/k) sum_l (A_l A_l^T) (.) (sum_c D_lc D_lc^T)``. Masked: the kept
    features ``a_i(x) delta_cj(x)`` for (i, j) in the mask are gathered (``indices`` from
    :func:`mask_indices`, computed here when omitted; pass them inside ``jit``) and contracted
    (cost N^2 k nnz) where the mask is sparse enough, otherwise the masked contraction
    ``sum_ij m_ij a_i a'_i <delta_j, delta'_j>`` (cost N^2 fan_in fan_out).
    """
    w = params if masks is None else [p * m for p, m in zip(params, masks)]
    acts, deltas = signals(w, jnp.ones(len(params), jnp.float32), x, jax.nn.relu)
    k = deltas[0].shape[1]
    if masks is None:
        return sum((a @ a.T) * jnp.einsum("ncj,mcj->nm", d, d)
                   for a, d in zip(acts, deltas)) / k
    indices = mask_indices(masks) if indices is None else indices
    total = 0.0
    for a, d, m, (rows, cols) in zip(acts, deltas, masks, indices):
        if rows.shape[0] * k < 0.5 * m.size:  # sparse enough: gather the kept features
            feats = a[:, None, rows] * d[:, :, cols]  # (N, k, nnz)
            total = total + jnp.einsum("ncq,mcq->nm", feats, feats)
        else:  # masked contraction: sum_ij m_ij a_ni a_mi sum_c d_ncj d_mcj
            t = jnp.einsum("ncj,mcj->nmj", d, d)
            total = total + jnp.einsum("ni,mi,nmi->nm", a, a, t @ jnp.asarray(m).T)
    return total / k
