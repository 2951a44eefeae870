"""Our compiled CBOW loop (ntkpaper.cbow) against gensim's word2vec on the same corpus.

Usage: ``python benchmarks/cbow_vs_gensim.py [--widths 64 256 1024 0] [--seeds 2] [--out DIR]``
(width 0: the muP limit, dimension V). Both engines run word2vec's own rule, the one gensim
implements (``cbow_mean=1``: context mean, the whole error added to every context word, logits
clipped at +-6, no weight decay), at notebook 03's earlier settings (window 5, 5 negatives,
sub-sampling 1e-4, rate 0.05 decayed linearly, 15 epochs) in muP (input vectors of variance 1/n,
output vectors 0; the limit from one-hot rows), one thread each, one model at a time, on the
stand-in corpus's 3,000 most frequent words. The two engines draw different random numbers, so
their accuracies agree only up to seed noise: the table gives the mean and spread over seeds.
A third row per width runs TP4's rule (``ntkpaper.cbow.TP4_TEXT8``) for its cost. Writes
``cbow_vs_gensim.csv`` and ``.md`` in ``--out`` (default ``benchmarks/results``). Not a test:
times depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ntkpaper import cbow, word2vec
from ntkpaper.data import text

WORD2VEC_RULE = cbow.CBOWConfig(window=5, negative=5, sample=1e-4, alpha=0.05,
                                weight_decay=0.0, epochs=15, max_exp=6.0, error_split="full")


def run(widths, seeds: int, vocab_size: int = 3000) -> pd.DataFrame:
    corpus = text.load_corpus("wiki_standin")
    vocab = word2vec.build_vocab(corpus.text, max_size=vocab_size)
    ids = word2vec.encode(corpus.text, vocab)
    q, _ = word2vec.analogy_indices(corpus.questions, vocab)
    V = len(vocab)
    cbow.train(ids[:2000], vocab.counts, *cbow.init_tables(V, 8), replace(WORD2VEC_RULE, epochs=1))
    rows = []
    for s in range(seeds):
        for w in widths:
            width = None if w == 0 else int(w)
            name = "limit" if width is None else str(width)
            for engine, cfg in (("ntkpaper.cbow", WORD2VEC_RULE), ("gensim", None),
                                ("ntkpaper.cbow, TP4's rule", cbow.TP4_TEXT8)):
                if engine == "gensim":
                    sc = word2vec.scales("mup", width, WORD2VEC_RULE.alpha, V)
                    res = word2vec.train(ids, vocab, sc, window=5, negative=5, sample=1e-4,
                                         epochs=15, seed=s, workers=1)
                    emb, secs = res["embeddings"], res["seconds"]
                else:
                    iv, ov = cbow.init_tables(V, width, seed=s)
                    t0 = time.perf_counter()
                    cbow.train(ids, vocab.counts, iv, ov, cfg, seed=s)
                    emb, secs = iv, time.perf_counter() - t0
                rows.append(dict(engine=engine, width=name, seed=s, seconds=round(secs, 2),
                                 accuracy=word2vec.analogy_accuracy(emb, q)))
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024, 0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    df = run(args.widths, args.seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "cbow_vs_gensim.csv", index=False)
    table = df.groupby(["width", "engine"], sort=False).agg(
        seconds=("seconds", "mean"), accuracy=("accuracy", "mean"),
        accuracy_min=("accuracy", "min"), accuracy_max=("accuracy", "max")).round(3) \
        .reset_index()
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in table.itertuples(index=False)]
    md = (f"# ntkpaper.cbow vs gensim (stand-in corpus, V=3000, 15 epochs, {args.seeds} seeds)\n\n"
          f"Machine: {platform.processor() or platform.machine()}, one thread per model, one "
          "model at a time. Written by `benchmarks/cbow_vs_gensim.py` (its docstring says what "
          "runs).\n\n" + "\n".join(lines) + "\n")
    (args.out / "cbow_vs_gensim.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
