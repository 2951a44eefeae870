"""Finite-width training with optax: ensembles, centring, MSE gradient descent, and a plain
loop with callbacks (:func:`fit`).

Loss (see :mod:`ntkpaper.kernels` for the convention): ``L = 1/(2n) sum_i ||f(x_i) - y_i||^2``.
An *ensemble* is a pytree of parameters with a leading axis of size E (one member per seed),
trained in one ``vmap``-ed ``lax.scan``.

Centring: ``f - f0`` (the network minus its own output at initialisation) removes the random
initial function, so a single wide network approaches the deterministic NTK mean prediction;
averaging E centred members shrinks the remaining variance further.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkpaper.progress import progress


def init_ensemble(init_fn, key: jax.Array, size: int, input_shape: tuple[int, ...]):
    """Parameters of ``size`` independently initialised networks, stacked on axis 0."""
    if size < 1:
        raise ValueError(f"ensemble size must be >= 1, got {size}")
    keys = jax.random.split(key, size)
    return jax.vmap(lambda k: init_fn(k, input_shape)[1])(keys)


def train_mse_ensemble(apply_fn, params, x_train: np.ndarray, y_train: np.ndarray,
                       x_test: np.ndarray, learning_rate: float, record_steps: Sequence[int],
                       optimizer: optax.GradientTransformation | None = None,
                       centre: bool = False) -> dict[str, np.ndarray]:
    """Full-batch training of an ensemble on the MSE loss, recording test outputs.

    Args:
        apply_fn: network function ``(params, x) -> (N, k)``.
        params: ensemble parameters (leading axis E), e.g. from :func:`init_ensemble`.
        x_train: (n, ...) inputs; y_train: (n, k) targets; x_test: (m, ...) inputs.
        learning_rate: step size (used if ``optimizer`` is None: plain SGD = gradient descent).
        record_steps: increasing step counts at which to record outputs (0 = initialisation).
        optimizer: any optax transformation (default ``optax.sgd(learning_rate)``).
        centre: train the centred model ``g(x) = f(x; theta) - f(x; theta_0)`` (Lee et al. 2020)
            instead of ``f``: it starts from zero, so its trajectory is the deterministic
            mean prediction plus fluctuations that shrink with width. Recorded test outputs are
            then those of ``g``. (Subtracting ``f0`` only after training is not the same: the
            random ``f0`` on the training set would still have steered the fit.)

    Returns:
        ``steps`` (T,), ``test`` (T, E, m, k) outputs (of ``g`` if ``centre``), ``train_loss``
        (T, E),
        ``test0`` (E, m, k) = outputs at initialisation (for centring: ``test - test0``),
        ``params`` = the trained ensemble.
    """
    record_steps = [int(s) for s in record_steps]
    if record_steps != sorted(record_steps) or record_steps[0] < 0:
        raise ValueError(f"record_steps must be increasing and >= 0, got {record_steps}")
    opt = optimizer or optax.sgd(learning_rate)
    x_train, y_train, x_test = (jnp.asarray(a, jnp.float32) for a in (x_train, y_train, x_test))
    f0_train = jax.vmap(lambda q: apply_fn(q, x_train))(params)  # (E, n, k)
    f0_test = jax.vmap(lambda q: apply_fn(q, x_test))(params)  # (E, m, k)
    if not centre:
        f0_train, f0_test = jnp.zeros_like(f0_train), jnp.zeros_like(f0_test)

    def loss(p, off):
        return 0.5 * jnp.mean(jnp.sum((apply_fn(p, x_train) - off - y_train) ** 2, axis=-1))

    def step(carry, _):
        p, s, off = carry
        g = jax.grad(loss)(p, off)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s, off), None

    @partial(jax.jit, static_argnums=2)
    def advance(p, s, n):
        run = lambda p, s, off: jax.lax.scan(step, (p, s, off), None, length=n)[0][:2]
        return jax.vmap(run)(p, s, f0_train)

    @jax.jit
    def observe(p):
        out = jax.vmap(lambda q: apply_fn(q, x_test))(p) - f0_test
        return out, jax.vmap(loss)(p, f0_train)

    state = jax.vmap(opt.init)(params)
    test0 = np.asarray(jax.vmap(lambda q: apply_fn(q, x_test))(params))
    outs, losses, done = [], [], 0
    with progress(desc="ensemble step", total=record_steps[-1], unit="step", delay=5) as bar:
        for target in record_steps:
            if target > done:
                params, state = advance(params, state, target - done)
                bar.update(target - done)
                done = target
            o, lo = observe(params)
            outs.append(np.asarray(o))
            losses.append(np.asarray(lo))
    return {"steps": np.asarray(record_steps), "test": np.stack(outs),
            "train_loss": np.stack(losses), "test0": test0, "params": params}


def fit(loss_fn: Callable, params, optimizer: optax.GradientTransformation, steps: int,
        callback: Callable | None = None, batches: Callable | None = None,
        desc: str = "fit step"):
    """A plain training loop with a callback: one jitted optax step per iteration.

    Args:
        loss_fn: ``(params) -> scalar`` (full batch), or ``(params, *batch) -> scalar`` with
            ``batches``.
        params: any pytree; optimizer: any optax transformation (schedules included).
        steps: number of updates.
        callback: ``(step, params) -> None``, called before the first update (step 0) and after
            every update (step 1..steps); it decides itself when to record (e.g.
            :class:`ntkpaper.alignment.Recorder` at log-spaced steps).
        batches: ``step -> tuple`` of extra arguments of ``loss_fn`` (mini-batches).
        desc: label of the progress bar (:func:`ntkpaper.progress.progress`; it shows only
            for runs longer than 5 s).

    Returns:
        (final params, losses (steps,) before each update, path_lengths (steps,) =
        ``||theta_{t+1} - theta_t||_2`` of each update).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")

    @jax.jit
    def step(p, s, *batch):
        loss, g = jax.value_and_grad(loss_fn)(p, *batch)
        u, s = optimizer.update(g, s, p)
        size = jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(u)))
        return optax.apply_updates(p, u), s, loss, size

    state = optimizer.init(params)
    losses, lengths = np.zeros(steps), np.zeros(steps)
    if callback is not None:
        callback(0, params)
    for t in progress(range(steps), desc=desc, unit="step", delay=5):
        batch = batches(t) if batches is not None else ()
        params, state, loss, size = step(params, state, *batch)
        losses[t], lengths[t] = float(loss), float(size)
        if callback is not None:
            callback(t + 1, params)
    return params, losses, lengths


def train_mse_grid(apply_fn, params, x_train: np.ndarray, y_train: np.ndarray,
                   x_eval: np.ndarray, learning_rates: Sequence[float],
                   record_steps: Sequence[int], weight_decays: Sequence[float] | None = None,
                   centre: bool = False) -> dict[str, np.ndarray]:
    """Full-batch gradient descent of E networks, each with its own learning rate and L2
    strength, vmapped in one ``lax.scan`` (a grid of settings trained at the cost of one
    ensemble).

    Member e follows ``theta <- theta - lr_e (grad L(theta) + wd_e theta)``, i.e. gradient
    descent on ``L + (wd_e / 2) ||theta||^2`` (plain L2 on the trained parameters), with the MSE
    loss of :func:`train_mse_ensemble`; ``centre`` trains ``f - f0`` as there. With a pytree of
    strengths each parameter array has its own (e.g. :func:`layerwise_l2`).

    Args:
        apply_fn: ``(params, x) -> (N, k)``; params: ensemble parameters (leading axis E).
        x_train: (n, ...); y_train: (n, k); x_eval: (m, ...) inputs whose outputs are recorded.
        learning_rates: (E,) step sizes; weight_decays: (E,) L2 strengths (default 0), or a
            pytree of ``params``' structure whose leaves are (E,) strengths (per array, per
            member).
        record_steps: increasing step counts at which to record (0 = initialisation).

    Returns:
        ``steps`` (T,), ``eval`` (T, E, m, k) outputs (of ``f - f0`` if ``centre``) and
        ``train_loss`` (T, E) (the MSE, without the L2 term).
    """
    record_steps = [int(s) for s in record_steps]
    if record_steps != sorted(record_steps) or record_steps[0] < 0:
        raise ValueError(f"record_steps must be increasing and >= 0, got {record_steps}")
    size = len(jax.tree_util.tree_leaves(params)[0])
    lrs = jnp.asarray(learning_rates, jnp.float32)
    if weight_decays is None:
        weight_decays = np.zeros(size)
    if jax.tree_util.tree_structure(weight_decays) != jax.tree_util.tree_structure(params):
        try:
            per_member = np.asarray(weight_decays, np.float32)
        except ValueError:
            raise ValueError("weight_decays must be (E,) strengths or a pytree of params' "
                             "structure with (E,) leaves") from None
        weight_decays = jax.tree_util.tree_map(lambda _: per_member, params)
    wds = jax.tree_util.tree_map(lambda w: jnp.asarray(w, jnp.float32), weight_decays)
    shapes = {tuple(w.shape) for w in jax.tree_util.tree_leaves(wds)}
    if lrs.shape != (size,) or shapes != {(size,)}:
        raise ValueError(f"need one learning rate and one weight decay per member ({size}), got "
                         f"{lrs.shape} and {sorted(shapes)}")
    x_train, y_train, x_eval = (jnp.asarray(a, jnp.float32) for a in (x_train, y_train, x_eval))
    f0_train = jax.vmap(lambda q: apply_fn(q, x_train))(params)
    f0_eval = jax.vmap(lambda q: apply_fn(q, x_eval))(params)
    if not centre:
        f0_train, f0_eval = jnp.zeros_like(f0_train), jnp.zeros_like(f0_eval)

    # the data are arguments of the jitted functions, not closure constants: XLA would fold
    # them into the program (slow, and it logs "Constant folding ... > 1s" into the notebook)
    def loss(p, off, x, y):
        return 0.5 * jnp.mean(jnp.sum((apply_fn(p, x) - off - y) ** 2, axis=-1))

    def step(carry, _, x, y):
        p, off, lr, wd = carry
        g = jax.grad(loss)(p, off, x, y)
        p = jax.tree_util.tree_map(lambda a, b, w: a - lr * (b + w * a), p, g, wd)
        return (p, off, lr, wd), None

    # the number of steps is traced (a while loop), so one compilation serves every interval
    # between record steps
    @jax.jit
    def advance(p, n, x, y, off, lr, wd):
        def run(p, off, lr, wd):
            body = lambda _, c: step(c, None, x, y)[0]
            return jax.lax.fori_loop(0, n, body, (p, off, lr, wd))[0]
        return jax.vmap(run)(p, off, lr, wd)

    @jax.jit
    def observe(p, x, y, xe, off, off_e):
        out = jax.vmap(lambda q: apply_fn(q, xe))(p) - off_e
        return out, jax.vmap(lambda q, o: loss(q, o, x, y))(p, off)

    outs, losses, done = [], [], 0
    with progress(desc="grid step", total=record_steps[-1], unit="step", delay=5) as bar:
        for target in record_steps:
            if target > done:
                params = advance(params, target - done, x_train, y_train, f0_train, lrs, wds)
                bar.update(target - done)
                done = target
            o, lo = observe(params, x_train, y_train, x_eval, f0_train, f0_eval)
            outs.append(np.asarray(o))
            losses.append(np.asarray(lo))
    return {"steps": np.asarray(record_steps), "eval": np.stack(outs),
            "train_loss": np.stack(losses)}


def layerwise_l2(params, W_std: float, b_std: float, strengths: Sequence[float]):
    """Per-array L2 strengths that make weight decay of an NTK-parameterised network equal plain
    L2 on the weights of the function it computes (the layer-wise scaling for weight decay
    motivated by Lee et al. 2020; the formula is our derivation, see below).

    A dense layer in NTK parameterisation computes ``(W_std / sqrt(fan_in)) omega h + b_std
    beta``: its function-space weights are ``W = W_std omega / sqrt(fan_in)`` and ``b = b_std
    beta``. Plain L2 ``(lam / 2) ||omega||^2`` is therefore ``(lam / 2)(fan_in / W_std^2)
    ||W||^2``, a penalty that grows with the layer's width, while the penalty
    ``(lam / 2) sum_l [(W_std^2 / fan_in_l) ||omega_l||^2 + b_std^2 ||beta_l||^2]`` equals
    ``(lam / 2) sum_l (||W_l||^2 + ||b_l||^2)``: standard L2 on the function's weights.
    Gradient descent with it is gradient descent on (W, b) with the standard L2 term and
    per-layer learning rates ``lr W_std^2 / fan_in`` (tested).

    Args:
        params: an ensemble (leading axis E) of dense layers' parameters (stax ``Dense``, or
            the shared layers of :func:`ntkpaper.architectures.conv_net`): weights (E, fan_in,
            fan_out), biases (E, fan_out). Anything else is refused.
        strengths: (E,) lam per member.

    Returns:
        A pytree of ``params``' structure with (E,) leaves, for
        :func:`train_mse_grid`'s ``weight_decays``.
    """
    lam = np.asarray(strengths, np.float64)

    def coefficient(a):
        if len(a) != len(lam):
            raise ValueError(f"{len(lam)} strengths for an ensemble of {len(a)}")
        if a.ndim == 2:
            return lam * b_std**2
        if a.ndim == 3:
            return lam * W_std**2 / a.shape[1]
        raise ValueError(f"layerwise_l2 knows dense weights (E, fan_in, fan_out) and biases "
                         f"(E, fan_out); got an array of shape {a.shape} (a convolution or "
                         "locally connected layer: write its fan-in rule)")

    return jax.tree_util.tree_map(coefficient, params)
