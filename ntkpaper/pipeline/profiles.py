"""Profiles: what ``smoke`` and ``full`` change in each notebook's parameters, and the checks
every parameter passes before a run.

One source per parameter: a notebook's ``parameters`` cell (``notebooks/NN_topic.py``) holds
its ``cpu`` values, which are what a reader sees and edits; the tables below hold only the
values that the other two profiles change:

* ``smoke`` - seconds; exercises every code path; numbers are not meaningful.
* ``cpu``   - the default; minutes on a 2-core machine; shows the claims at reduced scale.
* ``full``  - paper scale where it fits, on one GPU: each notebook is sized to finish in 10
  minutes on one H100 by the estimate of ``ntkpaper run --profile full --plan`` (extrapolated
  from the measured cpu ledgers; see :mod:`ntkpaper.pipeline.plan`), so that any subset can be run
  on a lent machine. Where that meant trimming a paper-scale size, the entry says so.

:func:`resolve` starts from the cpu values, applies the profile's changes, then explicit values
(a reader's edit in Jupyter, papermill's ``-p NAME value``), and checks every name, type and range
(:data:`RANGES`) before anything runs.

Naming: learning rates end in ``_LR``, counts start with ``N_`` (after a section prefix:
``FINITE_N_TRAIN``), step budgets end in ``_STEPS``, lists of swept values are plural, and each
section of a notebook has one prefix (``COORD_``, ``SWEEP_``, ...).
"""

from __future__ import annotations

import ast
import functools
import math
import re
from pathlib import Path
from types import SimpleNamespace

from ntkpaper import paths

PROFILE_NAMES = ("smoke", "cpu", "full")

PROFILES: dict[str, dict[str, dict]] = {
    "01_infinite_width_baselines": {
        "smoke": {"N_TRAIN_SIZES": [20, 50], "N_TEST": 200, "N_VAL": 100,
                  "TUNE_N_TRAIN": 50, "DEPTHS": [1, 2], "BIAS_VARS": [0.05],
                  "DIAG_REGS": [1e-4, 1e-2]},
        # n stops at 20,000 (was 50,000: ~150 GB of float64 kernels and hours of host LAPACK,
        # estimated by `ntkpaper run --profile full --plan`), to fit 10 minutes on one H100
        "full": {"N_TRAIN_SIZES": [100, 300, 1000, 3000, 10000, 20000],
                 "DEPTHS": [1, 2, 3, 4, 6, 8, 12]},
    },
    "02_mup_feature_learning": {
        "smoke": {"N_TRAIN": 32, "COORD_WIDTHS": [16, 64], "COORD_N_INPUTS": 16,
                  "FEATURE_WIDTHS": [16, 64], "FEATURE_STEPS": 3, "FEATURE_N_PROBE": 8,
                  "SWEEP_WIDTHS": [16, 64],
                  "SWEEP_LOG2_LRS": {"sp": [-2, 0, 2], "mup": [-2, 0, 2]},
                  "ADAM_LOG2_LRS": {"sp": [-6, -4, -2], "mup": [-4, -2, 0]},
                  "SWEEP_STEPS": 3, "N_SEEDS": 1,
                  "LIMIT_WIDTHS": [16, 64], "LIMIT_STEPS": 3, "N_TEST": 100,
                  "RELU_WIDTHS": [16, 64], "RELU_REF_WIDTH": 256},
        "full": {"N_TRAIN": 1024, "COORD_WIDTHS": [64, 256, 1024, 4096, 8192],
                 "FEATURE_WIDTHS": [64, 256, 1024, 4096], "FEATURE_STEPS": 200,
                 # widest sweep width 4096 (was 8192: ~13 min by `--plan`)
                 "SWEEP_WIDTHS": [128, 512, 2048, 4096], "SWEEP_STEPS": 200, "N_SEEDS": 3,
                 "RELU_WIDTHS": [64, 256, 1024, 4096, 16384], "RELU_REF_WIDTH": 65536},
    },
    "03_mup_word2vec_fewshot": {
        "smoke": {"W2V_MAX_TOKENS": 30000, "W2V_VOCAB": 300,
                  "W2V_MUP_WIDTHS": [8, 16], "W2V_OTHER_WIDTHS": [8, 16], "W2V_EPOCHS": 1,
                  "W2V_TP4_WIDTHS": [8, 16], "W2V_TP4_SEEDS": 1, "W2V_TP4_EPOCHS": 2,
                  "FS_BACKGROUND": 4, "FS_EVALUATION": 2, "FS_DRAWINGS": 4,
                  "FS_WIDTHS": [8, 16], "FS_META_STEPS": 4, "FS_BATCH": 4, "FS_TEST_TASKS": 40,
                  "FS_VAL_TASKS": 20, "FS_VAL_EVERY": 2, "KERNEL_LRS": [1.0],
                  "KERNEL_STEPS": [1, 3], "FS_TP4_WIDTHS": [2], "FS_TP4_SEEDS": 1,
                  "FS_TP4_META_STEPS": 4, "FS_TP4_VAL_EVERY": 2, "FS_TP4_KERNEL_LRS": [1.0],
                  "FS_TP4_INNER_LRS": [0.1, 0.4], "FS_TP4_SELECT_STEPS": 2},
        # Word2Vec: the first 5M words of text8 (30%) and its 3,000 most frequent words (TP4:
        # all 17M words and the 71k seen 5 times; its limit, V x V tables, would need ~40 GB and
        # hours); TP4's protocol for 15 epochs, one seed, 4 models x 4 Hogwild threads; our
        # earlier protocol for 5 epochs, 2 models x 8 threads. Sized by `--plan`: TP4's
        # protocol at V = 10,000 alone took ~9 min of the estimate; not yet timed on a GPU
        "full": {"W2V_CORPUS": "text8",  # W2V_VOCAB: cpu's 3,000 (was 10,000)
                 "W2V_MAX_TOKENS": 5_000_000, "W2V_EPOCHS": 5,
                 "W2V_TP4_SEEDS": 1, "W2V_TP4_JOBS": 4, "W2V_TP4_WORKERS": 4,
                 "W2V_WORKERS": 8,
                 "FS_DATA": "omniglot", "FS_WIDTHS": [2, 8, 32, 128, 512, 2048, 8192],
                 # our earlier protocol at 3,000 meta-steps (was 10,000): TP4's budget runs in
                 # the TP4-protocol section, and both at 10,000 exceed 10 minutes by `--plan`
                 "FS_META_STEPS": 3000, "FS_BATCH": 32, "FS_TEST_TASKS": 5000,
                 "FS_VAL_EVERY": 100,  # TP4 validated after each epoch of 100 meta-steps
                 # TP4's protocol at its budget: 10,000 meta-steps, widths to 8192, not yet
                 # timed on a GPU
                 "FS_TP4_WIDTHS": [2, 8, 32, 128, 512, 2048, 8192],
                 "FS_TP4_META_STEPS": 10000, "FS_TP4_VAL_EVERY": 100},
    },
    "04_ntk_alignment": {
        "smoke": {"REG_N_TRAIN": 60, "REG_WIDTH": 16, "REG_STEPS": 20, "REG_DECAY_AT": 10,
                  "N_RECORD": 4, "LABEL_N_TRAIN": 60, "LABEL_N_PROBE": 30, "LABEL_WIDTH": 16,
                  "LABEL_STEPS": 10, "N_TEST": 100, "DEEP_N_TRAIN": 40, "DEEP_N_PROBE": 20,
                  "DEEP_WIDTH": 16, "DEEP_DEPTH": 4, "DEEP_STEPS": 5, "SIGMA_WS": [0.7, 1.5],
                  "WIDTH_N_TRAIN": 40,
                  "WIDTH_N_PROBE": 20, "WIDTHS": [16, 64], "WIDTH_STEPS": 5, "N_SEEDS": 1,
                  "REG_SEEDS": 1, "LABEL_SEEDS": 1, "RANDOM_FRACTIONS": [0.0, 0.5],
                  "DEEP_DEPTHS": [2, 4], "RELU_DEPTHS": [2, 3, 4]},
        # sized by `--plan` for 10 minutes on one H100 (issue 18): the full multi-output kernels
        # cost (probe k)^2 per layer, so the probes stay at cpu's 300; not yet timed on a GPU
        "full": {"REG_N_TRAIN": 1000, "REG_WIDTH": 256, "REG_DEPTH": 4,
                 "REG_STEPS": 20000, "REG_DECAY_AT": 5000, "N_RECORD": 24, "LABEL_N_TRAIN": 5000,
                 "LABEL_WIDTH": 512, "LABEL_STEPS": 3000,
                 "LABEL_SEEDS": 4, "N_TEST": 10000, "DEEP_N_TRAIN": 2000,
                 "DEEP_WIDTH": 256, "DEEP_DEPTH": 20, "DEEP_STEPS": 2000,
                 "SIGMA_WS": [0.5, 0.7, 1.0, 1.2, 1.5, 2.0], "WIDTH_N_TRAIN": 2000,
                 "DEEP_DEPTHS": [10, 20, 40], "RELU_DEPTHS": [10, 20, 40, 60],
                 "WIDTH_N_PROBE": 1000, "WIDTHS": [64, 256, 1024, 4096], "WIDTH_STEPS": 1000},
    },
    "05_adaptive_tangent_features": {
        "smoke": {"REG_N_TRAIN": 40, "REG_WIDTH": 16,
                  "BANDS": {"top": [0, 5], "low": [20, 25]}, "FIT_STEPS": 5,
                  "SAMPLE_SIZES": [10, 30], "SAMPLE_WIDTH": 16, "N_TEST": 100,
                  "SAMPLE_PENALTIES": [1e-3], "N_VAL": 100, "ADAPTIVE_STEPS": 4,
                  "NET_STEPS": 4, "N_SEEDS": 2, "SUB_SIZES": [20, 40], "SUB_NET_STEPS": 4},
        # the closed-form fixed model costs (n k)^3 on the host: sizes to 2,000 (n k = 20,000)
        "full": {"REG_N_TRAIN": 1000, "REG_WIDTH": 256, "FIT_STEPS": 2000,  # was 3000
                 "SAMPLE_SIZES": [10, 30, 100, 300, 1000, 2000], "SAMPLE_WIDTH": 256,
                 "ADAPTIVE_STEPS": 2000, "NET_STEPS": 2000, "N_VAL": 2000,
                 "SAMPLE_PENALTIES": [1e-5, 1e-4, 1e-3, 1e-2],
                 "SUB_SIZES": [100, 200, 400, 800, 1600, 3200], "SUB_NET_STEPS": 2000,
                 "N_TEST": 10000, "DATASETS": ["mnist", "cifar10"], "N_SEEDS": 5},
    },
    "06_neural_tangent_transfer": {
        "smoke": {"OFFICIAL_DENSITIES": [0.05], "OFFICIAL_METHODS": ["ntt", "random"],
                  "OFFICIAL_N_TRAIN": 300, "OFFICIAL_NTT_STEPS": 4, "OFFICIAL_TRAIN_STEPS": 4,
                  "OFFICIAL_N_SEEDS": 1, "OFFICIAL_CNN_DENSITIES": [0.05],
                  "OFFICIAL_CNN_METHODS": ["ntt", "random"], "OFFICIAL_CNN_NTT_STEPS": 2,
                  "OFFICIAL_CNN_TRAIN_STEPS": 2, "OFFICIAL_CNN_NTT_BATCH": 8,
                  "N_TRAIN": 300, "N_TEST": 300, "DENSITIES": [0.05],
                  "N_SEEDS": 1, "TRAIN_EPOCHS": 1, "NTT_STEPS": 4, "MASK_EVERY": 2,
                  "FASHION_DENSITIES": [0.05], "CNN_DENSITIES": [0.05],
                  "CNN_METHODS": ["random", "ntt"]},
        # section 1 at the official NTT budget (20 epochs of 59,880 images: 18,720 steps) and
        # the paper's 5 seeds, supervised 20,000 iterations (the demo: 42,200); LeNet-5-Caffe at
        # 3% (1,500 transfer steps); the earlier variant (sections 2-5) trimmed to make room, its
        # classic LeNet-5 dropped: sized by `--plan` to ~10 min on one H100
        "full": {"OFFICIAL_DENSITIES": [0.01, 0.03], "OFFICIAL_N_TRAIN": 50000,
                 "OFFICIAL_NTT_STEPS": 18720, "OFFICIAL_TRAIN_STEPS": 20000,
                 "OFFICIAL_N_SEEDS": 5, "OFFICIAL_CNN_DENSITIES": [0.03],
                 "N_TRAIN": 50000, "N_TEST": 10000,
                 "NTT_STEPS": 1000, "NTT_BATCH": 64, "MASK_EVERY": 100,
                 "OFFICIAL_CNN_NTT_STEPS": 1500},
    },
    "07_finite_vs_infinite": {
        "smoke": {"FC_N_TRAIN_SIZES": [20, 40], "CNN_N_TRAIN_SIZES": [20, 40], "N_VAL": 40,
                  "N_TEST": 60, "DIAG_REGS": [1e-4, 1e-2, 1.0],
                  "PRECISION_FC_N_TRAIN_SIZES": [40, 80], "ZCA_N_TRAIN": 20, "ZCA_N_FIT": 500,
                  "ZCA_STRENGTHS": [1.0], "FINITE_N_TRAIN": 32, "FINITE_N_TEST": 64,
                  "FINITE_WIDTHS": [16, 64], "FINITE_N_MEMBERS": 2, "FINITE_STEPS": 4,
                  "NET_N_TRAIN": 40, "NET_WIDTHS": [4, 16], "NET_LR_FRACTIONS": [0.5, 1.0],
                  "NET_STEPS": 2, "NET_DECAY_WIDTH": 16, "NET_DECAY_LR_FRACTIONS": [0.1, 1.0],
                  "NET_L2S": [0.01], "NET_DECAY_STEPS": 2, "NET_PLAIN_L2S": [0.01],
                  "NET_LAYERWISE_L2S": [1.0], "CNN_NET_N_TRAIN": 40, "CNN_NET_WIDTHS": [2],
                  "CNN_NET_LR_FRACTIONS": [0.5, 1.0], "CNN_NET_STEPS": 2},
        # CIFAR-10 itself (must be present in data/). Sized by `--plan` from an uncommitted cpu
        # run (build/try07, 159 s): ~7.5 min on one H100 (ZCA at n=1000, was 2000; 8 members per
        # width, was 16); to be re-checked once this notebook's cpu ledger is committed. Trained FC
        # nets (section 6): widths to 1024 and 1000 steps, ~92 s of an estimated 9.2 min by
        # `--plan` from an uncommitted cpu run (build/try07b, 270 s; 2048 and 2000 steps: ~13 min)
        "full": {"DATASETS": ["mnist", "cifar10"],
                 "FC_N_TRAIN_SIZES": [250, 500, 1000, 2000, 5000, 10000],
                 "CNN_N_TRAIN_SIZES": [250, 500, 1000, 2000], "N_VAL": 2000, "N_TEST": 10000,
                 "PRECISION_FC_N_TRAIN_SIZES": [1000, 2000, 5000, 10000, 20000],
                 "ZCA_DATASET": "cifar10", "ZCA_N_TRAIN": 1000, "ZCA_N_FIT": 45000,
                 "ZCA_STRENGTHS": [0.001, 0.01, 0.1, 1.0], "FINITE_N_TRAIN": 1000,
                 "FINITE_N_TEST": 10000,
                 # widths to 4096 (was 8192) to make room for the trained CNNs
                 "FINITE_WIDTHS": [64, 128, 256, 512, 1024, 2048, 4096],
                 "FINITE_STEPS": 1000, "NET_N_TRAIN": 1000,
                 "NET_WIDTHS": [4, 16, 64, 256, 1024], "NET_STEPS": 1000,
                 "NET_N_SEEDS": 3, "NET_DECAY_WIDTH": 1024, "NET_DECAY_STEPS": 1000,
                 # trained CNNs on 14x14 images (cpu: 7x7), sized by `--plan` from the cpu
                 # ledger (~1 min of the estimate with the cpu's 300 steps; 1,000 steps: ~3.5 min,
                 # over the target); not yet timed on a GPU
                 "CNN_NET_POOL": 2, "CNN_NET_N_TRAIN": 500,
                 "CNN_NET_WIDTHS": [4, 16, 64]},
    },
}


# Allowed ranges. Every number (and every number inside a list or dict) must be > 0 unless it is
# listed here; lists must be non-empty unless listed in EMPTY_OK. A range is (low, high,
# low_inclusive): (0, None, True) means >= 0, (0, 1, False) means in (0, 1].
RANGES: dict[str, tuple] = {
    "W2V_MAX_TOKENS": (0, None, True),       # 0: the whole corpus
    "BIAS_VARS": (0, None, True),
    "RANDOM_FRACTIONS": (0, 1, True),
    "BANDS": (0, None, True),                # eigenvector indices start at 0
    "SWEEP_LOG2_LRS": (None, None, True),    # log2 learning rates: any integer
    "ADAM_LOG2_LRS": (None, None, True),
    "DENSITIES": (0, 1, False),
    "FASHION_DENSITIES": (0, 1, False),
    "CNN_DENSITIES": (0, 1, False),
    "FS_VAL_FRACTION": (0, 1, False),
    "FS_VAL_EVERY": (0, None, True),        # 0: keep the last checkpoint
}
EMPTY_OK = {"CNN_DENSITIES", "OFFICIAL_CNN_DENSITIES"}  # [] skips notebook 06's CNN sections


class ProfileError(ValueError):
    """Unknown profile or notebook, unknown parameter, or a parameter of the wrong type or out of
    its range."""


def notebook_source(notebook: str) -> Path:
    path = paths.notebook_dir() / f"{notebook}.py"
    if not path.exists():
        known = sorted(p.stem for p in paths.notebook_dir().glob("[0-9][0-9]_*.py"))
        raise ProfileError(f"no notebook {notebook!r} in {paths.shown(paths.notebook_dir())}; "
                           f"known: {known}")
    return path


@functools.cache
def _parse_cell(path: Path, mtime: float) -> tuple[tuple[str, object], ...]:
    text = path.read_text()
    m = re.search(r'^# %% tags=\["parameters"\]\n(.*?)(?=^# %%)', text, re.S | re.M)
    if m is None:
        raise ProfileError(f"{path.name} has no cell tagged parameters "
                           '(a line `# %% tags=["parameters"]`)')
    out = []
    try:
        body = ast.parse(m.group(1)).body
    except SyntaxError as err:
        raise ProfileError(f"{path.name}, parameters cell: {err.msg} (line {err.lineno})") \
            from None
    for node in body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise ProfileError(f"{path.name}, parameters cell line {node.lineno}: only "
                               "`NAME = literal` assignments belong in the parameters cell")
        try:
            value = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError):
            raise ProfileError(f"{path.name}, parameters cell: {node.targets[0].id} must be a "
                               "literal (number, string, list or dict)") from None
        out.append((node.targets[0].id, value))
    return tuple(out)


def cpu_values(notebook: str) -> dict:
    """The notebook's parameters cell as a dict (``PROFILE`` and ``SEED`` left out): the ``cpu``
    values, read from ``notebooks/<notebook>.py``."""
    path = notebook_source(notebook)
    cell = dict(_parse_cell(path, path.stat().st_mtime))
    return {k: v for k, v in cell.items() if k not in ("PROFILE", "SEED")}


def notebooks() -> list[str]:
    """Stems of the notebooks with a profile table."""
    return sorted(PROFILES)


def _same_kind(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, (list, tuple)) and all(
            _same_kind(v, default[0]) for v in value) if default else isinstance(value, list)
    return isinstance(value, type(default))


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)


def check_value(name: str, value) -> None:
    """Raise :class:`ProfileError` if ``value`` is outside the range allowed for ``name``."""
    if isinstance(value, (list, tuple, dict)) and len(value) == 0 and name not in EMPTY_OK:
        raise ProfileError(f"parameter {name} is empty; give at least one value")
    lo, hi, lo_inclusive = RANGES.get(name, (0, None, False))
    for v in _numbers(value):
        if isinstance(v, float) and not math.isfinite(v):
            raise ProfileError(f"parameter {name}={value!r}: {v} is not a finite number")
        bad = lo is not None and (v < lo or (v == lo and not lo_inclusive))
        bad = bad or (hi is not None and v > hi)
        if bad:
            low = "any" if lo is None else f"{'>=' if lo_inclusive else '>'} {lo}"
            want = low + (f" and <= {hi}" if hi is not None else "")
            raise ProfileError(f"parameter {name}={value!r} is out of range: each value must be "
                               f"{want}")


def table(notebook: str, profile: str) -> dict:
    """Every parameter of ``notebook`` at ``profile``: the cpu values with the profile's
    changes applied."""
    if profile not in PROFILE_NAMES:
        raise ProfileError(f"unknown profile {profile!r}; choose one of {PROFILE_NAMES}")
    if notebook not in PROFILES:
        raise ProfileError(f"no profile table for notebook {notebook!r}; "
                           f"known: {sorted(PROFILES)}")
    return {**cpu_values(notebook), **PROFILES[notebook].get(profile, {})}


def resolve(notebook: str, profile: str, overrides: dict | None = None) -> SimpleNamespace:
    """Parameters for ``notebook`` at ``profile``, with ``overrides`` applied and all checked.

    Raises:
        ProfileError: unknown notebook/profile, an override that is not a parameter of the
            notebook, one whose type differs from the cpu value (e.g. a str for an int), or a
            value out of range (zero or negative sizes, densities above 1, ...).
    """
    params = table(notebook, profile)
    cpu = cpu_values(notebook)
    for name, value in PROFILES[notebook].get(profile, {}).items():
        if not _same_kind(value, cpu[name]):
            raise ProfileError(f"profiles.py, {notebook} {profile}: {name}={value!r} has the "
                               f"wrong type: expected {type(cpu[name]).__name__} like "
                               f"{cpu[name]!r}")
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
    for name, value in params.items():
        check_value(name, value)
    return SimpleNamespace(**params)
