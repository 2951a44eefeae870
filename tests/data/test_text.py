"""text8-style cleaning of wiki markup and parsing of the word-analogy questions."""

import zipfile

import pytest

from ntkpaper.data import text


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


def _mini_wheel(path, pages, questions):
    import bz2
    import zipfile

    xml = "".join(f"<page><text>{p}</text></page>" for p in pages)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(text.WHEEL_DUMP, bz2.compress(xml.encode()))
        z.writestr(text.WHEEL_QUESTIONS, questions)


def test_wheel_and_text8_readers_on_miniatures(tmp_path):
    import zipfile

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
                ": s\none two three four\n")
    c = text.load_corpus("wiki_standin")
    assert c.text == "one two three three" and c.meta["stand_in"] and len(c.questions) == 1
    assert (tmp_path / "wiki_standin.txt").exists()  # cached
    with pytest.raises(ValueError, match="unknown corpus 'text9'"):
        text.load_corpus("text9")


def test_text8_unreachable_says_where_to_put_it_and_leaves_nothing(tmp_path, monkeypatch):
    from ntkpaper.data import sources

    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["One two."], ": s\na b c d\n")

    def offline(url, dest, timeout=20.0):
        raise sources.SourceError(f"download of {url} failed: no network")

    monkeypatch.setattr(sources, "download", offline)
    with pytest.raises(sources.DatasetUnavailable, match="download text8.zip"):
        text.load_corpus("text8")
    assert not (tmp_path / "text8.txt").exists() and not (tmp_path / "text8.zip").exists()


def test_text8_zip_of_the_wrong_size_is_removed(tmp_path, monkeypatch):
    from ntkpaper.data import sources

    monkeypatch.setenv("NTKPAPER_DATA_DIR", str(tmp_path))
    _mini_wheel(tmp_path / "gensim-0.0-py3-none-any.whl", ["One two."], ": s\na b c d\n")

    def truncated(url, dest, timeout=20.0):
        with zipfile.ZipFile(dest, "w") as z:
            z.writestr("text8", " a b")
        return dest

    monkeypatch.setattr(sources, "download", truncated)
    with pytest.raises(sources.DatasetUnavailable, match="expected 31344016"):
        text.load_corpus("text8")
    assert not (tmp_path / "text8.zip").exists()
