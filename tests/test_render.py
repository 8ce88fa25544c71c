"""Templates and message fitting."""

from __future__ import annotations

from datetime import date

import pytest

from bot.render import LANGUAGES, TEMPLATES, Renderer, fits, language_of
from tests.fake_botapi import parse_telegram_html


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

