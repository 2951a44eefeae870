"""The jax compatibility layer in ntkpaper.nt: what it restores, that it changes nothing where jax
still has the names, and that neural-tangents works through it (kernels against closed forms and
Monte Carlo, batching over two host devices, predict, linearize, both empirical-NTK
implementations against a hand-built Jacobian contraction). Runs on the lock's jax and, through
``make test JAX=latest``, on the newest release."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkpaper import entk, nt


def test_restored_names_are_jax_extend_objects_and_a_second_pass_adds_nothing():
    import jax.core
    import jax.extend.core
    import jax.util

    added = nt.versions()["compat"]
    for name in ("Jaxpr", "JaxprEqn", "Literal", "Var", "Primitive"):
        assert getattr(jax.core, name) is getattr(jax.extend.core, name)
    assert callable(jax.util.safe_map) and callable(jax.util.safe_zip)
    # where every name exists (now, or on an older jax) the layer is a no-op
    assert nt._restore_moved_jax_names() == []
    assert "jax.core.Jaxpr" in added or not nt._version_tuple(jax.__version__) >= (0, 6)


def test_safe_map_and_zip_keep_jax_semantics():
    assert nt._safe_map(lambda a, b: a + b, [1, 2], (10, 20)) == [11, 22]
    assert nt._safe_zip("ab", [1, 2]) == [("a", 1), ("b", 2)]
    with pytest.raises(ValueError, match="unequal length"):
        nt._safe_map(lambda a, b: a, [1, 2], [1])
    with pytest.raises(ValueError, match="unequal length"):
        nt._safe_zip([1], [1, 2])


@pytest.mark.parametrize("version", ["0.5.3", "0.10.2", "0.13.0", "1.0"])
def test_unsupported_jax_is_refused_clearly(version, monkeypatch):
    monkeypatch.delenv("NTKPAPER_UNSUPPORTED_JAX", raising=False)
    with pytest.raises(ImportError, match=rf"this environment has jax {version}.*make env"):
        nt._check_jax_version(version)
    monkeypatch.setenv("NTKPAPER_UNSUPPORTED_JAX", "1")
    nt._check_jax_version(version)  # the user's explicit choice


def test_version_parsing():
    assert nt._version_tuple("0.12.0.1") == (0, 12, 0)
    assert nt._version_tuple("0.12.3rc1") == (0, 12, 3)
    assert nt._version_tuple("0.11.0.dev20260101") == (0, 11, 0)
    assert nt._version_tuple("0.13rc1") == (0, 13)


@pytest.mark.parametrize("version", ["0.11.2", "0.12.0.1", "0.12.3rc1"])
def test_supported_jax_passes(version, monkeypatch):
    monkeypatch.delenv("NTKPAPER_UNSUPPORTED_JAX", raising=False)
    nt._check_jax_version(version)


def test_x64_context_switches_default_dtype_and_restores_it():
    before = jnp.ones(2).dtype
    with nt.x64():
        assert jnp.ones(2).dtype == jnp.float64
        with nt.x64(False):
            assert jnp.ones(2).dtype == jnp.float32
        assert jnp.ones(2).dtype == jnp.float64
    assert jnp.ones(2).dtype == before


def _mlp(width=64):
    return nt.stax.serial(nt.stax.Dense(width, W_std=1.5, b_std=0.1), nt.stax.Relu(),
                          nt.stax.Dense(3, W_std=1.5, b_std=0.1))


def test_empirical_ntk_both_implementations_equal_hand_jacobian_contraction():
    """Theta(x, x') = sum_p df(x)/dp df(x')/dp, traced over outputs, computed by hand with
    jax.jacobian; implementations 1 and 2 must agree with it (and raise no deprecation)."""
    init_fn, apply_fn, _ = _mlp(16)
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 5))
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (6, 5)))
    jac = jax.jacobian(lambda p: apply_fn(p, x))(params)  # leaves (6, 3, *param_shape)
    hand = sum(np.einsum("iap,jap->ij", j.reshape(6, 3, -1), j.reshape(6, 3, -1))
               for j in jax.tree_util.tree_leaves(jac)) / 3  # averaged over the 3 outputs
    for impl in (1, 2):
        with warnings.catch_warnings():  # NT's jnp.size deprecation is mended, not hidden
            warnings.simplefilter("error", DeprecationWarning)
            got = entk.empirical_ntk(apply_fn, params, x, implementation=impl)
        np.testing.assert_allclose(got, hand, rtol=1e-4, atol=1e-5)


def test_empirical_ntk_of_a_two_output_network_is_consistent_and_warning_free():
    """A network with a tuple output (two heads) goes through NT's output unravelling, the other
    place where NT 0.6.5 calls ``jnp.size`` on shapes: both implementations agree, silently."""
    init_fn, apply_fn, _ = _mlp(16)
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 5))
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (4, 5)))

    def two_heads(p, x):
        out = apply_fn(p, x)
        return out[:, :1], jnp.tanh(out[:, 1:])

    kernels_by_impl = []
    for impl in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            fn = nt.empirical_ntk_fn(two_heads, trace_axes=(-1,), vmap_axes=0,
                                     implementation=impl)
            kernels_by_impl.append([np.asarray(k) for k in fn(x, None, params)])
    for k1, k2 in zip(*kernels_by_impl):
        assert k1.shape == (4, 4)
        np.testing.assert_allclose(k1, k2, rtol=1e-4, atol=1e-6)


def test_linearize_is_first_order_taylor_expansion():
    init_fn, apply_fn, _ = _mlp(32)
    _, p0 = init_fn(jax.random.PRNGKey(0), (-1, 4))
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 4))
    dp = jax.tree_util.tree_map(lambda a: 1e-2 * jnp.ones_like(a), p0)
    p1 = jax.tree_util.tree_map(jnp.add, p0, dp)
    f_lin = nt.linearize(apply_fn, p0)
    f0, df = jax.jvp(lambda p: apply_fn(p, x), (p0,), (dp,))
    np.testing.assert_allclose(f_lin(p0, x), f0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f_lin(p1, x), f0 + df, rtol=1e-4, atol=1e-5)
    f_quad = nt.taylor_expand(apply_fn, p0, 2)
    exact = apply_fn(p1, x)
    assert np.abs(f_quad(p1, x) - exact).max() <= np.abs(f_lin(p1, x) - exact).max() + 1e-6


def test_predict_at_infinite_time_interpolates_training_targets():
    _, _, kernel_fn = _mlp()
    x = np.random.default_rng(0).normal(size=(8, 4))
    y = np.random.default_rng(1).normal(size=(8, 3))
    with nt.x64():
        predict = nt.predict.gradient_descent_mse_ensemble(kernel_fn, x, y, diag_reg=0.0)
        fit = np.asarray(predict(t=None, x_test=x, get="ntk"))
        half = np.asarray(predict(t=1.0, x_test=x, get="ntk"))
    np.testing.assert_allclose(fit, y, atol=1e-6)
    assert 0 < np.abs(half - y).max() < np.abs(y).max()  # finite time: not yet there


def test_monte_carlo_ntk_matches_analytic_ntk():
    init_fn, apply_fn, kernel_fn = _mlp(512)
    x = np.random.default_rng(0).normal(size=(5, 4))
    mc = nt.monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.PRNGKey(3), n_samples=8)
    exact = np.asarray(kernel_fn(x, None, "ntk"))
    rel = np.linalg.norm(np.asarray(mc(x, None, "ntk")) - exact) / np.linalg.norm(exact)
    assert rel < 0.1, rel


@pytest.mark.slow
def test_batch_over_two_forced_host_devices():
    """nt.batch shards kernel blocks over local devices: with two forced host devices the
    kernel equals the unbatched one (run in a fresh process: XLA reads the flag at start-up)."""
    code = textwrap.dedent("""
        import json, jax, numpy as np
        from ntkpaper import kernels, nt
        _, _, kfn = nt.stax.serial(nt.stax.Dense(64), nt.stax.Relu(), nt.stax.Dense(1))
        x = np.random.default_rng(0).normal(size=(10, 7))
        got = kernels.analytic_kernels(kfn, x, batch_size=2, device_count=-1)["ntk"]
        with nt.x64():
            ref = np.asarray(kfn(np.asarray(x, np.float64), None, "ntk"))
        print(json.dumps({"devices": jax.local_device_count(),
                          "err": float(np.abs(got - ref).max())}))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["devices"] == 2
    assert res["err"] < 1e-8  # float64 kernels; only the block order differs
