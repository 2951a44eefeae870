"""Neural Tangent Transfer as the official code runs it (Liu & Zenke 2020, ICML).

The official code is fmi-basel/neural-tangent-transfer (commit 238afd8; ``nt_transfer/ntt.py``,
``exploit.py``, ``utils.py``, ``nn_models.py``, ``load_datasets.py`` and the demo notebook
``notebooks/ntt_demo_mlp.ipynb``). This module follows it rule by rule; our earlier variant, with
relative losses and an output-averaged kernel, stays in :mod:`ntkpaper.sparsity`.

Networks (``nn_models.py``). Parameters are stax-style lists ``[(W_1, b_1), ..., (W_L, b_L)]``,
weights glorot-normal and biases ``N(0, 0.01^2)`` (``jax.nn.initializers.glorot_normal()``,
``normal()``), ReLU:

* LeNet-300-100 (:func:`init_lenet300`): dense 784-300-100-10; ``W_l`` (d_{l-1}, d_l),
  ``b_l`` (d_l,).
* LeNet-5-Caffe (:func:`init_lenet5_caffe`): conv 5x5x20 VALID, max-pool 2x2, conv 5x5x50 VALID,
  max-pool 2x2, dense 500, dense 10; kernels HWIO. 431,080 parameters on 28x28 images.

Inputs are flattened images ``x`` (N, d) float32, standardised by the training images' global
mean and standard deviation (:func:`standardise`, as ``load_datasets.read_mnist_data``).

Masks. One 0/1 array per weight matrix or kernel; biases are never pruned. Every layer is pruned,
the output layer included, each at the same density rho (the paper's layerwise setting,
``GLOBAL_PRUNE_BOOL=False``). A magnitude mask keeps the weights whose magnitude is strictly above
the ``int((1 - rho) size)``-th smallest (``utils.get_masks_from_jax_params``); SNIP keeps
``|dL/dw * w| >=`` the same order statistic of the cross-entropy's saliency on the first 100
training images (``utils.get_snip_masks``), layer by layer or pooled over layers.

Transfer loss (``ntt.py``, ``nt_transfer_loss``). On a mini-batch X of N inputs, split into its
halves X1 and X2,

    L = ||f_s(X) - f_t(X)||^2 / (N k)
        + lam_ker ||K_s(X1, X2) - K_t(X1, X2)||^2 / (N/2 N/2 k k)
        + (lam_l2 / rho) sum_l ||M_l * W_s,l||^2,

with f_t, K_t the dense teacher's outputs and full (N/2, N/2, k, k) empirical NTK (cross-output
blocks kept; derivatives with respect to every weight and bias), f_s the student with masked
weights ``M * W_s``, and K_s the NTK at those masked weights. **What the code computes for K_s**:
``empirical_ntk_fn(apply_fn)`` evaluated at the masked parameters, i.e. derivatives with respect to
*all* weights, pruned ones included (a pruned weight's direction ``h_i delta_j`` still counts). The
sparse network's own NTK (derivatives with respect to the kept weights only) is
``kernel="kept"`` here, measured beside the code's.
Defaults (the demo): lam_ker 1e-3, lam_l2 1e-4, Adam 5e-4, batch 64, 20 epochs of the training
images; the mask is recomputed from the student's weight magnitudes every 100 steps, and not in
the last 100 (a pruned weight gets no gradient: one never kept keeps the teacher's value, one
dropped by an update keeps its trained value and drifts a few steps on Adam's momentum; either
may re-enter). The official CNN demo uses lam_l2 1e-5.
``lam_ker=0`` is the output-only ablation (matching the teacher's outputs alone).

Supervised training (``exploit.py``): Adam 1e-3, batch 64, softmax cross-entropy (batch mean)
plus ``1e-8 sum ||M * W||^2``, mask fixed; accuracy every 100 iterations. Baselines start from a
fresh glorot initialisation with their masks applied and the kept weights *not* rescaled
(``init_weight_rescale_bool=False``). The code's random mask is its magnitude mask with the rows
(axis 0) permuted by ``jax.random.shuffle`` with the fixed key ``PRNGKey(0)``; ours is uniformly
random per layer. For the MLP the two agree in distribution up to the few rows the permutation
leaves in place; for HWIO conv kernels (5 rows on axis 0) the code's keeps about a fifth of each
mask aligned with the magnitudes, ours does not. The code records accuracy after iterations
1, 101, 201, ...; we record at 0, 100, 200, ... (before the first step).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from ntkpaper import nt
from ntkpaper.progress import progress

LENET300_DIMS = (784, 300, 100, 10)
KERNELS = ("code", "kept")
BIAS_STD = 0.01  # jax.nn.initializers.normal()'s default standard deviation


def _init_layer(key, w_shape):
    kw, kb = jax.random.split(key)
    w = jax.nn.initializers.glorot_normal()(kw, w_shape, jnp.float32)
    b = jax.nn.initializers.normal(BIAS_STD)(kb, (w_shape[-1],), jnp.float32)
    return (w, b)


def init_lenet300(key: jax.Array, dims: Sequence[int] = LENET300_DIMS) -> list[tuple]:
    """Glorot-normal weights and N(0, 0.01^2) biases of a ReLU MLP ``dims = [d_in, ..., k]``:
    ``[(W (d_{l-1}, d_l), b (d_l,)), ...]`` (the official ``mlp_lenet``: 784-300-100-10)."""
    dims = [int(d) for d in dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must list >= 2 positive sizes, got {dims}")
    keys = jax.random.split(key, len(dims) - 1)
    return [_init_layer(k, (i, o)) for k, i, o in zip(keys, dims[:-1], dims[1:])]


def lenet5_caffe_shapes(side: int = 28, n_classes: int = 10) -> list[tuple[int, ...]]:
    """Weight shapes of LeNet-5-Caffe on ``side`` x ``side`` single-channel images:
    ``[(5,5,1,20), (5,5,20,50), (50 s^2, 500), (500, k)]``, ``s = ((side - 4) // 2 - 4) // 2``."""
    inner = ((side - 4) // 2 - 4) // 2
    if inner < 1:
        raise ValueError(f"LeNet-5-Caffe needs images of side >= 16, got {side}")
    return [(5, 5, 1, 20), (5, 5, 20, 50), (50 * inner * inner, 500), (500, n_classes)]


def init_lenet5_caffe(key: jax.Array, side: int = 28, n_classes: int = 10) -> list[tuple]:
    """Glorot-normal kernels (HWIO) and weights, N(0, 0.01^2) biases of LeNet-5-Caffe (the
    official ``cnn_lenet_caffe``); shapes from :func:`lenet5_caffe_shapes`."""
    shapes = lenet5_caffe_shapes(side, n_classes)
    keys = jax.random.split(key, len(shapes))
    return [_init_layer(k, sh) for k, sh in zip(keys, shapes)]


def n_parameters(params) -> int:
    """Number of weights and biases."""
    return int(sum(np.size(w) + np.size(b) for w, b in params))


def _is_cnn(params) -> bool:
    return np.ndim(params[0][0]) == 4


def _max_pool(h):
    """2 x 2 max-pooling, stride 2, VALID (stax.MaxPool((2, 2), strides=(2, 2))), written as a
    reshape so that its second derivatives (inside the kernel's gradient) compile quickly."""
    n, height, width, c = h.shape
    h = h[:, : height // 2 * 2, : width // 2 * 2]
    return h.reshape(n, height // 2, 2, width // 2, 2, c).max(axis=(2, 4))


def _cnn_forward(params, x):
    side = int(round(np.sqrt(x.shape[-1])))
    h = x.reshape(x.shape[0], side, side, 1)
    dn = ("NHWC", "HWIO", "NHWC")
    for w, b in params[:2]:
        h = jax.lax.conv_general_dilated(h, w, (1, 1), "VALID", dimension_numbers=dn) + b
        h = _max_pool(jax.nn.relu(h))
    h = h.reshape(h.shape[0], -1)
    h = jax.nn.relu(h @ params[2][0] + params[2][1])
    return h @ params[3][0] + params[3][1]


def _mlp_forward(params, x):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h


def masked(params, masks) -> list[tuple]:
    """``[(M_l * W_l, b_l)]`` (``masks=None``: the parameters unchanged)."""
    if masks is None:
        return list(params)
    return [(w * m, b) for (w, b), m in zip(params, masks)]


def apply(params, masks, x) -> jax.Array:
    """(N, k) outputs of the network with masked weights (``masks=None``: dense); LeNet-300-100
    style MLP or LeNet-5-Caffe, by the parameters' shapes."""
    p = masked(params, masks)
    return _cnn_forward(p, x) if _is_cnn(params) else _mlp_forward(p, x)


def _mlp_tangents(params, x):
    """Each layer's input ``h_{l-1}`` (N, d_{l-1}) and ``D_l = df/dz_l`` (N, k, d_l)."""
    hs, zs, h = [], [], x
    for i, (w, b) in enumerate(params):
        hs.append(h)
        z = h @ w + b
        zs.append(z)
        h = jax.nn.relu(z) if i < len(params) - 1 else z
    k = zs[-1].shape[1]
    d = jnp.broadcast_to(jnp.eye(k, dtype=x.dtype), (x.shape[0], k, k))
    ds = [d]
    for i in range(len(params) - 1, 0, -1):
        d = (d @ params[i][0].T) * (zs[i - 1] > 0)[:, None, :]
        ds.insert(0, d)
    return hs, ds


def full_entk(params, masks, x1, x2, kernel: str = "code") -> jax.Array:
    """Full empirical NTK ``(N1, N2, k, k)`` of the network with masked weights, differentiable.

    ``kernel="code"``: derivatives with respect to every weight and bias at the masked weights
    (what the official code computes); ``"kept"``: with respect to the kept weights and the
    biases only (the sparse network's own NTK). ``masks=None``: the dense network's NTK. MLPs use
    the layer structure (``K = sum_l (h h'^T + 1) (D D'^T)``); LeNet-5-Caffe uses
    neural-tangents' ``empirical_ntk_fn`` (``trace_axes=()``).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    p = masked(params, masks)
    if _is_cnn(params):
        if kernel == "code" or masks is None:
            fn = nt.empirical_ntk_fn(_cnn_forward, trace_axes=(), vmap_axes=0)
            return fn(x1, x2, p)
        fn = nt.empirical_ntk_fn(lambda q, x: apply(q, masks, x), trace_axes=(), vmap_axes=0)
        return fn(x1, x2, list(params))
    h1, d1 = _mlp_tangents(p, x1)
    h2, d2 = _mlp_tangents(p, x2)
    out = 0.0
    for i in range(len(p)):
        dd = jnp.einsum("naj,mbj->nmab", d1[i], d2[i])  # the biases' part
        if kernel == "code" or masks is None:
            out = out + (h1[i] @ h2[i].T + 1.0)[:, :, None, None] * dd
        else:  # sum over kept (i, j) of h_i h'_i D_aj D'_bj
            n1, n2 = h1[i].shape[0], h2[i].shape[0]
            g = ((h1[i][:, None, :] * h2[i][None, :, :]).reshape(n1 * n2, -1)
                 @ masks[i]).reshape(n1, n2, -1)
            out = out + dd + jnp.einsum("nmj,naj,mbj->nmab", g, d1[i], d2[i])
    return out


def standardise(x_train, *others) -> tuple[np.ndarray, ...]:
    """Subtract the training images' global mean and divide by their global std (all arrays)."""
    mean, std = float(np.mean(x_train)), float(np.std(x_train))
    if std == 0:
        raise ValueError("training images are constant: cannot standardise")
    return tuple(((np.asarray(a, np.float32) - mean) / std).astype(np.float32)
                 for a in (x_train, *others))


def _check_density(rho: float):
    if not 0 < rho <= 1:
        raise ValueError(f"density must be in (0, 1], got {rho}")


def _threshold_mask(score, rho: float, strict: bool) -> np.ndarray:
    flat = np.sort(np.asarray(score).ravel())
    thresh = flat[min(int((1 - rho) * flat.size), flat.size - 1)]
    keep = score > thresh if strict else score >= thresh
    return np.asarray(keep, np.float32)


def _pooled_mask(scores, rho: float, strict: bool) -> list[np.ndarray]:
    flat = np.sort(np.concatenate([np.asarray(s).ravel() for s in scores]))
    thresh = flat[min(int((1 - rho) * flat.size), flat.size - 1)]
    return [np.asarray(s > thresh if strict else s >= thresh, np.float32) for s in scores]


def magnitude_masks(params, rho: float, layerwise: bool = True) -> list[np.ndarray]:
    """Masks keeping, in every layer (``layerwise``) or over all layers pooled, the weights with
    ``|W|`` strictly above the ``int((1 - rho) size)``-th smallest magnitude."""
    _check_density(rho)
    scores = [np.abs(np.asarray(w)) for w, _ in params]
    if layerwise:
        return [_threshold_mask(s, rho, strict=True) for s in scores]
    return _pooled_mask(scores, rho, strict=True)


def random_masks(key: jax.Array, params, rho: float) -> list[np.ndarray]:
    """Masks keeping a uniformly random ``ceil(rho * size)`` weights of every layer."""
    _check_density(rho)
    out = []
    for k, (w, _) in zip(jax.random.split(key, len(params)), params):
        size = int(np.size(w))
        keep = int(np.ceil(rho * size))
        m = np.zeros(size, np.float32)
        m[np.asarray(jax.random.permutation(k, size))[:keep]] = 1.0
        out.append(m.reshape(np.shape(w)))
    return out


def _cross_entropy(params, masks, x, onehot, reg):
    logits = apply(params, masks, x)
    ce = -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * onehot, axis=1))
    return ce + reg * sum(jnp.sum(w**2) for w, _ in masked(params, masks))


def snip_masks(params, x, labels, rho: float, n_classes: int = 10,
               layerwise: bool = True) -> list[np.ndarray]:
    """SNIP (Lee et al. 2019) as the official code: saliency ``|dL/dW * W|`` of the
    cross-entropy on the labelled batch ``(x, labels)``; keep ``>=`` the ``int((1 - rho) size)``-th
    smallest, per layer (``layerwise``) or pooled."""
    _check_density(rho)
    onehot = jax.nn.one_hot(jnp.asarray(labels), n_classes)
    g = jax.grad(_cross_entropy)(params, None, jnp.asarray(x), onehot, 0.0)
    scores = [np.abs(np.asarray(gw * w)) for (gw, _), (w, _) in zip(g, params)]
    if layerwise:
        return [_threshold_mask(s, rho, strict=False) for s in scores]
    return _pooled_mask(scores, rho, strict=False)


def density(masks) -> float:
    """Share of kept weights over all layers (biases not counted)."""
    return float(sum(np.sum(np.asarray(m)) for m in masks) / sum(np.size(m) for m in masks))


def transfer_terms(student, masks, teacher, x, rho: float, kernel: str = "code"):
    """The official loss's three terms on the batch ``x`` (N, d), N even: ``(ker_dist,
    target_dist, l2)`` = (mean squared difference of the (N/2, N/2, k, k) kernels on the
    batch's halves, mean squared difference of the (N, k) outputs, ``sum ||M * W_s||^2``)."""
    half = x.shape[0] // 2
    x1, x2 = x[:half], x[half:2 * half]
    k_s = full_entk(student, masks, x1, x2, kernel)
    k_t = full_entk(teacher, None, x1, x2)
    f_s, f_t = apply(student, masks, x), apply(teacher, None, x)
    l2 = sum(jnp.sum(w**2) for w, _ in masked(student, masks))
    del rho  # the penalty's weight lam_l2 / rho is applied by the caller
    return jnp.mean((k_s - k_t) ** 2), jnp.mean((f_s - f_t) ** 2), l2


def transfer_loss(student, masks, teacher, x, rho: float, lam_ker: float = 1e-3,
                  lam_l2: float = 1e-4, kernel: str = "code") -> jax.Array:
    """``target_dist + lam_ker ker_dist + (lam_l2 / rho) l2`` (:func:`transfer_terms`)."""
    ker, target, l2 = transfer_terms(student, masks, teacher, x, rho, kernel)
    return target + lam_ker * ker + (lam_l2 / rho) * l2


def transfer(teacher, rho: float, x_unlabelled, key: jax.Array, steps: int, x_val,
             batch: int = 64, lr: float = 5e-4, mask_every: int = 100, lam_ker: float = 1e-3,
             lam_l2: float = 1e-4, log_every: int = 100, kernel: str = "code"
             ) -> tuple[list[tuple], list[np.ndarray], pd.DataFrame]:
    """Label-free transfer of the dense ``teacher`` into a sparse student at density ``rho``.

    Args:
        teacher: dense parameters; the student starts from them under the magnitude mask.
        x_unlabelled: (N, d) training inputs, read in shuffled epochs of ``batch`` (labels never
            seen); ``x_val``: (N_val, d) held-out inputs (even N_val; the code uses 64) on which
            the terms are logged.
        steps: Adam steps (the demo: 20 epochs of 59,880 images at batch 64, 18,720 steps).
        kernel: the student kernel inside the loss (``"code"`` or ``"kept"``, module docstring).

    Returns:
        (student parameters with pruned weights zeroed, final masks, log with step, ker_dist,
        target_dist, l2 (each as :func:`transfer_terms` on ``x_val``), ker_dist_kept (the kept
        weights' kernel) and the teacher's mean squared kernel and output entries, ``ker_scale``
        and ``target_scale``, for relative errors).
    """
    _check_density(rho)
    if steps < 0 or batch < 2 or batch % 2:
        raise ValueError(f"steps must be >= 0 and batch even and >= 2, got {steps}, {batch}")
    x_unlabelled = jnp.asarray(x_unlabelled, jnp.float32)
    x_val = jnp.asarray(x_val, jnp.float32)
    if x_val.shape[0] < 2 or x_val.shape[0] % 2:
        raise ValueError(f"x_val needs an even number >= 2 of inputs, got {x_val.shape[0]}")
    n = x_unlabelled.shape[0]
    if n < batch:
        raise ValueError(f"{n} unlabelled inputs are fewer than one batch of {batch}")
    teacher = [(jnp.asarray(w), jnp.asarray(b)) for w, b in teacher]
    student = list(teacher)
    masks = [jnp.asarray(m) for m in magnitude_masks(teacher, rho)]
    tx = optax.adam(lr)
    state = tx.init(student)

    @jax.jit
    def step(s, st, m, xb):
        g = jax.grad(transfer_loss)(s, m, teacher, xb, rho, lam_ker, lam_l2, kernel)
        u, st = tx.update(g, st, s)
        return optax.apply_updates(s, u), st

    @jax.jit
    def evaluate(s, m):
        ker, target, l2 = transfer_terms(s, m, teacher, x_val, rho, "code")
        ker_kept = transfer_terms(s, m, teacher, x_val, rho, "kept")[0]
        half = x_val.shape[0] // 2
        k_t = full_entk(teacher, None, x_val[:half], x_val[half:])
        return ker, target, l2, ker_kept, jnp.mean(k_t**2), jnp.mean(apply(teacher, None,
                                                                           x_val) ** 2)

    names = ("ker_dist", "target_dist", "l2", "ker_dist_kept", "ker_scale", "target_scale")

    def log(t):
        rows.append({"step": t, **dict(zip(names, (float(v) for v in evaluate(student, masks))))})

    rows: list[dict] = []
    log(0)
    order, pos = None, n
    with progress(desc="NTT (official) step", total=steps, unit="step", delay=5) as bar:
        for t in range(1, steps + 1):
            if pos + batch > n:  # a new shuffled epoch
                key, sub = jax.random.split(key)
                order, pos = jax.random.permutation(sub, n), 0
            student, state = step(student, state, masks, x_unlabelled[order[pos:pos + batch]])
            pos += batch
            if t % log_every == 0 or t == steps:
                log(t)
            if t % mask_every == 0 and t < steps - mask_every:
                masks = [jnp.asarray(m) for m in magnitude_masks(student, rho)]
            bar.update()
    final = [np.asarray(m) for m in masks]
    return masked(student, masks), final, pd.DataFrame(rows)


def train(params, masks, x, labels, x_test, labels_test, steps: int, key: jax.Array,
          n_classes: int = 10, batch: int = 64, lr: float = 1e-3, reg: float = 1e-8,
          record_every: int = 100, n_eval: int | None = None
          ) -> tuple[pd.DataFrame, list[tuple]]:
    """Supervised training with the mask fixed, as ``exploit.py``: Adam, batch mean
    cross-entropy plus ``reg sum ||M * W||^2``, shuffled epochs.

    Returns:
        (rows iteration, train_acc (on the first ``n_eval`` training images; all by default),
        test_acc, every ``record_every`` iterations from 0 and at the end; trained parameters
        with pruned weights zero).
    """
    if steps < 0 or batch < 1:
        raise ValueError(f"steps must be >= 0 and batch >= 1, got {steps}, {batch}")
    x, x_test = jnp.asarray(x, jnp.float32), jnp.asarray(x_test, jnp.float32)
    onehot = jax.nn.one_hot(jnp.asarray(labels), n_classes)
    m = None if masks is None else [jnp.asarray(mi) for mi in masks]
    params = masked([(jnp.asarray(w), jnp.asarray(b)) for w, b in params], m)
    tx = optax.adam(lr)
    state = tx.init(params)

    @jax.jit
    def step(p, s, xb, yb):
        g = jax.grad(_cross_entropy)(p, m, xb, yb, reg)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    n = x.shape[0]
    n_eval = n if n_eval is None else min(n_eval, n)
    accuracy = jax.jit(lambda p, xs, ys: jnp.mean(apply(p, m, xs).argmax(1) == ys))
    y_train, y_test = jnp.asarray(labels)[:n_eval], jnp.asarray(labels_test)

    def record(t):
        rows.append({"iteration": t, "train_acc": float(accuracy(params, x[:n_eval], y_train)),
                     "test_acc": float(accuracy(params, x_test, y_test))})

    rows: list[dict] = []
    record(0)
    pos, order = n, None
    for t in range(1, steps + 1):
        if pos + batch > n:
            key, sub = jax.random.split(key)
            order, pos = jax.random.permutation(sub, n), 0
        idx = order[pos:pos + batch]
        params, state = step(params, state, x[idx], onehot[idx])
        pos += batch
        if t % record_every == 0 or t == steps:
            record(t)
    return pd.DataFrame(rows), masked(params, m)
