"""A query is cleaned and capped once, by the index's query layer, and when it was cut the reply
says so (issue 15): through the core (plain text in, rendered reply out) and the console."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.articles.ingest import ingest
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.cli import main
from bantin.bot.console.chat import Console
from bantin.bot.render import Renderer
from bantin.index.maintenance import update_index
from bantin.index.query import MAX_CHARS, MAX_WORDS, clean_query, parse_query
from tests.conftest import SAMPLES
from tests.fake_botapi import parse_telegram_html

#: More words than a search reads, well within MAX_CHARS: only the index's word cap cuts it.
MANY_WORDS = "xã huyện tỉnh nông thôn mới đảng viên chi bộ hội nghị kết nạp cán bộ"
CUT_VI = f"chỉ dùng {MAX_WORDS} từ đầu"
CUT_EN = f"only its first {MAX_WORDS} words"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    data = tmp_path_factory.mktemp("data")
    with ArticleStore(data / "articles.sqlite") as store:
        ingest(store, [SAMPLES])
        update_index(store, data / "index")
        c = Core(store, data / "index", Renderer(), per_page=5, bot_username="bantin_bot")
        yield c
        c.close()


def text_of(html: str) -> str:
    return parse_telegram_html(html)[0]


def test_the_query_layer_cleans_and_caps() -> None:
    assert clean_query("  đảng\u200b  viên\x00 ").text == "đảng viên"
    long = clean_query("từ " * 500)
    assert long.truncated and len(long.text) <= MAX_CHARS
    assert not clean_query("🙂 !!! ...").has_words and clean_query("đảng").has_words
    assert clean_query(None).text == "" and not clean_query(None).has_words
    assert len(MANY_WORDS.split()) > MAX_WORDS and len(MANY_WORDS) < MAX_CHARS
    assert parse_query(MANY_WORDS).truncated and not clean_query(MANY_WORDS).truncated


@pytest.mark.parametrize("query", [MANY_WORDS, "từ " * 500, ("nông thôn mới " * 40).strip()])
def test_a_cut_query_is_said_politely_in_both_languages(core: Core, query: str) -> None:
    vi = core.search(query, "vi")
    assert CUT_VI in text_of(vi.html)
    assert CUT_EN in text_of(core.search(query, "en").html)
    assert vi.query is not None and len(vi.query) <= MAX_CHARS  # what the page buttons search again


def test_a_query_that_fits_says_nothing_about_length(core: Core) -> None:
    assert "chỉ dùng" not in text_of(core.search("nông thôn mới", "vi").html)
    assert "only its first" not in text_of(core.search("nông thôn mới", "en").html)


def test_the_next_page_of_a_cut_query_still_says_so(core: Core) -> None:
    first = core.search("xã " * 13, "vi")
    assert CUT_VI in text_of(first.html)
    nxt = next((b.data for row in first.buttons for b in row if b.data and b.data.startswith("s|2|")), None)
    if nxt is not None:
        edit = core.callback(nxt, "vi").edit
        assert edit is not None and CUT_VI in text_of(edit.html)


def test_control_characters_never_reach_the_reply(core: Core) -> None:
    reply = core.search("nông\x00 thôn\u200b mới", "vi")
    assert "\x00" not in reply.html and "\u200b" not in reply.html
    assert reply.query == "nông thôn mới"
    assert "chỉ dùng" not in text_of(reply.html)
    assert "chưa thấy từ khoá" in text_of(core.search("🙂 !!! \u200b...", "vi").html)


def test_the_console_says_so_too(core: Core) -> None:
    out = io.StringIO()
    Console(core, "vi", out).handle(MANY_WORDS)
    assert CUT_VI in out.getvalue()
    out = io.StringIO()
    Console(core, "en", out).handle("/search " + MANY_WORDS)
    assert CUT_EN in out.getvalue()


def test_cli_json_says_whether_the_query_was_cut(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", "--json"]) == 0
    capsys.readouterr()
    assert main(["search", *MANY_WORDS.split(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["truncated"] is True
    assert main(["search", "nông thôn mới", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["truncated"] is False
