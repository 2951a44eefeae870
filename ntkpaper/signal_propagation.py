"""Forward and backward information loss per layer, and the layer where they balance (Lou et al.
2022, the Equilibrium Hypothesis), in mean field and measured on a network.

Lou, Mingard, Nam & Hayou, *Feature learning and signal propagation in deep neural networks*
(ICML 2022, arXiv 2110.11749). Their abstract: "the layers that achieve some balance between
forward and backward information loss are the ones with the highest alignment to data labels";
a summary of the paper states the balanced layer's index scales as ``L^{3/5}`` in fully connected
networks. **The paper's own equations could not be read here** (only its abstract; its code,
bugbuglou/NTK_alignment, measures alignment and holds no signal-propagation code). What follows
is our reconstruction from mean-field signal propagation (Poole et al. 2016, Schoenholz et al.
2017, Hayou et al. 2019); it reproduces the 3/5 exponent for ReLU at sigma_w^2 = 2, sigma_b = 0
(the He initialisation of their code), which is why we take it as the rule. Treat it as ours.

Network. ``h^1 = W^1 x + b^1``, ``h^{l+1} = W^{l+1} phi(h^l) + b^{l+1}``, output ``f = h^{L+1}``;
weights ``N(0, sigma_w^2 / fan_in)``, biases ``N(0, sigma_b^2)``. Weight layer ``l`` (1 .. L + 1)
has input ``a^{l-1} = phi(h^{l-1})`` (``a^0 = x``) and backward signal ``delta^l = df/dh^l``; its
tangent kernel is ``<a^{l-1}, a'^{l-1}> <delta^l, delta'^l>``, a forward Gram times a backward one.

* Forward information at layer l: ``F_l = 1 - c(a^{l-1})``, one minus the correlation (cosine)
  of two inputs' layer-l inputs. It falls with depth as inputs become alike (forward loss) in
  the ordered phase and at the edge of chaos; in the chaotic phase it rises.
* Backward information at layer l: ``B_l = corr(delta^l, delta'^l)``. It is 1 at the readout
  (``delta^{L+1}`` is the identity for every input) and falls going down, as the gradients of
  different inputs decorrelate (backward loss). In mean field
  ``B_l = prod_{k=l}^{L} chi_c(k) / chi(k)`` with ``chi_c = sigma_w^2 E[phi'(u) phi'(u')]``,
  ``chi = sigma_w^2 E[phi'(u)^2]`` at the layer's pre-activation variance and correlation.
* The balanced (predicted) layer: where ``log F_l`` and ``log B_l`` cross, i.e. the argmin of
  ``|log F_l - log B_l|``. Lou et al.'s exponent follows for ReLU on the edge of chaos:
  ``1 - c^l ~ 9 pi^2 / (2 l^2)`` and ``B_l ~ (l / L)^3`` give ``l* ~ 2.1 L^{3/5}`` (slowly:
  the crossing's local slope in L at L = 10-100 depends on the inputs' correlation, about 0.67
  at c = 0 and 0.8 at c = 0.5; tests check the limit). Where the curves never cross,
  :func:`balanced_layer` returns their nearest approach.

:func:`mean_field` computes these quantities for infinitely wide networks (Gauss-Hermite
quadrature; ReLU in closed form); :func:`measured` measures them on a finite network's
signals (:func:`ntkpaper.entk.signals`) on a probe set; :func:`balanced_layer` finds the crossing.

Shapes: per-layer arrays have L + 1 entries, index 0 = weight layer 1.
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("relu", "tanh", "identity")
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(80)  # probabilists' Hermite: N(0, 1)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _phi(z, activation):
    if activation == "relu":
        return np.maximum(z, 0.0)
    if activation == "tanh":
        return np.tanh(z)
    return z


def _dphi(z, activation):
    if activation == "relu":
        return (z > 0).astype(np.float64)
    if activation == "tanh":
        return 1.0 - np.tanh(z) ** 2
    return np.ones_like(z)


def _check(activation: str, sigma_w: float, sigma_b: float):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if sigma_w <= 0 or sigma_b < 0:
        raise ValueError(f"need sigma_w > 0 and sigma_b >= 0, got {sigma_w}, {sigma_b}")


def gaussian_pair_mean(g, q: float, c: float) -> float:
    """``E[g(u, u')]`` for ``(u, u') ~ N(0, q [[1, c], [c, 1]])`` by 80 x 80 Gauss-Hermite."""
    c = float(np.clip(c, -1.0, 1.0))
    z1, z2 = np.meshgrid(_NODES, _NODES, indexing="ij")
    w = np.outer(_WEIGHTS, _WEIGHTS)
    s = np.sqrt(q)
    u = s * z1
    v = s * (c * z1 + np.sqrt(max(1.0 - c * c, 0.0)) * z2)
    return float(np.sum(w * g(u, v)))


def _post_moments(q: float, c: float, activation: str) -> tuple[float, float]:
    """``(E[phi(u)^2], E[phi(u) phi(u')])`` at pre-activation variance q and correlation c."""
    if activation == "relu":  # the arc-cosine kernel of degree 1 (Cho & Saul 2009)
        c = float(np.clip(c, -1.0, 1.0))
        return q / 2, q / (2 * np.pi) * (np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * c)
    if activation == "identity":
        return q, q * c
    return (gaussian_pair_mean(lambda u, v: _phi(u, activation) ** 2, q, 1.0),
            gaussian_pair_mean(lambda u, v: _phi(u, activation) * _phi(v, activation), q, c))


def _chis(q: float, c: float, sigma_w: float, activation: str) -> tuple[float, float]:
    """``(chi, chi_c) = sigma_w^2 (E[phi'(u)^2], E[phi'(u) phi'(u')])``."""
    if activation == "relu":
        c = float(np.clip(c, -1.0, 1.0))
        return sigma_w**2 / 2, sigma_w**2 * (np.pi - np.arccos(c)) / (2 * np.pi)
    if activation == "identity":
        return sigma_w**2, sigma_w**2
    return (sigma_w**2 * gaussian_pair_mean(lambda u, v: _dphi(u, activation) ** 2, q, 1.0),
            sigma_w**2 * gaussian_pair_mean(
                lambda u, v: _dphi(u, activation) * _dphi(v, activation), q, c))


def mean_field(depth: int, sigma_w: float, sigma_b: float, activation: str,
               q_input: float = 1.0, c_input: float = 0.5) -> dict[str, np.ndarray]:
    """Forward and backward information per weight layer of an infinitely wide MLP.

    Args:
        depth: hidden layers L; the weight layers are 1 .. L + 1.
        q_input: ``|x|^2 / d`` of the inputs; c_input: their correlation (cosine).

    Returns:
        arrays of L + 1 entries: ``forward`` (F_l), ``backward`` (B_l), ``q`` and ``c``
        (variance and correlation of the pre-activations h^l) and ``chi`` (at h^l, the readout's
        entry is nan).
    """
    _check(activation, sigma_w, sigma_b)
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    q_in, c_in = float(q_input), float(c_input)
    forward, qs, cs = [], [], []
    sq_in, cross_in = q_in, q_in * c_in  # second moments of the layer input a^{l-1}
    for _ in range(depth + 1):
        forward.append(1.0 - cross_in / sq_in)
        q = sigma_w**2 * sq_in + sigma_b**2
        c = (sigma_w**2 * cross_in + sigma_b**2) / q
        qs.append(q)
        cs.append(c)
        sq_in, cross_in = _post_moments(q, c, activation)
    ratio = np.ones(depth + 1)  # chi_c / chi at the hidden layers h^1 .. h^L
    chis = np.full(depth + 1, np.nan)
    for i in range(depth):
        chi, chi_c = _chis(qs[i], cs[i], sigma_w, activation)
        chis[i], ratio[i] = chi, chi_c / chi
    backward = np.array([np.prod(ratio[i:depth]) for i in range(depth + 1)])
    return {"forward": np.asarray(forward), "backward": backward, "q": np.asarray(qs),
            "c": np.asarray(cs), "chi": chis}


def balanced_layer(forward, backward) -> int:
    """The weight layer (1-based) where ``log forward`` and ``log backward`` are closest: the
    crossing of the two information curves (the Equilibrium Hypothesis's prediction)."""
    f, b = np.asarray(forward, np.float64), np.asarray(backward, np.float64)
    if f.shape != b.shape or f.ndim != 1 or not len(f):
        raise ValueError(f"forward and backward must be 1-D of one length, got {f.shape}, "
                         f"{b.shape}")
    gap = np.abs(np.log(np.maximum(f, 1e-300)) - np.log(np.maximum(b, 1e-300)))
    return int(np.argmin(gap)) + 1


def _mean_offdiag_cosine(m: np.ndarray) -> float:
    m = np.asarray(m, np.float64).reshape(len(m), -1)
    norms = np.linalg.norm(m, axis=1)
    keep = norms > 0
    m = m[keep] / norms[keep, None]
    n = len(m)
    if n < 2:
        return float("nan")
    s = m.sum(axis=0)
    return float((s @ s - n) / (n * (n - 1)))


def measured(inputs, deltas) -> dict[str, np.ndarray]:
    """Forward and backward information measured on a finite network's signals.

    Args:
        inputs: per weight layer, its inputs ``a^{l-1}`` (N, fan_in) (a bias column of ones may be
            appended: it is dropped when constant); deltas: per weight layer ``delta^l``
            (N, k, fan_out) (:func:`ntkpaper.entk.signals`).

    Returns:
        ``forward`` (1 - the mean pairwise cosine of the layer inputs over the N probe points)
        and ``backward`` (the mean pairwise cosine of the backward signals, outputs flattened),
        arrays of one entry per weight layer.
    """
    if len(inputs) != len(deltas):
        raise ValueError(f"{len(inputs)} layer inputs but {len(deltas)} backward signals")
    forward, backward = [], []
    for a, d in zip(inputs, deltas):
        a = np.asarray(a, np.float64)
        if a.shape[1] > 1 and np.all(a[:, -1] == 1.0):
            a = a[:, :-1]  # the bias's constant input
        forward.append(1.0 - _mean_offdiag_cosine(a))
        backward.append(_mean_offdiag_cosine(np.asarray(d)))
    return {"forward": np.asarray(forward), "backward": np.asarray(backward)}
