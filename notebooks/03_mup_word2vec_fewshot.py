# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · The muP limit on Word2Vec and few-shot learning
#
# **Paper.** Yang & Hu 2021, *Tensor Programs IV: Feature Learning in Infinite-Width Neural
# Networks* (ICML), Sec. 9 (Word2Vec, Omniglot with first-order MAML).
#
# **The claim.** Both tasks need feature learning. In the kernel (GP/NTK) limits the embeddings
# of Word2Vec never move, so word analogies are answered at chance, and meta-learning cannot
# change the kernel that adapts to a new task. The muP limit learns features: it can be computed
# exactly for these models, it beats the kernel limits, and finite muP networks approach it as
# width grows.
#
# **What runs here.** Driven by `ntkpaper.experiments.nb03_mup_word2vec_fewshot`.
# (1) CBOW Word2Vec with negative sampling at TP4's own training rule (`ntkpaper.cbow`) in muP
# at TP4's widths and the exact muP limit (the same model in dimension V started from one-hot
# embeddings), beside TP4's text8 numbers; then at our earlier protocol (gensim's word2vec,
# `ntkpaper.word2vec`) in muP, NTP and SP, with the kernel limit (embeddings frozen at their
# initialisation) and gensim's own word2vec as an outside reference. (2) 5-way 1-shot
# first-order MAML (`ntkpaper.fewshot`), at our earlier protocol and at TP4's: one-hidden-layer
# muP networks (identity and ReLU),
# the exact muP limit of the linear network (a width d + k network from orthonormal weights,
# tested against notebook 02's closed recursion), and the GP/NTK limits (kernel gradient descent
# on each task's support set with neural-tangents kernels; with random label order per task,
# meta-training cannot improve them). **Data on this machine are stand-ins**: a text8-style
# corpus of 0.5M words from the Wikipedia dump in gensim's test data (text8 has 17M), and a
# glyph set rendered from Noto fonts with synthetic distortions instead of Omniglot's
# handwriting; every figure says so. The `full` profile asks for text8 and Omniglot.

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full: values below are cpu's, changes in pipeline/profiles.py
SEED = 0  # seed of every random draw
# 1 · Word2Vec (CBOW, negative sampling) on the text8-style stand-in corpus
W2V_CORPUS = "wiki_standin"  # "wiki_standin" (stand-in) or "text8" (downloaded when reachable)
W2V_MAX_TOKENS = 0  # keep the first words of the corpus (0: the whole corpus)
W2V_VOCAB = 3000  # most frequent words kept (the muP limit has this dimension; TP4: 71k)
W2V_TP4_WIDTHS = [64, 256, 1024]  # TP4 protocol: muP widths (TP4: 64, 256, 1024)
W2V_TP4_SEEDS = 2  # TP4 protocol: seeds per model (TP4: 1)
W2V_TP4_EPOCHS = 15  # TP4 protocol: epochs (TP4: 15 on text8)
W2V_TP4_JOBS = 2  # TP4 protocol: models trained at once (threads)
W2V_TP4_WORKERS = 1  # TP4 protocol: threads per model (> 1: Hogwild as TP4, not reproducible)
# 1b · Word2Vec at our earlier protocol (gensim's word2vec)
W2V_MUP_WIDTHS = [16, 64, 256, 1024]  # muP embedding widths
W2V_OTHER_WIDTHS = [64, 256, 1024]  # NTP and SP widths
W2V_LR = 0.05  # base learning rate (word2vec's CBOW default 0.05)
W2V_EPOCHS = 15  # passes over the corpus
W2V_WINDOW = 5  # context words on each side (at most)
W2V_NEGATIVE = 5  # negative samples per word
W2V_SAMPLE = 1e-4  # down-sampling threshold of frequent words
W2V_WORKERS = 1  # gensim threads (1: bit-reproducible; more is faster but races, Hogwild)
W2V_JOBS = 2  # gensim models trained at once (threads; each reproducible with W2V_WORKERS = 1)
# 2 · few-shot: first-order MAML, 5-way 1-shot, one-hidden-layer muP nets
FS_DATA = "glyphs"  # "glyphs" (stand-in) or "omniglot" (when the official zips are available)
FS_BACKGROUND = 30  # glyph stand-in: background alphabets
FS_EVALUATION = 20  # glyph stand-in: evaluation alphabets
FS_DRAWINGS = 20  # glyph stand-in: drawings per character
FS_WAYS = 5  # classes per task
FS_SHOTS = 1  # support drawings per class
FS_QUERIES = 1  # query drawings per class
FS_WIDTHS = [16, 64, 256, 1024]  # muP hidden widths
FS_ACTIVATIONS = ["identity", "relu"]  # hidden activations
FS_INNER_LR = 1.0  # MAML inner-loop SGD rate
FS_INNER_STEPS = 1  # MAML inner-loop steps (train and test)
FS_OUTER_LR = 0.1  # meta SGD rate (TP4's for the limit)
FS_META_STEPS = 1000  # meta-training steps (TP4: 10,000)
FS_BATCH = 16  # tasks per meta-step (TP4: 32)
FS_TEST_TASKS = 1000  # meta-test tasks (evaluation alphabets)
FS_VAL_TASKS = 500  # validation tasks (held-out background characters)
FS_VAL_FRACTION = 0.15  # background characters held out for validation (as torchmeta's split)
FS_TP4_WIDTHS = [2, 8, 32, 128]  # TP4 protocol: linear muP widths (TP4: 2 to 8192)
FS_TP4_SEEDS = 3  # TP4 protocol: seeds (task streams and projections)
FS_TP4_META_STEPS = 2000  # TP4 protocol: meta-steps of 32 tasks (TP4: 10,000)
FS_TP4_VAL_EVERY = 200  # TP4 protocol: validation checkpoints (TP4: every 100 steps)
FS_TP4_KERNEL_LRS = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]  # TP4 protocol: kernel limits' rates
FS_TP4_INNER_LRS = [0.05, 0.1, 0.2, 0.4]  # TP4 protocol: inner rates tried (TP4: 0.4)
FS_TP4_SELECT_STEPS = 1000  # TP4 protocol: meta-steps of the limit per inner rate tried
FS_VAL_EVERY = 250  # meta-steps between validation checks, best kept (0: keep the last)
KERNEL_LRS = [0.3, 1.0, 3.0, 10.0]  # kernel gradient-descent rates tried
KERNEL_STEPS = [1, 3, 10, 30]  # kernel gradient-descent steps tried

# %%
from ntkpaper import pipeline
from ntkpaper.experiments import nb03_mup_word2vec_fewshot as exp

run = pipeline.start(globals())

# %% [markdown]
# ## 1 · Word2Vec at TP4's own protocol
#
# TP4 trains CBOW with its own modified copy of Google's word2vec (edwardjhu/TP4 at b640ba7,
# `Word2Vec/src/word2vec.c` and `scripts/train-text8*.sh`; brief with line numbers in
# `docs/protocols/tp4.md`). Its rule, implemented in `ntkpaper.cbow` (our code, compiled with
# numba, tested against a hand computation of one step): the context vector is the **mean** of
# the context words' input vectors and each context word receives the error **divided by the
# number of context words** (the original word2vec, and gensim, add the whole error to each);
# window 8 (randomly shrunk), 25 negative samples from the unigram^0.75 distribution,
# sub-sampling 1e-4, learning rate 0.05 decayed linearly, weight decay 0.001 applied lazily to
# the rows used, logits clipped at +-12, 15 epochs; input vectors uniform with variance 1/n,
# output vectors 0. That is muP: no multipliers, one learning rate for both tables and all
# widths. The **muP limit** is the same model in dimension V started from one-hot input vectors,
# exactly (a finite net started from orthonormal rows follows it to rounding; tested), as TP4
# computes it. The GP/NTK limit's embeddings never move, so it answers at chance (a check in
# 1b). Accuracy after every epoch, as TP4 checkpoints every epoch.
#
# **What differs from TP4.** The corpus: the stand-in has 0.5M words against text8's 17.0M
# (3%), and the vocabulary is its `W2V_VOCAB` most frequent words (TP4: the 71k words seen 5
# times or more), because the limit's cost grows with V (V x V tables); so only the analogy
# questions whose four words are in that vocabulary count (mostly grammatical sections), and
# the search runs over those V words. TP4 ran one seed with 68 threads racing (Hogwild; its
# README says results depend on the machine); we run `W2V_TP4_SEEDS` seeds, one thread each,
# reproducible. The sigmoid is exact. TP4's 1,000-entry table is indexed with C's integer
# division (1000 / 12 / 2 = 41, not 41.67), so TP4 in effect trained with about
# sigmoid(0.984 f - 0.19) (0.452 at f = 0); `ntkpaper.cbow` reproduces that lookup with
# `sigmoid="tp4_table"`, not used here. Negatives come from the exact unigram distribution
# (TP4: a 10^8-entry table). Absolute accuracies are not comparable with
# TP4's; the trend with width and the gap to the limit are. The claims' criteria were written
# after one exploratory run of the new code (seed 0: 0.099, 0.126, 0.168 for widths 64, 256,
# 1024 and 0.175 for the limit) and before the runs shown here; they follow TP4's figure (gap
# to the limit 9.9 points at width 64, 0.7 at 1024) rather than that run.

# %%
with run.section("word2vec_tp4"):
    corpus, questions, corpus_title = exp.load_corpus(W2V_CORPUS, W2V_MAX_TOKENS)
    w2v_tp4 = exp.compute_word2vec_tp4(
        corpus, questions, W2V_VOCAB, W2V_TP4_WIDTHS, W2V_TP4_SEEDS, epochs=W2V_TP4_EPOCHS,
        jobs=W2V_TP4_JOBS, workers=W2V_TP4_WORKERS, seed=SEED)
w2v_tp4_summary = exp.w2v_tp4_summary(w2v_tp4)
run.record_all(exp.w2v_tp4_records(w2v_tp4_summary, w2v_tp4), "w2v_tp4_")
run.savefig(exp.plot_word2vec_tp4(w2v_tp4, run.caption(corpus_title)),
            "word2vec_tp4_protocol_accuracy_vs_epoch")
run.claim(exp.CLAIMS["w2v_tp4_improves_with_width"], w2v_tp4)
run.claim(exp.CLAIMS["w2v_tp4_approaches_limit"], w2v_tp4)
exp.w2v_tp4_table(w2v_tp4_summary, w2v_tp4)

# %% [markdown]
# How to read it: under TP4's rule on the stand-in, accuracy rises with width (8.7%, 13.5% and
# 15.9% at widths 64, 256 and 1024; means of two seeds) and the width-1024 net meets the computed
# limit (15.8%: limit minus width 1024 is -0.05 +- 0.5 points, paired over the questions), while
# width 64 stays 7.2 +- 0.9 points below it. That is TP4's pattern on text8 (gaps of 9.9 and
# 0.7 points). The absolute accuracies are about a third of TP4's: 3% of text8's words, 937
# mostly grammatical questions searched among 3,000 words, and curves still rising at epoch 15
# (15 epochs of the stand-in are 34 times fewer updates than TP4's 15 of text8). Our earlier
# gensim protocol (1b) scores higher on this small corpus at the same widths (13.2%, 16.8%,
# 17.3%; limit 17.8%); the ordering is the same. The kernel limit answers none of the 937.

# %% [markdown]
# ## 1b · Word2Vec at our earlier protocol: analogies per width, and the limits
#
# gensim's word2vec (CBOW, negative sampling, the context mean with the whole error added to
# each context word, window 5, 5 negatives, no weight decay) in muP, NTP and SP, as this
# notebook ran before TP4's own protocol was implemented; the same vocabulary and questions.
# Left: accuracy vs width, the muP limit, the kernel limit and gensim's own default (its
# initialisation, 100 dimensions) as lines. Right: how far the input embeddings moved,
# ||E_T - E_0|| / ||E_0||, vs width, with the fitted slopes (NTP's should fall like
# width^-1/2: its features freeze as width grows, muP's do not).

# %%
with run.section("word2vec"):
    w2v, info = exp.compute_word2vec(
        corpus, questions, W2V_VOCAB, W2V_MUP_WIDTHS, W2V_OTHER_WIDTHS, W2V_LR,
        epochs=W2V_EPOCHS, window=W2V_WINDOW, negative=W2V_NEGATIVE, sample=W2V_SAMPLE,
        workers=W2V_WORKERS, jobs=W2V_JOBS, seed=SEED)
run.record_all(exp.word2vec_records(w2v), "w2v_")
run.record_all(info, "w2v_")
slopes = exp.movement_slopes(w2v)
run.savefig(exp.plot_word2vec(w2v, info, slopes, run.caption(corpus_title)),
            "word2vec_accuracy_and_movement_vs_width")
run.record_all(slopes, "w2v_movement_slope_")
run.claim(exp.CLAIMS["w2v_mup_improves_with_width"], w2v)
run.claim(exp.CLAIMS["w2v_mup_approaches_limit"], w2v)
run.claim(exp.CLAIMS["w2v_limit_beats_kernel"], w2v, info)
run.claim(exp.CLAIMS["w2v_ntp_embeddings_freeze"], slopes)
w2v.drop(columns="seconds").round(4)

# %% [markdown]
# ## 2 · Few-shot learning with first-order MAML
#
# The characters, drawings per character and alphabet splits; a sample of evaluation-split
# characters first (each row: one character, several of its drawings).

# %%
with run.section("fewshot_data"):
    chars = exp.load_characters(FS_DATA, FS_BACKGROUND, FS_EVALUATION, FS_DRAWINGS, SEED)
chars_title = chars.meta["title"]  # names the stand-in when it is one
bg, ev = chars.subset("background"), chars.subset("evaluation")
run.record("fs_characters_background", len(bg.images))
run.record("fs_characters_evaluation", len(ev.images))
run.savefig(exp.plot_characters(chars, SEED, run.caption(chars_title)), "fewshot_characters")
exp.character_counts(chars)

# %% [markdown]
# Meta-training on background tasks (`FS_META_STEPS` steps of `FS_BATCH` tasks; TP4 used 10,000
# steps of 32), meta-test on `FS_TEST_TASKS` tasks from the evaluation alphabets (mean +-
# standard error over tasks). `FS_VAL_FRACTION` of the background characters are held out for
# validation: as in TP4's training script, the meta-parameters are checked on validation tasks
# every `FS_VAL_EVERY` steps and the best checkpoint is the one tested (`acc_last` is the last
# checkpoint's meta-test accuracy, `best_step` the chosen step). The kernel limits' inner-loop
# rate and number of steps are chosen on the same validation tasks; the networks use
# `FS_INNER_LR` and `FS_INNER_STEPS`. One panel per activation (linear: identity), the limits as
# lines; right: the meta-training loss.

# %%
with run.section("fewshot"):
    fs, fs_curves, kernel_grid = exp.compute_fewshot(
        bg.images, ev.images, FS_WIDTHS, FS_ACTIVATIONS, ways=FS_WAYS, shots=FS_SHOTS,
        queries=FS_QUERIES, inner_lr=FS_INNER_LR, inner_steps=FS_INNER_STEPS,
        outer_lr=FS_OUTER_LR, meta_steps=FS_META_STEPS, batch=FS_BATCH,
        test_tasks=FS_TEST_TASKS, val_tasks=FS_VAL_TASKS, val_fraction=FS_VAL_FRACTION,
        val_every=FS_VAL_EVERY, kernel_lrs=KERNEL_LRS, kernel_steps=KERNEL_STEPS, seed=SEED)
run.record_all(exp.fewshot_records(fs), "fs_")
task = f"{FS_WAYS}-way {FS_SHOTS}-shot"
run.savefig(exp.plot_fewshot(fs, fs_curves, task, run.caption(chars_title)),
            "fewshot_accuracy_vs_width")
run.claim(exp.CLAIMS["fs_mup_limit_beats_kernels"], fs)
run.claim(exp.CLAIMS["fs_mup_approaches_limit"], fs)
run.claim(exp.CLAIMS["fs_meta_training_helps_limit"], fs)
if "relu" in FS_ACTIVATIONS:
    run.claim(exp.CLAIMS["fs_relu_mup_beats_ntk"], fs)
fs.drop(columns="seconds").round(4)

# %% [markdown]
# ### At TP4's own protocol
#
# The section above uses our earlier protocol. This one follows TP4's scripts and code
# (edwardjhu/TP4 at b640ba7: `TP4MAML/train_all.sh`, `meta/maml/model.py`, `meta/train.py`;
# the facts carry over, the code is ours, `fewshot.TP4Config`): TP4's linear net
# f(x) = W2 (W1 x + alpha b1) with a first-layer bias and no readout bias; its muP limit is the
# same net at width 784 + 5 started from W1 = [sigma1 I; 0], W2 = [0 | sigma2 I] with readout
# scale sigma2 = 1/32 (so f = 0 at the start); each width is a random projection of it, with
# TP4's tuned meta-lr, sigma1, sigma2 and alpha of that width. First-order MAML: one inner SGD
# step of 0.4 on every parameter in meta-training, 20 at meta-test; the meta-gradient summed
# over 32 tasks and clipped to global norm 0.5; plain SGD (TP4's script asks for a multistep
# schedule but passes no milestones, so its rate is constant); raw pixels (ink = 1), classes
# augmented by 90/180/270-degree rotations in meta-training and validation; the best validation
# checkpoint is tested. One setting could not be kept: with TP4's inner rate of 0.4, the
# first run of this section meta-trained the limit into divergence (its query loss grew from
# 1.2 to about 2,600 in 2,000 steps, and the limit and widths 2, 32 and 128 ended below their
# accuracy before meta-training). The stable inner rate scales like 1/|x|^2, and the stand-in's glyphs carry
# more ink than Omniglot's resized strokes (mean pixel 0.13; about 105 ink units per image).
# So the inner rate is now chosen on validation among `FS_TP4_INNER_LRS`, 0.4 included, by
# meta-training the limit for `FS_TP4_SELECT_STEPS` steps at each rate (the table below). This
# grid was fixed after that run and after a diagnostic that looked at test accuracy for 0.1 and
# 0.2 on one seed; the claims' criteria are the ones written before any run.
# The GP and NTK limits (linear and ReLU) adapt with the same 20 steps
# from f = 0, their rate chosen on validation (TP4 tuned theirs, its Table 4, which could not
# be read). What differs: the glyph stand-in instead of Omniglot, `FS_TP4_META_STEPS` steps
# instead of 10,000, widths to 128 instead of 8192, float32 instead of float64, and
# `FS_TEST_TASKS` test tasks instead of 3,200. TP4's numbers (crosses; read off its MAML.png,
# +-0.001, Omniglot) are beside ours in the table.

# %%
with run.section("fewshot_tp4"):
    tp4 = exp.compute_fewshot_tp4(
        bg.images, ev.images, FS_TP4_WIDTHS, FS_TP4_SEEDS,
        ways=FS_WAYS, shots=FS_SHOTS, queries=FS_QUERIES, meta_steps=FS_TP4_META_STEPS,
        test_tasks=FS_TEST_TASKS, val_tasks=FS_VAL_TASKS, val_every=FS_TP4_VAL_EVERY,
        val_fraction=FS_VAL_FRACTION, kernel_lrs=FS_TP4_KERNEL_LRS,
        inner_lrs=FS_TP4_INNER_LRS, select_steps=FS_TP4_SELECT_STEPS, seed=SEED)
tp4_table = exp.tp4_summary(tp4)
run.record_all(exp.tp4_records(tp4_table, tp4.inner), "fs_tp4_")
tp4.inner.round(4)

# %%
run.savefig(exp.plot_fewshot_tp4(tp4_table, tp4.curves, run.caption(chars_title)),
            "fewshot_tp4_protocol")
run.claim(exp.CLAIMS["fs_tp4_limit_beats_kernels"], tp4_table)
run.claim(exp.CLAIMS["fs_tp4_approach_by_meta_training"], tp4_table)
tp4_table.round(4)

# %% [markdown]
# How to read it: under TP4's protocol the gap opens that our earlier protocol did not show.
# Meta-training lifts the limit by about 0.11 over its plain 20-step adaptation. The limit and
# the widths from 8 up end 0.07 to 0.15 above every kernel limit. TP4 reports 0.664 against 0.478 at
# most, on Omniglot. The gap is smaller here partly because the kernel limits are much
# stronger on the stand-in than on Omniglot (about 0.59 against TP4's 0.42 to 0.48): the glyphs
# are easier for a fixed kernel. Width 32 ends above the limit. TP4 tuned its meta-rate to 0.4,
# four times the others', so it moves further in the same number of steps, and the approach to
# the limit is not monotone within this budget. Seeds: the spread of the limit (s.d. over 3
# seeds) enters the claim's margin together with the paired error over the shared test tasks.

# %% [markdown]
# ### The table, laid out like TP4's Table 2
#
# Rows: the kernel limits, finite muP widths, the muP limit; columns: activation. Ours are
# meta-test accuracies in percent (mean +- standard error over tasks) on the data named in the
# caption. The paper's are on Omniglot after 100 epochs of meta-training with hyper-parameters
# tuned per model: in its Table 2 the finite muP nets rise with width towards the linear muP
# limit, which is the best entry, above the GP and NTK limits. Its values are not copied here
# (they could not be checked against the paper from this offline project), and the stand-in is
# not as hard as Omniglot, so compare orderings, not values. At the `cpu` profile ours are
# meta-trained on a twentieth of the paper's tasks (1,000 steps of 16 vs 10,000 of 32); the next
# section shows one run at the paper's budget.

# %%
exp.table2(fs, FS_WIDTHS, f"{task}, {chars_title}")

# %% [markdown]
# ### At the paper's meta-training budget (one committed GPU run)
#
# TP4's budget with our earlier protocol (widths 2 to 8192, 10,000 meta-steps of 32 tasks, the
# best of 100 validation checkpoints, 5,000 meta-test tasks, the same rates; the `full` profile
# now runs that protocol for 3,000 steps and TP4's own for 10,000) was run once on an
# NVIDIA H100 on the same glyph stand-in with `benchmarks/fewshot_scale.py`; the GP/NTK limits of
# that run were computed on a CPU, because at the time (jax 0.5.3 in the lock) neural-tangents
# 0.6.5 did not import under the GPU machine's jax 0.11.2 (it does now, through `ntkpaper.nt`).
# The results are committed in `benchmarks/results/fewshot_full_glyphs_*`
# (with a README-style summary there) and only read here. Left: meta-test accuracy vs width at
# that budget, one panel per activation, with the limits as lines. Right: meta-test accuracy
# (solid) and validation accuracy (dashed, held-out background characters) of the width-32 and
# width-2048 nets and the linear muP limit after 0 to 10,000 meta-steps, training continued
# without selection.

# %%
from IPython.display import display

full = exp.load_full_budget_run()  # (accuracies, checkpoints), or None if not committed
if full is None:
    print("no committed full-budget run found in benchmarks/results")
else:
    run.savefig(exp.plot_full_budget(*full, exp.FULL_RUN_CAPTION), "fewshot_full_budget_gpu_run")
    print(exp.full_budget_summary(full[0]))
    display(exp.full_budget_table(full[0]))

# %% [markdown]
# ## Claims
#
# Each claim (or check) was stated right after the figure that is its evidence; the table
# gathers them.

# %%
run.finish()
