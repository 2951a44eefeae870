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
``data/raw/wheels``), clearly a stand-in: 497k words, about 3% of text8's 17.0M. Both come with the
analogy questions from the same wheel (the Google file). Cached as text in the data directory,
written atomically.

Checksums: the two members read from the wheel (:data:`WHEEL_DUMP_SHA256`,
:data:`WHEEL_QUESTIONS_SHA256`: the same bytes in every platform's wheel of ``gensim==4.3.3``),
the prepared stand-in corpus ``wiki_standin.txt`` (:data:`WIKI_STANDIN_SHA256`) and
``questions-words.txt`` (:data:`QUESTIONS_SHA256`) are pinned, and every :func:`load_corpus`
verifies the prepared files. The real text8 has no published sha256 that a machine of ours could
check: ``text8.zip`` is verified by its published size and its content (10^8 bytes of
``[a-z ]``), and the sha256 of ``text8.txt`` prepared from it is recorded beside it
(``text8.txt.sha256``) and checked on every later load. A prepared file that fails (truncated,
edited, other data) is rebuilt once from its source with a
:class:`ntkpaper.data.sources.DataRebuiltWarning`; if the rebuilt file still does not match,
:class:`ChecksumMismatch` says what differs and how to fix it.
"""

from __future__ import annotations

import bz2
import hashlib
import html
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ntkpaper import paths
from ntkpaper._io import atomic_write_text
from ntkpaper.data import sources
from ntkpaper.data.sources import (
    ChecksumMismatch,
    DatasetUnavailable,
    ensure_writable,
    warn_rebuild,
)

GENSIM_WHEEL = "gensim==4.3.3"
WHEEL_DUMP = ("gensim/test/test_data/"
              "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
WHEEL_QUESTIONS = "gensim/test/test_data/questions-words.txt"
TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"
TEXT8_ZIP_BYTES = 31_344_016  # the published size check (TensorFlow's word2vec tutorial)
TEXT8_BYTES = 100_000_000
# sha256 of the two members read from the wheel (2026-11-23, gensim-4.3.3-cp311 manylinux wheel)
WHEEL_DUMP_SHA256 = "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d"
WHEEL_QUESTIONS_SHA256 = "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36"
# sha256 of the prepared files: wiki_standin.txt (2,980,614 bytes, 497k words) and
# questions-words.txt (the wheel's member as it is)
WIKI_STANDIN_SHA256 = "07ee727a4574a0165bed5dbe5df530592771ed27b7ebb8f5491fdbebb155227d"
QUESTIONS_SHA256 = WHEEL_QUESTIONS_SHA256

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


def read_wheel(path: str | Path, pinned: bool = False) -> tuple[str, str]:
    """(cleaned corpus, questions file text) from a gensim wheel (or a zip with the same members).

    Args:
        pinned: also require the two members' pinned sha256 (:data:`WHEEL_DUMP_SHA256`,
            :data:`WHEEL_QUESTIONS_SHA256`).

    Raises:
        ValueError: the archive lacks one of the two members (names it), or, with ``pinned``, a
            member does not match its pinned sha256.
    """
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for member in (WHEEL_DUMP, WHEEL_QUESTIONS):
            if member not in names:
                raise ValueError(f"{path} has no member {member}; is it the {GENSIM_WHEEL} "
                                 "wheel?")
        blobs = {m: z.read(m) for m in (WHEEL_DUMP, WHEEL_QUESTIONS)}
    if pinned:
        for member, want in ((WHEEL_DUMP, WHEEL_DUMP_SHA256),
                             (WHEEL_QUESTIONS, WHEEL_QUESTIONS_SHA256)):
            got = hashlib.sha256(blobs[member]).hexdigest()
            if got != want:
                raise ValueError(f"{path}: member {member} has sha256 {got[:16]}... "
                                 f"({len(blobs[member])} bytes), pinned {want[:16]}...; "
                                 f"not the {GENSIM_WHEEL} wheel's test data")
    xml = bz2.decompress(blobs[WHEEL_DUMP]).decode("utf-8")
    return clean_dump(xml), blobs[WHEEL_QUESTIONS].decode("utf-8")


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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_checked(path: Path, expected: str | None) -> tuple[bytes | None, str | None]:
    """(the bytes of the prepared file ``path``, ``None``) if it has the sha256 ``expected``,
    else (``None``, why not)."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None, "is missing"
    if expected is None:
        return None, "has no recorded sha256"
    got = hashlib.sha256(blob).hexdigest()
    if got != expected:
        return None, (f"has sha256 {got[:16]}... ({len(blob):,} bytes), expected "
                      f"{expected[:16]}... (truncated, edited or other data)")
    return blob, None


def _verified(path: Path, expected: Callable[[], str | None], build: Callable[[], list[Path]],
              what: str, fix: str, fresh: set[Path]) -> str:
    """The text of ``path``, whose sha256 must be ``expected()``: rebuilt once with ``build()``
    (which returns the files it wrote, added to ``fresh``) if it is missing, or, with a
    :class:`ntkpaper.data.sources.DataRebuiltWarning`, if it does not match and was not just built.

    Raises:
        ChecksumMismatch: the rebuilt file does not match either (says how and what to do).
    """
    blob, problem = _read_checked(path, expected())
    if problem is None:
        return blob.decode("utf-8")
    if path in fresh:
        raise ChecksumMismatch(f"{what} {path}, rebuilt from its source, {problem}. {fix}")
    ensure_writable(what)
    if path.exists():
        warn_rebuild(f"{what} {path} {problem}; removed, rebuilding it once from its source")
        path.unlink()
    fresh.update(build())
    blob, problem = _read_checked(path, expected())
    if problem is not None:
        raise ChecksumMismatch(f"{what} {path}, rebuilt from its source, {problem}. {fix}")
    return blob.decode("utf-8")


def _wheel_texts() -> tuple[str, str]:
    """(corpus, questions) from the gensim wheel, its members verified; a downloaded wheel that
    is truncated or corrupt is removed and downloaded again, once."""
    wheel = _gensim_wheel()
    try:
        return read_wheel(wheel, pinned=True)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if wheel.parent != paths.data_dir() / "raw" / "wheels":  # put there by hand: keep it
            raise ChecksumMismatch(f"{wheel}: {err}. Replace it with the {GENSIM_WHEEL} wheel "
                                   "from PyPI, or remove it to have it downloaded") from err
        warn_rebuild(f"{wheel}: {err}; removed, downloading it again")
        wheel.unlink()
    wheel = _gensim_wheel()
    try:
        return read_wheel(wheel, pinned=True)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ChecksumMismatch(f"{wheel} (downloaded again): {err}. PyPI no longer serves the "
                               f"{GENSIM_WHEEL} wheel this project pinned; put that wheel in "
                               f"{paths.data_dir()}") from err


def _prepare_from_wheel(name: str) -> list[Path]:
    d = paths.data_dir()
    corpus, questions = _wheel_texts()
    written = [atomic_write_text(d / "questions-words.txt", questions)]
    if name == "wiki_standin":
        written.append(atomic_write_text(d / "wiki_standin.txt", corpus))
    return written


def _prepare_text8() -> list[Path]:
    d = paths.data_dir()
    zpath, corpus_path = d / "text8.zip", d / "text8.txt"
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
    try:
        body = read_text8_zip(zpath)
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        raise DatasetUnavailable(f"{zpath}: {err}; delete it and download text8.zip "
                                 f"({TEXT8_ZIP_BYTES} bytes) again") from err
    atomic_write_text(corpus_path, body)
    atomic_write_text(_record_path(corpus_path), _sha256(corpus_path) + "\n")
    return [corpus_path]


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _recorded(path: Path) -> str | None:
    record = _record_path(path)
    return record.read_text().strip() if record.exists() else None


def load_corpus(name: str = "wiki_standin") -> Corpus:
    """``"text8"`` (real) or ``"wiki_standin"`` (gensim's shortened Wikipedia dump, cleaned the
    text8 way); both prepared once under the data directory and verified on every load (see the
    module's docstring), a prepared file that fails being rebuilt once.

    Raises:
        DatasetUnavailable: the sources could not be reached (says what to put where).
        ChecksumMismatch: a prepared file, rebuilt, still does not match its checksum.
        ValueError: unknown name.
    """
    if name not in ("text8", "wiki_standin"):
        raise ValueError(f"unknown corpus {name!r}; choose 'text8' or 'wiki_standin'")
    d = paths.data_dir()
    q_path, corpus_path = d / "questions-words.txt", d / f"{name}.txt"
    fix = (f"The pins in ntkpaper/data/text.py were made from the {GENSIM_WHEEL} wheel with this "
           f"code; remove {d / 'raw' / 'wheels'}/gensim-*.whl (and any gensim-*.whl in {d}) to "
           "fetch the wheel again, and if it persists the cleaning code has changed: update the "
           "pins deliberately")
    fresh: set[Path] = set()  # the files this call has (re)built: not rebuilt twice
    # one read of the wheel prepares both files of the stand-in
    questions = _verified(q_path, lambda: QUESTIONS_SHA256, lambda: _prepare_from_wheel(name),
                          "the analogy questions", fix, fresh)
    if name == "wiki_standin":
        text = _verified(corpus_path, lambda: WIKI_STANDIN_SHA256,
                         lambda: _prepare_from_wheel(name), "the stand-in corpus", fix, fresh)
    else:
        text = _verified(corpus_path, lambda: _recorded(corpus_path), _prepare_text8,
                         "the text8 corpus", f"Delete {d / 'text8.zip'} and download it again "
                                             f"({TEXT8_ZIP_BYTES} bytes)", fresh)
    meta = {"name": name, "stand_in": name != "text8",
            "title": "text8" if name == "text8" else
            "Wikipedia dump from the gensim wheel, cleaned like text8 (stand-in for text8)",
            "words": text.count(" ") + 1}
    return Corpus(text, parse_analogies(questions), meta)
