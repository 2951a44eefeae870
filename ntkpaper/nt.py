"""The one module that imports neural-tangents (NT); everything else imports it from here.

NT 0.6.5 is the last release. It needs jax/jaxlib <= 0.5.3 and declares TensorFlow and tf2jax as
dependencies, which it uses only in ``neural_tangents.experimental`` (TF interop), yet its
``__init__`` imports that subpackage unconditionally. We install NT with ``--no-deps`` and, when
TensorFlow is absent, register an empty placeholder for ``neural_tangents.experimental`` before the
import, so that everything else (``stax``, ``empirical``, ``predict``, ``batch``,
``monte_carlo_kernel_fn``) works unchanged. Code that touches ``nt.experimental`` gets a
clear error.

Other known NT 0.6.5 quirk: empirical NTK ``implementation=3`` (structured derivatives) is broken;
:func:`ntkpaper.kernels.empirical_ntk_fn` only accepts 1 or 2.

Exports: ``stax``, ``batch``, ``empirical_kernel_fn``, ``empirical_ntk_fn``, ``predict``,
``monte_carlo_kernel_fn``, ``Kernel``, and :func:`versions`.
"""

from __future__ import annotations

import importlib.util
import sys
import types

_EXPERIMENTAL = "neural_tangents.experimental"


def _placeholder_experimental() -> types.ModuleType:
    mod = types.ModuleType(_EXPERIMENTAL)
    mod.__doc__ = "Placeholder: neural_tangents.experimental needs TensorFlow, not installed."

    def __getattr__(name: str):
        if name.startswith("__"):  # introspection (inspect, tracebacks, pickling): "not here"
            raise AttributeError(name)
        raise ImportError(
            f"neural_tangents.experimental.{name} needs TensorFlow, which ntkpaper deliberately "
            "does not install (~2.4 GB). Install tensorflow and tf2jax to use it."
        )

    mod.__getattr__ = __getattr__  # type: ignore[attr-defined]
    return mod


if "neural_tangents" not in sys.modules and importlib.util.find_spec("tensorflow") is None:
    sys.modules.setdefault(_EXPERIMENTAL, _placeholder_experimental())

try:
    import neural_tangents as _nt
except ImportError as err:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "neural-tangents could not be imported. Create the environment with `make env` (it runs "
        "`pip install --no-deps neural-tangents==0.6.5` after requirements.lock). "
        f"Original error: {err}"
    ) from err

stax = _nt.stax
batch = _nt.batch
empirical_kernel_fn = _nt.empirical_kernel_fn
empirical_ntk_fn = _nt.empirical_ntk_fn
predict = _nt.predict
monte_carlo_kernel_fn = _nt.monte_carlo_kernel_fn
Kernel = _nt.Kernel
NtkImplementation = _nt.NtkImplementation


def versions() -> dict[str, str]:
    """Versions of the numerical stack, for cache keys and run logs."""
    from importlib.metadata import version

    import jax
    import jaxlib
    import numpy

    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "neural_tangents": version("neural-tangents"),
        "numpy": numpy.__version__,
        "backend": jax.default_backend(),
    }
