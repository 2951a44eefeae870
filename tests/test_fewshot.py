"""Few-shot data (Omniglot format reader, glyph stand-in, episode sampler) and MAML limits."""

import io
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntkpaper import architectures as A
from ntkpaper import fewshot as F
from ntkpaper import nt
from ntkpaper import parametrization as P
from ntkpaper.data import glyphs as G

MPL_FONTS = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf"


def _omniglot_zip(path, split="images_background", alphabets=("Alpha", "Beta"), chars=2,
                  drawings=3):
    """A miniature in the official layout: 105x105 1-bit PNGs, black strokes on white."""
    from PIL import Image

    rng = np.random.default_rng(0)
    truth = {}
    with zipfile.ZipFile(path, "w") as zf:
        for a in alphabets:
            for c in range(1, chars + 1):
                for d in range(1, drawings + 1):
                    img = np.ones((105, 105), bool)
                    r = rng.integers(10, 90)
                    img[r:r + 8, 20:80] = False            # a horizontal stroke
                    buf = io.BytesIO()
                    Image.fromarray(img).save(buf, format="PNG")
                    zf.writestr(f"{split}/{a}/character{c:02d}/{c:04d}_{d:02d}.png",
                                buf.getvalue())
                    truth[(a, c, d)] = r
    return truth


def test_read_omniglot_zip_reads_the_official_layout(tmp_path):
    import hashlib

    path = tmp_path / "images_background.zip"
    truth = _omniglot_zip(path)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    cs = G.read_omniglot_zip(path, md5, side=35)
    assert cs.images.shape == (4, 3, 35, 35)
    assert cs.alphabets == ["Alpha", "Beta"] and cs.alphabet.tolist() == [0, 0, 1, 1]
    assert set(cs.split) == {"background"}
    # ink = 1 on the stroke rows (105 -> 35: rows / 3), background 0
    r = truth[("Alpha", 1, 1)] // 3
    assert cs.images[0, 0, r + 1, 10] > 0.9 and cs.images[0, 0, 0, 0] < 0.05
    with pytest.raises(ValueError, match="md5"):
        G.read_omniglot_zip(path, "0" * 32)


def test_read_omniglot_zip_rejects_other_layouts(tmp_path):
    path = tmp_path / "images_evaluation.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("images_evaluation/Alpha/0001_01.png", b"")
    with pytest.raises(ValueError, match="unexpected member"):
        G.read_omniglot_zip(path)


def test_glyph_rendering_and_distortion():
    from PIL import ImageFont

    font = ImageFont.truetype(str(MPL_FONTS / "DejaVuSans.ttf"), size=112)
    g = G.render_glyph(font, "\u05d0", 56)                     # Hebrew alef
    assert g.shape == (56, 56) and g.max() > 0.9 and g.sum() > 20
    rows, cols = np.nonzero(g > 0.5)
    assert abs(rows.mean() - 27.5) < 6 and abs(cols.mean() - 27.5) < 6   # centred
    a, b = (G.distort(g, np.random.default_rng(s)) for s in (0, 1))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, G.distort(g, np.random.default_rng(0)))
    assert 0.5 < a.sum() / g.sum() < 2.0                          # ink roughly preserved


def test_build_glyphs_gives_disjoint_alphabets_and_distinct_characters(tmp_path):
    # DejaVu fonts (shipped with matplotlib) under the Noto file pattern the builder looks for
    for src, dst in [("DejaVuSans.ttf", "NotoSansA-Regular.ttf"),
                     ("DejaVuSerif.ttf", "NotoSansB-Regular.ttf")]:
        (tmp_path / dst).write_bytes((MPL_FONTS / src).read_bytes())
    cs = G.build_glyphs(tmp_path, n_background=1, n_evaluation=1, drawings=4, side=20,
                        max_chars=16)
    assert cs.images.shape[1:] == (4, 20, 20) and len(cs.alphabets) == 2
    assert len(set(cs.alphabets)) == 2
    bg, ev = cs.subset("background"), cs.subset("evaluation")
    assert set(bg.alphabet) & set(ev.alphabet) == set()
    assert len(bg.images) + len(ev.images) == len(cs.images)
    protos = cs.images.mean(1).reshape(len(cs.images), -1)
    assert len(np.unique(np.round(protos, 3), axis=0)) == len(protos)
    with pytest.raises(ValueError, match="asked for 3"):
        G.build_glyphs(tmp_path, n_background=2, n_evaluation=1, drawings=2, side=20)
    with pytest.raises(ValueError, match="split must be"):
        cs.subset("test")


def test_load_glyphs_returns_the_same_set_built_or_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    for src, dst in [("DejaVuSans.ttf", "NotoSansA-Regular.ttf"),
                     ("DejaVuSerif.ttf", "NotoSansB-Regular.ttf")]:
        (tmp_path / dst).write_bytes((MPL_FONTS / src).read_bytes())
    monkeypatch.setattr(G, "noto_font_dir", lambda: tmp_path)
    first = G.load_glyphs(n_background=1, n_evaluation=1, drawings=2, side=16)
    again = G.load_glyphs(n_background=1, n_evaluation=1, drawings=2, side=16)
    np.testing.assert_array_equal(first.images, again.images)
    assert first.alphabets == again.alphabets and list(first.split) == list(again.split)
    assert len(list(tmp_path.glob("glyphs_*.npz"))) == 1 and not list(tmp_path.glob("*.part"))


def test_episode_sampler_shapes_labels_and_disjointness():
    C, D = 12, 6
    # every image is unique: character c, drawing d -> constant value c * D + d
    images = (np.arange(C * D, dtype=np.float32).reshape(C, D, 1, 1)
              * np.ones((1, 1, 3, 3), np.float32))
    xs, ys, xq, yq = F.sample_episodes(images, 50, ways=4, shots=2, queries=3,
                                       rng=np.random.default_rng(0), standardize=False)
    assert xs.shape == (50, 8, 9) and xq.shape == (50, 12, 9)
    assert ys.shape == (50, 8) and yq.shape == (50, 12)
    for t in range(50):
        s_id, q_id = xs[t, :, 0].astype(int), xq[t, :, 0].astype(int)
        assert len(set(s_id // D)) == 4                   # 4 distinct characters
        assert set(s_id) & set(q_id) == set()             # no drawing both support and query
        for lab in range(4):                              # one character per label
            chars = set(s_id[ys[t] == lab] // D) | set(q_id[yq[t] == lab] // D)
            assert len(chars) == 1
            assert (ys[t] == lab).sum() == 2 and (yq[t] == lab).sum() == 3
    z = F.sample_episodes(images + np.arange(9, dtype=np.float32).reshape(3, 3), 2, 2, 1, 1,
                          np.random.default_rng(0))[0]
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(-1), 1, atol=1e-3)
    with pytest.raises(ValueError, match="at least 20 characters"):
        F.sample_episodes(images, 1, 20, 1, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="exceeds the 6 drawings"):
        F.sample_episodes(images, 1, 2, 4, 3, np.random.default_rng(0))


def _xy(n=12, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), \
        rng.standard_normal((n, k)).astype(np.float32)


def test_vectorised_draws_are_uniform_ordered_subsets():
    # the sampler's draw equals the first k of a uniformly random permutation
    keys = np.random.default_rng(0).random((4000, 7))
    for k in (1, 3, 7):
        np.testing.assert_array_equal(F._first_of_permutations(keys, k),
                                      np.argsort(keys, axis=1)[:, :k])
    # and so every character is equally likely under every label: 4000 draws of 3 of 7,
    # each (label, character) cell expects 4000/7 ~ 571 with sd ~ 22
    draw = F._first_of_permutations(keys, 3)
    counts = np.stack([np.bincount(draw[:, j], minlength=7) for j in range(3)])
    assert np.all(np.abs(counts - 4000 / 7) < 5 * np.sqrt(4000 / 7 * 6 / 7)), counts
    assert all(len(set(row)) == 3 for row in draw)


def test_standardize_images_gives_zero_mean_unit_variance_per_image():
    imgs = np.random.default_rng(1).random((3, 4, 5, 5)) * 7 + 2
    flat = F.standardize_images(imgs)
    assert flat.shape == (3, 4, 25) and flat.dtype == np.float32
    np.testing.assert_allclose(flat.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(-1), 1, atol=1e-4)


def test_orthonormal_width_d_plus_k_net_is_the_computed_muP_linear_limit():
    """limit_params trained by gradient descent = notebook 02's closed recursion (exact)."""
    x, y = _xy()
    abc = P.named("mup", 1)
    p0 = F.limit_params(x.shape[1], y.shape[1])
    p1, _ = P.train(p0, abc, x, y, eta=0.5, steps=20, activation="identity")
    lim = P.linear_limit_train(P.linear_limit_state(x.shape[1], y.shape[1]), x, y, 0.5, 20,
                               x_test=x)
    np.testing.assert_allclose(np.asarray(P.forward(p1, abc, x, "identity")), lim["test"][-1],
                               rtol=1e-4, atol=1e-5)


def _images(C=20, D=4, side=4, seed=0):
    return np.random.default_rng(seed).random((C, D, side, side)).astype(np.float32)


def test_wide_mup_maml_approaches_the_limit():
    chars = _images()
    abc = P.named("mup", 1)
    kw = dict(ways=3, shots=1, queries=1, inner_lr=1.0, inner_steps=1, outer_lr=1.0,
              meta_steps=10, batch=4, activation="identity", chunk=10)
    eps = F.sample_episodes(chars, 30, 3, 1, 1, np.random.default_rng(5))
    err = {}

    def outputs(p):
        n = p[0].shape[1]
        return np.asarray(P.forward_multiplied(p, P.multipliers(abc, n, 16), eps[2].reshape(-1, 16),
                                     P.ACTIVATIONS["identity"])[0])

    lim = F.maml_train(F.limit_params(16, 3), abc, chars, **kw).params
    ref = outputs(lim)
    for n in (64, 4096):
        p = F.maml_train(P.init(jax.random.PRNGKey(1), abc, 16, n, 3), abc, chars, **kw).params
        err[n] = np.linalg.norm(outputs(p) - ref) / np.linalg.norm(ref)
    assert err[4096] < 0.35 * err[64]


def test_maml_keeps_the_best_validation_checkpoint():
    chars = _images()
    abc = P.named("mup", 1)
    kw = dict(ways=3, shots=1, queries=1, inner_lr=1.0, inner_steps=1, outer_lr=3.0,
              batch=4, activation="identity", chunk=2)
    val = F.sample_episodes(chars, 40, 3, 1, 1, np.random.default_rng(9))
    p0 = P.init(jax.random.PRNGKey(3), abc, 16, 32, 3)
    res = F.maml_train(p0, abc, chars, meta_steps=7, val=val, val_every=2, **kw)
    np.testing.assert_array_equal(res.val_steps, [2, 4, 6, 7])
    assert res.best_step == res.val_steps[np.argmax(res.val_acc)]
    acc = F.maml_accuracy(res.params, abc, val, inner_lr=1.0, inner_steps=1)
    assert acc.mean() == pytest.approx(res.val_acc.max())
    # the same task stream without validation reaches the same parameters at those steps
    again = F.maml_train(p0, abc, chars, meta_steps=res.best_step, **kw)
    for a, b in zip(again.params, res.params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    full = F.maml_train(p0, abc, chars, meta_steps=7, **kw)
    assert full.best_step == 7 and len(full.val_acc) == 0
    for a, b in zip(full.params, res.last):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_kernel_adaptation_is_the_wide_centred_ntp_net_adaptation():
    """One inner SGD step of a wide centred NTP net = one NTK gradient step from f = 0."""
    chars = _images()
    xs, ys, xq, yq = F.sample_episodes(chars, 3, 3, 1, 2, np.random.default_rng(2))
    _, _, kernel_fn = A.fc(1, W_std=1.0, b_std=None, activation="relu", out_dim=3)
    k_ss, k_qs = F.task_kernels(kernel_fn, xs, xq, "ntk")
    lr = 2.0
    ref = F.kernel_adapt(k_ss, k_qs, ys, 3, lr, steps=1)
    # one step from 0 by hand: f_q = lr K_qs (y - 1/ways) / s
    y = np.eye(3)[ys]
    np.testing.assert_allclose(ref, lr * np.einsum("tij,tjc->tic", k_qs, y - 1 / 3) / 3,
                               rtol=1e-5)
    # a wide NTP net's first inner step moves its query outputs by -lr K_qs (softmax(f0) - y) / s
    # with the analytic NTK, whatever its (random, O(1)) initial function f0
    abc = P.named("ntp", 1)
    phi = P.ACTIVATIONS["relu"]
    err = []
    for n in (128, 8192):
        p = P.init(jax.random.PRNGKey(0), abc, 16, n, 3)
        m = P.multipliers(abc, n, 16)
        for t in range(3):
            q = F._adapt(p, m, xs[t], ys[t], lr, 1, phi)
            got = (P.forward_multiplied(q, m, xq[t], phi)[0]
                   - P.forward_multiplied(p, m, xq[t], phi)[0])
            f0 = P.forward_multiplied(p, m, xs[t], phi)[0]
            want = -lr * k_qs[t] @ (jax.nn.softmax(f0) - y[t]) / 3
            err.append(float(np.linalg.norm(got - want) / np.linalg.norm(want)))
    assert max(err[3:]) < 0.1 and np.mean(err[3:]) < 0.3 * np.mean(err[:3])
    with pytest.raises(ValueError, match="kind"):
        F.task_kernels(kernel_fn, xs, xq, "gp")


def test_kernel_grid_reads_one_descent_at_every_step_count():
    chars = _images()
    eps = F.sample_episodes(chars, 12, 3, 1, 2, np.random.default_rng(4))
    _, _, kernel_fn = A.fc(1, W_std=1.0, b_std=None, activation="relu", out_dim=3)
    grid = F.kernel_grid(kernel_fn, eps, 3, [0.5, 4.0], [1, 2, 5])
    assert len(grid) == 2 * 2 * 3
    for r in grid.itertuples():
        acc = F.kernel_accuracy(kernel_fn, eps, r.kind, r.lr, r.steps, 3)
        assert r.acc == pytest.approx(acc.mean())
    k_ss, k_qs = F.task_kernels(kernel_fn, eps[0], eps[2], "ntk")
    assert np.all(F.kernel_adapt(k_ss, k_qs, eps[1], 3, 1.0, 0) == 0)


# ---- TP4's protocol --------------------------------------------------------------------------

def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _hand_grads(w1, b1, w2, x, y, alpha):
    """Gradients of the mean cross-entropy of z = w2 (w1 x + alpha b1), written out."""
    h = x @ w1.T + alpha * b1
    dz = (_softmax(h @ w2.T) - np.eye(w2.shape[0])[y]) / len(x)
    dh = dz @ w2
    return dh.T @ x, alpha * dh.sum(0), dz.T @ h


def test_tp4_meta_step_against_a_hand_computation():
    """One meta-step on 2 tasks of a 3-pixel, 2-way problem with the limit's parameters plus a
    perturbation (so no gradient vanishes): one inner SGD step on every parameter, the query
    gradient at the adapted parameters summed over the tasks, clipped to global norm 0.5."""
    rng = np.random.default_rng(0)
    cfg = F.TP4Config(inner_lr=0.4, train_steps=1, meta_lr=0.3, clip=0.5, sigma1=1.0,
                            sigma2=0.5, bias_alpha=2.0)
    p = F.tp4_params(np.inf, 3, 2, cfg)
    p = {k: np.asarray(v, np.float64) + 0.3 * rng.normal(size=v.shape) for k, v in p.items()}
    xs, xq = rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 4, 3))
    ys, yq = np.array([[0, 1], [1, 0]]), np.array([[0, 1, 1, 0], [1, 1, 0, 0]])
    total = [np.zeros_like(p["w1"]), np.zeros_like(p["b1"]), np.zeros_like(p["w2"])]
    for t in range(2):
        g = _hand_grads(p["w1"], p["b1"], p["w2"], xs[t], ys[t], 2.0)
        q = [a - 0.4 * ga for a, ga in zip((p["w1"], p["b1"], p["w2"]), g)]
        for i, ga in enumerate(_hand_grads(*q, xq[t], yq[t], 2.0)):
            total[i] += ga
    norm = np.sqrt(sum((a**2).sum() for a in total))
    assert norm > 0.5  # the clip is active
    coef = 0.5 / (norm + 1e-6)  # torch's clip_grad_norm_, as TP4 calls it
    expected = [a - 0.3 * coef * ga for a, ga in zip((p["w1"], p["b1"], p["w2"]), total)]
    with nt.x64():
        new, _, got_norm = F.tp4_meta_step({k: jnp.asarray(v) for k, v in p.items()},
                                                 xs, ys, xq, yq, cfg)
    assert float(got_norm) == pytest.approx(norm, rel=1e-10)
    for key, e in zip(("w1", "b1", "w2"), expected):
        np.testing.assert_allclose(np.asarray(new[key]), e, rtol=1e-10, atol=1e-12)


def test_tp4_limit_is_the_wide_net():
    """A width-n projection of TP4's limit computes the limit's function up to O(n^-1/2),
    also after meta-training on the same tasks: 16x the width, ~1/4 of the deviation."""
    rng = np.random.default_rng(1)
    chars = (rng.random((12, 4, 6, 6)) > 0.7).astype(np.float32)
    cfg = F.TP4Config(batch=4, sigma2=0.5)
    eps = F.sample_episodes(chars.reshape(12, 4, -1), 8, 3, 1, 1, rng, standardize=False)
    out = {}
    for width in (np.inf, 2500, 40000):
        p = F.tp4_params(width, 36, 3, cfg, jax.random.PRNGKey(2))
        res = F.tp4_maml_train(p, chars, cfg, ways=3, shots=1, queries=1, meta_steps=5,
                                     seed=3)
        out[width] = np.asarray(F.tp4_logits(res.params, eps[2].reshape(-1, 36), 1.0))
    scale = np.abs(out[np.inf]).max()
    assert scale > 0.01  # meta-training moved the limit away from f = 0
    err = {n: np.abs(out[n] - out[np.inf]).max() for n in (2500, 40000)}
    assert 0.15 < err[40000] / err[2500] < 0.4, err
    assert err[40000] < 0.3 * scale
    with pytest.raises(ValueError, match="finite width"):
        F.tp4_params(16, 36, 3, cfg)


def test_rotate_classes_adds_three_rotations_per_character():
    chars = np.arange(2 * 1 * 3 * 3, dtype=float).reshape(2, 1, 3, 3)
    out = F.rotate_classes(chars)
    assert out.shape == (8, 1, 3, 3)
    np.testing.assert_array_equal(out[2], np.rot90(chars[0], 1, axes=(1, 2)))
    np.testing.assert_array_equal(out[6], np.rot90(chars[0], 3, axes=(1, 2)))
