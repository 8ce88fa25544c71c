"""Reading a whole article in Telegram: messages within limits, one .txt file past a length, the
📖 button, the deep link, and the console. Real store and index in a temporary folder."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bantin.articles.ingest import ingest
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.console.chat import Console
from bantin.bot.render import Renderer, utf16_len
from bantin.bot.reply import Reply
from bantin.bot.search import buttons as cb
from bantin.bot.search.links import read_deep_link
from bantin.bot.search.reading import MAX_CAPTION, document_filename, split_message_text
from bantin.bot.settings import SettingsError, load_settings
from bantin.index.maintenance import update_index
from tests.conftest import SAMPLES
from tests.fake_botapi import parse_telegram_html
from tests.long_article import long_paragraphs, write_export

LONG = "bai_dai_20k"  # fits /xem_<id>, a button and a deep link
LINKED = "co-link-1"  # has a web link: no 📖 button
_PART = re.compile(r"\n*\((?:Phần|Part) \d+/\d+\)$")


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    data = tmp_path_factory.mktemp("data")
    export = data / "export.jsonl"
    write_export(export, LONG, "Toàn văn: Nâng cao chất lượng sinh hoạt chi bộ ở Đảng bộ tỉnh Sơn Nguyên",
                 long_paragraphs(20000), published="2030-01-02T08:00:00+07:00")
    write_export(export, LINKED, "Bài có đường dẫn về sinh hoạt chi bộ", ["Sinh hoạt chi bộ định kỳ."],
                 published="2030-01-01", url="https://baodang.example/co-link-1")
    with ArticleStore(data / "articles.sqlite") as store:
        ingest(store, [SAMPLES, export])
        update_index(store, data / "index")
        c = Core(store, data / "index", Renderer(), per_page=5, bot_username="bantin_bot")
        yield c
        c.close()


def valid(reply: Reply, limit: int = 4096) -> str:
    text, entities = parse_telegram_html(reply.html)
    assert text.strip() and utf16_len(text) <= limit and len(entities) <= 100
    return text


def datas(reply: Reply) -> list[str]:
    return [b.data for row in reply.buttons for b in row if b.data]


# -- splitting -------------------------------------------------------------------------------------

_CHARS = st.sampled_from([*"aăâbcdđeêghiklmnoôơpqrstuưvxyÁẢẠỆ0123456789.,!?…“”()-&<> ", "😀", "𝕏"])
_PARAGRAPH = st.text(_CHARS, min_size=1, max_size=700).map(str.strip).filter(bool)


@given(st.lists(_PARAGRAPH, min_size=1, max_size=12), st.integers(20, 400), st.integers(20, 400))
@settings(max_examples=300, deadline=None)
def test_split_keeps_text_order_and_limits(paragraphs: list[str], first: int, rest: int) -> None:
    text = "\n\n".join(paragraphs)
    pieces = split_message_text(text, first, rest)
    assert "".join(pieces) == text  # nothing lost, nothing moved
    for n, piece in enumerate(pieces):
        assert piece.strip() and utf16_len(piece.strip()) <= (first if n == 0 else rest)
    if max(utf16_len(p) for p in paragraphs) <= min(first, rest):  # then only whole paragraphs
        assert [p for piece in pieces for p in piece.strip().split("\n\n")] == paragraphs


@given(st.text(max_size=3000), st.integers(2, 500))
@settings(max_examples=200, deadline=None)
def test_split_any_text(text: str, budget: int) -> None:
    pieces = split_message_text(text, budget, budget)
    assert "".join(pieces) == text
    assert all(utf16_len(p.strip()) <= budget for p in pieces)


def test_long_paragraph_is_cut_at_sentence_ends() -> None:
    sentence = "Chi bộ họp định kỳ mỗi tháng một lần. "
    pieces = split_message_text("Mở đầu.\n\n" + sentence * 300, 3000, 3000)
    assert pieces[0].strip() == "Mở đầu."  # the paragraph that fits is not merged with a cut one
    assert all(p.rstrip().endswith(".") for p in pieces)
    words = split_message_text("từ " * 3000, 1000, 1000)
    assert all(p.strip().split(" ") == ["từ"] * len(p.strip().split(" ")) for p in words)


# -- reading in messages -----------------------------------------------------------------------------


def test_20000_characters_in_messages_within_limits(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "read_document_chars", 0)
    article = core.store.get(LONG)
    assert article is not None and len(article.text) >= 20000
    replies = core.read(LONG, "vi")
    texts = [valid(r) for r in replies]
    assert len(replies) >= 6 and all(r.document is None for r in replies)
    assert all(f"(Phần {n}/{len(replies)})" in t for n, t in enumerate(texts, 1))
    assert all(not r.buttons for r in replies[:-1])
    assert [[b.text for b in row] for row in replies[-1].buttons] == [["Tin liên quan"]]
    assert datas(replies[-1]) == [cb.encode(cb.RelatedButton(LONG))]
    header, _, first_text = texts[0].partition("\n\n")
    assert header.startswith(article.title) and "Hà Minh & Khánh Linh" in header
    body = "\n\n".join(_PART.sub("", t) for t in [first_text, *texts[1:]])
    assert body.split() == article.text.split()


def test_english_parts(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "read_document_chars", 0)
    replies = core.read(LONG, "en")
    assert f"(Part 1/{len(replies)})" in valid(replies[0])
    assert replies[-1].buttons[0][0].text == "Related"


def test_a_short_article_is_one_message(core: Core) -> None:
    replies = core.read(LINKED, "vi")
    assert len(replies) == 1 and "Phần" not in valid(replies[0]) and replies[0].document is None


# -- reading as a .txt file ------------------------------------------------------------------------------


def test_past_the_threshold_one_txt_document(core: Core) -> None:
    article = core.store.get(LONG)
    assert article is not None
    [reply] = core.read(LONG, "vi")
    assert reply.document is not None
    content = reply.document.content.decode("utf-8")
    assert article.text in content
    assert content.startswith(article.title + "\n02/01/2030 08:00 · Hà Minh & Khánh Linh\n\n")
    assert "https://t.me/bantin_bot?start=xem_bai_dai_20k" in content and "&amp;" not in content
    assert reply.document.filename == "toan-van-nang-cao-chat-luong-sinh-hoat-chi-bo-o-dang-bo.txt"
    caption = valid(reply, MAX_CAPTION)
    assert article.title in caption and "ký tự" in caption
    assert datas(reply) == [cb.encode(cb.RelatedButton(LONG))]
    english = core.read(LONG, "en")[0]
    assert "characters" in valid(english, MAX_CAPTION) and english.document is not None
    assert b"Source: the B\xe1\xba\xa3n tin archive" in english.document.content


def test_absurd_title_still_fits(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    article = core.store.get(LONG)
    assert article is not None
    huge = type(article)(id=LONG, title="Tiêu đề rất dài " * 400, paragraphs=article.paragraphs,
                         author="Tác giả " * 300)
    [document] = core.article_messages(huge, "vi")
    valid(document, MAX_CAPTION)
    assert document.document is not None and len(document.document.filename) <= 60
    monkeypatch.setattr(core, "read_document_chars", 0)
    for reply in core.article_messages(huge, "vi"):
        valid(reply)


@pytest.mark.parametrize(("title", "name"), [
    ("Đảng bộ xã Ea Rông: kết nạp 12 đảng viên mới!", "dang-bo-xa-ea-rong-ket-nap-12-dang-vien-moi.txt"),
    ("Hội nghị " * 20, "hoi-nghi-" * 5 + "hoi-nghi.txt"),  # cut between words
    ("中文标题 😀", "bai-viet.txt"),
    ("x" * 100, "x" * 56 + ".txt"),
])
def test_document_filename(title: str, name: str) -> None:
    assert document_filename(title, "bai-viet") == name
    assert len(name) <= 60 and name.isascii()


# -- the 📖 button ---------------------------------------------------------------------------------------


def test_read_buttons_only_for_articles_without_a_link(core: Core) -> None:
    latest = core.latest("vi")
    read = [d for d in datas(latest) if d.startswith("f|")]
    assert cb.encode(cb.ReadButton(LONG)) in read and cb.encode(cb.ReadButton(LINKED)) not in read
    assert len(read) == 4  # five newest, one of them with a link
    assert any(b.text == "📖 Đọc toàn văn 1" for row in latest.buttons for b in row)
    results = core.search("sinh hoat chi bo", "vi")
    assert any(d.startswith("f|") for d in datas(results)) and any(d.startswith("r|") for d in datas(results))
    related = core.related(LONG, "vi")
    assert any(d.startswith("f|") for d in datas(related))
    for reply in (latest, results, related):
        valid(reply)
        assert all(len(row) <= 3 for row in reply.buttons)


def test_pressing_read_sends_the_article_with_a_toast(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    pressed = core.callback(cb.encode(cb.ReadButton(LONG)), "vi")
    assert pressed.answer and not pressed.alert and len(pressed.send) == 1 and pressed.send[0].document
    monkeypatch.setattr(core, "read_document_chars", 0)
    pressed = core.callback(cb.encode(cb.ReadButton(LONG)), "vi")
    assert pressed.answer and len(pressed.send) >= 6 and not any(r.document for r in pressed.send)


@pytest.mark.parametrize(("data", "toast"), [("f|khong-co-bai|1", "không còn trong kho"), ("f|x|0", "đã cũ"),
                                             ("f|" + "a" * 70, "đã cũ")])
def test_forged_read_button_gets_a_polite_toast(core: Core, data: str, toast: str) -> None:
    pressed = core.callback(data, "vi")
    assert pressed.alert and pressed.answer and toast in pressed.answer and not pressed.send


# -- the deep link ---------------------------------------------------------------------------------------


def test_read_deep_link() -> None:
    assert read_deep_link("bantin_bot", "p8a46802c21be854e") == "https://t.me/bantin_bot?start=xem_p8a46802c21be854e"
    assert read_deep_link("bantin_bot", "co-link-1") == "https://t.me/bantin_bot?start=xem_co-link-1"
    assert read_deep_link("bantin_bot", "a" * 60) is not None
    for username, article_id in [(None, "p1"), ("", "p1"), ("bantin_bot", "a" * 61), ("bantin_bot", "a.b"),
                                 ("bantin_bot", "a b"), ("bantin_bot", "bài"), ("bantin_bot", ""),
                                 ("bantin bot", "p1"), ("bantin_bot", "p1\n")]:
        assert read_deep_link(username, article_id) is None


def test_start_payload_reads_the_article(core: Core) -> None:
    [document] = core.message(f"/start xem_{LONG}", "vi")
    assert document.document is not None
    [short] = core.message(f"/start xem_{LINKED}", "vi")
    assert valid(short).startswith("Bài có đường dẫn")
    assert "không còn trong kho" in valid(core.message("/start xem_khong-co", "vi")[0])
    for other in ("/start", "/start xem_", "/start quangcao", "/start xem_a.b"):
        assert "Bản tin" in valid(core.message(other, "vi")[0])


# -- console and settings --------------------------------------------------------------------------------


def test_console_shows_the_caption_and_saves_the_file(core: Core, tmp_path: Path) -> None:
    out = io.StringIO()
    Console(core, "vi", out, files=tmp_path / "files").handle(f"/xem_{LONG}")
    shown = out.getvalue()
    saved = tmp_path / "files" / f"toan-van-nang-cao-chat-luong-sinh-hoat-chi-bo-o-dang-bo-{LONG}.txt"
    assert "📎 Kèm tệp toan-van-" in shown and "ký tự), đã lưu ở" in shown and str(saved) in shown
    article = core.store.get(LONG)
    assert article is not None and article.text in saved.read_text(encoding="utf-8")
    out = io.StringIO()
    Console(core, "en", out).handle(f"/xem_{LONG}")
    assert "📎 File toan-van-" in out.getvalue() and "saved" not in out.getvalue()


def test_read_document_chars_setting() -> None:
    assert load_settings({}, config=Path("/nonexistent.toml")).read_document_chars == 12000
    assert load_settings({"BANTIN_READ_DOCUMENT_CHARS": "0"}, config=Path("/x.toml")).read_document_chars == 0
    with pytest.raises(SettingsError, match="BANTIN_READ_DOCUMENT_CHARS"):
        load_settings({"BANTIN_READ_DOCUMENT_CHARS": "-5"}, config=Path("/x.toml"))


def test_two_articles_with_the_same_title_are_saved_as_two_files(tmp_path: Path) -> None:
    export = tmp_path / "same.jsonl"
    title = "Hội nghị Ban Chấp hành Đảng bộ xã lần thứ mười"
    for article_id, word in (("hn-1", "một"), ("hn/2 ..", "hai")):  # an id no file name can hold as is
        write_export(export, article_id, title, [f"Phiên {word}. " * 40, f"Nội dung phiên {word}. " * 40],
                     published="2030-01-03")
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        ingest(store, [export])
        core = Core(store, tmp_path / "index", Renderer(), read_document_chars=100)
        out = io.StringIO()
        console = Console(core, "vi", out, files=tmp_path / "files")
        for article_id in ("hn-1", "hn/2 .."):
            console.show(core.read(article_id, "vi")[0])
        core.close()
    saved = sorted((tmp_path / "files").iterdir())
    assert [p.name for p in saved] == ["hoi-nghi-ban-chap-hanh-dang-bo-xa-lan-thu-muoi-hn-1.txt",
                                       f"hoi-nghi-ban-chap-hanh-dang-bo-xa-lan-thu-muoi-hn-2-{saved[1].name[-12:-4]}.txt"]
    assert "Phiên một" in saved[0].read_text(encoding="utf-8") and "Phiên hai" in saved[1].read_text(encoding="utf-8")
    assert all(str(p) in out.getvalue() for p in saved)
