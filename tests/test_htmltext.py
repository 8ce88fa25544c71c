"""The one HTML-to-text function (bot.htmltext): what the console prints and the renderer measures."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from bantin.bot.console.chat import to_console
from bantin.bot.htmltext import html_to_text
from bantin.bot.render import Renderer, plain_length, utf16_len

#: The tags our templates write (Telegram's HTML subset).
TAGS = ["b", "i", "u", "s", "code", "pre", "blockquote", "tg-spoiler"]
texts = st.text(st.one_of(st.sampled_from("<>&;\"'#x/ab \n"), st.sampled_from("đảngviênĐẢNG…🙂"), st.characters()))


@st.composite
def markup(draw: st.DrawFn) -> tuple[str, str]:
    """(our kind of HTML, the text it shows): escaped text, some of it inside tags or links."""
    html_parts, plain = [], []
    for text in draw(st.lists(texts, max_size=8)):
        tag = draw(st.sampled_from([None, "a", *TAGS]))
        escaped = html.escape(text, quote=False)
        if tag == "a":
            url = draw(st.sampled_from(["https://bao.vn/a?b=1&c=2", 'https://x.vn/"q"']))
            html_parts.append(f'<a href="{html.escape(url)}">{escaped}</a>')
        elif tag:
            html_parts.append(f"<{tag}>{escaped}</{tag}>")
        else:
            html_parts.append(escaped)
        plain.append(text)
    return "".join(html_parts), "".join(plain)


@given(texts, st.sampled_from(["", "*"]), st.booleans())
def test_never_raises_and_leaves_no_tag(text: str, bold: str, links: bool) -> None:
    out = html_to_text(text, bold=bold, links=links)
    if "&" not in text:  # no entity can make a new "<"
        assert re.search(r"<[^>]+>", out) is None


@given(markup())
def test_tags_go_and_entities_are_unescaped(case: tuple[str, str]) -> None:
    source, plain = case
    assert html_to_text(source) == plain
    assert plain_length(source) == utf16_len(plain.strip())


@given(markup())
def test_the_console_marks_bold_and_spells_out_links(case: tuple[str, str]) -> None:
    source, _ = case
    out = to_console(source)
    assert out.count("*") - html_to_text(source).count("*") == 2 * source.count("<b>")
    assert out.count(" (https://") - html_to_text(source).count(" (https://") == source.count("<a href=")


def test_a_real_reply() -> None:
    reply = Renderer().render("vi", "empty_query")
    assert "<" not in html_to_text(reply) and html_to_text(reply).strip()
    assert to_console('<b>Giá</b> &amp; <a href="https://x.vn/?a=1&amp;b=2">bài</a>') == \
        "*Giá* & bài (https://x.vn/?a=1&b=2)"
