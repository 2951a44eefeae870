"""Profile tables: every size a notebook uses, for each profile.

* ``smoke`` - seconds; exercises every code path; numbers are not meaningful.
* ``cpu``   - the default; minutes on a 2-core machine; shows the claims at reduced scale.
* ``full``  - paper scale where it fits, on one GPU: each notebook is sized to finish in 10
  minutes on one H100 by the estimate of ``ntkpaper run --profile full --plan`` (extrapolated from
  the measured cpu ledgers; see :mod:`ntkpaper.plan`), so that any subset can be run on a lent
  machine. Where that meant trimming a paper-scale size, the entry says so.

A notebook's ``parameters`` cell sets ``PROFILE``, ``SEED`` and each size to ``None``;
:func:`resolve` fills every ``None`` from the table and keeps explicit values (papermill
``-p NAME value``), after checking their names and types.
"""

from __future__ import annotations

from types import SimpleNamespace

PROFILE_NAMES = ("smoke", "cpu", "full")

_NB01_CPU = dict(
    DATASETS=["mnist", "fashion_mnist"],
    N_TRAIN_SIZES=[100, 300, 1000, 3000, 10000],  # kernel regression training-set sizes
    N_TEST=10000,                 # test points (the full official test set)
    N_VAL=2000,                   # validation points (from official train images 50k-60k)
    TUNE_N=1000,                  # training-set size at which hyper-parameters are chosen
    DEPTHS=[1, 2, 3, 4],          # hidden layers tried (and shown in the depth figure)
    WEIGHT_VAR=2.0,               # sigma_w^2 (ReLU's critical value)
    BIAS_VARS=[0.0, 0.05, 0.5],   # sigma_b^2 tried
    DIAG_REGS=[1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0],
    REG_STUDY_N=2000,             # n for diag_reg vs early stopping
    ZCA_STRENGTHS=[0.1, 1.0, 10.0],
    PRECISION_SIZES=[300, 1000, 3000],  # float32 vs float64 (first data set)
    FINITE_N_TRAIN=256,           # finite vs infinite: MNIST training points
    FINITE_N_TEST=2000,
    WIDTHS=[64, 128, 256, 512, 1024],
    ENSEMBLE=4,                   # members per width (single nets = each member)
    FINITE_STEPS=100,             # full-batch gradient-descent steps
    FINITE_LR=0.5,                # NTK-parameterization learning rate (SP: * sigma_w^2 / width)
)

_NB02_CPU = dict(
    DATASET="mnist",
    N_TRAIN=128,                  # MNIST training images (class-balanced)
    N_HIDDEN=2,                   # hidden layers of the MLPs
    COORD_WIDTHS=[64, 256, 1024, 4096],
    COORD_N=64,                   # inputs used by the coordinate check
    COORD_ETA=0.1,                # base learning rate of the coordinate check
    COORD_STEPS=1,
    FEATURE_WIDTHS=[64, 256, 1024],
    FEATURE_ETA=0.5,
    FEATURE_STEPS=50,
    NTK_PROBE=32,                 # inputs on which the empirical NTK's change is measured
    SWEEP_WIDTHS=[64, 256, 1024],
    # log2 of the base learning rates per parametrization: each grid brackets its optimum at every
    # width (the notebook flags an optimum on a grid edge as a bound, not a value)
    SWEEP_LOG2_ETAS={"sp": list(range(-10, 5)), "mup": list(range(-4, 7))},
    ADAM_LOG2_ETAS={"sp": list(range(-14, -1)), "mup": list(range(-8, 3))},
    SWEEP_STEPS=50,
    SEEDS=2,
    LIMIT_WIDTHS=[64, 256, 1024, 4096],  # one-hidden-layer linear nets vs their computed limit
    LIMIT_ETA=0.5,
    LIMIT_STEPS=100,
    N_TEST=2000,                  # test images for the limit comparisons
    RELU_WIDTHS=[64, 256, 1024, 4096],  # one-hidden-layer ReLU nets vs the kernel limits
    RELU_REF_WIDTH=16384,         # the widest muP ReLU net, stand-in for its (uncomputed) limit
)

_NB04_CPU = dict(
    # sections 1-3: standard parametrization trained with Adam (ETA = Adam's learning rate);
    # section 4: NTP vs muP with SGD (WIDTH_ETA = base SGD learning rate)
    # 1 · spectrum alignment (Kopitkov & Indelman): 2-D regression, probe = training set
    REG_N=500, REG_WIDTH=128, REG_DEPTH=3, REG_ETA=1e-3, REG_STEPS=4000, REG_DECAY_AT=1000,
    RECORD=16,                    # log-spaced recording steps per run
    # 2 · tangent-feature alignment (Baratin et al.): MNIST, true vs partly random labels
    LABEL_N=1000, LABEL_PROBE=500, LABEL_WIDTH=256, LABEL_DEPTH=2, LABEL_ETA=1e-3,
    LABEL_STEPS=1000, RANDOM_FRACTIONS=[0.0, 0.5], N_TEST=2000,
    # 3 · layer-wise hierarchy (Lou et al.): deep tanh MLPs on Fashion-MNIST
    DEEP_N=500, DEEP_PROBE=300, DEEP_WIDTH=128, DEEP_DEPTH=12, DEEP_ETA=1e-3, DEEP_STEPS=500,
    SIGMA_WS=[0.7, 1.0, 1.5],     # ordered, edge of chaos, chaotic (tanh, no biases)
    # 4 · width: NTP vs muP on MNIST
    WIDTH_N=500, WIDTH_PROBE=300, WIDTHS=[64, 256, 1024], WIDTH_DEPTH=2, WIDTH_ETA=0.5,
    WIDTH_STEPS=200,
    SEEDS=2,
)

_NB05_CPU = dict(
    # 1-2 · kernel change and rank on the 2-D regression inputs
    REG_N=300, REG_WIDTH=64, REG_DEPTH=2,
    BANDS={"top": [0, 10], "low": [100, 110]},  # eigenvector bands of the initial eNTK
    LAM=1e-4, REG_LR=1e-3,       # penalty and Adam lr of the regression fits (sections 1-2)
    STEPS=500,                    # Adam steps of every fit
    # section 3: lr 1e-2 so that all three models fit their training sets in 500 full-batch
    # steps (at 1e-3 none did: a budget problem, not a finding); penalties chosen per model on
    # the validation split at n=VAL_N from LAMS
    LR=1e-2, LAMS=[1e-4, 1e-3, 1e-2], VAL_N=300, N_VAL=2000,
    # 3 · sample complexity; CIFAR-10 is replaced by its stand-in when absent
    SIZES=[10, 30, 100, 300, 1000, 3000], WIDTH=128, DEPTH=1, N_TEST=2000,
    DATASETS=["mnist", "fashion_mnist"], SEEDS=1,
)

_NB06_CPU = dict(
    DIMS=[784, 300, 100, 10],     # LeNet-300-100 (no biases)
    N_TRAIN=5000, N_TEST=5000,    # MNIST images (NTT uses the training images without labels)
    DENSITIES=[0.01, 0.03, 0.1],  # share of hidden-layer weights kept (output layer dense)
    METHODS=["random", "magnitude", "snip", "ntt"],
    SEEDS=2,
    EPOCHS=5, BATCH=128, LR=1e-3,  # supervised training (Adam, cross-entropy), mask fixed
    NTT_STEPS=150, NTT_BATCH=32, NTT_LR=1e-3, MASK_EVERY=50,  # label-free transfer
    FASHION_DENSITIES=[0.03],     # second data set
    CNN_DENSITIES=[],             # LeNet-5 on MNIST (full profile; [] skips the section)
    CNN_METHODS=["random", "magnitude", "snip", "ntt"],
)

_NB03_CPU = dict(
    # 1 · Word2Vec (CBOW, negative sampling) on the text8-style stand-in corpus
    W2V_CORPUS="wiki_standin",    # "text8" for the real corpus (downloaded when reachable)
    W2V_MAX_TOKENS=0,             # 0: the whole corpus
    W2V_VOCAB=3000,               # most frequent words kept (the muP limit has this dimension)
    W2V_MUP_WIDTHS=[16, 64, 256, 1024],
    W2V_OTHER_WIDTHS=[64, 256, 1024],  # NTP and SP
    W2V_ETA=0.05, W2V_EPOCHS=15, W2V_WINDOW=5, W2V_NEGATIVE=5, W2V_SAMPLE=1e-4,
    W2V_WORKERS=1,                # bit-reproducible; >1 is faster but races (Hogwild)
    # 2 · few-shot: first-order MAML, 5-way 1-shot, one-hidden-layer muP nets
    FS_DATA="glyphs",             # "omniglot" when the official zips are available
    FS_BACKGROUND=30, FS_EVALUATION=20, FS_DRAWINGS=20,  # glyph stand-in: alphabets, drawings
    FS_WAYS=5, FS_SHOTS=1, FS_QUERIES=1,
    FS_WIDTHS=[16, 64, 256, 1024], FS_ACTIVATIONS=["identity", "relu"],
    # outer rate 0.1 as TP4 for the limit; 1,000 meta-steps of 16 tasks (TP4: 10,000 of 32)
    FS_INNER_LR=1.0, FS_INNER_STEPS=1, FS_OUTER_LR=0.1, FS_META_STEPS=1000, FS_BATCH=16,
    FS_TEST_TASKS=1000, FS_VAL_TASKS=500,
    # 15% of background characters held out (as torchmeta's Omniglot split); the checkpoint with
    # the best validation accuracy, checked every FS_VAL_EVERY steps, is kept (as TP4's script)
    FS_VAL_FRACTION=0.15, FS_VAL_EVERY=250,  # 4 checks: each costs ~1-2 s on 2 cores
    KERNEL_LRS=[0.3, 1.0, 3.0, 10.0], KERNEL_STEPS=[1, 3, 10, 30],
)

PROFILES: dict[str, dict[str, dict]] = {
    "03_mup_word2vec_fewshot": {
        "cpu": _NB03_CPU,
        "smoke": {**_NB03_CPU, "W2V_MAX_TOKENS": 30000, "W2V_VOCAB": 300,
                  "W2V_MUP_WIDTHS": [8, 16], "W2V_OTHER_WIDTHS": [8, 16], "W2V_EPOCHS": 1,
                  "W2V_WORKERS": 1, "FS_BACKGROUND": 4, "FS_EVALUATION": 2, "FS_DRAWINGS": 4,
                  "FS_WIDTHS": [8, 16], "FS_META_STEPS": 4, "FS_BATCH": 4, "FS_TEST_TASKS": 40,
                  "FS_VAL_TASKS": 20, "FS_VAL_EVERY": 2, "KERNEL_LRS": [1.0],
                  "KERNEL_STEPS": [1, 3]},
        # Word2Vec: the first 5M words of text8, 5 epochs (gensim runs on the host CPU; the whole
        # corpus x 15 epochs takes the notebook over 10 minutes by `--plan`)
        "full": {**_NB03_CPU, "W2V_CORPUS": "text8", "W2V_VOCAB": 10000,
                 "W2V_MAX_TOKENS": 5_000_000, "W2V_EPOCHS": 5,
                 "W2V_MUP_WIDTHS": [16, 32, 64, 128, 256, 512, 1024],
                 "W2V_OTHER_WIDTHS": [64, 256, 1024], "W2V_WORKERS": 16,
                 "FS_DATA": "omniglot", "FS_WIDTHS": [2, 8, 32, 128, 512, 2048, 8192],
                 "FS_META_STEPS": 10000, "FS_BATCH": 32, "FS_TEST_TASKS": 5000,
                 "FS_VAL_EVERY": 100},  # TP4 validated after each epoch of 100 meta-steps
    },
    "06_neural_tangent_transfer": {
        "cpu": _NB06_CPU,
        "smoke": {**_NB06_CPU, "N_TRAIN": 300, "N_TEST": 300, "DENSITIES": [0.05],
                  "SEEDS": 1, "EPOCHS": 1, "NTT_STEPS": 4, "MASK_EVERY": 2,
                  "FASHION_DENSITIES": [0.05], "CNN_DENSITIES": [0.05],
                  "CNN_METHODS": ["random", "ntt"]},
        # 10 epochs (was 40), 3 seeds (was 5), 2,000 transfer steps (was 5,000): estimated to
        # fit 10 minutes on one H100 (`--plan`); the official NTT budget is larger still
        "full": {**_NB06_CPU, "N_TRAIN": 50000, "N_TEST": 10000,
                 "DENSITIES": [0.01, 0.03, 0.05, 0.1], "SEEDS": 3, "EPOCHS": 10,
                 "NTT_STEPS": 2000, "NTT_BATCH": 64, "MASK_EVERY": 100,
                 "FASHION_DENSITIES": [0.03], "CNN_DENSITIES": [0.01, 0.03, 0.1]},
    },
    "05_adaptive_tangent_features": {
        "cpu": _NB05_CPU,
        "smoke": {**_NB05_CPU, "REG_N": 40, "REG_WIDTH": 16,
                  "BANDS": {"top": [0, 5], "low": [20, 25]}, "STEPS": 5, "SIZES": [10, 30],
                  "WIDTH": 16, "N_TEST": 100, "LAMS": [1e-3], "VAL_N": 30, "N_VAL": 100},
        "full": {**_NB05_CPU, "REG_N": 1000, "REG_WIDTH": 256, "STEPS": 2000,  # was 3000
                 "SIZES": [10, 30, 100, 300, 1000, 3000, 10000], "WIDTH": 512, "DEPTH": 2,
                 "N_TEST": 10000, "DATASETS": ["mnist", "cifar10"], "SEEDS": 3},
    },
    "04_ntk_alignment": {
        "cpu": _NB04_CPU,
        "smoke": {**_NB04_CPU, "REG_N": 60, "REG_WIDTH": 16, "REG_STEPS": 20, "REG_DECAY_AT": 10,
                  "RECORD": 4, "LABEL_N": 60, "LABEL_PROBE": 30, "LABEL_WIDTH": 16,
                  "LABEL_STEPS": 10, "N_TEST": 100, "DEEP_N": 40, "DEEP_PROBE": 20,
                  "DEEP_WIDTH": 16, "DEEP_DEPTH": 4, "DEEP_STEPS": 5, "SIGMA_WS": [0.7, 1.5],
                  "WIDTH_N": 40,
                  "WIDTH_PROBE": 20, "WIDTHS": [16, 64], "WIDTH_STEPS": 5, "SEEDS": 1},
        "full": {**_NB04_CPU, "REG_N": 1000, "REG_WIDTH": 256, "REG_DEPTH": 4,
                 "REG_STEPS": 20000, "REG_DECAY_AT": 5000, "RECORD": 24, "LABEL_N": 10000,
                 "LABEL_PROBE": 1000, "LABEL_WIDTH": 1024, "LABEL_STEPS": 5000,
                 "RANDOM_FRACTIONS": [0.0, 0.25, 0.5, 1.0], "N_TEST": 10000, "DEEP_N": 2000,
                 "DEEP_PROBE": 1000, "DEEP_WIDTH": 512, "DEEP_DEPTH": 20, "DEEP_STEPS": 2000,
                 "SIGMA_WS": [0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0], "WIDTH_N": 2000,
                 "WIDTH_PROBE": 1000, "WIDTHS": [64, 256, 1024, 4096], "WIDTH_STEPS": 1000,
                 "SEEDS": 3},  # trimmed for 10 minutes: 3 seeds (was 4), DEEP_N/STEPS 2000
    },
    "02_mup_feature_learning": {
        "cpu": _NB02_CPU,
        "smoke": {**_NB02_CPU, "N_TRAIN": 32, "COORD_WIDTHS": [16, 64], "COORD_N": 16,
                  "FEATURE_WIDTHS": [16, 64], "FEATURE_STEPS": 3, "NTK_PROBE": 8,
                  "SWEEP_WIDTHS": [16, 64],
                  "SWEEP_LOG2_ETAS": {"sp": [-2, 0, 2], "mup": [-2, 0, 2]},
                  "ADAM_LOG2_ETAS": {"sp": [-6, -4, -2], "mup": [-4, -2, 0]},
                  "SWEEP_STEPS": 3, "SEEDS": 1,
                  "LIMIT_WIDTHS": [16, 64], "LIMIT_STEPS": 3, "N_TEST": 100,
                  "RELU_WIDTHS": [16, 64], "RELU_REF_WIDTH": 256},
        "full": {**_NB02_CPU, "N_TRAIN": 1024, "COORD_WIDTHS": [64, 256, 1024, 4096, 8192],
                 "FEATURE_WIDTHS": [64, 256, 1024, 4096], "FEATURE_STEPS": 200,
                 # widest sweep width 4096 (was 8192: ~13 min by `--plan`)
                 "SWEEP_WIDTHS": [128, 512, 2048, 4096], "SWEEP_STEPS": 200, "SEEDS": 3,
                 "RELU_WIDTHS": [64, 256, 1024, 4096, 16384], "RELU_REF_WIDTH": 65536},
    },
    "01_infinite_width_baselines": {
        "cpu": _NB01_CPU,
        "smoke": {**_NB01_CPU, "N_TRAIN_SIZES": [20, 50], "N_TEST": 200, "N_VAL": 100,
                  "TUNE_N": 50, "DEPTHS": [1, 2], "BIAS_VARS": [0.05], "DIAG_REGS": [1e-4, 1e-2],
                  "REG_STUDY_N": 50, "ZCA_STRENGTHS": [1.0], "PRECISION_SIZES": [20, 50],
                  "FINITE_N_TRAIN": 32, "FINITE_N_TEST": 64, "WIDTHS": [16, 64],
                  "ENSEMBLE": 2, "FINITE_STEPS": 4},
        # n stops at 20,000 (was 50,000: ~150 GB of float64 kernels and hours of host LAPACK,
        # estimated by `ntkpaper run --profile full --plan`), to fit 10 minutes on one H100
        "full": {**_NB01_CPU, "N_TRAIN_SIZES": [100, 300, 1000, 3000, 10000, 20000],
                 "DEPTHS": [1, 2, 3, 4, 6, 8, 12], "REG_STUDY_N": 10000,
                 "PRECISION_SIZES": [1000, 3000, 10000, 20000],
                 "FINITE_N_TRAIN": 1000, "FINITE_N_TEST": 10000,
                 "WIDTHS": [64, 128, 256, 512, 1024, 2048, 4096, 8192], "ENSEMBLE": 8,
                 "FINITE_STEPS": 1000},
    },
}


class ProfileError(ValueError):
    """Unknown profile, unknown parameter or a parameter of the wrong type."""


def _same_kind(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, (list, tuple)) and len(value) > 0 and all(
            _same_kind(v, default[0]) for v in value) if default else isinstance(value, list)
    return isinstance(value, type(default))


def table(notebook: str, profile: str) -> dict:
    if notebook not in PROFILES:
        raise ProfileError(f"no profile table for notebook {notebook!r}; "
                           f"known: {sorted(PROFILES)}")
    if profile not in PROFILE_NAMES:
        raise ProfileError(f"unknown profile {profile!r}; choose one of {PROFILE_NAMES}")
    return dict(PROFILES[notebook][profile])


def resolve(notebook: str, profile: str, overrides: dict | None = None) -> SimpleNamespace:
    """Sizes for ``notebook`` at ``profile``, with non-``None`` ``overrides`` applied.

    Raises:
        ProfileError: unknown notebook/profile, an override that is not a parameter of the
            notebook, or one whose type differs from the profile value (e.g. a str for an int).
    """
    params = table(notebook, profile)
    for name, value in (overrides or {}).items():
        if name in ("PROFILE", "SEED") or value is None:
            continue
        if name not in params:
            raise ProfileError(f"{notebook} has no parameter {name!r}; its parameters are "
                               f"PROFILE, SEED, {', '.join(sorted(params))}")
        if not _same_kind(value, params[name]):
            raise ProfileError(f"parameter {name}={value!r} has the wrong type: expected "
                               f"{type(params[name]).__name__} like {params[name]!r}")
        params[name] = list(value) if isinstance(value, tuple) else value
    return SimpleNamespace(**params)
