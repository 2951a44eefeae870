"""What a profile will cost before it runs: ``ntkpaper run --profile full --plan``.

**Every number here is an extrapolation, not a measurement.** The only measurements are

* each notebook's committed ``cpu`` timings, ``figures/cpu/<stem>/timings.csv``: the wall time of
  every ``run.section`` (``time_s.<section>``), of the whole notebook (``time_s.total``) and the
  kernel's peak memory (``peak_rss_mb``), on a 2-core CPU at the ``cpu`` profile;
* one GPU run: notebook 03's few-shot networks at the ``full`` budget on an NVIDIA H100
  (``benchmarks/results/fewshot_full_glyphs_acc.csv``, column ``seconds``; see the ``.md`` beside
  it).

**CPU estimate.** For each section, :data:`MODELS` holds a cost model: a function of the resolved
profile parameters returning the section's work in flop-equivalents, split by kind of work (below).
Each model follows the section's code (the ``with run.section(...)`` block and the driver it
calls) and keeps the few terms that dominate; its assumptions are in its comments. The estimate
at profile P is ``time_cpu(section) * cost(P) / cost(cpu)``: at ``cpu`` it returns the ledger
exactly, and elsewhere it is only as good as the model's exponents. Fixed costs that do not scale
(jit compilation, one Python round trip per optimizer step) are converted to work at an assumed
:data:`R_CPU` flop-eq/s, which sets only their weight relative to the arithmetic. A section that
the ``cpu`` profile skips (notebook 06's LeNet-5) borrows the seconds-per-unit of a sibling
section that runs the same code (``rate_from``), and says so.

**GPU estimate (one H100 and its 16-core host).** One speed-up factor per kind of work; the
estimate is ``sum over kinds of cpu_seconds(kind) / factor(kind)``:

=============  ==================================================  =========================
kind           what                                                factor
=============  ==================================================  =========================
``nets``       jax training/evaluation of networks whose work per   **measured**: calibrated
               step is within the calibration run's (up to 1.2e10  on notebook 03's few-shot
               flop per step: width-8192 MAML on 32 tasks)         H100 run (about x20)
``wide-nets``  the same, beyond that range (wide or deep nets,      **assumed**: the H100's
               full-batch)                                         marginal throughput for
                                                                   the widest few-shot nets
                                                                   (widths 2048 -> 8192,
                                                                   about x90) holds for
                                                                   larger matmuls
``arrays``     other jax array work: analytic kernel matrices      **assumed** x30
               (float64), empirical NTKs, kernel descent
``host``       numpy/scipy LAPACK (Cholesky, eigh) and gensim: on  **assumed** x5 (16 vs 2
               the GPU machine they still run on the host CPU      cores, imperfect scaling)
``overhead``   jit compilation, Python round trips per step, data  **assumed** x1
               loading, episode sampling on the host
=============  ==================================================  =========================

The ``nets`` factor is fitted so that the model reproduces the H100 run's total time for the
few-shot networks (the ``overhead`` part of that run, compilation and episode sampling, counted at
x1); it is a latency-bound workload, so for the much larger per-step work of the ``wide-nets`` the
marginal factor is used instead. If the benchmark file or notebook 03's ledger is missing, the two
fall back to :data:`FALLBACK_FACTORS` and are reported as assumed.

**Memory.** ``peak_rss_mb`` of the cpu ledger plus the growth of the largest arrays held at once
(each notebook's ``memory`` function, in bytes) from the ``cpu`` profile to P; compared with the
GPU machine's 128 GiB of host memory. Device memory is not modelled.

A notebook without a profile table, a cost model or a committed cpu ledger (a future notebook 07),
and a ledger section without a model, are reported as "no estimate", never an error.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from ntkpaper import paths
from ntkpaper.pipeline import profiles

# ---------------------------------------------------------------------------------------------
# Assumptions shared by the models

R_CPU = 2e10          # flop-eq/s of the 2-core machine; the ledgers imply 2e10-5e10 for the models
COMPILE_S = 1.5       # one jit compilation on the 2-core machine (s)
FIT_STEP_S = 2e-3     # training.fit / NTT / train_sparse: one jitted call + host syncs per step (s)
PY_TOKEN_S = 1e-6     # word2vec: Python/gensim handling of one token, per model (s)
BUDGET_S = 600.0      # the target: each notebook's full run within 10 minutes on one H100
HOST_RAM_MB = 128 * 1024  # host memory of the GPU machines

KINDS = ("nets", "wide-nets", "arrays", "host", "overhead")
FALLBACK_FACTORS = {"nets": 20.0, "wide-nets": 90.0, "arrays": 30.0, "host": 5.0,
                    "overhead": 1.0}
ASSUMED_FACTORS = {"arrays": 30.0, "host": 5.0, "overhead": 1.0}

D_MNIST = 784         # 28 x 28 inputs (MNIST, Fashion-MNIST, Omniglot and its stand-in)
D_IMAGE = {"mnist": 784, "fashion_mnist": 784, "cifar10": 3072}  # CIFAR-10 assumed real
K = 10                # classes

Work = dict  # kind -> flop-equivalents


def _sum(*parts: Work) -> Work:
    out: Work = {}
    for part in parts:
        for kind, w in part.items():
            if w:
                out[kind] = out.get(kind, 0.0) + float(w)
    return out


def _secs(seconds: float) -> Work:
    """A fixed cost in seconds on the 2-core machine, as work."""
    return {"overhead": seconds * R_CPU}


def _compiles(n: float) -> Work:
    return _secs(n * COMPILE_S)


def _fit_steps(n: float) -> Work:
    """Python-loop optimizer steps (one dispatch and host sync each)."""
    return _secs(n * FIT_STEP_S)


# The calibration run's largest work per step: width-8192 first-order MAML, 32 tasks of 5 support
# and 5 query images of 784 pixels (see _maml_task_flops): 32 * 6 * 784 * 10 * 8192 = 1.2e10.
CALIBRATED_STEP_FLOPS = 32 * 6 * D_MNIST * 10 * 8192


def _train(steps: float, per_step: float, runs: float = 1.0, extra: float = 0.0) -> Work:
    """``runs`` training loops of ``steps`` steps of ``per_step`` flops (plus ``extra`` flops of
    evaluation of the same networks): ``nets`` within the calibrated range, else ``wide-nets``."""
    kind = "nets" if per_step <= CALIBRATED_STEP_FLOPS else "wide-nets"
    return {kind: runs * (steps * per_step + extra)}


def _mlp_params(d: int, width: int, depth: int, k: int = K) -> int:
    """Weights of a bias-free MLP with ``depth`` hidden layers of ``width``."""
    return d * width + (depth - 1) * width * width + width * k


def _mlp_layers(d: int, width: int, depth: int, k: int = K) -> list[tuple[int, int]]:
    return [(d, width)] + [(width, width)] * (depth - 1) + [(width, k)]


def _entk_structured(n: int, layers: list[tuple[int, int]], k: int) -> float:
    """``entk.mlp_layer_kernels`` on n inputs: k backward passes per input (jacrev, ~4x the
    weights each) plus one Gram matrix per layer, ``2 n^2 (fan_in + k fan_out)``."""
    params = sum(i * o for i, o in layers)
    return n * k * 4 * params + 2 * n * n * sum(i + k * o for i, o in layers)


# ---------------------------------------------------------------------------------------------
# 01 · infinite-width baselines


def _kpair(depth: int) -> float:
    """Flop-eq per kernel entry of the closed-form ReLU recursion (``kernels.relu_fc_kernels``,
    and neural-tangents' equivalent): the input dot product (2 D) plus ~300 per layer for
    arccos/sin/sqrt in float64 over ~10 memory-bound temporaries. Depth: the deepest tried
    (an upper bound on the depth chosen on validation)."""
    return 2 * D_MNIST + 300 * depth


def _nb01_tuning(p) -> Work:
    # per data set and sigma_b^2: kernels train x train and val x train for all depths at once,
    # then per depth and kernel an eigendecomposition (9 n^3) reused for every ridge
    t, v, lmax = p.TUNE_N_TRAIN, p.N_VAL, max(p.DEPTHS)
    passes = len(p.DATASETS) * len(p.BIAS_VARS)
    solves = passes * len(p.DEPTHS) * 2
    return _sum({"arrays": passes * (t * t + v * t) * _kpair(lmax)},
                {"host": solves * (9 * t**3 + 2 * v * t * t + len(p.DIAG_REGS) * 2 * v * t * K)},
                _compiles(2 * passes))


def _nb01_accuracy(p) -> Work:
    # per data set and size n: kernels (n^2 + N_TEST n), two float64 Cholesky solves (n^3 / 3
    # each) and their test products
    m, lmax = p.N_TEST, max(p.DEPTHS)
    arrays = host = 0.0
    for _ in p.DATASETS:
        for n in p.N_TRAIN_SIZES:
            arrays += (n * n + m * n) * _kpair(lmax)
            host += 2 * (n**3 / 3 + 2 * m * n * K)
    return _sum({"arrays": arrays, "host": host},
                _compiles(2 * len(p.DATASETS) * len(p.N_TRAIN_SIZES)))


def _nb01_depth(p) -> Work:
    # per data set, one kernel pass per distinct sigma_b^2 among the best configs (at most
    # len(BIAS_VARS)); a Cholesky solve per kernel and depth at TUNE_N_TRAIN
    t, m, lmax = p.TUNE_N_TRAIN, p.N_TEST, max(p.DEPTHS)
    passes = len(p.DATASETS) * len(p.BIAS_VARS)
    return _sum({"arrays": passes * (t * t + m * t) * _kpair(lmax)},
                {"host": len(p.DATASETS) * 2 * len(p.DEPTHS) * (t**3 / 3 + 2 * m * t * K)},
                _compiles(2 * passes))


def _nb01_memory(p) -> float:
    # accuracy_vs_n at the largest n: NNGP and NTK train kernels for up to two depths (4 n^2), the
    # ridge copy, its dtype copy and the Cholesky factor (3 n^2), four N_TEST x n test kernels
    n, m = max(p.N_TRAIN_SIZES), p.N_TEST
    return 8.0 * (7 * n * n + 4 * m * n)


# ---------------------------------------------------------------------------------------------
# 02 · muP feature learning


def _nb02_coord(p) -> Work:
    # 3 parametrizations x widths x seeds: COORD_STEPS full-batch steps on COORD_N_INPUTS inputs
    # plus
    # four forward passes; dominated at small sizes by one compilation per width
    runs = [_train(p.COORD_STEPS, 6 * p.COORD_N_INPUTS * _mlp_params(D_MNIST, w, p.N_HIDDEN),
                   runs=3 * p.N_SEEDS,
                   extra=4 * 2 * p.COORD_N_INPUTS * _mlp_params(D_MNIST, w, p.N_HIDDEN))
            for w in p.COORD_WIDTHS]
    return _sum(*runs, _compiles(len(p.COORD_WIDTHS)),
                _secs(3 * len(p.COORD_WIDTHS) * p.N_SEEDS * 0.05))


def _nb02_features(p) -> Work:
    # NTP and muP x widths x seeds: FEATURE_STEPS steps on N_TRAIN; the empirical NTK on
    # FEATURE_N_PROBE inputs before and after, through neural-tangents implementation 2: 13 probe^2
    # params flop-eq (fitted to benchmarks/results/entk_cpu.md, nt2_whole), compiled per call
    parts = []
    for w in p.FEATURE_WIDTHS:
        prm = _mlp_params(D_MNIST, w, p.N_HIDDEN)
        parts.append(_train(p.FEATURE_STEPS, 6 * p.N_TRAIN * prm, runs=2 * p.N_SEEDS,
                            extra=4 * 2 * p.N_TRAIN * prm))
        parts.append({"arrays": 2 * p.N_SEEDS * 2 * 13 * p.FEATURE_N_PROBE**2 * prm})
    nw = len(p.FEATURE_WIDTHS)
    return _sum(*parts, _compiles(nw + 2 * 2 * nw * p.N_SEEDS))


def _nb02_sweep(p) -> Work:
    # 4 grids (SGD/Adam x SP/muP), every (width, seed, eta): SWEEP_STEPS full-batch steps on
    # N_TRAIN in one jitted scan (6 N params per step; Adam's per-weight work is negligible)
    etas = sum(len(v) for v in p.SWEEP_LOG2_LRS.values()) + \
        sum(len(v) for v in p.ADAM_LOG2_LRS.values())
    runs = [_train(p.SWEEP_STEPS, 6 * p.N_TRAIN * _mlp_params(D_MNIST, w, p.N_HIDDEN),
                   runs=p.N_SEEDS * etas) for w in p.SWEEP_WIDTHS]
    return _sum(*runs, _compiles(2 * len(p.SWEEP_WIDTHS)),
                _secs(len(p.SWEEP_WIDTHS) * p.N_SEEDS * etas * 0.01))


def _nb02_linear(p) -> Work:
    # the closed muP-limit recursion (numpy, float64) run twice: per step ~8 d^2 k + 4 N d k,
    # plus the test outputs; identity-FC kernels, an eigen-solver and a Cholesky at N_TRAIN;
    # one-hidden-layer linear nets per width and seed
    n, m, d, s = p.N_TRAIN, p.N_TEST, D_MNIST, p.LIMIT_STEPS
    nets = [_train(s, 6 * n * _mlp_params(d, w, 1), runs=p.N_SEEDS,
                   extra=2 * m * _mlp_params(d, w, 1)) for w in p.LIMIT_WIDTHS]
    return _sum({"host": 2 * (s + 1) * (8 * d * d * K + 4 * n * d * K) + (s + 1) * 2 * m * d * K
                 + 9 * n**3 + 2 * m * n * n + n**3 / 3},
                {"arrays": (n * n + m * n) * (2 * d + 50)}, *nets,
                _compiles(len(p.LIMIT_WIDTHS) + 3))


def _nb02_relu(p) -> Work:
    # ReLU kernels, eigen-solver and Cholesky at N_TRAIN; NTP (centred) and muP nets per width
    # and seed, plus one reference net of RELU_REF_WIDTH, LIMIT_STEPS full-batch steps each
    n, m, d, s = p.N_TRAIN, p.N_TEST, D_MNIST, p.LIMIT_STEPS
    nets = [_train(s, 6 * n * _mlp_params(d, w, 1), runs=2 * p.N_SEEDS,
                   extra=3 * 2 * max(n, m) * _mlp_params(d, w, 1)) for w in p.RELU_WIDTHS]
    ref = _train(s, 6 * n * _mlp_params(d, p.RELU_REF_WIDTH, 1),
                 extra=2 * m * _mlp_params(d, p.RELU_REF_WIDTH, 1))
    return _sum({"arrays": (n * n + m * n) * _kpair(1)},
                {"host": 9 * n**3 + 2 * m * n * n + n**3 / 3}, *nets, ref,
                _compiles(len(p.RELU_WIDTHS) + 3))


def _nb02_memory(p) -> float:
    # the widest net (float32): the reference ReLU net's weights x4 (p0, p1, grads, update) and
    # its N x width activations x3; or the widest sweep net with Adam's two moments (x6)
    ref = 4.0 * (4 * _mlp_params(D_MNIST, p.RELU_REF_WIDTH, 1)
                 + 3 * max(p.N_TRAIN, p.N_TEST) * p.RELU_REF_WIDTH)
    w = max(p.SWEEP_WIDTHS)
    sweep = 4.0 * (6 * _mlp_params(D_MNIST, w, p.N_HIDDEN) + 2 * p.N_HIDDEN * p.N_TRAIN * w)
    return max(ref, sweep)


# ---------------------------------------------------------------------------------------------
# 03 · muP Word2Vec and few-shot

# words of each cleaned corpus (text.py: the stand-in is 497k words, text8 is 17,005,207); the
# share kept by the vocabulary and by sub-sampling is assumed the same for both (82% in
# vocabulary measured on the stand-in at V=3000)
W2V_WORDS = {"wiki_standin": 497_000, "text8": 17_005_207}


def _nb03_word2vec(p) -> Work:
    # gensim CBOW with negative sampling, per model: EPOCHS x tokens x width x (4 WINDOW
    # context reads/updates + 4 (NEGATIVE + 1) dots/updates); models: the muP widths, NTP and SP
    # widths, the muP limit (width = VOCAB) and gensim's 100-d reference. Plus Python/gensim
    # handling of every token per model, and the analogy search (questions ~0.31 V, measured
    # 937 at V = 3000). gensim's threads (W2V_WORKERS per model, W2V_JOBS models at once) share
    # the cores: on the ledger's 2 cores 2 threads halve the training time (the ledger ran 1 x 2);
    # the GPU machine's host factor (x5, 16 cores) then assumes >= 16 threads, as in the full
    # profile (fewer: optimistic)
    words = W2V_WORDS.get(p.W2V_CORPUS, W2V_WORDS["text8"])
    tokens = min(words, p.W2V_MAX_TOKENS) if p.W2V_MAX_TOKENS else words
    widths = [*p.W2V_MUP_WIDTHS, *p.W2V_OTHER_WIDTHS, *p.W2V_OTHER_WIDTHS, p.W2V_VOCAB, 100]
    per_token = 4 * p.W2V_WINDOW + 4 * (p.W2V_NEGATIVE + 1)
    questions = 0.31 * p.W2V_VOCAB
    cores = min(max(p.W2V_WORKERS * p.W2V_JOBS, 1), 2)
    return _sum({"host": p.W2V_EPOCHS * tokens * per_token * sum(widths) / cores
                 + questions * p.W2V_VOCAB * 2 * sum(widths)},
                _secs(len(widths) * tokens * PY_TOKEN_S))


def _nb03_word2vec_tp4(p) -> Work:
    # ntkpaper.cbow (numba, on the host), per model and seed: EPOCHS x tokens x width x (3
    # passes over ~WINDOW context rows + 2 passes over 26 output rows: window 8, negative 25);
    # models: the muP widths and the limit (width = VOCAB, dominant). Analogy search after every
    # epoch (questions ~0.31 V). Threads: W2V_TP4_JOBS models at once, W2V_TP4_WORKERS each; the
    # ledger's 2 cores ran 2 x 1; the host factor (x5, 16 cores) assumes >= 16 threads at full
    widths = [*p.W2V_TP4_WIDTHS, p.W2V_VOCAB]
    words = W2V_WORDS.get(p.W2V_CORPUS, W2V_WORDS["text8"])
    tokens = min(words, p.W2V_MAX_TOKENS) if p.W2V_MAX_TOKENS else words
    per_token = 3 * 8 + 2 * 26
    threads = min(max(p.W2V_TP4_JOBS * p.W2V_TP4_WORKERS, 1), 2)
    questions = 0.31 * p.W2V_VOCAB
    return _sum({"host": p.W2V_TP4_SEEDS * p.W2V_TP4_EPOCHS * sum(widths)
                 * (tokens * per_token / threads + questions * p.W2V_VOCAB * 2)},
                _secs(3.0))  # numba's compilation (cached after the first run)


def _nb03_fewshot_data(p) -> Work:
    # loading (cached) characters: a constant (the first Omniglot run also reads and resizes
    # ~32k images, tens of seconds, not modelled)
    return _secs(1.0)


def _maml_task_flops(p) -> tuple[float, float]:
    """Flops per task and unit width: meta-training (inner SGD steps on the support set, then
    forward+backward on the queries, 6 d flops per image and unit width each) and evaluation
    (adaptation plus a forward pass on the queries)."""
    s, q = p.FS_WAYS * p.FS_SHOTS, p.FS_WAYS * p.FS_QUERIES
    return (6 * D_MNIST * (s * p.FS_INNER_STEPS + q),
            2 * D_MNIST * (3 * s * p.FS_INNER_STEPS + q))


def _fewshot_nets(p) -> Work:
    # per activation, every muP width (and the linear limit, width d + ways): META_STEPS steps of
    # BATCH tasks; evaluation on the test tasks 3x (before, best, last) and on the validation
    # tasks at every checkpoint; host-side episode sampling (~20 flop-eq per pixel drawn); three
    # compilations per network
    train_f, eval_f = _maml_task_flops(p)
    checks = math.ceil(p.FS_META_STEPS / p.FS_VAL_EVERY) if p.FS_VAL_EVERY > 0 else 0
    eval_tasks = 3 * p.FS_TEST_TASKS + p.FS_VAL_TASKS * checks
    images = p.FS_WAYS * (p.FS_SHOTS + p.FS_QUERIES)
    parts, nets = [], 0
    for act in p.FS_ACTIVATIONS:
        widths = list(p.FS_WIDTHS) + ([D_MNIST + p.FS_WAYS] if act == "identity" else [])
        for w in widths:
            parts.append(_train(p.FS_META_STEPS, p.FS_BATCH * train_f * w,
                                extra=eval_tasks * eval_f * w))
            nets += 1
    sampling = nets * p.FS_META_STEPS * p.FS_BATCH * images * D_MNIST * 20
    return _sum(*parts, {"overhead": sampling}, _compiles(3 * nets))


def _fewshot_kernels(p) -> Work:
    # GP/NTK limits per activation: tiny per-task kernels (neural-tangents) on the validation and
    # test tasks, a Python loop of kernel-descent steps per rate; mostly compilation
    s, q = p.FS_WAYS * p.FS_SHOTS, p.FS_WAYS * p.FS_QUERIES
    per_task = 2 * (s * s + q * s) * 2 * D_MNIST
    n_act = len(p.FS_ACTIVATIONS)
    loops = n_act * 2 * len(p.KERNEL_LRS) * max(p.KERNEL_STEPS)
    return _sum({"arrays": n_act * (2 * p.FS_VAL_TASKS + p.FS_TEST_TASKS) * per_task},
                _compiles(8 * n_act), _secs(loops * 1e-3))


def _nb03_fewshot(p) -> Work:
    return _sum(_fewshot_nets(p), _fewshot_kernels(p))


def _nb03_fewshot_tp4(p) -> Work:
    # TP4's protocol: per seed, the linear limit (width d + ways) and every width: META_STEPS
    # steps of 32 tasks with one inner step (6 d flops per image and unit width, 4 passes), test
    # tasks twice with 20 inner steps, validation at every checkpoint; the four kernel limits
    # with 20 kernel steps per rate; host-side episode sampling and 3 compilations per network
    s, q, batch = p.FS_WAYS * p.FS_SHOTS, p.FS_WAYS * p.FS_QUERIES, 32
    train_f = 6 * D_MNIST * (s + q) * 2
    eval_f = 2 * D_MNIST * (3 * s * 20 + q)
    checks = math.ceil(p.FS_TP4_META_STEPS / p.FS_TP4_VAL_EVERY)
    parts, nets = [], 0
    for w in [D_MNIST + p.FS_WAYS, *p.FS_TP4_WIDTHS]:
        parts.append(_train(p.FS_TP4_META_STEPS, batch * train_f * w,
                            extra=(2 * p.FS_TEST_TASKS * eval_f
                                   + checks * p.FS_VAL_TASKS * eval_f / 10) * w,
                            runs=p.FS_TP4_SEEDS))
        nets += p.FS_TP4_SEEDS
    if len(p.FS_TP4_INNER_LRS) > 1:  # the inner-rate selection: the limit once per rate
        w = D_MNIST + p.FS_WAYS
        parts.append(_train(p.FS_TP4_SELECT_STEPS, batch * train_f * w,
                            extra=6 * p.FS_VAL_TASKS * eval_f * w,
                            runs=len(p.FS_TP4_INNER_LRS)))
        nets += len(p.FS_TP4_INNER_LRS)
    images = p.FS_WAYS * (p.FS_SHOTS + p.FS_QUERIES)
    sampling = nets * p.FS_TP4_META_STEPS * batch * images * D_MNIST * 20
    per_task = 2 * (s * s + q * s) * 2 * D_MNIST
    kernels = {"arrays": 2 * (2 * p.FS_VAL_TASKS + p.FS_TEST_TASKS) * per_task}
    loops = 2 * 2 * len(p.FS_TP4_KERNEL_LRS) * 20
    return _sum(*parts, kernels, {"overhead": sampling}, _compiles(3 * nets + 16),
                _secs(loops * 1e-3))


def _nb03_memory(p) -> float:
    # the muP limit of word2vec: two V x V float32 tables (and gensim's copies, x2); the corpus as
    # Python strings (~60 B per token, twice); the few-shot episodes of one chunk are small
    words = W2V_WORDS.get(p.W2V_CORPUS, W2V_WORDS["text8"])
    tokens = min(words, p.W2V_MAX_TOKENS) if p.W2V_MAX_TOKENS else words
    return 4.0 * 4 * p.W2V_VOCAB**2 + 2 * 60.0 * tokens


# ---------------------------------------------------------------------------------------------
# 04 · NTK alignment


def _record(n_probe: int, layers, k: int, eigh: bool = True) -> Work:
    """One Recorder call: per-layer eNTKs, then on the host per group alignment/distance/norms
    (~20 probe^2 each) and, for the whole kernel, an eigendecomposition (9 probe^3)."""
    host = (len(layers) + 1) * 20 * n_probe**2 + (9 * n_probe**3 if eigh else 0)
    return {"arrays": _entk_structured(n_probe, layers, k), "host": host}


def _fit_run(n: int, d: int, width: int, depth: int, k: int, steps: int, records: int,
             probe: int, eigh: bool = True, extra: float = 0.0) -> Work:
    """``experiments.nb04_ntk_alignment.train_and_record``: ``steps`` full-batch Adam/SGD steps
    in a Python loop (training.fit; its step function is compiled per run), ``records`` Recorder
    calls."""
    layers = _mlp_layers(d, width, depth, k)
    rec = _record(probe, layers, k, eigh)
    return _sum(_train(steps, 6 * n * _mlp_params(d, width, depth, k)),
                {kind: records * w for kind, w in rec.items()}, {"arrays": records * extra},
                _fit_steps(steps), _compiles(2))


def _full_alignment(probe: int, layers, k: int) -> float:
    """``entk.mlp_layer_tangent_alignment``: per layer the (probe k)^2 Gram of the backward
    signals (2 (probe k)^2 fan_out), its product with the input Gram and centring (~6 (probe
    k)^2), plus the signals themselves (``_entk_structured``)."""
    pk2 = (probe * k) ** 2
    return _entk_structured(probe, layers, k) + sum(2 * pk2 * o + 6 * pk2 for _, o in layers)


def _nb04_spectrum(p) -> Work:
    # two runs (constant lr, decayed lr) per seed on the 2-D regression (d = 2 plus the constant
    # input, k = 1), probe = all REG_N_TRAIN points, ~N_RECORD + 1 recordings
    run = _fit_run(p.REG_N_TRAIN, 3, p.REG_WIDTH, p.REG_DEPTH, 1, p.REG_STEPS, p.N_RECORD + 1,
                   p.REG_N_TRAIN,
                   extra=2 * p.REG_N_TRAIN * _mlp_params(3, p.REG_WIDTH, p.REG_DEPTH, 1))
    return _sum(*[run] * (2 * p.REG_SEEDS))


def _nb04_label(p) -> Work:
    # one run per random-label fraction and seed on LABEL_N_TRAIN MNIST images; each recording
    # also evaluates train and test accuracy (forward passes on LABEL_N_TRAIN and N_TEST) and the
    # full multi-output alignment on the probe and on up to LABEL_N_PROBE clean, corrupted and
    # test images (~4 probe-sized computations)
    prm = _mlp_params(D_MNIST, p.LABEL_WIDTH, p.LABEL_DEPTH)
    layers = _mlp_layers(D_MNIST, p.LABEL_WIDTH, p.LABEL_DEPTH, K)
    run = _fit_run(p.LABEL_N_TRAIN, D_MNIST, p.LABEL_WIDTH, p.LABEL_DEPTH, K, p.LABEL_STEPS,
                   p.N_RECORD, p.LABEL_N_PROBE,
                   extra=2 * (p.LABEL_N_TRAIN + p.N_TEST + p.LABEL_N_PROBE) * prm
                   + 4 * _full_alignment(p.LABEL_N_PROBE, layers, K))
    return _sum(*[run] * (len(p.RANDOM_FRACTIONS) * p.LABEL_SEEDS))


def _nb04_hierarchy(p) -> Work:
    # per configuration (each sigma_w at DEEP_DEPTH, and sigma_w = 1 at each of DEEP_DEPTHS) and
    # seed: DEEP_STEPS full-batch Adam steps of a tanh MLP with biases on DEEP_N_TRAIN images;
    # the full multi-output alignment per layer on DEEP_N_PROBE inputs at the start and end
    configs = [p.DEEP_DEPTH] * len(p.SIGMA_WS) + [L for L in p.DEEP_DEPTHS if L != p.DEEP_DEPTH]
    runs = []
    for L in configs:
        layers = _mlp_layers(D_MNIST, p.DEEP_WIDTH, L, K)
        runs.append(_sum(_train(p.DEEP_STEPS, 6 * p.DEEP_N_TRAIN
                                * _mlp_params(D_MNIST, p.DEEP_WIDTH, L)),
                         {"arrays": 2 * _full_alignment(p.DEEP_N_PROBE, layers, K)},
                         _fit_steps(p.DEEP_STEPS), _compiles(3)))
    return _sum(*[r for r in runs for _ in range(p.N_SEEDS)])


def _nb04_equilibrium(p) -> Work:
    # the ReLU depth sweep at He initialisation: the same per-network work as the hierarchy
    # (DEEP_STEPS Adam steps, the full alignment at the start and end) at each of RELU_DEPTHS
    runs = []
    for L in p.RELU_DEPTHS:
        layers = _mlp_layers(D_MNIST, p.DEEP_WIDTH, L, K)
        runs.append(_sum(_train(p.DEEP_STEPS, 6 * p.DEEP_N_TRAIN
                                * _mlp_params(D_MNIST, p.DEEP_WIDTH, L)),
                         {"arrays": 2 * _full_alignment(p.DEEP_N_PROBE, layers, K)},
                         _fit_steps(p.DEEP_STEPS), _compiles(3)))
    return _sum(*[r for r in runs for _ in range(p.N_SEEDS)])


def _nb04_width(p) -> Work:
    # NTP and muP x widths x seeds: WIDTH_STEPS SGD steps on WIDTH_N_TRAIN images, recordings at the
    # start and end on WIDTH_N_PROBE inputs
    runs = [_fit_run(p.WIDTH_N_TRAIN, D_MNIST, w, p.WIDTH_DEPTH, K, p.WIDTH_STEPS, 2,
                     p.WIDTH_N_PROBE)
            for w in p.WIDTHS]
    return _sum(*[r for r in runs for _ in range(2 * p.N_SEEDS)])


def _nb04_memory(p) -> float:
    # per-layer eNTKs (L + 1 float64 probe^2 matrices, the initial ones kept: x2) and the
    # backward signals (probe x k x width float32 per layer); full-batch activations
    def one(n, probe, width, depth):
        return (2 * 8.0 * (depth + 1) * probe**2 + 4.0 * probe * K * width * (depth + 1)
                + 4.0 * 3 * n * width * depth)
    # the full multi-output kernels: one layer's and the running sum, (probe k)^2 float32 each,
    # and einsum temporaries (x3)
    full = 3 * 2 * 4.0 * (max(p.LABEL_N_PROBE, p.DEEP_N_PROBE) * K) ** 2
    return max(full, one(p.REG_N_TRAIN, p.REG_N_TRAIN, p.REG_WIDTH, p.REG_DEPTH),
               one(max(p.LABEL_N_TRAIN, p.N_TEST), p.LABEL_N_PROBE, p.LABEL_WIDTH, p.LABEL_DEPTH),
               one(p.DEEP_N_TRAIN, p.DEEP_N_PROBE, p.DEEP_WIDTH, p.DEEP_DEPTH),
               one(p.WIDTH_N_TRAIN, p.WIDTH_N_PROBE, max(p.WIDTHS), p.WIDTH_DEPTH))


# ---------------------------------------------------------------------------------------------
# 05 · adaptive tangent features


def _fit_all(n: int, d: int, width: int, depth: int, k: int, steps: int) -> Work:
    """``experiments.nb05_adaptive_tangent_features.fit_all``: three Python-loop Adam fits of
    ``steps`` steps on n points (each compiled anew): the fixed model (a jvp and its gradient,
    ~12 n params), the adaptive model (the same plus V = P^T B Q^T per layer and its gradient,
    6 (fi^2 fo + fi fo^2)) and the network (6 n params)."""
    layers = _mlp_layers(d, width, depth, k)
    prm = sum(i * o for i, o in layers)
    fac = sum(i * i * o + i * o * o for i, o in layers)
    return _sum(_train(steps, 12 * n * prm), _train(steps, 12 * n * prm + 6 * fac),
                _train(steps, 6 * n * prm), _fit_steps(3 * steps), _compiles(3))


def _nb05_kernel_change(p) -> Work:
    # per target band: fit_all on the 2-D regression (d = 2, k = 1), then the initial, trained and
    # adapted eNTKs on all REG_N_TRAIN points and their alignments
    n = p.REG_N_TRAIN
    layers = _mlp_layers(2, p.REG_WIDTH, p.REG_DEPTH, 1)
    per = _sum(_fit_all(n, 2, p.REG_WIDTH, p.REG_DEPTH, 1, p.FIT_STEPS),
               {"arrays": 3 * _entk_structured(n, layers, 1), "host": 3 * 20 * n * n},
               _compiles(1))
    return _sum(*[per] * len(p.BANDS))


def _nb05_sample(p) -> Work:
    # per data set, size and seed (experiments.nb05_adaptive_tangent_features.certified_curve):
    # the fixed model in closed form (the full (n k)^2 kernel from the layer structure, one
    # float64 Cholesky of (n k)^3 / 3 per penalty on the host, a vjp per penalty), each penalty's
    # adaptive fit (ADAPTIVE_STEPS Adam steps: a jvp and its gradient plus V = P^T B Q^T and its
    # gradient per layer) and the network (NET_STEPS Adam steps); predictions on validation,
    # test and training sets (~4 forward passes each)
    parts = []
    for name in p.DATASETS:
        d = D_IMAGE.get(name, D_MNIST)
        layers = _mlp_layers(d, p.SAMPLE_WIDTH, p.SAMPLE_DEPTH, K)
        prm = sum(i * o for i, o in layers)
        fac = sum(i * i * o + i * o * o for i, o in layers)
        lams = len(p.SAMPLE_PENALTIES)
        for n in p.SAMPLE_SIZES:
            nk = n * K
            kernel = sum(2 * nk * nk * o + 2 * n * n * i for i, o in layers)
            per = _sum({"host": lams * nk**3 / 3 + 3 * nk * nk, "arrays": kernel},
                       _train(p.ADAPTIVE_STEPS, 12 * n * prm + 6 * fac, runs=lams),
                       _train(p.NET_STEPS, 6 * n * prm),
                       _fit_steps(lams * p.ADAPTIVE_STEPS + p.NET_STEPS),
                       _compiles(2 * lams + 1),
                       {"arrays": (2 * lams + 1) * 4 * 2 * (p.N_TEST + p.N_VAL + n) * prm})
            parts += [per] * p.N_SEEDS
        parts.append({"host": (max(p.SAMPLE_SIZES) + p.N_TEST + p.N_VAL) * d * 20})
    return _sum(*parts)


def _nb05_subspace(p) -> Work:
    # section 4: certified_curve on the synthetic task (d = SUB_D inputs, k = 2 classes), the
    # same per-fit work as section 3 at d = SUB_D, with SUB_NET_STEPS network steps
    layers = _mlp_layers(p.SUB_D, p.SAMPLE_WIDTH, p.SAMPLE_DEPTH, 2)
    prm = sum(i * o for i, o in layers)
    fac = sum(i * i * o + i * o * o for i, o in layers)
    lams = len(p.SAMPLE_PENALTIES)
    parts = []
    for n in p.SUB_SIZES:
        nk = 2 * n
        per = _sum({"host": lams * nk**3 / 3 + 3 * nk * nk,
                    "arrays": sum(2 * nk * nk * o + 2 * n * n * i for i, o in layers)},
                   _train(p.ADAPTIVE_STEPS, 12 * n * prm + 6 * fac, runs=lams),
                   _train(p.SUB_NET_STEPS, 6 * n * prm),
                   _fit_steps(lams * p.ADAPTIVE_STEPS + p.SUB_NET_STEPS),
                   _compiles(2 * lams + 1))
        parts += [per] * p.N_SEEDS
    return _sum(*parts)


def _nb05_memory(p) -> float:
    # the adaptive factors of the first layer (d x d, d x w, w x w) with Adam's moments and
    # gradients (x4), the jvp's activations on the largest training set, the test predictions
    d = max(D_IMAGE.get(name, D_MNIST) for name in p.DATASETS)
    w, n = p.SAMPLE_WIDTH, max(p.SAMPLE_SIZES)
    return 4.0 * (4 * (d * d + d * w + w * w) + 4 * n * w * (p.SAMPLE_DEPTH + 1)
                  + 2 * p.N_TEST * (d + w))


# ---------------------------------------------------------------------------------------------
# 06 · neural tangent transfer

# LeNet-5 on 28 x 28 images (sparsity.init_lenet5): weights and forward flops per image
LENET5_PARAMS = 5 * 5 * 6 + 5 * 5 * 6 * 16 + 400 * 120 + 120 * 84 + 84 * 10
LENET5_FWD = 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10)


def _sparse_study(p, densities, methods, arch: str) -> Work:
    """``experiments.nb06_neural_tangent_transfer.compute_sparse_comparison``: per seed the dense
    net and every (density, method), each trained TRAIN_EPOCHS epochs of Adam mini-batches in a
    Python loop (dense matmuls with masked weights: 3 forward costs per example and step),
    evaluated on N_TEST every epoch; NTT per (seed, density): NTT_STEPS label-free steps on
    NTT_BATCH inputs whose loss holds the teacher's and the student's eNTKs (k backward passes
    per input, then Gram matrices: dense for the teacher; for the student gathered features (2
    B^2 k nnz) when rho k < 0.5, else the masked contraction (2 B^2 fi fo); the CNN contracts
    per-example Jacobians, 2 B^2 params), forward, backward ~3x; an evaluation on 256 inputs
    every MASK_EVERY steps."""
    if not densities:
        return {}
    if arch == "mlp":
        layers = list(zip(p.DIMS[:-1], p.DIMS[1:]))
        fwd = 2 * sum(i * o for i, o in layers)
    else:
        layers, fwd = [], LENET5_FWD

    def entk_pair(b: int, rho: float) -> float:
        jac = 2 * b * K * 2 * fwd
        if arch != "mlp":
            return jac + 2 * 2 * b * b * LENET5_PARAMS
        teacher = 2 * b * b * sum(i + K * o for i, o in layers)
        student = 2 * b * b * sum(i * o * (K * rho if K * rho < 0.5 else 1.0) for i, o in layers)
        return jac + teacher + student

    trainings = p.N_SEEDS * (1 + len(densities) * len(methods))
    steps = p.TRAIN_EPOCHS * (p.N_TRAIN // p.TRAIN_BATCH)
    parts = [_train(steps, 3 * p.TRAIN_BATCH * fwd, runs=trainings,
                    extra=(p.TRAIN_EPOCHS + 1) * p.N_TEST * fwd + p.N_TRAIN * fwd),
             _fit_steps(trainings * steps), _compiles(2 * trainings)]
    if "ntt" in methods:
        for rho in densities:
            evals = p.NTT_STEPS // max(p.MASK_EVERY, 1) + 1
            parts += [_train(p.NTT_STEPS, 3 * entk_pair(p.NTT_BATCH, rho), runs=p.N_SEEDS,
                             extra=evals * entk_pair(256, rho)),
                      _fit_steps(p.N_SEEDS * p.NTT_STEPS), _compiles(3 * p.N_SEEDS)]
    return _sum(*parts)


def _nb06_official(p) -> Work:
    """``experiments.nb06_neural_tangent_transfer.compute_official`` (LeNet-300-100): per seed the
    dense net and every (density, method) trained OFFICIAL_TRAIN_STEPS Adam steps at batch 64 (3
    forward costs per example), test accuracy on N_TEST and train accuracy on 2,000 images every
    100 steps; per (seed, density) each NTT variant (``ntt``, ``ntt_output_only``) runs
    OFFICIAL_NTT_STEPS steps on 64 inputs whose loss holds the teacher's and the student's full
    (32, 32, k, k) kernels from the layer structure (forward, k-column backward, then per layer
    the Grams of inputs and of output derivatives: 2 * 32^2 (fan_in + k^2 fan_out)), backward ~3x;
    logged on 64 inputs every 100 steps with the kept-weights kernel too."""
    dims = [D_MNIST, 300, 100, K]
    layers = list(zip(dims[:-1], dims[1:]))
    fwd = 2 * sum(i * o for i, o in layers)
    kernel = 2 * 32 * 32 * sum(i + K * K * o for i, o in layers) + 2 * 64 * K * fwd
    kept = 2 * 32 * 32 * sum(i * o for i, o in layers)  # the logged kept-weights kernel
    nets = p.OFFICIAL_N_SEEDS * (1 + len(p.OFFICIAL_DENSITIES) * len(p.OFFICIAL_METHODS))
    records = p.OFFICIAL_TRAIN_STEPS // 100 + 2
    parts = [_train(p.OFFICIAL_TRAIN_STEPS, 3 * 64 * fwd, runs=nets,
                    extra=records * (p.N_TEST + 2000) * fwd),
             _fit_steps(nets * p.OFFICIAL_TRAIN_STEPS), _compiles(2 * nets)]
    n_ntt = sum(m.startswith("ntt") for m in p.OFFICIAL_METHODS)
    runs = p.OFFICIAL_N_SEEDS * len(p.OFFICIAL_DENSITIES) * n_ntt
    logs = p.OFFICIAL_NTT_STEPS // 100 + 2
    parts += [_train(p.OFFICIAL_NTT_STEPS, 3 * 2 * kernel, runs=runs,
                     extra=logs * (3 * kernel + kept)),
              _fit_steps(runs * p.OFFICIAL_NTT_STEPS), _compiles(2 * runs)]
    return _sum(*parts)


# LeNet-5-Caffe on 28 x 28 images (ntt.init_lenet5_caffe): parameters and forward flops per image
LENET5_CAFFE_PARAMS = 431_080
LENET5_CAFFE_FWD = 2 * (24 * 24 * 20 * 25 + 8 * 8 * 50 * 500 + 800 * 500 + 500 * K)


def _nb06_official_lenet5(p) -> Work:
    """Section 1b (``compute_official``, arch lenet5_caffe): as :func:`_nb06_official` with the
    CNN: training 3 forward costs per example; each transfer step builds the teacher's and the
    student's (B/2, B/2, k, k) kernels from per-example Jacobians (k backward passes per input,
    ~3 forward costs each, then the contraction 2 (B/2 k)^2 params), backward ~3x; logged on B
    inputs every 100 steps with the kept-weights kernel too."""
    if not p.OFFICIAL_CNN_DENSITIES:
        return {}
    b = p.OFFICIAL_CNN_NTT_BATCH
    kernel = 2 * (b * K * 3 * LENET5_CAFFE_FWD + 2 * (b // 2 * K) ** 2 * LENET5_CAFFE_PARAMS)
    nets = p.OFFICIAL_N_SEEDS * (1 + len(p.OFFICIAL_CNN_DENSITIES) * len(p.OFFICIAL_CNN_METHODS))
    records = p.OFFICIAL_CNN_TRAIN_STEPS // 100 + 2
    parts = [_train(p.OFFICIAL_CNN_TRAIN_STEPS, 3 * 64 * LENET5_CAFFE_FWD, runs=nets,
                    extra=records * (p.N_TEST + 2000) * LENET5_CAFFE_FWD),
             _fit_steps(nets * p.OFFICIAL_CNN_TRAIN_STEPS), _compiles(2 * nets)]
    n_ntt = sum(m.startswith("ntt") for m in p.OFFICIAL_CNN_METHODS)
    runs = p.OFFICIAL_N_SEEDS * len(p.OFFICIAL_CNN_DENSITIES) * n_ntt
    logs = p.OFFICIAL_CNN_NTT_STEPS // 100 + 2
    parts += [_train(p.OFFICIAL_CNN_NTT_STEPS, 3 * kernel, runs=runs, extra=logs * 2 * kernel),
              _fit_steps(runs * p.OFFICIAL_CNN_NTT_STEPS), _compiles(2 * runs)]
    return _sum(*parts)


def _nb06_mnist(p) -> Work:
    return _sparse_study(p, p.DENSITIES, p.METHODS, "mlp")


def _nb06_fashion(p) -> Work:
    return _sparse_study(p, p.FASHION_DENSITIES, p.METHODS, "mlp")


def _nb06_lenet5(p) -> Work:
    return _sparse_study(p, p.CNN_DENSITIES, p.CNN_METHODS, "lenet5")


def _nb06_memory(p) -> float:
    # train/test images (float32, ~3 copies); NTT's masked contraction on the 256 evaluation
    # inputs (256^2 x fan_in, x2); the CNN's per-example Jacobians (256 x k x params, x2)
    data = 4.0 * 3 * (p.N_TRAIN + p.N_TEST) * p.DIMS[0]
    ntt = 4.0 * 2 * 256**2 * max(p.DIMS[:-1])
    cnn = 4.0 * 2 * 256 * K * LENET5_PARAMS if p.CNN_DENSITIES else 0.0
    return data + ntt + cnn


# ---------------------------------------------------------------------------------------------
# 07 · finite vs infinite networks

HW_IMAGE = {"mnist": 784, "fashion_mnist": 784, "cifar10": 1024}  # pixels per image
CNN_PAIR_PER_PIXEL_LAYER = 600.0  # CNN-VEC kernel, flop-eq per pixel and conv layer: ~38 us per
# pair at R_CPU for 28 x 28 and depth 2 (timed for issue 16 with neural-tangents, float64)


def _nb07_dims(p, datasets) -> tuple[int, int]:
    """Largest input dimension and pixel count over ``datasets`` (CIFAR-10 assumed real)."""
    return (max(D_IMAGE.get(d, D_MNIST) for d in datasets),
            max(HW_IMAGE.get(d, 784) for d in datasets))


def _nb07_pairs(p, arch: str, n: int, others: int, d: int, hw: int) -> float:
    """flop-eq of one architecture's NNGP+NTK on n x (n + others) pairs."""
    per_pair = (2 * d + 300 * p.FC_DEPTH if arch == "fc"
                else CNN_PAIR_PER_PIXEL_LAYER * hw * p.CNN_DEPTH)
    return n * (n + others) * per_pair


def _nb07_kernels(p) -> Work:
    # per data set: FC and CNN-VEC kernels (train, val, test x train) at each largest size
    arrays = 0.0
    for name in p.DATASETS:
        d, hw = _nb07_dims(p, [name])
        for arch, sizes in (("fc", p.FC_N_TRAIN_SIZES), ("cnn", p.CNN_N_TRAIN_SIZES)):
            arrays += _nb07_pairs(p, arch, max(sizes), p.N_VAL + p.N_TEST, d, hw)
    return _sum({"arrays": arrays}, _compiles(4 * len(p.DATASETS)))


def _nb07_regression(p) -> Work:
    # per data set, architecture, kernel and size: one eigendecomposition (9 n^3), the (val +
    # test) x n projection, and 2 x len(DIAG_REGS) predictions of (val + test) x k
    v = p.N_VAL + p.N_TEST
    host = sum(2 * (9 * n**3 + 2 * v * n * n + 2 * len(p.DIAG_REGS) * 2 * v * n * K)
               for _ in p.DATASETS for n in [*p.FC_N_TRAIN_SIZES, *p.CNN_N_TRAIN_SIZES])
    return {"host": host}


def _nb07_precision(p) -> Work:
    # FC kernels of the largest precision size in both dtypes, CNN-VEC's in float32 (its float64
    # ones are shared); per size and ridge: a float64 Cholesky for cond, a float64 and a float32
    # solve (~n^3 / 3, n^3 / 3, n^3 / 6) and their test products
    d, hw = _nb07_dims(p, [p.PRECISION_DATASET])
    nf, nc, m = max(p.PRECISION_FC_N_TRAIN_SIZES), max(p.CNN_N_TRAIN_SIZES), p.N_TEST
    arrays = 2 * _nb07_pairs(p, "fc", nf, m, d, hw) + _nb07_pairs(p, "cnn", nc, m, d, hw)
    host = sum(2 * (5 * n**3 / 6 + 2 * 2 * m * n * K)
               for n in [*p.PRECISION_FC_N_TRAIN_SIZES, *p.CNN_N_TRAIN_SIZES])
    return _sum({"arrays": arrays, "host": host}, _compiles(6))


def _nb07_zca(p) -> Work:
    # per strength: the ZCA fit (covariance of ZCA_N_FIT images, 2 N D^2, and its eigh, 9 D^3),
    # whitening of the splits, both architectures' kernels and eigendecompositions at ZCA_N_TRAIN
    d, hw = _nb07_dims(p, [p.ZCA_DATASET])
    n, v, s = p.ZCA_N_TRAIN, p.N_VAL + p.N_TEST, len(p.ZCA_STRENGTHS)
    arrays = s * (_nb07_pairs(p, "fc", n, v, d, hw) + _nb07_pairs(p, "cnn", n, v, d, hw))
    host = s * (2 * p.ZCA_N_FIT * d * d + 9 * d**3 + 2 * (n + v) * d * d) \
        + (s + 1) * 4 * (9 * n**3 + 2 * v * n * n)
    return _sum({"arrays": arrays, "host": host}, _compiles(4 * s))


def _nb07_centred(p) -> Work:
    # NTK kernels and an eigendecomposition at FINITE_N_TRAIN; per width two ensembles (plain and
    # centred) of FINITE_N_MEMBERS one-hidden-layer nets, full-batch GD (6 n params per net and
    # step, vmapped over the members), test outputs at the start and the end
    n, m, e, steps = p.FINITE_N_TRAIN, p.FINITE_N_TEST, p.FINITE_N_MEMBERS, p.FINITE_STEPS
    nets = [_train(steps, e * 6 * n * _mlp_params(D_MNIST, w, 1), runs=2,
                   extra=e * 2 * 2 * (n + m) * _mlp_params(D_MNIST, w, 1))
            for w in p.FINITE_WIDTHS]
    return _sum({"arrays": (n * n + m * n) * _kpair(1)},
                {"host": 9 * n**3 + 2 * m * n * n}, *nets,
                _compiles(2 * 2 * len(p.FINITE_WIDTHS)))


def _net_grid(steps: int, members: int, n: int, per_example: float, n_eval: int,
              runs: int = 1, eval_passes: int = 1) -> Work:
    """One vmapped grid of ``members`` networks (:func:`ntkpaper.training.train_mse_grid`):
    a power iteration (20 jvp + vjp on the ``n`` training points), ``steps`` full-batch steps
    (6 flops per multiply-add and example: forward and backward), and ~6 recordings of the
    ``n_eval`` validation and test outputs (``eval_passes`` of them); ``per_example`` =
    multiply-adds of one forward pass on one example."""
    return _train(steps, members * 6 * n * per_example, runs=runs,
                  extra=20 * 4 * n * per_example
                  + eval_passes * 6 * members * 2 * n_eval * per_example)


def _nb07_trained_fc(p) -> Work:
    # per parameterisation and width: a power iteration (20 jvp + vjp on the training set), then
    # a vmapped grid of len(NET_LR_FRACTIONS) x NET_N_SEEDS nets trained plain and centred
    # (6 n params per net and step), (val + test) outputs at ~6 record steps; the decay study:
    # one grid of (lr fractions + L2 strengths) x seeds centred nets for NET_DECAY_STEPS steps
    n, v = p.NET_N_TRAIN, p.N_VAL + p.N_TEST
    e = len(p.NET_LR_FRACTIONS) * p.NET_N_SEEDS
    nets = []
    for w in p.NET_WIDTHS:
        prm = _mlp_params(D_MNIST, w, p.FC_DEPTH)
        nets.append(_net_grid(p.NET_STEPS, e, n, prm, v, runs=2, eval_passes=2))
    ed = (len(p.NET_DECAY_LR_FRACTIONS) + len(p.NET_L2S)) * p.NET_N_SEEDS
    prm = _mlp_params(D_MNIST, p.NET_DECAY_WIDTH, p.FC_DEPTH)
    nets.append(_train(p.NET_DECAY_STEPS, ed * 6 * n * prm,
                       extra=ed * 2 * (len(p.NET_DECAY_LR_FRACTIONS) + 2) * p.N_TEST * prm))
    return _sum({"host": 9 * n**3}, *nets,
                _compiles(4 * len(p.NET_WIDTHS) + 2 * len(p.NET_DECAY_LR_FRACTIONS) + 4))


def _nb07_layerwise(p) -> Work:
    # a power iteration, then one grid of (1 + both L2 grids) x seeds plain nets at
    # NET_DECAY_WIDTH for NET_STEPS steps, (val + test) outputs at ~6 record steps
    n, v = p.NET_N_TRAIN, p.N_VAL + p.N_TEST
    e = (1 + len(p.NET_PLAIN_L2S) + len(p.NET_LAYERWISE_L2S)) * p.NET_N_SEEDS
    prm = _mlp_params(D_MNIST, p.NET_DECAY_WIDTH, p.FC_DEPTH)
    return _sum(_net_grid(p.NET_STEPS, e, n, prm, v), _compiles(4))


def _cnn_macs(hw: int, channels: int, depth: int) -> float:
    """Multiply-adds of one 3x3 CNN-VEC forward pass on one single-channel image of ``hw``
    pixels (shared or locally connected alike)."""
    return hw * (9 * channels + (depth - 1) * 9 * channels * channels + channels * K)


def _nb07_trained_cnns(p) -> Work:
    # the CNN-VEC kernel on the pooled images; per architecture (shared, local) and width a power
    # iteration and a grid of len(CNN_NET_LR_FRACTIONS) x NET_N_SEEDS nets trained for
    # CNN_NET_STEPS full-batch steps (6 flops per multiply-add and example: forward + backward),
    # (val + test) outputs at ~6 record steps
    hw = HW_IMAGE.get(p.NET_DATASET, 784) // p.CNN_NET_POOL**2
    n, v = p.CNN_NET_N_TRAIN, p.N_VAL + p.N_TEST
    e = len(p.CNN_NET_LR_FRACTIONS) * p.NET_N_SEEDS
    nets = []
    for w in p.CNN_NET_WIDTHS:
        nets.append(_net_grid(p.CNN_NET_STEPS, e, n, _cnn_macs(hw, w, p.CNN_DEPTH), v,
                              runs=2))
    kernel = _nb07_pairs(p, "cnn", n, v, HW_IMAGE.get(p.NET_DATASET, 784), hw)
    return _sum({"arrays": kernel, "host": 2 * 9 * n**3}, *nets,
                _compiles(4 * len(p.CNN_NET_WIDTHS) + 4))


def _nb07_memory(p) -> float:
    # the shared kernels of every data set (NNGP and NTK, float64, n x (n + val + test)) plus one
    # eigendecomposition's copies; or the precision study's FC kernels in two dtypes and three
    # n^2 copies in the solves; or the ZCA fit's images (float64, three copies)
    d, _ = _nb07_dims(p, p.DATASETS)
    v = p.N_VAL + p.N_TEST
    shared = sum(2 * n * (n + v) for n in (max(p.FC_N_TRAIN_SIZES), max(p.CNN_N_TRAIN_SIZES)))
    nf = max(p.FC_N_TRAIN_SIZES)
    shared = len(p.DATASETS) * shared + 3 * nf * nf + 2 * v * nf
    npr = max(p.PRECISION_FC_N_TRAIN_SIZES)
    precision = 2 * 1.5 * npr * (npr + p.N_TEST) + 3 * npr * npr
    return 8.0 * max(shared + precision, shared + 3 * p.ZCA_N_FIT * d)


# ---------------------------------------------------------------------------------------------
# The models


@dataclass(frozen=True)
class Section:
    """A ``run.section`` and its cost model. ``rate_from``: a sibling section running the same
    code whose measured seconds per unit of work stand in when this one has no cpu timing."""

    name: str
    cost: Callable[[SimpleNamespace], Work]
    rate_from: str | None = None


@dataclass(frozen=True)
class NotebookModel:
    sections: tuple[Section, ...]
    memory: Callable[[SimpleNamespace], float]  # bytes of the largest arrays held at once


MODELS: dict[str, NotebookModel] = {
    "01_infinite_width_baselines": NotebookModel(
        (Section("tuning", _nb01_tuning), Section("accuracy_vs_n", _nb01_accuracy),
         Section("depth", _nb01_depth)),
        _nb01_memory),
    "02_mup_feature_learning": NotebookModel(
        (Section("coord_check", _nb02_coord), Section("feature_movement", _nb02_features),
         Section("lr_sweep", _nb02_sweep), Section("linear_limit", _nb02_linear),
         Section("relu_limits", _nb02_relu)),
        _nb02_memory),
    "03_mup_word2vec_fewshot": NotebookModel(
        (Section("word2vec_tp4", _nb03_word2vec_tp4), Section("word2vec", _nb03_word2vec),
         Section("fewshot_data", _nb03_fewshot_data),
         Section("fewshot", _nb03_fewshot),
         Section("fewshot_tp4", _nb03_fewshot_tp4, rate_from="fewshot")),
        _nb03_memory),
    "04_ntk_alignment": NotebookModel(
        (Section("spectrum_alignment", _nb04_spectrum), Section("label_alignment", _nb04_label),
         Section("layer_hierarchy", _nb04_hierarchy), Section("equilibrium", _nb04_equilibrium),
         Section("width_study", _nb04_width)),
        _nb04_memory),
    "05_adaptive_tangent_features": NotebookModel(
        (Section("kernel_change", _nb05_kernel_change),
         Section("sample_complexity", _nb05_sample), Section("subspace", _nb05_subspace)),
        _nb05_memory),
    "06_neural_tangent_transfer": NotebookModel(
        (Section("official", _nb06_official),
         Section("official_lenet5", _nb06_official_lenet5, rate_from="official"),
         Section("mnist", _nb06_mnist),
         Section("fashion", _nb06_fashion),
         Section("lenet5", _nb06_lenet5, rate_from="mnist")),
        _nb06_memory),
    "07_finite_vs_infinite": NotebookModel(
        (Section("kernels", _nb07_kernels), Section("regression", _nb07_regression),
         Section("precision", _nb07_precision), Section("zca", _nb07_zca),
         Section("centred_ensembles", _nb07_centred),
         Section("trained_fc", _nb07_trained_fc, rate_from="centred_ensembles"),
         Section("layerwise_l2", _nb07_layerwise, rate_from="trained_fc"),
         Section("trained_cnns", _nb07_trained_cnns, rate_from="trained_fc")),
        _nb07_memory),
}

# ---------------------------------------------------------------------------------------------
# Ledgers and the GPU calibration

FEWSHOT = "03_mup_word2vec_fewshot"
# the settings of the committed H100 run (fewshot_full_glyphs.md): full profile, glyph stand-in
CALIBRATION_RUN = {"FS_DATA": "glyphs", "FS_WIDTHS": [2, 8, 32, 128, 512, 2048, 8192],
                   "FS_ACTIVATIONS": ["identity", "relu"], "FS_META_STEPS": 10000,
                   "FS_BATCH": 32, "FS_TEST_TASKS": 5000, "FS_VAL_TASKS": 500,
                   "FS_VAL_EVERY": 100}


@dataclass
class CpuLedger:
    times: dict[str, float]  # section -> seconds, in ledger order
    total: float | None
    peak_mb: float | None


def read_cpu_ledger(stem: str) -> CpuLedger | None:
    """Section times and peak memory from ``<fig_dir>/cpu/<stem>/timings.csv`` (older ledgers:
    ``results.csv``); ``None`` when missing or unreadable."""
    path = paths.fig_dir() / "cpu" / stem / "timings.csv"
    if not path.exists():
        path = path.with_name("results.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    times, total, peak = {}, None, None
    for row in rows:
        key, value = row.get("key") or "", row.get("value") or ""
        try:
            number = float(value)
        except ValueError:
            continue
        if key == "time_s.total":
            total = number
        elif key.startswith("time_s."):
            times[key[len("time_s."):]] = number
        elif key == "peak_rss_mb":
            peak = number
    return CpuLedger(times, total, peak)


def _read_h100_seconds() -> dict[tuple[str, float], float] | None:
    """``(activation, width) -> seconds`` of the networks in the committed H100 few-shot run."""
    path = paths.root() / "benchmarks" / "results" / "fewshot_full_glyphs_acc.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        out = {(r["activation"], float(r["width"])): float(r["seconds"]) for r in rows
               if "H100" in r.get("machine", "") and float(r["seconds"]) > 0}
    except (OSError, csv.Error, KeyError, ValueError):
        return None
    return out or None


@dataclass
class Calibration:
    factors: dict[str, float]
    measured: dict[str, bool]  # kind -> factor derived from a measurement
    note: str


def calibrate() -> Calibration:
    """GPU factors per kind (see the module docstring): ``nets`` fitted to the H100 few-shot run's
    total, ``wide-nets`` from its marginal cost of width 2048 -> 8192, the rest assumed."""
    factors = dict(FALLBACK_FACTORS)
    measured = dict.fromkeys(KINDS, False)
    ledger = read_cpu_ledger(FEWSHOT)
    h100 = _read_h100_seconds()
    if ledger is None or "fewshot" not in ledger.times or not h100:
        return Calibration(factors, measured, "calibration data missing (notebook 03's cpu "
                           "ledger or benchmarks/results/fewshot_full_glyphs_acc.csv): every "
                           "GPU factor is assumed")
    per_unit = ledger.times["fewshot"] / sum(_nb03_fewshot(profiles.resolve(FEWSHOT, "cpu"))
                                             .values())  # cpu seconds per unit of work
    run = profiles.resolve(FEWSHOT, "full", CALIBRATION_RUN)
    nets = _fewshot_nets(run)
    gpu_total = sum(h100.values())
    fixed_s = nets.get("overhead", 0.0) * per_unit
    train_s = (nets.get("nets", 0.0) + nets.get("wide-nets", 0.0)) * per_unit
    if gpu_total > fixed_s:
        factors["nets"] = train_s / (gpu_total - fixed_s)
    else:
        factors["nets"] = train_s / gpu_total
    measured["nets"] = True
    # marginal: the cpu work added by going from width 2048 to 8192, over the H100 time added
    train_f, eval_f = _maml_task_flops(run)
    checks = math.ceil(run.FS_META_STEPS / run.FS_VAL_EVERY)
    per_width = (run.FS_META_STEPS * run.FS_BATCH * train_f
                 + (3 * run.FS_TEST_TASKS + run.FS_VAL_TASKS * checks) * eval_f)
    gains = [(8192 - 2048) * per_width * per_unit / (h100[(a, 8192.0)] - h100[(a, 2048.0)])
             for a in run.FS_ACTIVATIONS
             if (a, 8192.0) in h100 and (a, 2048.0) in h100 and h100[(a, 8192.0)]
             > h100[(a, 2048.0)]]
    if gains:
        factors["wide-nets"] = sum(gains) / len(gains)
    note = (f"nets x{factors['nets']:.0f}: fitted so that notebook 03's few-shot networks at the "
            f"full budget take the {gpu_total:.0f} s measured on an H100 "
            f"(benchmarks/results/fewshot_full_glyphs_acc.csv); wide-nets x"
            f"{factors['wide-nets']:.0f}: ASSUMED, the H100's marginal throughput from width "
            "2048 to 8192 in that run, applied to larger per-step work")
    return Calibration(factors, measured, note)


# ---------------------------------------------------------------------------------------------
# Estimates


@dataclass
class SectionEstimate:
    section: str
    measured_s: float | None      # cpu ledger
    ratio: float | None           # cost(P) / cost(cpu)
    cpu_by_kind: dict[str, float] = field(default_factory=dict)  # estimated 2-core seconds
    gpu_by_kind: dict[str, float] = field(default_factory=dict)  # estimated H100 seconds
    note: str = ""

    @property
    def estimated(self) -> bool:
        return self.ratio is not None

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu_by_kind.values())

    @property
    def gpu_s(self) -> float:
        return sum(self.gpu_by_kind.values())


@dataclass
class NotebookPlan:
    stem: str
    profile: str
    sizes: list[tuple[str, object, object]] = field(default_factory=list)  # name, cpu, P
    sections: list[SectionEstimate] = field(default_factory=list)
    peak_mb: float | None = None
    ledger_peak_mb: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.sections) and all(s.estimated for s in self.sections)

    @property
    def cpu_s(self) -> float:
        return sum(s.cpu_s for s in self.sections if s.estimated)

    @property
    def gpu_s(self) -> float:
        return sum(s.gpu_s for s in self.sections if s.estimated)

    @property
    def over_budget(self) -> bool:
        return self.gpu_s > BUDGET_S


def _split(work: Work, per_unit: float, factors: dict[str, float]):
    cpu = {kind: w * per_unit for kind, w in work.items()}
    return cpu, {kind: s / factors.get(kind, 1.0) for kind, s in cpu.items()}


def estimate(stem: str, profile: str, overrides: dict | None = None,
             calibration: Calibration | None = None) -> NotebookPlan:
    """The plan of one notebook at ``profile`` with ``-p`` ``overrides``.

    Raises:
        profiles.ProfileError: unknown profile, or an override that is not a parameter of the
            notebook (or of the wrong type), as ``ntkpaper run`` does.
    """
    if profile not in profiles.PROFILE_NAMES:
        raise profiles.ProfileError(f"unknown profile {profile!r}; choose one of "
                                    f"{profiles.PROFILE_NAMES}")
    out = NotebookPlan(stem, profile)
    if stem not in profiles.PROFILES:
        out.notes.append("no profile table in ntkpaper/pipeline/profiles.py: no sizes, no estimate")
        return out
    p = profiles.resolve(stem, profile, overrides)
    ref = profiles.resolve(stem, "cpu")  # what the ledger measured (no overrides)
    out.sizes = [(k, v, getattr(p, k)) for k, v in vars(ref).items() if getattr(p, k) != v]
    model = MODELS.get(stem)
    ledger = read_cpu_ledger(stem)
    if ledger is None:
        out.notes.append(f"no cpu ledger (figures/cpu/{stem}/timings.csv): no estimate")
    if model is None:
        out.notes.append("no cost model in ntkpaper/pipeline/plan.py: no estimate")
    if ledger is None or model is None:
        known = list(ledger.times) if ledger else [s.name for s in model.sections]
        for name in known:
            out.sections.append(SectionEstimate(name, ledger.times.get(name) if ledger else None,
                                                None, note="no estimate"))
        return out
    factors = (calibration or calibrate()).factors
    costs = {s.name: (s.cost(ref), s.cost(p)) for s in model.sections}
    names = [s.name for s in model.sections] + [n for n in ledger.times if n not in costs]
    for name in names:
        measured = ledger.times.get(name)
        if name not in costs:
            out.sections.append(SectionEstimate(name, measured, None,
                                                note="no estimate (no cost model)"))
            continue
        w_ref, w_p = (sum(w.values()) for w in costs[name])
        sec = SectionEstimate(name, measured, None)
        source = None
        if measured is not None and w_ref > 0:
            source = measured / w_ref
        else:
            sib = next((s.rate_from for s in model.sections if s.name == name), None)
            if sib and ledger.times.get(sib) is not None and sum(costs[sib][0].values()) > 0:
                source = ledger.times[sib] / sum(costs[sib][0].values())
                sec.note = f"not run at cpu: seconds per unit of section '{sib}'"
        if w_p == 0:
            sec.ratio, sec.note = 0.0, "not run at this profile"
        elif source is None:
            sec.note = ("no estimate (no cpu timing)" if measured is None
                        else "no estimate (model has no cpu work)")
        else:
            sec.ratio = w_p / w_ref if w_ref > 0 else math.inf
            sec.cpu_by_kind, sec.gpu_by_kind = _split(costs[name][1], source, factors)
        out.sections.append(sec)
    if ledger.total is not None:  # imports, plots and claims outside the sections: constant
        rest = ledger.total - sum(t for t in ledger.times.values())
        if rest > 0:
            out.sections.append(SectionEstimate("(other cells)", rest, 1.0, {"overhead": rest},
                                                {"overhead": rest}, "assumed constant"))
    if ledger.peak_mb is not None:
        out.ledger_peak_mb = ledger.peak_mb
        grow = max(0.0, model.memory(p) - model.memory(ref)) / 2**20
        out.peak_mb = ledger.peak_mb + grow
    return out


def plans(names: list[str], profile: str, overrides: dict | None = None,
          calibration: Calibration | None = None) -> list[NotebookPlan]:
    """Plans of the selected notebooks (``runner.select`` names; all by default)."""
    from ntkpaper.pipeline import runner

    if profile not in profiles.PROFILE_NAMES:
        raise profiles.ProfileError(f"unknown profile {profile!r}; choose one of "
                                    f"{profiles.PROFILE_NAMES}")
    sources = runner.select(names)
    for src in sources:  # fail on a bad -p before printing anything, as ``ntkpaper run``
        if src.stem in profiles.PROFILES:
            profiles.resolve(src.stem, profile, overrides)
    cal = calibration or calibrate()
    return [estimate(src.stem, profile, overrides, cal) for src in sources]


# ---------------------------------------------------------------------------------------------
# Text


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 100:
        return f"{seconds:.1f}"
    return f"{seconds:,.0f}"


def _fmt_value(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _basis(sec: SectionEstimate, cal: Calibration) -> str:
    """The kinds behind a section's GPU time (those >= 10% of it), marked measured or
    assumed."""
    total = sec.gpu_s
    if not sec.estimated or total <= 0:
        return ""
    parts = []
    for kind, s in sorted(sec.gpu_by_kind.items(), key=lambda kv: -kv[1]):
        if s >= 0.1 * total:
            label = "calibrated" if cal.measured.get(kind) else "assumed"
            parts.append(f"{label} x{cal.factors[kind]:.0f} {kind}")
    return "; ".join(parts)


def render(items: list[NotebookPlan], calibration: Calibration | None = None) -> str:
    cal = calibration or calibrate()
    profile = items[0].profile if items else "?"
    lines = [f"ntkpaper plan: profile {profile} (nothing is run)", "",
             "EXTRAPOLATIONS, not measurements: each section's measured time on 2 CPU cores at "
             "the cpu profile (figures/cpu/<stem>/timings.csv), scaled by its cost model "
             "(ntkpaper/pipeline/plan.py) to this profile's sizes.",
             "GPU column (one H100 + its 16-core host): per kind of work, cpu time / factor. "
             + cal.note + ".",
             "Assumed factors: arrays (analytic kernels, eNTKs) x30; host (LAPACK, gensim) x5; "
             "overhead (compilation, Python per step, data loading) x1.",
             f"Flagged: GPU estimate over {BUDGET_S:.0f} s (the 10-minute target per notebook) "
             "or peak memory over the GPU machine's 128 GiB.", ""]
    for nb in items:
        lines.append(f"== {nb.stem} ({nb.profile})")
        if nb.profile == "cpu" and not nb.sizes:
            lines.append("sizes: the cpu profile is the reference (the ledger's own sizes)")
        elif nb.sizes:
            lines.append("sizes that differ from cpu (cpu -> this profile):")
            for name, a, b in nb.sizes:
                lines.append(f"  {name}: {_fmt_value(a)} -> {_fmt_value(b)}")
        elif nb.stem in profiles.PROFILES:
            lines.append("sizes: the same as cpu")
        for note in nb.notes:
            lines.append(f"  note: {note}")
        if nb.sections:
            header = (f"  {'section':<22} {'cpu meas. s':>11} {'cost ratio':>11} "
                      f"{'est. 2-core s':>14} {'est. H100 s':>12}  GPU basis / note")
            lines += [header, "  " + "-" * (len(header) + 18)]
            for s in nb.sections:
                ratio = ("-" if s.ratio is None or math.isinf(s.ratio)
                         else f"{s.ratio:,.3g}")
                cpu = _fmt_s(s.cpu_s) if s.estimated else "no estimate"
                gpu = _fmt_s(s.gpu_s) if s.estimated else "no estimate"
                flag = "  OVER 10 MIN" if s.estimated and s.gpu_s > BUDGET_S else ""
                extra = "; ".join(x for x in (_basis(s, cal), s.note) if x)
                lines.append(f"  {s.section:<22} {_fmt_s(s.measured_s):>11} {ratio:>11} "
                             f"{cpu:>14} {gpu:>12}  {extra}{flag}")
            partial = "" if nb.complete else " (partial: some sections have no estimate)"
            lines.append(f"  {'TOTAL':<22} {'':>11} {'':>11} {_fmt_s(nb.cpu_s):>14} "
                         f"{_fmt_s(nb.gpu_s):>12}  = {nb.cpu_s / 3600:.2f} h on 2 cores, "
                         f"{nb.gpu_s / 60:.1f} min on one H100{partial}")
        if nb.peak_mb is not None:
            lines.append(f"  peak memory: ~{nb.peak_mb:,.0f} MB (cpu ledger "
                         f"{nb.ledger_peak_mb:,.0f} MB + growth of the largest arrays)"
                         + ("  OVER 128 GiB HOST RAM" if nb.peak_mb > HOST_RAM_MB else ""))
        if nb.sections and nb.over_budget:
            lines.append(f"  FLAG: estimated {nb.gpu_s / 60:.0f} min on one H100 exceeds the "
                         "10-minute target")
        lines.append("")
    over = [nb.stem for nb in items if nb.sections and nb.over_budget]
    lines.append("over the 10-minute target: " + (", ".join(over) if over else "none"))
    return "\n".join(lines) + "\n"


def plan_text(names: list[str], profile: str, overrides: dict | None = None) -> str:
    """What ``ntkpaper run --plan`` prints."""
    cal = calibrate()
    return render(plans(names, profile, overrides, cal), cal)
