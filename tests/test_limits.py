"""Every reply fits Telegram's limits whatever the articles hold (issue 12, item 6).

Real store and index in tmp_path, articles with absurd titles; each reply is checked with the fake
Bot API's own parser (tests/fake_botapi.py), which counts as Telegram does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.render import MAX_PER_PAGE, Renderer
from bantin.bot.reply import Reply
from bantin.bot.settings import SettingsError, load_settings
from bantin.index.maintenance import update_index
from tests.fake_botapi import parse_telegram_html

LIMIT = 4096


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def valid(reply: Reply, limit: int = LIMIT) -> str:
    """The visible text, after checking what Telegram checks."""
    text, entities = parse_telegram_html(reply.html)
    assert text.strip()
    assert utf16(text.strip()) <= limit, f"{utf16(text.strip())} UTF-16 units"
    assert len(entities) <= 100
    for row in reply.buttons:
        for button in row:
            assert button.text and (button.data is None or 1 <= len(button.data.encode()) <= 64)
    return text


def long_title(n: int, size: int = 1600) -> str:
    words = f"Hội nghị chuyển đổi số lần thứ {n} của tỉnh <Đắk Lắk> & các huyện".split()
    out: list[str] = []
    while utf16(" ".join(out)) < size:
        out.append(words[len(out) % len(words)])
    return " ".join(out)


def article(n: int, title: str, *, url: str | None = None, lead: str = "Đoạn mở đầu về chuyển đổi số.") -> Article:
    return Article(id=f"a{n}", title=title, paragraphs=(lead, "Thân bài về chuyển đổi số ở địa phương."),
                   published=datetime(2024, 5, n % 28 + 1, 8, 30, tzinfo=UTC), url=url, source="test.jsonl")


def make_core(tmp_path: Path, articles: list[Article], per_page: int) -> Core:
    store = ArticleStore(tmp_path / "articles.sqlite")
    store.upsert_many(articles)
    update_index(store, tmp_path / "index")
    return Core(store, tmp_path / "index", Renderer(), per_page=per_page, bot_username="bantin_bot")


@pytest.fixture
def long_titles(tmp_path: Path) -> Iterator[Core]:
    """The report: eight results a page, each with a ~1,600-character title."""
    core = make_core(tmp_path, [article(n, long_title(n), url=None if n % 2 else f"https://bao.vn/{n}")
                                for n in range(1, 21)], per_page=8)
    yield core
    core.close()
    core.store.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_eight_results_with_huge_titles_fit_in_one_message(long_titles: Core, lang: str) -> None:
    reply = long_titles.search("chuyen doi so", lang)
    text = valid(reply)
    assert text.count("…") >= 8  # every title was cut, with an ellipsis
    assert "20" in text and ("kết quả" in text or "results" in text)


def test_per_page_is_at_most_ten(tmp_path: Path) -> None:
    """More than ten results cannot always fit one message, so BANTIN_PER_PAGE refuses more, and a
    Core built with more (tests, embedders) shows ten a page, the same on every page."""
    with pytest.raises(SettingsError, match="BANTIN_PER_PAGE"):
        load_settings({"BANTIN_PER_PAGE": "11"})
    assert load_settings({"BANTIN_PER_PAGE": str(MAX_PER_PAGE)}).per_page == MAX_PER_PAGE == 10
    core = make_core(tmp_path, [article(n, long_title(n, 300)) for n in range(1, 26)], per_page=50)
    try:
        first, third = core.search("chuyen doi so", "vi"), core.search("chuyen doi so", "vi", page=3)
        assert "25 kết quả, trang 1/3" in valid(first) and "\n10. " in valid(first)
        assert "\n21. " in valid(third) and "\n25. " in valid(third)
    finally:
        core.close()
        core.store.close()
