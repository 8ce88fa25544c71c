"""The bot core on a real store and index over the bundled samples: query → rendered reply."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.articles.rawpage import page_id
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.commands import parse_command
from bantin.bot.console.chat import Console, to_console
from bantin.bot.render import Renderer
from bantin.bot.reply import Reply
from bantin.bot.search import buttons as cb
from tests.conftest import SAMPLES
from tests.fake_botapi import parse_telegram_html


def valid(reply: Reply) -> str:
    text, entities = parse_telegram_html(reply.html)
    assert text.strip() and len(text.encode("utf-16-le")) // 2 <= 4096 and len(entities) <= 100
    for row in reply.buttons:
        for button in row:
            assert button.data is None or len(button.data.encode()) <= 64
    return text


def datas(reply: Reply) -> list[str]:
    return [b.data for row in reply.buttons for b in row if b.data]


def test_unaccented_query_finds_accented_articles(core: Core) -> None:
    reply = core.search("ket nap dang vien", "vi")
    text = valid(reply)
    assert "kết nạp" in text.lower() and "kết quả" in text
    assert any(d.startswith("r|") for d in datas(reply))


def test_pages_are_stateless_buttons(core: Core) -> None:
    first = core.search("xã", "vi")
    page_two = next(d for d in datas(first) if d.startswith("s|2|"))
    result = core.callback(page_two, "vi")
    assert result.edit is not None and "trang 2/" in valid(result.edit)
    again = core.callback(page_two, "vi")  # a restart changes nothing: same data, same page
    assert again.edit is not None and again.edit.html == result.edit.html


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_did_you_mean_is_a_button_even_with_loose_results(core: Core, lang: str) -> None:
    reply = core.search("dang vieen", lang)
    text = valid(reply)
    assert "dang vien" in text and ("Có phải bạn muốn tìm" in text or "Did you mean" in text)
    data = cb.encode(cb.PageButton(1, "relevance", "dang vien"))
    assert data in datas(reply)
    result = core.callback(data, lang)
    assert result.edit is not None and "dang vien" in valid(result.edit)


@pytest.mark.parametrize(("lang", "notice"), [("vi", "năm 2023"), ("en", "from 2023")])
def test_a_lifted_year_is_said(core: Core, lang: str, notice: str) -> None:
    text = valid(core.search('"nông thôn mới" 2023', lang))
    assert notice in text


def test_query_left_in_message_is_used(core: Core) -> None:
    data = cb.encode(cb.PageButton(1, "newest", None))
    result = core.callback(data, "vi", message_query="hồ tiêu")
    assert result.edit is not None and "hồ tiêu" in valid(result.edit).lower()
    stale = core.callback(data, "vi", message_query=None)
    assert stale.alert and stale.answer


@pytest.mark.parametrize("data", ["zzz", "", None, "r|unknownid", "s|1|r|", "f|x|99"])
def test_stale_or_forged_buttons(core: Core, data: str | None) -> None:
    result = core.callback(data, "vi")
    assert result.answer or result.send
    for reply in result.send:
        valid(reply)


def test_related_excludes_the_article(core: Core) -> None:
    article_id = page_id(str((SAMPLES / "01_dong-lam-ket-nap-dang-vien.txt").resolve()))
    result = core.callback(cb.encode(cb.RelatedButton(article_id)), "vi")
    assert len(result.send) == 1
    text = valid(result.send[0])
    assert "Tin liên quan" in text


def test_full_text_split_within_limits(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "read_document_chars", 0)  # messages, not a .txt file (tests/test_read.py)
    article_id = page_id(str((SAMPLES / "21_son-nguyen-sinh-hoat-chi-bo.txt").resolve()))
    replies = core.message(f"/xem_{article_id}", "vi")
    assert len(replies) >= 3
    texts = [valid(r) for r in replies]
    article = core.store.get(article_id)
    assert article is not None
    joined = " ".join(texts)
    assert all(p[:60] in joined for p in article.paragraphs)
    assert replies[-1].buttons and not replies[0].buttons


def test_html_in_titles_is_escaped(core: Core) -> None:
    reply = core.search("nuoc sach ve sinh", "vi")
    text = valid(reply)
    assert "&" in text or "<" in text or "“" in text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("/start", "Bản tin"), ("/help", "Cách tìm tin"), ("/about", "24"), ("/latest", "Tin mới nhất"),
        ("/search", "Bạn muốn tìm gì"), ("/nope", "không biết lệnh"), ("/xem_zzzz", "không còn trong kho"),
        ("🙂🙂", "chưa thấy từ khoá"), ("qwxzy", "Không tìm thấy"), ("x" * 6000, "dài quá"),
    ],
)
def test_messages_and_commands(core: Core, message: str, expected: str) -> None:
    replies = core.message(message, "vi")
    assert expected.lower() in " ".join(valid(r) for r in replies).lower()


def test_english(core: Core) -> None:
    assert "How to search" in valid(core.message("/help", "en")[0])
    assert "result" in valid(core.search("dang vien", "en"))


def test_inline_results(core: Core) -> None:
    items, _ = core.inline("nong thon moi", "", "vi")
    assert items and all(len(i.id.encode()) <= 64 for i in items)
    for item in items:
        parse_telegram_html(item.html)
        assert "<" not in item.description
    assert core.inline("", "", "vi") == ([], "")
    assert core.inline("đảng", "banana", "vi")[0]


@given(st.one_of(st.sampled_from(["²", "١", "٣", "𝟚", "0", "51", "-1", " 2", "2 ", "+2"]), st.text(max_size=8)))
@settings(max_examples=60, deadline=None)
def test_any_inline_offset_is_a_page_or_page_one(core: Core, offset: str) -> None:
    """The offset comes from the client: "²" passes str.isdigit() but int() refuses it (a
    ValueError, and a traceback logged, for each such query). Anything but ASCII digits 1-50 is page 1."""
    first = core.inline("đảng", "", "vi")
    items, next_offset = core.inline("đảng", offset, "vi")
    if not (offset.isascii() and offset.isdigit() and 1 <= int(offset) <= 50):
        assert (items, next_offset) == first


def test_parse_command() -> None:
    assert parse_command("/search@bantin_bot đảng viên") == ("search", "bantin_bot", "đảng viên")
    assert parse_command("/xem_p12ab") == ("xem_p12ab", None, "")
    assert parse_command("đảng viên") is None
    # Not a valid command name, but a command all the same: it gets a polite reply, not silence.
    assert parse_command("/khong-lenh") == ("khong-lenh", None, "")
    assert parse_command("/xem_1'-- x") == ("xem_1'--", None, "x")
    assert parse_command("/x@other-bot y") == ("x", "other-bot", "y")
    assert parse_command("/") is None and parse_command("/ x") is None


@pytest.mark.parametrize(("text", "expect"), [("/khong-lenh", "/khong-lenh"), ("/xem_1'--", "không còn trong kho"),
                                              ("/xem_evil1.", "không còn trong kho"), ("/" + "x" * 5000, "/xxx")])
def test_malformed_commands_get_a_polite_reply(core: Core, text: str, expect: str) -> None:
    [reply] = core.message(text, "vi")
    assert expect in valid(reply)


@given(st.text(max_size=400))
@settings(max_examples=60, deadline=None)
def test_no_message_crashes_the_core(core: Core, text: str) -> None:
    for reply in core.message(text, "vi"):
        valid(reply)


def test_console_prints_replies_and_presses_buttons(core: Core) -> None:
    out = io.StringIO()
    console = Console(core, "vi", out)
    console.handle("xã")
    console.handle("#99")
    assert "không có nút #99" in out.getvalue()
    page_two = next(n for n, (d, _) in enumerate(console.buttons, 1) if d.startswith("s|2|"))
    console.handle(f"#{page_two}")
    assert "trang 2/" in out.getvalue()
    assert "<b>" not in out.getvalue()


def test_to_console() -> None:
    assert to_console('<a href="https://x.vn/?a=1&amp;b=2"><b>T &lt;1&gt;</b></a>') == "*T <1>* (https://x.vn/?a=1&b=2)"


def test_core_without_an_index_is_polite(tmp_path: Path) -> None:
    with ArticleStore(tmp_path / "a.sqlite") as store:
        core = Core(store, tmp_path / "index", Renderer())
        assert "đang được chuẩn bị" in valid(core.search("đảng", "vi"))
