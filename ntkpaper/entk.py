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
* :func:`layer_kernels` - any jax model (a stax network, a plain-jax pytree of lists, tuples or
  dicts, flax/equinox-shaped nested dicts): per-example Jacobians contracted per named
  parameter group (:func:`param_groups`: the layers by default, empty groups such as a stax
  activation layer's ``()`` skipped), output-averaged or the full multi-output kernel; an
  all-zero or non-finite group kernel is refused with the group's name.
  :func:`layer_tangent_alignment` gives Baratin et al.'s full multi-output alignment per group.
* :func:`nt_layer_kernels` - the same groups through neural-tangents (:func:`empirical_ntk`,
  implementation 1 or 2; NT 0.6.5's implementation 3, its structured-derivative version of the
  trick above, is broken).

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
from typing import NamedTuple

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
# Any pytree of parameters: named parameter groups, per-group kernels and alignments


class Group(NamedTuple):
    """One parameter group: ``name`` (e.g. ``"[0]"``, ``"params/Dense_0"``) and ``path``, the
    tuple of :mod:`jax.tree_util` keys shared by the paths of its leaves."""

    name: str
    path: tuple


class GroupKernels(NamedTuple):
    """Per-group kernels: ``names`` (G,) and ``kernels`` (G, N1, N2) output-averaged or
    (G, N1 k, N2 k) full (row ``i * k + c``). Unpacks as ``names, kernels = ...``."""

    names: list
    kernels: np.ndarray


class GroupAlignment(NamedTuple):
    """Per-group alignments: ``names`` (G + 1,), the groups' then ``"all"``, and ``values``
    (G + 1,). Unpacks as ``names, values = ...``."""

    names: list
    values: np.ndarray


def _key_name(key) -> str:
    tu = jax.tree_util
    if isinstance(key, (tu.SequenceKey, tu.FlattenedIndexKey)):
        return f"[{key.idx if isinstance(key, tu.SequenceKey) else key.key}]"
    if isinstance(key, tu.DictKey):
        return str(key.key)
    if isinstance(key, tu.GetAttrKey):
        return key.name
    return str(key)


def path_name(path: Sequence) -> str:
    """Readable name of a pytree path: dict keys and attributes joined by ``/``, sequence
    indices as ``[i]`` (``(DictKey('params'), DictKey('Dense_0'))`` -> ``"params/Dense_0"``,
    ``(SequenceKey(0),)`` -> ``"[0]"``, ``()`` -> ``"(root)"``)."""
    out = ""
    for key in path:
        part = _key_name(key)
        out += part if part.startswith("[") or not out else "/" + part
    return out or "(root)"


def _is_leaf(node) -> bool:
    leaves = jax.tree_util.tree_leaves(node)
    return len(leaves) == 1 and leaves[0] is node


def _children(node) -> list:
    """(key, child) for the immediate children of a pytree node."""
    flat, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda t: t is not node)
    return [(path[0], child) for path, child in flat]


def _default_depth(params) -> int:
    """Lists/tuples split at their own level; dicts and other containers with a single
    non-leaf child (wrappers such as flax's ``{"params": ...}``) are descended through."""
    depth, node = 0, params
    while not _is_leaf(node):
        children = _children(node)
        if (len(children) == 1 and not isinstance(node, (list, tuple))
                and not _is_leaf(children[0][1])):
            depth, node = depth + 1, children[0][1]
            continue
        return depth + 1
    return depth


def param_groups(params, depth: int | None = None) -> list[Group]:
    """Split any pytree of parameters into named groups (layers, by default).

    Leaves are grouped by the first ``depth`` keys of their paths. The default depth splits a
    list or tuple at the top level (a stax network's per-layer tuples, a list of (W, b) pairs or
    of arrays) and, for a dict, first descends through single-key wrappers such as flax's
    ``{"params": {"Dense_0": {"kernel", "bias"}, ...}}`` to the layers' level. Groups without
    leaves (a stax activation layer's ``()``) or with only zero-size leaves are skipped.

    Args:
        params: any pytree of arrays (list, tuple, dict, registered node).
        depth: number of path keys that name a group (``None``: the default above; 0: one
            group, the whole pytree).

    Returns:
        [:class:`Group` (name, path)] in the pytree's leaf order, e.g. ``[("[0]", (SequenceKey(
        0),)), ("[2]", ...)]`` for ``stax.serial(Dense, Relu, Dense)`` or
        ``[("params/Dense_0", ...), ...]`` for the dict above.
    """
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                              or depth < 0):
        raise ValueError(f"depth must be None or an integer >= 0, got {depth!r}")
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    if not flat:
        raise ValueError("params has no array leaves: nothing to differentiate")
    depth = _default_depth(params) if depth is None else depth
    sizes: dict[tuple, int] = {}
    for path, leaf in flat:
        sizes[path[:depth]] = sizes.get(path[:depth], 0) + int(np.size(leaf))
    return [Group(path_name(p), p) for p, size in sizes.items() if size > 0]


def _resolve_groups(params, groups):
    """(names, leaf positions per group, flat leaves, treedef), validated."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not flat:
        raise ValueError("params has no array leaves: nothing to differentiate")
    if groups is None or isinstance(groups, int) and not isinstance(groups, bool):
        groups = param_groups(params, groups)
    elif isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
        raise TypeError("groups must be None, a depth (int) or a list of group names / "
                        f"(name, path) pairs from param_groups, got {type(groups).__name__}")
    known = {}
    for path, _ in flat:
        for i in range(len(path) + 1):
            known.setdefault(path_name(path[:i]), path[:i])
    resolved = []
    for g in groups:
        if isinstance(g, str):
            if g not in known:
                raise ValueError(f"unknown parameter group {g!r}; the default groups are "
                                 f"{[n for n, _ in param_groups(params)]} (any path prefix "
                                 "of a leaf, named as by path_name, is accepted)")
            resolved.append((g, known[g]))
        elif isinstance(g, tuple) and len(g) == 2 and isinstance(g[0], str):
            resolved.append((g[0], tuple(g[1])))
        else:
            raise TypeError(f"each group must be a name or a (name, path) pair, got {g!r}")
    names, members, owner = [], [], {}
    for name, prefix in resolved:
        idx = [i for i, (path, leaf) in enumerate(flat)
               if tuple(path[:len(prefix)]) == prefix and np.size(leaf) > 0]
        for i in idx:
            if i in owner:
                raise ValueError(f"groups {owner[i]!r} and {name!r} share the parameter "
                                 f"{path_name(flat[i][0])!r}; groups must be disjoint so that "
                                 "their kernels sum to the eNTK")
            owner[i] = name
            leaf = flat[i][1]
            if not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
                raise TypeError(f"parameter {path_name(flat[i][0])!r} of group {name!r} has "
                                f"dtype {jnp.result_type(leaf)}; only floating-point leaves "
                                "can be differentiated (keep integer state out of params, or "
                                "leave its group out of groups=)")
        if idx:  # empty groups (a stax activation layer's ()) have no kernel
            names.append(name)
            members.append(tuple(idx))
    if not names:
        raise ValueError("every requested parameter group is empty (no non-zero-size leaves)")
    return names, tuple(members), [leaf for _, leaf in flat], treedef


@functools.lru_cache(maxsize=32)
def _group_kernel_fns(apply_fn, treedef, members, kind):
    """Jitted (per-example Jacobians of a block, contraction of two blocks) for these groups."""
    diff_pos = tuple(i for m in members for i in m)
    where = {p: j for j, p in enumerate(diff_pos)}

    def single(diff, leaves, xi):
        leaves = [diff[where[i]] if i in where else v for i, v in enumerate(leaves)]
        return apply_fn(jax.tree_util.tree_unflatten(treedef, leaves), xi[None]).reshape(-1)

    @jax.jit
    def jacobians(leaves, xb):  # [(B, k, P_leaf)] for the differentiated leaves
        jac = jax.vmap(jax.jacrev(single), in_axes=(None, None, 0))(
            [leaves[i] for i in diff_pos], leaves, xb)
        return [j.reshape(j.shape[0], j.shape[1], -1) for j in jac]

    hi = jax.lax.Precision.HIGHEST  # no TF32 on GPUs: these kernels are compared to 1e-4

    @jax.jit
    def contract(ja, jb):  # (G, Ba, Bb) or (G, Ba k, Bb k)
        out = []
        for m in members:
            if kind == "averaged":
                k = sum(jnp.einsum("ncp,mcp->nm", ja[where[i]], jb[where[i]], precision=hi)
                        for i in m) / ja[0].shape[1]
            else:
                k = sum(jnp.einsum("ncp,mdp->ncmd", ja[where[i]], jb[where[i]], precision=hi)
                        for i in m)
                k = k.reshape(k.shape[0] * k.shape[1], -1)
            out.append(k)
        return jnp.stack(out)

    return jacobians, contract


def _check_model(apply_fn, params, x, x2):
    """Validated (x, x2, k): inputs as jax arrays and the number of outputs per example."""
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable (params, x) -> (N, k), got "
                        f"{type(apply_fn).__name__}")
    x = jnp.asarray(x)
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"x must be (N, ...) with N >= 1, got shape {x.shape}")
    x2 = x if x2 is None else jnp.asarray(x2)
    if x2.shape[1:] != x.shape[1:] or len(x2) == 0:
        raise ValueError(f"x2 must be (N2, {', '.join(map(str, x.shape[1:]))}) like x, got "
                         f"shape {x2.shape}")
    try:
        out = jax.eval_shape(apply_fn, params, x[:2])
    except Exception as e:  # noqa: BLE001 - re-raised with what was called
        raise ValueError(f"apply_fn(params, x) failed on x of shape {x[:2].shape}: "
                         f"{type(e).__name__}: {e}") from e
    if not hasattr(out, "shape") or out.ndim < 1 or out.shape[0] != min(2, len(x)):
        raise ValueError("apply_fn(params, x) must return one array (N, ...) with a row per "
                         f"example; on x of shape {x[:2].shape} it returned "
                         f"{jax.tree_util.tree_map(lambda a: a.shape, out)}")
    return x, x2, int(np.prod(out.shape[1:], dtype=int))


def layer_kernels(apply_fn: Callable, params, x, x2=None, groups=None, kind: str = "averaged",
                  block: int | None = None, allow_zero: bool = False) -> GroupKernels:
    """Per-parameter-group empirical NTKs of any jax model, from per-example Jacobians.

    For group g with tangent features ``J_g(x)`` (k, P_g) = ``df(x)/dtheta_g``:
    ``kind="averaged"``: ``K_g(x, x') = (1/k) sum_c <J_gc(x), J_gc(x')>`` (as neural-tangents'
    ``trace_axes=(-1,)`` and :func:`nt_layer_kernels`; ``sum_g K_g`` is the eNTK of
    :func:`empirical_ntk`); ``kind="full"``: the multi-output kernel
    ``K_g[i k + c, j k + d] = <J_gc(x_i), J_gd(x'_j)>`` (the row order of
    :func:`ntkpaper.tangent_features.jacobian_matrix`).

    Works for a stax network (``init_fn``'s list of per-layer tuples; activation layers' empty
    ``()`` are skipped), a plain-jax list of arrays or of (W, b) tuples, and dict-shaped
    (flax/equinox-like) parameters. The model is applied one example at a time
    (``apply_fn(params, x[i:i+1])``), so it must treat examples independently (no batch
    statistics).

    Args:
        apply_fn: ``(params, x) -> (N, k)`` (or (N,), or (N, ...) flattened to k outputs).
        params: any pytree of floating-point arrays.
        x: (N1, ...) inputs; x2: (N2, ...) or ``None`` (then ``x``).
        groups: ``None`` (:func:`param_groups`' default: layers), a depth (int) for
            :func:`param_groups`, or a list of group names (any path prefix, e.g. ``"[0]"``,
            ``"params/Dense_0"``) or (name, path) pairs from :func:`param_groups`; disjoint.
        kind: ``"averaged"`` or ``"full"``.
        block: examples per Jacobian block (default: about 32 M Jacobian floats per block);
            memory is ``2 * block * k * P`` floats for the Jacobians plus the kernels. Blocks of
            ``x2`` are recomputed for each block of ``x`` (one block: one Jacobian pass).
        allow_zero: return all-zero group kernels instead of raising (e.g. the hidden layers
            of a network whose read-out is initialised at zero).

    Returns:
        :class:`GroupKernels` ``(names, kernels)``: G names of the non-empty groups and
        (G, N1, N2) (``"averaged"``) or (G, N1 k, N2 k) (``"full"``) float64 kernels.

    Raises:
        ValueError: bad arguments (before any work); a group whose kernel is non-finite, or
            all zero (unless ``allow_zero``), naming the group.
    """
    if kind not in ("averaged", "full"):
        raise ValueError(f"kind must be 'averaged' or 'full', got {kind!r}")
    if block is not None and (not isinstance(block, int) or block < 1):
        raise ValueError(f"block must be a positive integer or None, got {block!r}")
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable (params, x) -> (N, k), got "
                        f"{type(apply_fn).__name__}")
    names, members, leaves, treedef = _resolve_groups(params, groups)
    x, x2, k = _check_model(apply_fn, params, x, x2)
    n_par = sum(int(np.size(leaves[i])) for m in members for i in m)
    block = block or max(1, (1 << 25) // max(1, k * n_par))
    try:
        hash(apply_fn)
        fns = _group_kernel_fns
    except TypeError:  # an unhashable callable (e.g. a module object): compiled per call
        fns = _group_kernel_fns.__wrapped__
    jacobians, contract = fns(apply_fn, treedef, members, kind)
    same = x2 is x
    rows = []
    for i in range(0, len(x), block):
        ja = jacobians(leaves, x[i:i + block])
        cols = [contract(ja, ja if same and j == i else jacobians(leaves, x2[j:j + block]))
                for j in range(0, len(x2), block)]
        rows.append(np.concatenate([np.asarray(c, np.float64) for c in cols], axis=2))
    kernels = np.concatenate(rows, axis=1)
    for name, kg in zip(names, kernels):
        if not np.all(np.isfinite(kg)):
            raise ValueError(f"group {name!r} gives a non-finite kernel (NaN or inf) on these "
                             "inputs: check params and inputs for NaN/inf, and the model for "
                             "overflow")
        if not allow_zero and not np.any(kg):
            raise ValueError(
                f"group {name!r} gives an all-zero kernel on these inputs: its parameters do "
                "not change the outputs there (e.g. a layer whose output is unused, dead "
                "ReLUs, or a zero-initialised layer after it); leave it out with groups="
                f"[n for n, _ in param_groups(params) if n != {name!r}], or pass "
                "allow_zero=True to keep it")
    return GroupKernels(names, kernels)


def layer_tangent_alignment(apply_fn: Callable, params, x, y, groups=None,
                            block: int | None = None) -> GroupAlignment:
    """Baratin et al.'s alignment of the full multi-output tangent kernel, per parameter group
    and for the whole network, for any jax model (see :func:`mlp_layer_tangent_alignment` for
    the definition; on its MLPs the two give the same numbers).

    Per group, the per-example Jacobians of every output are centred over the examples,
    ``K_g`` is their (N k, N k) Gram, and ``A_g = yc^T K_g yc / (||K_g||_F ||yc||^2)`` with
    ``yc`` the targets centred over the examples and flattened (row ``i * k + c``); ``"all"``
    uses ``sum_g K_g``.

    Args:
        apply_fn, params, groups, block: as :func:`layer_kernels`.
        x: (N, ...) probe inputs; y: (N, k) targets (e.g. one-hot), k the model's outputs
            ((N,) when k = 1).

    Returns:
        :class:`GroupAlignment` ``(names, values)``: the G group names then ``"all"``, and
        (G + 1,) alignments. Memory: 2 G (N k)^2 floats.
    """
    x, _, k = _check_model(apply_fn, params, x, None)
    y = np.asarray(y, np.float32)
    if y.shape not in ((len(x), k),) + (((len(x),),) if k == 1 else ()):
        raise ValueError(f"y must be (N, k) = ({len(x)}, {k}) to match x and the model's "
                         f"outputs, got shape {y.shape}")
    y = y.reshape(len(x), k)
    if not np.any(y - y.mean(0)):
        raise ValueError("alignment is undefined for constant targets (y is the same for "
                         "every example)")
    names, kernels = layer_kernels(apply_fn, params, x, groups=groups, kind="full",
                                   block=block)
    n = len(x)
    centred = (_center_examples(jnp.asarray(kg, jnp.float32).reshape(n, k, n, k))
               for kg in kernels)
    return GroupAlignment([*names, "all"], tangent_alignment(centred, y, names=names))


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


def tangent_alignment(kernels: Iterable, y: np.ndarray,
                      names: Sequence[str] | None = None) -> np.ndarray:
    """Baratin et al.'s alignment of each (N, k, N, k) full tangent kernel in ``kernels`` and of
    their sum (last entry): ``y^T K y / (||K||_F ||y||^2)`` with ``y`` (N, k) centred over the
    examples and flattened, K built from Jacobians centred over the examples (pass kernels that
    are already centred, e.g. from :func:`mlp_layer_tangent_alignment`'s helpers).

    Args:
        kernels: G centred (N, k, N, k) kernels (any iterable: one in memory at a time).
        y: (N, k) targets.
        names: optional G group names, used in error messages (default ``"1"``..``"G"``).

    Returns:
        (G + 1,) alignments: the groups', then their sum's.
    """
    yc = jnp.asarray(y, jnp.float32)
    yc = yc - yc.mean(0)
    if not float(jnp.sum(yc**2)) > 0:
        raise ValueError("alignment is undefined for constant targets")
    out, total = [], 0.0
    for i, k in enumerate(kernels):
        if not float(jnp.linalg.norm(k)) > 0:
            name = str(i + 1) if names is None else names[i]
            raise ValueError(f"alignment is undefined for a zero kernel (group {name!r}): its "
                             "centred kernel is zero (all-zero, or the same for every "
                             "example, e.g. an output bias alone)")
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


def nt_layer_kernels(apply_fn: Callable, params, x: np.ndarray,
                     x2: np.ndarray | None = None, implementation: int = 2,
                     batch_size: int = 128, groups=None) -> np.ndarray:
    """Per-parameter-group empirical NTKs through neural-tangents (any model).

    One :func:`empirical_ntk` per group, the other groups held fixed. Groups are those of
    :func:`layer_kernels` (by default :func:`param_groups`: the layers, empty ones such as a
    stax activation layer's ``()`` skipped; for a list in which every entry has parameters,
    one group per entry). :func:`layer_kernels` gives the same kernels, with their names, and
    refuses all-zero ones; it is usually faster for small probe sets.

    Args:
        apply_fn: ``(params, x) -> (N, k)``; params: any pytree (e.g. a list of groups).
        x: (N1, ...) inputs; x2: (N2, ...) or ``None``.
        implementation, batch_size: as :func:`empirical_ntk`.
        groups: as :func:`layer_kernels`.

    Returns:
        (G, N1, N2) float64, G the number of non-empty groups.
    """
    _, members, leaves, treedef = _resolve_groups(params, groups)
    out = []
    for m in members:
        def f_group(p_g, inputs, m=m):
            full = list(leaves)
            for i, v in zip(m, p_g):
                full[i] = v
            return apply_fn(jax.tree_util.tree_unflatten(treedef, full), inputs)

        out.append(empirical_ntk(f_group, [leaves[i] for i in m], np.asarray(x),
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
