"""Snippets are text plus match positions (index), made HTML only by the templates' `marked`
filter (bot.render): whatever the text, the filter escapes all of it and wraps exactly the marks."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bantin.bot.cli import main
from bantin.bot.render import Renderer, marked
from bantin.index.analysis import fold
from bantin.index.snippets import Snippet, make_snippet

RENDERER = Renderer()
_BOLD = re.compile(r"<b>(.*?)</b>", re.DOTALL)
#: Text that HTML cares about, Vietnamese, and the rest of Unicode.
texts = st.text(st.one_of(st.sampled_from("<>&\"' /b"), st.sampled_from("đảngviênĐẢNG "), st.characters()))


@st.composite
def snippets(draw: st.DrawFn) -> Snippet:
    """Any text with any sorted, non-overlapping, non-empty marks (what `make_snippet` promises)."""
    text = draw(texts)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12, unique=True)))
    pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    return Snippet(text, tuple(pairs))


@given(snippets())
def test_the_filter_escapes_any_text_and_wraps_exactly_the_marks(snippet: Snippet) -> None:
    out = str(marked(snippet))
    assert not {"<", ">"} & set(re.sub(r"</?b>", "", out))
    assert html.unescape(re.sub(r"</?b>", "", out)) == snippet.text
    assert [html.unescape(m) for m in _BOLD.findall(out)] == [snippet.text[a:b] for a, b in snippet.marks]
    assert out.count("<b>") == out.count("</b>") == len(snippet.marks)


@given(snippets())
def test_templates_use_the_filter_without_escaping_twice(snippet: Snippet) -> None:
    template = RENDERER.env.from_string("{{ s|marked }}")
    assert template.render(s=snippet) == str(marked(snippet))
    assert template.render(s=snippet.unmarked()) == html.escape(snippet.text, quote=False)


@given(texts, st.lists(st.tuples(st.integers(-5, 50), st.integers(-5, 50)), max_size=6))
def test_marks_out_of_order_or_range_are_skipped_not_trusted(text: str, marks: list[tuple[int, int]]) -> None:
    out = str(marked(Snippet(text, tuple(marks))))
    assert "<" not in re.sub(r"</?b>", "", out)
    assert html.unescape(re.sub(r"</?b>", "", out)) == text


@given(st.lists(st.sampled_from(["dang", "vien", "gia", "b", "amp"]), max_size=3), texts, texts)
def test_make_snippet_marks_are_ordered_spans_of_its_own_text(words: list[str], lead: str, body: str) -> None:
    snippet = make_snippet(words, lead, body)
    end = 0
    for start, stop in snippet.marks:
        assert end <= start < stop <= len(snippet.text)
        assert fold(snippet.text[start:stop]).lower().split()[0] in words
        end = stop


def test_make_snippet_marks_the_words_in_plain_text() -> None:
    snippet = make_snippet(["gia", "vang"], "Giá vàng <b>thật</b> & rẻ", "")
    assert snippet.text == "Giá vàng <b>thật</b> & rẻ"
    assert [snippet.text[a:b] for a, b in snippet.marks] == ["Giá vàng"]
    assert str(marked(snippet)) == "<b>Giá vàng</b> &lt;b&gt;thật&lt;/b&gt; &amp; rẻ"
    assert not make_snippet(["x"], "", "") and make_snippet(["x"], "", "") == Snippet()


def test_cli_json_snippets_are_the_chat_html_as_before(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", "--json"]) == 0  # the bundled samples, and the index
    capsys.readouterr()
    assert main(["search", "hoa giai", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["results"]
    assert hits and all("<b>" in hit["snippet"] for hit in hits)
    assert all(not {"<", ">"} & set(re.sub(r"</?b>", "", hit["snippet"])) for hit in hits)
    assert main(["related", hits[0]["id"], "--json"]) == 0
    related = json.loads(capsys.readouterr().out)["results"]
    assert related and all(r["snippet"] and "<" not in r["snippet"] for r in related)  # nothing to mark
