"""text8-style cleaning of wiki markup, parsing of the word-analogy questions, and the corpus
loaders on miniatures: pinned checksums, a truncated corpus rebuilt once, clear errors."""

import hashlib
import shutil
import zipfile

import pytest

from ntkpaper import paths
from ntkpaper.data import sources, text


def test_clean_wikitext_follows_the_text8_rules():
    markup = ("'''Anarchism''' is a [[political philosophy|philosophy]] born in 1840"
              "<ref>Some book, p. 12</ref> {{citation needed|date=May 2020}}. "
              "See [[Image:flag.png|thumb|A flag]] and [http://example.org the site]. "
              "Caf&eacute; &amp; co.<!-- hidden --> [[Category:Ideas]] [[de:Anarchismus]]")
    assert text.clean_wikitext(markup) == (
        "anarchism is a philosophy born in one eight four zero see and the site caf co")


def test_clean_dump_drops_redirects_and_keeps_only_text():
    xml = ("<page><title>A</title><text xml:space=\"preserve\">Hello World 42</text></page>"
           "<page><title>B</title><text>#REDIRECT [[A]]</text></page>"
           "<page><title>C</title><text>{|table|}Second page</text></page>")
    assert text.clean_dump(xml) == "hello world four two second page"


def test_parse_analogies_and_vocabulary_filter():
    q = text.parse_analogies(": capital-common-countries\nAthens Greece Baghdad Iraq\n"
                             "\n: family\nboy girl brother sister\nking queen man woman\n")
    assert list(q.section) == ["capital-common-countries", "family", "family"]
    assert q.iloc[0].tolist() == ["capital-common-countries", "athens", "greece", "baghdad",
                                  "iraq"]
    kept = text.in_vocabulary(q, {"boy", "girl", "brother", "sister", "king", "queen", "man"})
    assert kept[["a", "d"]].values.tolist() == [["boy", "sister"]]
    with pytest.raises(ValueError, match="line 2 has 3 words"):
        text.parse_analogies(": s\nboy girl brother\n")
    with pytest.raises(ValueError, match="before any ': section' header"):
        text.parse_analogies("boy girl brother sister\n")


def _sha(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _mini_wheel(path, pages, questions, monkeypatch=None):
    """A miniature gensim wheel; with ``monkeypatch``, its members and the files prepared from
    it are pinned the way the real wheel's are."""
    import bz2

    xml = "".join(f"<page><text>{p}</text></page>" for p in pages)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(text.WHEEL_DUMP, bz2.compress(xml.encode()))
        z.writestr(text.WHEEL_QUESTIONS, questions)
    if monkeypatch is not None:
        with zipfile.ZipFile(path) as z:
            dump, q = z.read(text.WHEEL_DUMP), z.read(text.WHEEL_QUESTIONS)
        monkeypatch.setattr(text, "WHEEL_DUMP_SHA256", _sha(dump))
        monkeypatch.setattr(text, "WHEEL_QUESTIONS_SHA256", _sha(q))
        monkeypatch.setattr(text, "QUESTIONS_SHA256", _sha(q))
        monkeypatch.setattr(text, "WIKI_STANDIN_SHA256",
                            _sha(text.clean_dump(xml).encode()))
    return path


def test_wheel_and_text8_readers_on_miniatures(tmp_path):
    _mini_wheel(tmp_path / "w.whl", ["Paris is in [[France]].", "#REDIRECT [[x]]"],
                ": capital\nparis france rome italy\n")
    corpus, questions = text.read_wheel(tmp_path / "w.whl")
    assert corpus == "paris is in france" and questions.startswith(": capital")
    with zipfile.ZipFile(tmp_path / "bad.whl", "w") as z:
        z.writestr("gensim/other.txt", "x")
    with pytest.raises(ValueError, match="has no member gensim/test/test_data/enwiki"):
        text.read_wheel(tmp_path / "bad.whl")
    with zipfile.ZipFile(tmp_path / "text8.zip", "w") as z:
        z.writestr("text8", " anarchism originated as a term")
    assert text.read_text8_zip(tmp_path / "text8.zip", full=False).startswith("anarchism")
    with pytest.raises(ValueError, match="expected 100000000"):
        text.read_text8_zip(tmp_path / "text8.zip")
    with zipfile.ZipFile(tmp_path / "upper.zip", "w") as z:
        z.writestr("text8", "Anarchism 1")
    with pytest.raises(ValueError, match="not the text8 corpus"):
        text.read_text8_zip(tmp_path / "upper.zip", full=False)


def test_load_corpus_from_a_local_wheel(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["One two, three 3."],
                ": s\none two three four\n", monkeypatch)
    c = text.load_corpus("wiki_standin")
    assert c.text == "one two three three" and c.meta["stand_in"] and len(c.questions) == 1
    assert (tmp_path / "wiki_standin.txt").exists()  # cached
    with pytest.raises(ValueError, match="unknown corpus 'text9'"):
        text.load_corpus("text9")


def test_text8_unreachable_says_where_to_put_it_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["One two."], ": s\na b c d\n",
                monkeypatch)

    def offline(url, dest, timeout=20.0):
        raise sources.SourceError(f"download of {url} failed: no network")

    monkeypatch.setattr(sources, "download", offline)
    with pytest.raises(sources.DatasetUnavailable, match="download text8.zip"):
        text.load_corpus("text8")
    assert not (tmp_path / "text8.txt").exists() and not (tmp_path / "text8.zip").exists()


def test_text8_zip_of_the_wrong_size_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["One two."], ": s\na b c d\n",
                monkeypatch)

    def truncated(url, dest, timeout=20.0):
        with zipfile.ZipFile(dest, "w") as z:
            z.writestr("text8", " a b")
        return dest

    monkeypatch.setattr(sources, "download", truncated)
    with pytest.raises(sources.DatasetUnavailable, match="expected 31344016"):
        text.load_corpus("text8")
    assert not (tmp_path / "text8.zip").exists()


def test_a_truncated_corpus_is_rebuilt_once_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["Paris is in France.", "Rome 2"],
                ": capital\nparis france rome italy\n", monkeypatch)
    first = text.load_corpus("wiki_standin")
    assert first.text == "paris is in france rome two"
    for name in ("wiki_standin.txt", "questions-words.txt"):
        path = tmp_path / name
        path.write_bytes(path.read_bytes()[:7])  # truncated, as an interrupted copy leaves it
        with pytest.warns(sources.DataRebuiltWarning, match=f"{name}.*rebuilding it once"):
            again = text.load_corpus("wiki_standin")
        assert again.text == first.text and again.questions.equals(first.questions)
        assert _sha(path.read_bytes()) == (text.WIKI_STANDIN_SHA256 if name.startswith("wiki")
                                           else text.QUESTIONS_SHA256)
    (tmp_path / "wiki_standin.txt").write_text("paris is in italy rome two")  # edited: same size
    with pytest.warns(sources.DataRebuiltWarning, match="has sha256"):
        assert text.load_corpus("wiki_standin").text == first.text


def test_a_corpus_that_still_differs_after_the_rebuild_says_what_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["Paris is in France."],
                ": capital\nparis france rome italy\n", monkeypatch)
    monkeypatch.setattr(text, "WIKI_STANDIN_SHA256", "0" * 64)  # the cleaning code "changed"
    with pytest.raises(sources.ChecksumMismatch) as err:
        text.load_corpus("wiki_standin")
    msg = str(err.value)
    assert "wiki_standin.txt, rebuilt from its source, has sha256" in msg
    assert "expected 0000000000000000" in msg and "update the pins deliberately" in msg
    assert isinstance(err.value, sources.DatasetUnavailable)  # the CLI's `data` catches it


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["One."], ": s\na b c d\n")
    with pytest.raises(sources.ChecksumMismatch, match=r"member gensim/test/test_data/enwiki.*"
                                                         r"has sha256 .*pinned a53f4648"):
        text.load_corpus("wiki_standin")  # the real pins, a miniature: refused, kept
    assert (tmp_path / "gensim-0.0-py3-none-any.whl").exists()
    assert not (tmp_path / "wiki_standin.txt").exists()


def test_a_truncated_downloaded_wheel_is_downloaded_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    good = _mini_wheel(tmp_path / "good.zip", ["One two."], ": s\na b c d\n", monkeypatch)
    wheels = tmp_path / "raw" / "wheels"
    wheels.mkdir(parents=True)
    bad = wheels / "gensim-4.3.3-cp311-cp311-manylinux_2_17_x86_64.whl"
    bad.write_bytes(good.read_bytes()[:-40])  # an interrupted download: not a valid zip
    calls = []

    def pip_download(requirement, raw, extra_args=()):
        calls.append(requirement)
        target = raw / "wheels" / bad.name
        if not target.exists():
            shutil.copyfile(good, target)
        return target

    monkeypatch.setattr(sources, "pip_download", pip_download)
    with pytest.warns(sources.DataRebuiltWarning, match="downloading it again"):
        assert text.load_corpus("wiki_standin").text == "one two"
    assert len(calls) == 2 and zipfile.is_zipfile(bad)


def test_text8_is_checked_against_the_checksum_recorded_when_prepared(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["One."], ": s\na b c d\n",
                monkeypatch)
    body = b" anarchism originated as a term of abuse"
    with zipfile.ZipFile(tmp_path / "text8.zip", "w") as z:
        z.writestr("text8", body)
    monkeypatch.setattr(text, "TEXT8_BYTES", len(body))  # a miniature of the real length check
    assert text.load_corpus("text8").text == body.decode().strip()
    corpus = tmp_path / "text8.txt"
    assert (tmp_path / "text8.txt.sha256").read_text().strip() == _sha(corpus.read_bytes())
    corpus.write_bytes(corpus.read_bytes()[:12])
    with pytest.warns(sources.DataRebuiltWarning, match="text8.txt has sha256"):
        assert text.load_corpus("text8").text == body.decode().strip()


@pytest.mark.slow
def test_the_real_stand_in_corpus_matches_its_pins(tmp_path, monkeypatch):
    """From the real gensim wheel (the one in data/raw/wheels if there, else from PyPI)."""
    real = sorted((paths.data_dir() / "raw" / "wheels").glob("gensim-*.whl"))
    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    if real:
        (tmp_path / "raw" / "wheels").mkdir(parents=True)
        shutil.copyfile(real[-1], tmp_path / "raw" / "wheels" / real[-1].name)
    c = text.load_corpus("wiki_standin")
    assert _sha((tmp_path / "wiki_standin.txt").read_bytes()) == text.WIKI_STANDIN_SHA256
    assert _sha((tmp_path / "questions-words.txt").read_bytes()) == text.QUESTIONS_SHA256
    assert c.meta["words"] == 497_082 and len(c.questions) == 19_544
