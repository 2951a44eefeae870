"""Sparse networks at initialisation: pruning baselines and Neural Tangent Transfer.

Liu & Zenke 2020, *Finding trainable sparse networks through Neural Tangent Transfer* (ICML).

Networks. LeNet-300-100-style MLPs (``dims = [784, 300, 100, 10]``, ReLU, no biases) as lists of
weight matrices ``[(d_0, d_1), (d_1, d_2), ...]`` in standard parametrization (weights
``N(0, 2 / fan_in)``, He et al.), run through
:func:`ntkpaper.parametrization.forward_multiplied` with unit multipliers. A *mask* is a list of
0/1 arrays of the same shapes; the sparse network uses
``w * mask`` everywhere, so masked weights get zero gradients and stay zero.

Pruning at initialisation at density rho (share of weights kept in every layer but the output
layer, which stays dense for every method: it holds 0.4% of LeNet-300-100's weights, and pruning
it uniformly at 1-3% leaves each class a handful of inputs, which cripples every method alike):

* ``random``: each layer keeps a uniformly random rho of its weights;
* ``magnitude``: each layer keeps its rho largest ``|w|``;
* ``snip`` (Lee et al. 2019): global top-rho of the saliency ``|g * w|``, g the gradient of the
  supervised loss on a labelled batch (the only method here that sees labels);
  ``snip_layerwise``: the same saliency, top-rho in every layer (the layer-wise setting in which
  Liu & Zenke compare, official code fmi-basel/neural-tangent-transfer);
* ``ntt``: Neural Tangent Transfer. Starting from the magnitude mask, the student's weights are
  trained, *without labels*, so that on mini-batches of unlabelled inputs X

      L = ||f_s(X) - f_t(X)||^2 / ||f_t(X)||^2
          + gamma ||K_s(X, X) - K_t(X, X)||_F^2 / ||K_t(X, X)||_F^2 + lam ||theta_s||^2

  is small (each term relative to the teacher's, so that gamma = 1 weighs them equally whatever
  the scale of outputs and kernels; the paper's absolute terms need a tuned gamma), where f_t,
  K_t are the dense teacher's outputs and empirical NTK at initialisation and K_s the sparse
  student's (output-averaged eNTK, :func:`entk`, differentiable, built on the dense-layer
  structure of :func:`ntkpaper.entk.masked_mlp_entk`); every ``mask_every`` steps the
  mask is recomputed per layer from the student's weight magnitudes, as in the paper. The
  transferred weights and mask are then trained on labels with the mask fixed.

Architectures. The same functions serve a LeNet-5-style CNN (:func:`init_lenet5`: conv 5x5x6
SAME, 2x2 average pool, conv 5x5x16 VALID, pool, dense 120, 84, k; ReLU, no biases, He init;
the classic LeNet-5, not the paper's LeNet-5-Caffe): a parameter list whose first entry is a
4-D (HWIO) kernel runs the CNN (inputs are flattened square single-channel images), otherwise the
MLP. The MLP's eNTK uses the
dense-layer structure; the CNN's (:func:`ntkpaper.entk.jacobian_entk`) contracts per-example
Jacobians (``jax.jacrev``), also differentiable, and is checked against the structured one on MLPs.

Shapes: ``x`` (N, d) float32; labels (N,) int; outputs (N, k).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from ntkpaper import entk as entk_lib
from ntkpaper import parametrization as pz
from ntkpaper.progress import progress

METHODS = ("random", "magnitude", "snip", "snip_layerwise", "ntt")


def init_mlp(key: jax.Array, dims: Sequence[int]) -> list[jax.Array]:
    """He-normal weights ``N(0, 2 / fan_in)`` for ``dims = [d_in, h_1, ..., k]``."""
    dims = [int(d) for d in dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must list >= 2 positive sizes, got {dims}")
    keys = jax.random.split(key, len(dims) - 1)
    return [jax.random.normal(k, (i, o)) * np.sqrt(2.0 / i)
            for k, i, o in zip(keys, dims[:-1], dims[1:])]


def init_lenet5(key: jax.Array, side: int = 28, n_classes: int = 10) -> list[jax.Array]:
    """He-normal LeNet-5 weights ``[(5,5,1,6), (5,5,6,16), (F,120), (120,84), (84,k)]`` for
    ``side`` x ``side`` single-channel images, ``F = 16 * ((side // 2 - 4) // 2)^2``."""
    inner = (side // 2 - 4) // 2
    if inner < 1:
        raise ValueError(f"LeNet-5 needs images of side >= 12, got {side}")
    shapes = [(5, 5, 1, 6), (5, 5, 6, 16), (16 * inner * inner, 120), (120, 84),
              (84, n_classes)]
    keys = jax.random.split(key, len(shapes))
    return [jax.random.normal(k, sh) * np.sqrt(2.0 / np.prod(sh[:-1]))
            for k, sh in zip(keys, shapes)]


def _pool(h):
    return jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4


def _lenet5_forward(w, x):
    side = int(round(np.sqrt(x.shape[-1])))
    h = x.reshape(x.shape[0], side, side, 1)
    dn = ("NHWC", "HWIO", "NHWC")
    h = _pool(jax.nn.relu(jax.lax.conv_general_dilated(h, w[0], (1, 1), "SAME",
                                                       dimension_numbers=dn)))
    h = _pool(jax.nn.relu(jax.lax.conv_general_dilated(h, w[1], (1, 1), "VALID",
                                                       dimension_numbers=dn)))
    h = h.reshape(h.shape[0], -1)
    h = jax.nn.relu(h @ w[2])
    h = jax.nn.relu(h @ w[3])
    return h @ w[4]


def _is_cnn(params) -> bool:
    return np.ndim(params[0]) == 4


def _ones(params):
    return jnp.ones(len(params), jnp.float32)


def apply(params, masks, x) -> jax.Array:
    """(N, k) outputs of the masked network (``masks=None``: dense); MLP or LeNet-5 by the
    parameters' shapes (see the module docstring)."""
    w = params if masks is None else [p * m for p, m in zip(params, masks)]
    if _is_cnn(params):
        return _lenet5_forward(w, x)
    return pz.forward_multiplied(w, _ones(params), x, jax.nn.relu)[0]


def entk(params, masks, x, indices=None) -> jax.Array:
    """(N, N) output-averaged empirical NTK of the masked network, differentiable in params:
    :func:`ntkpaper.entk.masked_mlp_entk` for the MLP (``indices`` as there), per-example
    Jacobians (:func:`ntkpaper.entk.jacobian_entk`) for LeNet-5."""
    if _is_cnn(params):
        return entk_lib.jacobian_entk(lambda p, xb: apply(p, masks, xb), params, x)
    return entk_lib.masked_mlp_entk(params, masks, x, indices)


def density(masks) -> float:
    """Share of kept weights over the pruned (hidden) layers; the output layer stays dense."""
    hidden = masks[:-1]
    return float(sum(np.sum(np.asarray(m)) for m in hidden) / sum(np.size(m) for m in hidden))


def _check_density(rho: float):
    if not 0 < rho <= 1:
        raise ValueError(f"density must be in (0, 1], got {rho}")


def _top_mask(score: np.ndarray, keep: int) -> np.ndarray:
    flat = np.asarray(score).ravel()
    m = np.zeros(flat.size, np.float32)
    if keep > 0:
        m[np.argpartition(-flat, keep - 1)[:keep]] = 1.0
    return m.reshape(np.shape(score))


def layerwise_mask(scores, rho: float) -> list[np.ndarray]:
    """Keep the top ``ceil(rho * size)`` scores of every hidden layer; the output layer stays
    dense (see the module docstring)."""
    _check_density(rho)
    return [_top_mask(s, int(np.ceil(rho * np.size(s)))) for s in scores[:-1]] + \
        [np.ones(np.shape(scores[-1]), np.float32)]


def global_mask(scores, rho: float) -> list[np.ndarray]:
    """Keep the top ``rho`` share of the hidden layers' scores pooled (at least one weight per
    layer); the output layer stays dense."""
    _check_density(rho)
    hidden = scores[:-1]
    flat = np.concatenate([np.asarray(s).ravel() for s in hidden])
    keep = int(np.ceil(rho * flat.size))
    thresh = np.partition(flat, flat.size - keep)[flat.size - keep]
    masks = [(np.asarray(s) >= thresh).astype(np.float32) for s in hidden]
    for m, s in zip(masks, hidden):  # never disconnect a layer entirely
        if m.sum() == 0:
            m.ravel()[np.argmax(np.asarray(s))] = 1.0
    return masks + [np.ones(np.shape(scores[-1]), np.float32)]


def snip_scores(params, x, labels, n_classes: int) -> list[np.ndarray]:
    """SNIP saliency ``|dL/dw * w|`` of the cross-entropy on the labelled batch ``(x, labels)``."""
    onehot = jax.nn.one_hot(labels, n_classes)

    def loss(p):
        return optax.softmax_cross_entropy(apply(p, None, x), onehot).mean()

    g = jax.grad(loss)(params)
    return [np.abs(np.asarray(gi * pi)) for gi, pi in zip(g, params)]


def rescale(params, masks) -> list[jax.Array]:
    """Masked weights scaled per layer to the dense layer's Frobenius norm, so that a sparse
    network at initialisation propagates signals at the dense network's scale (without it, a
    layer keeping a share rho of its weights shrinks activations by ~sqrt(rho))."""
    out = []
    for p, m in zip(params, masks):
        kept = jnp.asarray(p) * jnp.asarray(m)
        out.append(kept * jnp.linalg.norm(p) / jnp.maximum(jnp.linalg.norm(kept), 1e-12))
    return out


def prune(method: str, params, rho: float, key: jax.Array, x=None, labels=None,
          n_classes: int = 10) -> list[np.ndarray]:
    """Masks at density ``rho`` by ``random``, ``magnitude``, ``snip`` or ``snip_layerwise``
    (the SNIP methods need x, labels)."""
    if method == "random":
        keys = jax.random.split(key, len(params))
        return layerwise_mask([np.asarray(jax.random.uniform(k, p.shape))
                               for k, p in zip(keys, params)], rho)
    if method == "magnitude":
        return layerwise_mask([np.abs(np.asarray(p)) for p in params], rho)
    if method in ("snip", "snip_layerwise"):
        if x is None or labels is None:
            raise ValueError(f"{method} needs a labelled batch: pass x and labels")
        select = global_mask if method == "snip" else layerwise_mask
        return select(snip_scores(params, x, labels, n_classes), rho)
    raise ValueError(f"unknown pruning method {method!r}; choose one of {METHODS} "
                     "(ntt: use neural_tangent_transfer)")


def neural_tangent_transfer(params, rho: float, x_unlabelled: np.ndarray, key: jax.Array,
                            steps: int, batch: int = 64, gamma: float = 1.0,
                            lam: float = 1e-5, lr: float = 1e-3, mask_every: int = 50
                            ) -> tuple[list[jax.Array], list[np.ndarray], pd.DataFrame]:
    """Label-free transfer of the dense network at ``params`` into a sparse student.

    Returns:
        (student weights, final mask at density rho, log with step, output_loss, ntk_loss
        (both relative to the teacher's: ``||f_s - f_t||^2 / ||f_t||^2``,
        ``||K_s - K_t||_F^2 / ||K_t||_F^2``) at every ``mask_every`` steps).
    """
    _check_density(rho)
    x_unlabelled = jnp.asarray(x_unlabelled, jnp.float32)
    teacher = [jnp.asarray(p) for p in params]
    student = [jnp.asarray(p) for p in params]
    masks = [jnp.asarray(m) for m in prune("magnitude", params, rho, key)]
    tx = optax.adam(lr)
    state = tx.init(student)

    def parts(s, m, idx, xb):
        ft, kt = apply(teacher, None, xb), entk(teacher, None, xb)
        fs, ks = apply(s, m, xb), entk(s, m, xb, idx)
        return (jnp.sum((fs - ft) ** 2) / xb.shape[0], jnp.sum((ks - kt) ** 2) / xb.shape[0] ** 2,
                jnp.sum(ft**2) / xb.shape[0], jnp.sum(kt**2) / xb.shape[0] ** 2)

    @jax.jit
    def step(s, st, m, idx, xb):
        def loss(s):
            lo, lk, no, nk = parts(s, m, idx, xb)
            return (lo / no + gamma * lk / nk
                    + lam * sum(jnp.sum((w * mi) ** 2) for w, mi in zip(s, m)))

        g = jax.grad(loss)(s)
        u, st = tx.update(g, st, s)
        return optax.apply_updates(s, u), st

    evaluate = jax.jit(parts)
    rows, n = [], x_unlabelled.shape[0]
    with progress(desc="NTT step", total=steps, unit="step", delay=5) as bar:
        for t in range(steps + 1):
            key, sub = jax.random.split(key)
            xb = x_unlabelled[jax.random.choice(sub, n, (min(batch, n),), replace=False)]
            if t % mask_every == 0 or t == steps:
                idx = [tuple(jnp.asarray(a) for a in r) for r in entk_lib.mask_indices(masks)]
                lo, lk, no, nk = (float(v) for v in evaluate(student, masks, idx,
                                                             x_unlabelled[:256]))
                rows.append({"step": t, "output_loss": lo / no, "ntk_loss": lk / nk})
                if t == steps:
                    break
                if t > 0:
                    masks = [jnp.asarray(m) for m in layerwise_mask(
                        [np.abs(np.asarray(w)) for w in student], rho)]
                    idx = [tuple(jnp.asarray(a) for a in r) for r in entk_lib.mask_indices(masks)]
            student, state = step(student, state, masks, idx, xb)
            bar.update()
    return student, [np.asarray(m) for m in masks], pd.DataFrame(rows)


def train_sparse(params, masks, x, labels, x_test, labels_test, n_classes: int, epochs: int,
                 batch: int, lr: float, key: jax.Array, eval_every: int = 1
                 ) -> tuple[pd.DataFrame, list[jax.Array]]:
    """Supervised training (Adam, cross-entropy) with the mask fixed.

    Returns:
        (rows epoch, train_loss, test_acc (epoch 0 = before training); trained weights).
    """
    x, x_test = jnp.asarray(x, jnp.float32), jnp.asarray(x_test, jnp.float32)
    onehot = jax.nn.one_hot(jnp.asarray(labels), n_classes)
    m = [jnp.asarray(mi) for mi in masks]
    params = [jnp.asarray(p) * mi for p, mi in zip(params, m)]
    tx = optax.adam(lr)
    state = tx.init(params)

    def loss(p, xb, yb):
        return optax.softmax_cross_entropy(apply(p, m, xb), yb).mean()

    @jax.jit
    def step(p, s, xb, yb):
        val, g = jax.value_and_grad(loss)(p, xb, yb)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, val

    def acc(p):
        return float(jnp.mean(apply(p, m, x_test).argmax(1) == jnp.asarray(labels_test)))

    rows = [{"epoch": 0, "train_loss": float(loss(params, x, onehot)), "test_acc": acc(params)}]
    n = x.shape[0]
    for epoch in progress(range(1, epochs + 1), desc="sparse training epoch", unit="epoch",
                          delay=5):
        key, sub = jax.random.split(key)
        order = jax.random.permutation(sub, n)
        losses = []
        for i in range(0, n - batch + 1, batch):
            idx = order[i:i + batch]
            params, state, val = step(params, state, x[idx], onehot[idx])
            losses.append(float(val))
        if epoch % eval_every == 0 or epoch == epochs:
            rows.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                         "test_acc": acc(params)})
    # the mask held: every pruned weight is still exactly zero (Adam's update of a weight whose
    # gradient was always zero is zero)
    if any(float(jnp.abs(p * (1 - mi)).max()) != 0.0 for p, mi in zip(params, m)):
        raise RuntimeError("a pruned weight moved during training; the mask did not hold")
    return pd.DataFrame(rows), params

