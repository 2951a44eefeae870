"""neural-tangents stax architectures: ``(init_fn, apply_fn, kernel_fn)`` triples.

* :func:`fc` - fully connected, any depth and activation (CPU friendly).
* :func:`cnn` - convolutional; ``readout="flatten"`` (CNN-VEC, no pooling; its analytic kernel
  only needs the diagonal of the pixel-pixel covariance, so it is cheap enough for CPU) or
  ``readout="gap"`` (CNN-GAP, global average pooling; its kernel is O(n^2 (HW)^2): `full` profile).

Inputs: FC takes (N, D); CNN takes (N, H, W, C). Outputs (N, out_dim).
"""

from __future__ import annotations

import math

from ntkpaper.nt import stax

ACTIVATIONS = {
    "relu": stax.Relu,
    "erf": stax.Erf,
    "gelu": stax.Gelu,
    "abs": stax.Abs,
    "identity": stax.Identity,
}


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _check(depth: int, width: int, parameterization: str) -> None:
    if not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth (number of hidden layers) must be an int >= 0, got {depth!r}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    if parameterization not in ("ntk", "standard"):
        raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")


def fc(depth: int, width: int = 512, W_std: float = math.sqrt(2.0), b_std: float = 0.05,
       activation: str = "relu", parameterization: str = "ntk", out_dim: int = 10):
    """Fully connected network with ``depth`` hidden layers of ``width`` units.

    ``W_std``/``b_std`` are the standard deviations (sigma_w, sigma_b; variances are their squares).
    The analytic kernels (``kernel_fn``) do not depend on ``width``. In standard parameterization
    NT's NTK is that of Sohl-Dickstein et al. (2020); ntkpaper compares SP networks with the limit
    derived in :func:`ntkpaper.kernels.sp_limit_kernel` instead.

    Returns:
        ``(init_fn, apply_fn, kernel_fn)``; ``apply_fn(params, x)`` maps (N, D) -> (N, out_dim).
    """
    _check(depth, width, parameterization)
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std=W_std, b_std=b_std, parameterization=parameterization),
                   _activation(activation)]
    layers.append(stax.Dense(out_dim, W_std=W_std, b_std=b_std,
                             parameterization=parameterization))
    return stax.serial(*layers)


def cnn(depth: int, channels: int = 256, filter_size: int = 3, W_std: float = math.sqrt(2.0),
        b_std: float = 0.05, activation: str = "relu", readout: str = "flatten",
        parameterization: str = "ntk", out_dim: int = 10):
    """Convolutional network: ``depth`` x (Conv SAME + activation), then a dense readout.

    Args:
        readout: ``"flatten"`` (CNN-VEC) or ``"gap"`` (global average pooling, CNN-GAP).

    Returns:
        ``(init_fn, apply_fn, kernel_fn)`` on NHWC inputs (N, H, W, C) -> (N, out_dim).
    """
    _check(depth, channels, parameterization)
    if readout not in ("flatten", "gap"):
        raise ValueError(f"readout must be 'flatten' or 'gap', got {readout!r}")
    layers = []
    for _ in range(depth):
        layers += [stax.Conv(channels, (filter_size, filter_size), padding="SAME", W_std=W_std,
                             b_std=b_std, parameterization=parameterization),
                   _activation(activation)]
    layers.append(stax.Flatten() if readout == "flatten" else stax.GlobalAvgPool())
    layers.append(stax.Dense(out_dim, W_std=W_std, b_std=b_std,
                             parameterization=parameterization))
    return stax.serial(*layers)


def _patches(h):
    """(N, H, W, C) -> (N, H, W, C * 9): every 3x3 SAME neighbourhood, zero-padded, flattened
    channel-major (feature ``c * 9 + 3 i + j``, the order of neural-tangents' ``ConvLocal``).
    Built from shifted slices, not a convolution: on CPU, XLA runs this and one matrix product
    several times faster than a (vmapped) convolution."""
    import jax.numpy as jnp

    n, hh, ww, c = h.shape
    p = jnp.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
    shifted = jnp.stack([p[:, i:i + hh, j:j + ww, :] for i in range(3) for j in range(3)], -1)
    return shifted.reshape(n, hh, ww, c * 9)


def conv_net(depth: int, channels: int, local: bool = False, W_std: float = math.sqrt(2.0),
             b_std: float = 0.05, parameterization: str = "ntk", out_dim: int = 10):
    """The network of :func:`cnn` with ``readout="flatten"`` (CNN-VEC), 3x3 filters, or its
    locally connected twin (``local=True``: the same layers with a separate filter and bias at
    every position, no weight sharing), written for fast training on a CPU.

    The same functions as neural-tangents' ``stax.Conv`` / ``stax.ConvLocal`` layers (tested
    against them), with parameters in matrix form: a shared layer holds ``W`` (9 C_in, C_out)
    and ``b`` (C_out,), a local one ``W`` (H, W, 9 C_in, C_out) and ``b`` (H, W, C_out); the
    readout ``W`` (H W C, out_dim), ``b`` (out_dim,). Patch features are channel-major
    (:func:`_patches`). NTK parameterisation: entries N(0, 1), a layer computes
    ``W_std / sqrt(fan_in) * patches @ W + b_std * b`` (fan_in = 9 C_in); standard: entries
    N(0, W_std^2 / fan_in) and N(0, b_std^2), the layer computes ``patches @ W + b``. Without
    pooling the infinite-width kernels of the two twins are equal (Novak et al. 2019): weight
    sharing leaves no trace in the CNN-VEC kernel.

    Returns:
        ``(init_fn, apply_fn)``: ``init_fn(key, input_shape)`` with input_shape (N, H, W, C) ->
        (output shape, params); ``apply_fn(params, x)`` maps (N, H, W, C) -> (N, out_dim).
    """
    import jax
    import jax.numpy as jnp

    _check(depth, channels, parameterization)
    ntk = parameterization == "ntk"

    def init_fn(key, input_shape):
        _, hh, ww, c = input_shape
        params, fan = [], 9 * c
        for _ in range(depth):
            key, kw, kb = jax.random.split(key, 3)
            w_shape = (hh, ww, fan, channels) if local else (fan, channels)
            b_shape = (hh, ww, channels) if local else (channels,)
            w, b = jax.random.normal(kw, w_shape), jax.random.normal(kb, b_shape)
            params.append((w, b) if ntk else (w * W_std / math.sqrt(fan), b * b_std))
            fan = 9 * channels
        key, kw, kb = jax.random.split(key, 3)
        d = hh * ww * channels
        w, b = jax.random.normal(kw, (d, out_dim)), jax.random.normal(kb, (out_dim,))
        params.append((w, b) if ntk else (w * W_std / math.sqrt(d), b * b_std))
        return (input_shape[0], out_dim), params

    def dense(x, w, b, eq):
        z = jnp.einsum(eq, x, w)
        return W_std / math.sqrt(x.shape[-1]) * z + b_std * b if ntk else z + b

    def apply_fn(params, x, **_):  # keyword arguments (e.g. neural-tangents' rng) are ignored
        h = x
        for w, b in params[:-1]:
            h = jax.nn.relu(dense(_patches(h), w, b, "nhwi,hwio->nhwo" if local else
                                  "nhwi,io->nhwo"))
        w, b = params[-1]
        return dense(h.reshape(len(h), -1), w, b, "ni,io->no")

    return init_fn, apply_fn
