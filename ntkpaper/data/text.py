"""Text for notebook 03 (Word2Vec): text8-style cleaning and the Google word-analogy questions.

text8 (Mahoney) is the first 10^8 bytes of an English Wikipedia dump cleaned by ``wikifil.pl``:
only article text is kept, markup is removed, letters are lower-cased, digits are spelled out
("1984" -> "one nine eight four") and everything else becomes a single space.
:func:`clean_wikitext` applies those rules to the ``<text>`` of MediaWiki XML pages, so that any
dump (e.g. the shortened one shipped in gensim's test data) becomes a text8-style corpus.
:func:`parse_analogies` reads ``questions-words.txt`` (Mikolov et al. 2013): ``: section``
headers followed by ``a b c d`` lines meaning "a is to b as c is to d".

Measured on the shortened dump in the ``gensim==4.3.3`` wheel
(``gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2``,
6.1 MB of XML): 2.98 MB of clean text, 497k words in 1.1 s; with words seen >= 5 times (8.7k)
3,400 of the wheel's 19,544 analogy questions are in vocabulary, mostly grammatical sections.

Loaders (:func:`load_corpus`): ``"text8"`` is the real corpus (``text8.zip`` in the data
directory, or downloaded from :data:`TEXT8_URL`; verified by the published archive size and by the
content: exactly 10^8 bytes of ``[a-z ]``); ``"wiki_standin"`` is the text8-style corpus made
from the dump in the gensim wheel (fetched from PyPI with ``pip download`` into
``data/raw/wheels``), clearly a stand-in: about 0.5% of text8's 17M words. Both come with the
analogy questions from the same wheel (the Google file). Cached as text in the data directory,
written atomically.
"""

from __future__ import annotations

import bz2
import html
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ntkpaper import paths
from ntkpaper._io import atomic_write_text
from ntkpaper.data import sources
from ntkpaper.data.sources import DatasetUnavailable

GENSIM_WHEEL = "gensim==4.3.3"
WHEEL_DUMP = ("gensim/test/test_data/"
              "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
WHEEL_QUESTIONS = "gensim/test/test_data/questions-words.txt"
TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"
TEXT8_ZIP_BYTES = 31_344_016  # the published size check (TensorFlow's word2vec tutorial)
TEXT8_BYTES = 100_000_000

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.S)
_RULES = [
    (re.compile(r"<ref[^>]*/>", re.S), " "),            # self-closing references
    (re.compile(r"<ref[^>]*>.*?</ref>", re.S), " "),    # references
    (re.compile(r"<!--.*?-->", re.S), " "),             # comments
    (re.compile(r"<[^>]*>"), " "),                      # remaining tags
    (re.compile(r"\{\|.*?\|\}", re.S), " "),            # tables
    (re.compile(r"\{\{[^{}]*\}\}"), " "),               # templates (innermost first, repeated)
    (re.compile(r"\[\[(?:image|file|category):[^\]]*\]\]", re.I), " "),  # images, categories
    (re.compile(r"\[\[[a-z\-]{2,12}:[^\]]*\]\]"), " "),  # interlanguage links
    (re.compile(r"\[\[[^\]|]*\|([^\]]*)\]\]"), r"\1"),  # [[target|shown]] -> shown
    (re.compile(r"\[https?://[^ \]]*([^\]]*)\]"), r"\1"),  # [url text] -> text
    (re.compile(r"https?://\S+"), " "),                # bare urls
]


def clean_wikitext(markup: str) -> str:
    """One page's wiki markup -> lower-case letters, spelled-out digits, single spaces."""
    text = html.unescape(markup)
    for _ in range(3):  # nested templates
        text = _RULES[5][0].sub(" ", text)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    text = text.lower()
    text = re.sub(r"[0-9]", lambda m: f" {_DIGITS[int(m.group())]} ", text)
    return re.sub(r"[^a-z]+", " ", text).strip()


def clean_dump(xml: str) -> str:
    """Every article of a MediaWiki XML dump (``<text>`` elements; redirects dropped), cleaned
    and joined by single spaces: a text8-style corpus."""
    pages = [m.group(1) for m in _TEXT.finditer(xml)]
    kept = [clean_wikitext(p) for p in pages if not p.lstrip().lower().startswith("#redirect")]
    return " ".join(p for p in kept if p)


def parse_analogies(text: str) -> pd.DataFrame:
    """``questions-words.txt`` -> rows section, a, b, c, d (lower-cased).

    Raises:
        ValueError: a question line without exactly four words (names the line number).
    """
    rows, section = [], None
    for i, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.lower().split()
        if len(words) != 4:
            raise ValueError(f"analogy line {i} has {len(words)} words, expected 4: {line!r}")
        if section is None:
            raise ValueError(f"analogy line {i} comes before any ': section' header")
        rows.append({"section": section, "a": words[0], "b": words[1], "c": words[2],
                     "d": words[3]})
    return pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"])


def in_vocabulary(questions: pd.DataFrame, vocab) -> pd.DataFrame:
    """The questions whose four words are all in ``vocab`` (any container of words)."""
    vocab = set(vocab)
    keep = questions[["a", "b", "c", "d"]].isin(vocab).all(axis=1)
    return questions[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Loaders


@dataclass
class Corpus:
    """A text8-style corpus: ``text`` (lower-case words separated by single spaces), the analogy
    ``questions`` (rows section, a, b, c, d) and ``meta`` (title, stand_in, source)."""

    text: str
    questions: pd.DataFrame
    meta: dict


def read_wheel(path: str | Path) -> tuple[str, str]:
    """(cleaned corpus, questions file text) from a gensim wheel (or a zip with the same members).

    Raises:
        ValueError: the archive lacks one of the two members (names it).
    """
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for member in (WHEEL_DUMP, WHEEL_QUESTIONS):
            if member not in names:
                raise ValueError(f"{path} has no member {member}; is it the {GENSIM_WHEEL} "
                                 "wheel?")
        xml = bz2.decompress(z.read(WHEEL_DUMP)).decode("utf-8")
        questions = z.read(WHEEL_QUESTIONS).decode("utf-8")
    return clean_dump(xml), questions


def read_text8_zip(path: str | Path, full: bool = True) -> str:
    """The corpus inside ``text8.zip`` (one member named ``text8``).

    Args:
        full: also require the real corpus's exact length (10^8 bytes); ``False`` for miniatures.

    Raises:
        ValueError: wrong member, characters other than ``[a-z ]``, or wrong length.
    """
    with zipfile.ZipFile(path) as z:
        if z.namelist() != ["text8"]:
            raise ValueError(f"{path} should hold one member 'text8', holds {z.namelist()}")
        raw = z.read("text8")
    if full and len(raw) != TEXT8_BYTES:
        raise ValueError(f"{path}: text8 has {len(raw)} bytes, expected {TEXT8_BYTES}; the "
                         f"download is damaged: delete it and fetch {TEXT8_URL} again")
    if re.search(rb"[^a-z ]", raw):
        raise ValueError(f"{path}: text8 holds characters other than lower-case letters and "
                         "spaces; it is not the text8 corpus")
    return raw.decode("ascii").strip()


def _gensim_wheel() -> Path:
    """The gensim wheel: one put in the data directory, else fetched from PyPI into
    ``data/raw/wheels`` (any manylinux wheel: only its test data are read)."""
    d = paths.data_dir()
    local = sorted(d.glob("gensim-*.whl"))
    if local:
        return local[-1]
    try:
        return sources.pip_download(GENSIM_WHEEL, d / "raw", [
            "--only-binary=:all:", "--python-version", "3.11", "--platform",
            "manylinux2014_x86_64"])
    except sources.SourceError as err:
        raise DatasetUnavailable(f"could not download the {GENSIM_WHEEL} wheel from PyPI "
                                 f"({err}); put the wheel in {d} and retry") from err


def load_corpus(name: str = "wiki_standin") -> Corpus:
    """``"text8"`` (real) or ``"wiki_standin"`` (gensim's shortened Wikipedia dump, cleaned the
    text8 way); both cached under the data directory.

    Raises:
        DatasetUnavailable: the sources could not be reached (says what to put where).
        ValueError: unknown name.
    """
    if name not in ("text8", "wiki_standin"):
        raise ValueError(f"unknown corpus {name!r}; choose 'text8' or 'wiki_standin'")
    d = paths.data_dir()
    q_path, corpus_path = d / "questions-words.txt", d / f"{name}.txt"
    if not q_path.exists() or (name == "wiki_standin" and not corpus_path.exists()):
        corpus, questions = read_wheel(_gensim_wheel())
        atomic_write_text(q_path, questions)
        if name == "wiki_standin":
            atomic_write_text(corpus_path, corpus)
    if name == "text8" and not corpus_path.exists():
        zpath = d / "text8.zip"
        if not zpath.exists():
            try:
                sources.download(TEXT8_URL, zpath, timeout=60)
            except sources.SourceError as err:
                raise DatasetUnavailable(
                    f"text8: no {zpath} and {err}; download text8.zip ({TEXT8_ZIP_BYTES} bytes) "
                    f"into {d}, or use 'wiki_standin'") from err
            if zpath.stat().st_size != TEXT8_ZIP_BYTES:
                size = zpath.stat().st_size
                zpath.unlink()
                raise DatasetUnavailable(f"{TEXT8_URL} gave {size} bytes, expected "
                                         f"{TEXT8_ZIP_BYTES}; removed it, try again")
        atomic_write_text(corpus_path, read_text8_zip(zpath))
    text = corpus_path.read_text()
    meta = {"name": name, "stand_in": name != "text8",
            "title": "text8" if name == "text8" else
            "Wikipedia dump from the gensim wheel, cleaned like text8 (stand-in for text8)",
            "words": text.count(" ") + 1}
    return Corpus(text, parse_analogies(q_path.read_text()), meta)
