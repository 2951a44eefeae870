"""The one module that imports neural-tangents (NT); everything else imports it from here.

NT 0.6.5 (December 2023) is the last release. Two things stand between it and a current jax:

1. **TensorFlow.** NT declares TensorFlow and tf2jax as dependencies but uses them only in
   ``neural_tangents.experimental`` (TF interop), which its ``__init__`` imports unconditionally.
   We install NT with ``--no-deps`` and, when TensorFlow is absent, register an empty placeholder
   for ``neural_tangents.experimental`` before the import. Code that touches ``nt.experimental``
   gets a clear error.
2. **Names jax moved.** NT imports a few names from where jax 0.4-0.5 kept them. Before NT is
   imported, :func:`_restore_moved_jax_names` puts back *only the ones that are missing*, so on a
   jax that still has them it does nothing. What it adds is listed in ``versions()["compat"]``:

   * ``jax.core.Jaxpr``, ``JaxprEqn``, ``Literal``, ``Var``, ``Primitive`` (moved in jax 0.6):
     the same objects from ``jax.extend.core``;
   * ``jax.util.safe_map`` / ``safe_zip`` (names gone in 0.7, the module in 0.8): a small module
     with the same semantics, ``map``/``zip`` into lists that refuse arguments of unequal length;
   * ``jax.interpreters.ad.zeros_like_p`` (gone in 0.9): a fresh, never-bound ``Primitive``; NT
     only uses it as a dictionary key in the rule tables of its implementation 3.

   Two private NT functions are mended too, again only where this jax needs it: empirical NTK
   implementation 2 calls ``jnp.size`` on shape-only leaves, which jax 0.11 deprecates ("will be
   an error") and a later jax will refuse (:func:`_mend_std_basis`).

   tests/test_nt.py checks, on the lock (0.11.2) and the newest release (0.12.0.1 when written):
   analytic kernels against Monte Carlo, ``nt.batch`` over 2 forced host devices against the
   unbatched kernel, ``predict``, ``linearize``/``taylor_expand`` against ``jax.jvp``, and empirical
   NTK implementations 1 and 2 against a hand-built Jacobian contraction (tests/test_kernels.py
   adds closed forms). On the lock, notebook 01's kernel-regression accuracies equal those of the
   jax 0.5.3 ledger to every recorded digit. Empirical NTK ``implementation=3`` (structured
   derivatives) stays broken: it calls private jax functions that changed;
   :func:`ntkpaper.entk.empirical_ntk` refuses it.

A jax outside :data:`SUPPORTED_JAX` is refused at import with a message that says which versions
are tested (set ``NTKPAPER_UNSUPPORTED_JAX=1`` to try anyway). :func:`x64` replaces
``jax.experimental.enable_x64``/``disable_x64`` (gone in jax 0.10) for the rest of the package.

Exports: ``stax``, ``batch``, ``empirical_kernel_fn``, ``empirical_ntk_fn``, ``predict``,
``linearize``, ``taylor_expand``, ``monte_carlo_kernel_fn``, ``Kernel``, :func:`x64` and
:func:`versions`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import re
import sys
import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np

#: jax versions this package is tested on: [lowest, first refused). The lock pins 0.11.2;
#: ``make test JAX=latest`` runs the suite on the newest release (0.12.0.1 when written).
SUPPORTED_JAX = ((0, 11, 0), (0, 13, 0))
_COMPAT_ADDED: list[str] = []


def _version_tuple(text: str) -> tuple[int, ...]:
    """``"0.12.0.1"`` -> ``(0, 12, 0)``; ``"0.12.3rc1"`` -> ``(0, 12, 3)``: the leading digits of
    the first three parts."""
    parts = []
    for piece in text.split(".")[:3]:
        m = re.match(r"\d+", piece)
        parts.append(int(m.group()) if m else 0)
    return tuple(parts)


def _check_jax_version(version: str) -> None:
    lo, hi = SUPPORTED_JAX
    if lo <= _version_tuple(version) < hi or os.environ.get("NTKPAPER_UNSUPPORTED_JAX") == "1":
        return
    fmt = ".".join
    raise ImportError(
        f"ntkpaper supports jax >= {fmt(map(str, lo))} and < {fmt(map(str, hi))} (tested: the "
        f"lock's 0.11.2 and the newest release); this environment has jax {version}. Create the "
        "project environment with `make env` (or `make env JAX=latest`), or set "
        "NTKPAPER_UNSUPPORTED_JAX=1 to try this jax anyway.")


def _safe_map(f, *args):
    """``map`` that returns a list and refuses arguments of unequal length (jax's old util)."""
    args = [list(a) for a in args]
    if any(len(a) != len(args[0]) for a in args[1:]):
        raise ValueError(f"safe_map: arguments of unequal length {[len(a) for a in args]}")
    return list(map(f, *args))


def _safe_zip(*args):
    """``zip`` that returns a list and refuses arguments of unequal length (jax's old util)."""
    args = [list(a) for a in args]
    if any(len(a) != len(args[0]) for a in args[1:]):
        raise ValueError(f"safe_zip: arguments of unequal length {[len(a) for a in args]}")
    return list(zip(*args))


def _restore_moved_jax_names() -> list[str]:
    """Put back the jax names NT 0.6.5 imports that this jax no longer has; returns what it
    added (empty on a jax that has them all, e.g. 0.5.3)."""
    import jax.core
    import jax.interpreters.ad

    added = []
    for name in ("Jaxpr", "JaxprEqn", "Literal", "Var", "Primitive"):
        if not hasattr(jax.core, name):
            import jax.extend.core

            setattr(jax.core, name, getattr(jax.extend.core, name))
            added.append(f"jax.core.{name}")
    try:
        import jax.util as util
    except ImportError:
        util = types.ModuleType("jax.util", "Restored by ntkpaper.nt for neural-tangents 0.6.5.")
        sys.modules["jax.util"] = util
        jax.util = util
        added.append("jax.util")
    for name, fn in (("safe_map", _safe_map), ("safe_zip", _safe_zip)):
        if not hasattr(util, name):
            setattr(util, name, fn)
            added.append(f"jax.util.{name}")
    if not hasattr(jax.interpreters.ad, "zeros_like_p"):
        import jax.extend.core

        jax.interpreters.ad.zeros_like_p = jax.extend.core.Primitive("zeros_like")
        added.append("jax.interpreters.ad.zeros_like_p")
    return added


def _size(leaf) -> int:
    """Number of elements of an array or a shape-only ``jax.ShapeDtypeStruct`` (``jnp.size``
    without the deprecated call on shapes)."""
    return math.prod(jnp.shape(leaf))


def _mend_std_basis() -> list[str]:
    """Empirical NTK implementation 2 sizes its output basis with ``jnp.size`` on
    ``jax.ShapeDtypeStruct`` leaves, in two private functions of
    ``neural_tangents/_src/empirical.py``: ``_std_basis`` and ``_unravel_array_into_pytree`` (the
    latter for every output leaf but the last, so for multi-leaf outputs). jax 0.11 deprecates
    that ("size requires ndarray or scalar arguments ... will be an error"), so a coming jax would
    break implementation 2. Where this jax objects, replace both by the same computation with
    :func:`_size`; otherwise leave NT alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            jnp.size(jax.ShapeDtypeStruct((2, 3), jnp.float32))
            return []
        except (DeprecationWarning, TypeError):
            pass
    from neural_tangents._src import empirical

    def _unravel_array_into_pytree(pytree, axis: int, arr):
        leaves, treedef = jax.tree_util.tree_flatten(pytree)
        if arr.ndim > 0:
            axis %= arr.ndim
        shapes = [arr.shape[:axis] + jnp.shape(leaf) + arr.shape[axis + 1:] for leaf in leaves]
        splits = np.cumsum([_size(leaf) for leaf in leaves[:-1]])
        parts = jnp.split(arr, splits, axis)
        return jax.tree_util.tree_unflatten(
            treedef, [jnp.reshape(part, shape) for part, shape in zip(parts, shapes)])

    def _std_basis(pytree):
        leaves = jax.tree_util.tree_leaves(pytree)
        basis = jnp.eye(sum(_size(leaf) for leaf in leaves),
                        dtype=jax.dtypes.result_type(*leaves))
        return _unravel_array_into_pytree(pytree, 1, basis)

    empirical._std_basis = _std_basis
    empirical._unravel_array_into_pytree = _unravel_array_into_pytree
    return ["neural_tangents empirical._std_basis and _unravel_array_into_pytree "
            "(jnp.size on shapes)"]


@contextlib.contextmanager
def x64(enabled: bool = True):
    """Context in which jax arrays default to 64-bit (``enabled``) or 32-bit types.

    ``jax.enable_x64`` (jax >= 0.8) where it exists, else ``jax.experimental``'s old pair.
    """
    if hasattr(jax, "enable_x64"):
        with jax.enable_x64(enabled):
            yield
        return
    from jax.experimental import disable_x64, enable_x64  # pragma: no cover - jax < 0.8

    with enable_x64() if enabled else disable_x64():  # pragma: no cover
        yield


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


_check_jax_version(jax.__version__)
if "neural_tangents" not in sys.modules:
    _COMPAT_ADDED = _restore_moved_jax_names()
    if importlib.util.find_spec("tensorflow") is None:
        sys.modules.setdefault(_EXPERIMENTAL, _placeholder_experimental())

try:
    import neural_tangents as _nt
except ImportError as err:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "neural-tangents could not be imported. Create the environment with `make env` (it runs "
        "`pip install --no-deps neural-tangents==0.6.5` after requirements.lock). "
        f"Original error: {err}"
    ) from err

_COMPAT_ADDED += _mend_std_basis()
# NT 0.6.5 calls jax APIs that jax deprecates: hide those warnings where NT raises them (in
# notebooks too), never ours.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"neural_tangents(\.|$)")

stax = _nt.stax
batch = _nt.batch
empirical_kernel_fn = _nt.empirical_kernel_fn
empirical_ntk_fn = _nt.empirical_ntk_fn
predict = _nt.predict
linearize = _nt.linearize
taylor_expand = _nt.taylor_expand
monte_carlo_kernel_fn = _nt.monte_carlo_kernel_fn
Kernel = _nt.Kernel
NtkImplementation = _nt.NtkImplementation


def versions() -> dict[str, str]:
    """Versions of the numerical stack, for cache keys and run logs; ``compat`` lists the jax
    names this module restored for neural-tangents (``"none"`` when jax still had them)."""
    from importlib.metadata import version

    import jaxlib
    import numpy

    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "neural_tangents": version("neural-tangents"),
        "numpy": numpy.__version__,
        "backend": jax.default_backend(),
        "compat": ", ".join(_COMPAT_ADDED) or "none",
    }
