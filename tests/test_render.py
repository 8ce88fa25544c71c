"""Templates and message fitting."""

from __future__ import annotations

import html
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.bot.render import LANGUAGES, TEMPLATES, Renderer, fits, language_of, telegram_view
from tests.fake_botapi import _trim, parse_telegram_html


def test_language_choice() -> None:
    assert language_of("en-GB") == "en" and language_of("vi") == "vi"
    assert language_of(None) == "vi" and language_of("ru") == "vi"


def test_every_template_exists_in_every_language() -> None:
    names = {lang: {p.name for p in (TEMPLATES / lang).iterdir()} for lang in LANGUAGES}
    assert names["vi"] == names["en"]


def test_labels_are_plain_text() -> None:
    renderer = Renderer()
    for lang in LANGUAGES:
        assert renderer.label(lang, "page_of", 2, 7) in {"Trang 2/7", "Page 2/7"}
        assert "<" not in renderer.label(lang, "next_page")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_static_notices_are_valid_telegram_html(lang: str) -> None:
    renderer = Renderer()
    for name, context in [("start", {"name": "<Lan & Minh>", "digest_time": "07:00"}),
                          ("help", {"inline": "bantin_bot", "digest_time": "07:00"}),
                          ("about", {"count": 35440, "first": date(2017, 1, 1), "last": date(2017, 6, 30),
                                     "newest_seen": None}),
                          ("empty_query", {}), ("no_words", {}), ("not_text", {}), ("error", {}), ("timeout", {}),
                          ("unknown_command", {"command": "/<b>x"}), ("rate_limited", {"seconds": 7}),
                          ("not_found", {}), ("no_index", {}), ("index_repair", {}),
                          ("no_index", {"done": "12.000", "total": "35.440"})]:
        text = renderer.render(lang, name, **context)
        plain, _ = parse_telegram_html(text)
        assert plain.strip() and fits(text)


def test_user_text_is_escaped() -> None:
    text = Renderer().render("vi", "start", name='<script>&"x"', digest_time="07:00")
    assert "<script>" not in text and "&lt;script&gt;" in text



_PIECE = st.one_of(
    st.text(max_size=12).map(html.escape),
    st.sampled_from(["  ", "\n\n", " 😀 ", "&amp;", "&#39;", "&quot;"]),
)


@st.composite
def _our_html(draw: st.DrawFn, depth: int = 0) -> str:
    """Autoescaped text with our templates' tags, nested a little, as the renderer produces."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        tag = draw(st.sampled_from(["", "", "b", "i", "code", "a"])) if depth < 2 else ""
        if not tag:
            out.append(draw(_PIECE))
            continue
        inner = draw(_our_html(depth + 1))
        if tag == "a":
            url = html.escape(draw(st.sampled_from(["https://t.me/bot?start=xem_1", "https://x.vn/a?b=1&c='2'"])))
            out.append(f'<a href="{url}">{inner}</a>')
        else:
            out.append(f"<{tag}>{inner}</{tag}>")
    return "".join(out)


@settings(deadline=None)
@given(_our_html())
def test_telegram_view_is_what_telegram_shows(text: str) -> None:
    """The same text and entities as the fake Bot API's parser (tdlib's rules), after trimming."""
    plain, entities = _trim(*parse_telegram_html(text))
    assert telegram_view(text) == (plain, tuple(sorted(
        ((e["type"], e["offset"], e["length"], e.get("url")) for e in entities), key=lambda e: (e[1], -e[2], e[0]))))
