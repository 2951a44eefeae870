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
