"""The empirical NTK (ntkpaper.entk): per-layer kernels against neural-tangents, the analytic
limit at large width, masked kernels and clear errors."""

import jax
import numpy as np
import pytest

from ntkpaper import architectures, entk, kernels
from ntkpaper import parametrization as pz


def _problem(n=10, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, rng.normal(size=(n, k)).astype(np.float32)


@pytest.mark.parametrize("name,activation", [("ntp", "relu"), ("mup", "tanh")])
def test_layer_kernels_match_neural_tangents(name, activation):
    x, y = _problem()
    abc = pz.named(name, 2)
    params = pz.init(jax.random.PRNGKey(1), abc, x.shape[1], 24, y.shape[1])
    ours = entk.mlp_layer_kernels(params, abc, x, activation=activation, block=4)  # blocks too
    f = lambda p, inputs: pz.forward(p, abc, inputs, activation)
    per_group = entk.nt_layer_kernels(f, params, x, implementation=1)
    whole = entk.empirical_ntk(f, params, x, implementation=2)
    assert ours.shape == (3, 10, 10)
    np.testing.assert_allclose(ours, per_group, rtol=2e-4, atol=1e-5 * np.abs(whole).max())
    np.testing.assert_allclose(ours.sum(0), whole, rtol=2e-4, atol=1e-5 * np.abs(whole).max())
    x2 = x[:3] + 0.1
    cross = entk.mlp_layer_kernels(params, abc, x, x2, activation=activation)
    np.testing.assert_allclose(cross.sum(0), entk.empirical_ntk(f, params, x, x2),
                               rtol=2e-4, atol=1e-5 * np.abs(whole).max())


def test_wide_network_at_init_matches_the_analytic_ntk():
    x, _ = _problem(n=8, d=16)
    x = x / np.linalg.norm(x, axis=1, keepdims=True) * 4.0
    analytic = kernels.analytic_kernels(architectures.fc(2, W_std=1.0, b_std=0.0)[2], x)["ntk"]
    abc = pz.named("ntp", 2)
    err = {}
    for width in (64, 4096):
        p = pz.init(jax.random.PRNGKey(0), abc, 16, width, 4)
        k = entk.mlp_layer_kernels(p, abc, x).sum(0)
        err[width] = np.linalg.norm(k - analytic) / np.linalg.norm(analytic)
    # fluctuations ~ width^-1/2: 64x wider -> about 8x closer
    assert err[4096] < 0.1 and 4 < err[64] / err[4096] < 16, err


def test_bad_input_is_clear():
    abc = pz.named("ntp", 1)
    p = pz.init(jax.random.PRNGKey(0), abc, 5, 8, 2)
    with pytest.raises(ValueError, match=r"x must be \(N, 5\)"):
        entk.mlp_layer_kernels(p, abc, np.ones((3, 4)))
    with pytest.raises(ValueError, match="unknown activation"):
        entk.mlp_layer_kernels(p, abc, np.ones((3, 5)), activation="gelu")
    with pytest.raises(ValueError, match="implementation must be 1 or 2"):
        entk.empirical_ntk(lambda q, x: pz.forward(q, abc, x), p, np.ones((3, 5)),
                           implementation=3)


def test_masked_kernel_drops_pruned_features_and_jacobian_agrees():
    """A mask that keeps everything gives the dense kernel; the Jacobian route (any model)
    equals the structured one on a masked MLP."""
    x, _ = _problem(n=6, d=5, k=3)
    rng = np.random.default_rng(0)
    params = [jax.numpy.asarray(rng.normal(size=s).astype(np.float32) / np.sqrt(s[0]))
              for s in ((5, 7), (7, 3))]
    ones = [np.ones(p.shape, np.float32) for p in params]
    np.testing.assert_allclose(entk.masked_mlp_entk(params, ones, x),
                               entk.masked_mlp_entk(params, None, x), rtol=1e-5)
    masks = [(rng.random(p.shape) < 0.4).astype(np.float32) for p in params]

    def apply(p, xb):
        w = [a * m for a, m in zip(p, masks)]
        return pz.forward_multiplied(w, jax.numpy.ones(2), xb, jax.nn.relu)[0]

    np.testing.assert_allclose(entk.jacobian_entk(apply, params, x),
                               entk.masked_mlp_entk(params, masks, x), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,activation", [("sp", "tanh"), ("mup", "relu")])
def test_full_tangent_alignment_matches_centred_jacobians_by_brute_force(name, activation):
    """Baratin et al.'s definition (tfjgeorge/ntk_alignment): Jacobians of every output centred
    over the examples, K their (N k) x (N k) Gram, y one-hot centred and flattened."""
    x, _ = _problem(n=9, d=6, k=3)
    labels = np.arange(9) % 3
    y = np.eye(3, dtype=np.float32)[labels]
    abc = pz.named(name, 2)
    params = pz.init(jax.random.PRNGKey(2), abc, 6, 7, 3)
    ours = entk.mlp_layer_tangent_alignment(params, abc, x, y, activation)
    yc = (y - y.mean(0)).ravel()  # (N k,) example-major

    def align(jac):  # jac (N, k, P): per-example, per-output Jacobian of a group
        j = np.asarray(jac, np.float64)
        j = (j - j.mean(0)).reshape(9 * 3, -1)
        k = j @ j.T
        return yc @ k @ yc / (np.linalg.norm(k) * yc @ yc)

    f = lambda p, xi: pz.forward(p, abc, xi[None], activation)[0]
    jac = jax.vmap(jax.jacrev(f), in_axes=(None, 0))(params, x)  # [(N, k, fan_in, fan_out)]
    per_layer = [align(np.asarray(j).reshape(9, 3, -1)) for j in jac]
    whole = align(np.concatenate([np.asarray(j).reshape(9, 3, -1) for j in jac], axis=2))
    np.testing.assert_allclose(ours, per_layer + [whole], rtol=2e-4)
    # it is not the output-averaged centred alignment (Cortes et al.), the other definition
    from ntkpaper import alignment
    cka = alignment.alignment(entk.mlp_layer_kernels(params, abc, x, activation=activation)
                              .sum(0), y)
    assert abs(cka - whole) > 0.05
    with pytest.raises(ValueError, match="constant targets"):
        entk.mlp_layer_tangent_alignment(params, abc, x, np.ones_like(y), activation)
    with pytest.raises(ValueError, match=r"y must be \(N, k\) = \(9, 3\)"):
        entk.mlp_layer_tangent_alignment(params, abc, x, y[:, :2], activation)


def test_full_tangent_alignment_with_biases_matches_brute_force():
    """Biases stored as each matrix's last row: each layer's kernel covers weights and bias."""
    x, _ = _problem(n=9, d=6, k=3)
    y = np.eye(3, dtype=np.float32)[np.arange(9) % 3]
    rng = np.random.default_rng(3)
    params = [rng.normal(size=s).astype(np.float32) / np.sqrt(s[0])
              for s in ((7, 5), (6, 5), (6, 3))]
    abc = pz.named("sp", 2)
    ours = entk.mlp_layer_tangent_alignment(params, abc, x, y, "tanh", bias=True)

    m = pz.multipliers(abc, 5, 6)  # SP here: 1/sqrt(d) on the input layer, 1 elsewhere

    def f(p, xi):  # the bias shares its layer's multiplier
        h = m[0] * (jax.numpy.append(xi, 1.0) @ p[0])
        for mi, w in zip(m[1:], p[1:]):
            h = mi * (jax.numpy.append(jax.numpy.tanh(h), 1.0) @ w)
        return h

    jac = jax.vmap(jax.jacrev(f), in_axes=(None, 0))(params, x)
    yc = (y - y.mean(0)).ravel()

    def align(j):
        j = np.asarray(j, np.float64).reshape(9, 3, -1)
        j = (j - j.mean(0)).reshape(27, -1)
        k = j @ j.T
        return yc @ k @ yc / (np.linalg.norm(k) * yc @ yc)

    want = [align(j) for j in jac] + [align(np.concatenate(
        [np.asarray(j).reshape(9, 3, -1) for j in jac], axis=2))]
    np.testing.assert_allclose(ours, want, rtol=2e-4)


# ---------------------------------------------------------------------------------------------
# Any model: named parameter groups of a stax network, a plain-jax list of (W, b) and a
# flax-like nested dict


def _stax_mlp(d=4, k=3, width=6, seed=0):
    from ntkpaper import nt
    stax = nt.stax
    init_fn, apply_fn, _ = stax.serial(stax.Dense(width, b_std=0.1), stax.Relu(),
                                       stax.Dense(width, b_std=0.1), stax.Relu(), stax.Dense(k))
    _, params = init_fn(jax.random.PRNGKey(seed), (-1, d))
    # selectors of each layer's parameters in a pytree shaped like params (the Relu's () empty)
    return apply_fn, params, ["[0]", "[2]", "[4]"], [lambda t, i=i: t[i] for i in (0, 2, 4)]


def _list_mlp(d=4, k=3, width=6, seed=0):
    rng = np.random.default_rng(seed)
    params = [(jax.numpy.asarray(rng.normal(size=(d, width)).astype(np.float32) / 2),
               jax.numpy.asarray(rng.normal(size=width).astype(np.float32) / 4)),
              (jax.numpy.asarray(rng.normal(size=(width, k)).astype(np.float32) / 2),
               jax.numpy.asarray(rng.normal(size=k).astype(np.float32) / 4))]

    def apply_fn(p, x):
        return jax.numpy.tanh(x @ p[0][0] + p[0][1]) @ p[1][0] + p[1][1]

    return apply_fn, params, ["[0]", "[1]"], [lambda t, i=i: t[i] for i in (0, 1)]


def _dict_mlp(d=4, k=3, width=6, seed=0):
    rng = np.random.default_rng(seed)
    dense = lambda a, b: {"kernel": jax.numpy.asarray(rng.normal(size=(a, b)), np.float32) / 2,
                          "bias": jax.numpy.asarray(rng.normal(size=b), np.float32) / 4}
    params = {"params": {"Dense_0": dense(d, width), "Dense_1": dense(width, width),
                         "Dense_2": dense(width, k)}}

    def apply_fn(v, x):
        p = v["params"]
        h = jax.nn.gelu(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
        h = jax.nn.relu(h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"])
        return h @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"]

    names = [f"params/Dense_{i}" for i in range(3)]
    return apply_fn, params, names, [lambda t, i=i: t["params"][f"Dense_{i}"] for i in range(3)]


MODELS = {"stax": _stax_mlp, "list_of_W_b": _list_mlp, "flax_like_dict": _dict_mlp}


def _brute_jacobians(apply_fn, params, x, selectors):
    """Per group (N, k, P_g) float64 Jacobians, from jax.jacrev of the whole batch."""
    jac = jax.jacrev(lambda p: apply_fn(p, jax.numpy.asarray(x)))(params)
    return [np.concatenate([np.asarray(j, np.float64).reshape(len(x), -1 if j.ndim == 1 else
                                                             j.shape[1], -1)
                            for j in jax.tree_util.tree_leaves(sel(jac))], axis=2)
            for sel in selectors]


def test_param_groups_of_common_pytrees():
    names = lambda p, depth=None: [g.name for g in entk.param_groups(p, depth)]
    z = np.zeros
    assert names(_stax_mlp()[1]) == ["[0]", "[2]", "[4]"]  # the Relu's () skipped
    assert names([z((2, 3)), z((3, 1))]) == ["[0]", "[1]"]
    assert names(_list_mlp()[1]) == ["[0]", "[1]"]
    assert names(_list_mlp()[1], depth=2) == ["[0][0]", "[0][1]", "[1][0]", "[1][1]"]
    assert names(_dict_mlp()[1]) == ["params/Dense_0", "params/Dense_1", "params/Dense_2"]
    assert names(_dict_mlp()[1], 3)[:2] == ["params/Dense_0/bias", "params/Dense_0/kernel"]
    assert names({"layers": [(z(2), z(0)), (), (z(0),)]}) == ["layers[0]"]  # zero-size: empty
    assert names(z((2, 2))) == ["(root)"] and names(_list_mlp()[1], 0) == ["(root)"]
    with pytest.raises(ValueError, match="depth must be None or an integer"):
        entk.param_groups([z(2)], depth=-1)
    with pytest.raises(ValueError, match="no array leaves"):
        entk.param_groups([(), ()])


@pytest.mark.parametrize("family", MODELS)
def test_layer_kernels_sum_to_the_entk_and_match_brute_force_jacobians(family):
    apply_fn, params, want_names, selectors = MODELS[family]()
    rng = np.random.default_rng(1)
    x, x2 = (rng.normal(size=(n, 4)).astype(np.float32) for n in (7, 5))
    names, kernels = entk.layer_kernels(apply_fn, params, x, x2, block=3)  # blocks too
    full_names, full = entk.layer_kernels(apply_fn, params, x, x2, kind="full")
    assert names == full_names == want_names
    assert kernels.shape == (len(names), 7, 5) and full.shape == (len(names), 21, 15)
    j1 = _brute_jacobians(apply_fn, params, x, selectors)
    j2 = _brute_jacobians(apply_fn, params, x2, selectors)
    want = np.stack([np.einsum("ncp,mcp->nm", a, b) / 3 for a, b in zip(j1, j2)])
    want_full = np.stack([a.reshape(21, -1) @ b.reshape(15, -1).T for a, b in zip(j1, j2)])
    scale = np.abs(want).max()
    np.testing.assert_allclose(kernels, want, rtol=1e-4, atol=1e-6 * scale)
    np.testing.assert_allclose(full, want_full, rtol=1e-4, atol=1e-6 * scale)
    # the output-averaged kernel is the average of the full kernel's diagonal output blocks
    diag = full.reshape(len(names), 7, 3, 5, 3).diagonal(axis1=2, axis2=4).mean(-1)
    np.testing.assert_allclose(diag, kernels, rtol=1e-5, atol=1e-7 * scale)
    # the groups' kernels sum to the whole eNTK (neural-tangents), and NT per group agrees
    whole = entk.empirical_ntk(apply_fn, params, x, x2, implementation=1)
    np.testing.assert_allclose(kernels.sum(0), whole, rtol=1e-4, atol=1e-6 * scale)
    if family == "stax":  # the issue's case: NT per group, the Relus' empty groups skipped
        per_group = entk.nt_layer_kernels(apply_fn, params, x, x2)
        np.testing.assert_allclose(per_group, kernels, rtol=1e-4, atol=1e-6 * scale)
    # symmetric case: x2 = x
    sym = entk.layer_kernels(apply_fn, params, x).kernels
    np.testing.assert_allclose(sym, np.stack([np.einsum("ncp,mcp->nm", a, a) / 3 for a in j1]),
                               rtol=1e-4, atol=1e-6 * scale)
    # groups by name (a path prefix at any depth) or from param_groups at another depth
    sub = entk.layer_kernels(apply_fn, params, x, x2, groups=[names[-1]])
    assert sub.names == [names[-1]]
    np.testing.assert_allclose(sub.kernels[0], kernels[-1], rtol=1e-6)
    depth = len(entk.param_groups(params)[0].path) + 1  # one level below the layers
    deep = entk.layer_kernels(apply_fn, params, x, x2, groups=entk.param_groups(params, depth))
    # weights and biases apart (stax's last Dense has bias None: no leaf); the same total
    assert len(deep.names) == len(jax.tree_util.tree_leaves(params)) > len(names)
    np.testing.assert_allclose(deep.kernels.sum(0), whole, rtol=1e-4, atol=1e-6 * scale)


@pytest.mark.parametrize("name,activation", [("ntp", "relu"), ("mup", "tanh")])
def test_layer_kernels_and_alignment_equal_the_structured_ones_on_our_mlp(name, activation):
    x, y = _problem(n=9, d=6, k=3)
    y = np.eye(3, dtype=np.float32)[np.arange(9) % 3]
    abc = pz.named(name, 2)
    params = pz.init(jax.random.PRNGKey(4), abc, 6, 16, 3)
    f = lambda p, inputs: pz.forward(p, abc, inputs, activation)
    names, kernels = entk.layer_kernels(f, params, x)
    assert names == ["[0]", "[1]", "[2]"]
    ours = entk.mlp_layer_kernels(params, abc, x, activation=activation)
    np.testing.assert_allclose(kernels, ours, rtol=2e-4, atol=1e-6 * np.abs(ours).max())
    al = entk.layer_tangent_alignment(f, params, x, y)
    assert al.names == [*names, "all"]
    np.testing.assert_allclose(al.values,
                               entk.mlp_layer_tangent_alignment(params, abc, x, y, activation),
                               rtol=2e-4)


@pytest.mark.parametrize("family", ["stax", "flax_like_dict"])
def test_layer_tangent_alignment_matches_centred_jacobians_by_brute_force(family):
    apply_fn, params, want_names, selectors = MODELS[family]()
    x = np.random.default_rng(2).normal(size=(9, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(9) % 3]
    names, values = entk.layer_tangent_alignment(apply_fn, params, x, y)
    yc = (y - y.mean(0)).ravel()

    def align(j):
        j = (j - j.mean(0)).reshape(27, -1)
        k = j @ j.T
        return yc @ k @ yc / (np.linalg.norm(k) * yc @ yc)

    jac = _brute_jacobians(apply_fn, params, x, selectors)
    assert names == [*want_names, "all"]
    np.testing.assert_allclose(values, [align(j) for j in jac]
                               + [align(np.concatenate(jac, axis=2))], rtol=2e-4)
    with pytest.raises(ValueError, match=r"y must be \(N, k\) = \(9, 3\)"):
        entk.layer_tangent_alignment(apply_fn, params, x, y[:, :2])
    with pytest.raises(ValueError, match="constant targets"):
        entk.layer_tangent_alignment(apply_fn, params, x, np.ones_like(y))


def test_degenerate_groups_are_refused_by_name():
    x = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    w = jax.numpy.ones((4, 2))
    params = {"used": w, "unused": jax.numpy.ones((3, 3))}
    apply_fn = lambda p, inputs: inputs @ p["used"]
    with pytest.raises(ValueError, match=r"group 'unused' gives an all-zero kernel on these "
                                         r"inputs.*output is unused, dead ReLUs"):
        entk.layer_kernels(apply_fn, params, x)
    names, k = entk.layer_kernels(apply_fn, params, x, allow_zero=True)
    assert names == ["unused", "used"] and not np.any(k[0]) and np.any(k[1])
    # dead ReLUs: a first-layer bias that switches every unit off
    stax_apply, stax_params, _, _ = _stax_mlp()
    dead = [(stax_params[0][0], stax_params[0][1] - 100.0), *stax_params[1:]]
    with pytest.raises(ValueError, match=r"group '\[0\]' gives an all-zero kernel"):
        entk.layer_kernels(stax_apply, dead, x)
    x_nan = x.copy()
    x_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"group 'used' gives a non-finite kernel"):
        entk.layer_kernels(apply_fn, {"used": w}, x_nan)
    # the Recorder's usual error (a zero group's alignment) names the group in entk too
    with pytest.raises(ValueError, match=r"zero kernel \(group 'b'\)"):
        entk.tangent_alignment([np.ones((2, 1, 2, 1)), np.zeros((2, 1, 2, 1))],
                               np.array([[0.0], [1.0]]), names=["a", "b"])


def test_layer_kernels_bad_input_is_clear():
    apply_fn, params, _, _ = _list_mlp()
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="kind must be 'averaged' or 'full'"):
        entk.layer_kernels(apply_fn, params, x, kind="diagonal")
    with pytest.raises(ValueError, match=r"unknown parameter group 'nope'; the default groups "
                                         r"are \['\[0\]', '\[1\]'\]"):
        entk.layer_kernels(apply_fn, params, x, groups=["nope"])
    with pytest.raises(ValueError, match=r"groups '\[0\]' and '\[0\]\[1\]' share the parameter "
                                         r"'\[0\]\[1\]'"):
        entk.layer_kernels(apply_fn, params, x, groups=["[0]", "[0][1]"])
    with pytest.raises(TypeError, match="groups must be None, a depth"):
        entk.layer_kernels(apply_fn, params, x, groups="[0]")
    with pytest.raises(ValueError, match=r"x2 must be \(N2, 4\) like x"):
        entk.layer_kernels(apply_fn, params, x, np.zeros((2, 5)))
    with pytest.raises(TypeError, match="apply_fn must be callable"):
        entk.layer_kernels(params, apply_fn, x)
    with pytest.raises(ValueError, match="must return one array \\(N, ...\\) with a row per"):
        entk.layer_kernels(lambda p, inputs: apply_fn(p, inputs).sum(0), params, x)
    with pytest.raises(ValueError, match="apply_fn\\(params, x\\) failed on x of shape"):
        entk.layer_kernels(apply_fn, params, np.zeros((3, 5)))
    with pytest.raises(TypeError, match="has dtype int32; only floating-point"):
        entk.layer_kernels(lambda p, inputs: apply_fn(p["w"], inputs),
                           {"w": params, "step": np.zeros((), np.int32)}, x)
