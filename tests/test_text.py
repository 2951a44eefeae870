"""text8-style cleaning of wiki markup and parsing of the word-analogy questions."""

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
