"""End to end: a citizen reads a 20,000-character article without a web link inside Telegram.

The real `bantin run` process against the local Bot API server, which checks every message and
caption against Telegram's limits. The article comes in as a newsroom's JSON Lines export; its id
has a hyphen, so only the 📖 button and the deep link can open it (not `/xem_<id>`).
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.articles.model import Article
from bantin.articles.rawpage import page_id
from bantin.articles.store import ArticleStore
from tests.conftest import SAMPLES
from tests.e2e import buttons, plain, prepare_data, running_bot
from tests.fake_botapi import Call, FakeBotAPI, parse_telegram_html
from tests.long_article import long_paragraphs, write_export

pytestmark = pytest.mark.e2e
LONG = "toan-van-20k"
TITLE = "Nâng cao chất lượng sinh hoạt chi bộ: Từ nghị quyết đến cách làm ở cơ sở"
READ = f"f|{LONG}|1"
_chats = itertools.count(8000)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled samples plus the long article (newest, so it heads /latest), indexed once."""
    data = tmp_path_factory.mktemp("template")
    export = write_export(data.parent / f"{data.name}-export.jsonl", LONG, TITLE, long_paragraphs(20000),
                          published="2030-01-02T08:00:00+07:00")
    prepare_data(data, SAMPLES, export)
    return data


def copy_of(template: Path, folder: Path) -> Path:
    shutil.copytree(template, folder)
    return folder


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def bot(fake: FakeBotAPI, template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bot with default settings: past 12,000 characters an article is a .txt file."""
    data = copy_of(template, tmp_path_factory.mktemp("default") / "data")
    with running_bot(fake, data):
        yield data


def the_article(data: Path) -> Article:
    with ArticleStore(data / "articles.sqlite", readonly=True) as store:
        article = store.get(LONG)
    assert article is not None and len(article.text) >= 20000
    return article


def latest(fake: FakeBotAPI, chat: int, language_code: str = "vi") -> tuple[int, Call]:
    """/latest in `chat`: the reply's message id and call."""
    since = len(fake.requests)
    fake.send_text(chat, "/latest", language_code=language_code)
    call = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=since)[0]
    return call.response["result"]["message_id"], call


def press(fake: FakeBotAPI, chat: int, message_id: int, data: str, *, check: bool = True) -> Call:
    """Press a button; the bot's answer to the callback query (its toast)."""
    query = fake.press_button(chat, message_id, data, check=check)
    return fake.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)[0]


def test_read_in_full_as_messages_within_limits(template: Path, tmp_path: Path) -> None:
    data = copy_of(template, tmp_path / "data")
    article, chat = the_article(data), next(_chats)
    with FakeBotAPI() as fake, running_bot(fake, data, BANTIN_READ_DOCUMENT_CHARS="0"):
        message_id, listing = latest(fake, chat)
        assert {"text": "📖 Đọc toàn văn 1", "callback_data": READ} in buttons(listing)
        since = len(fake.requests)
        toast = press(fake, chat, message_id, READ)
        assert toast.params.get("text") == "📖 Toàn văn bài viết ở ngay bên dưới."
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat
                      and re.search(r"\(Phần (\d+)/\1\)$", plain(c)) is not None, since=since, timeout=20)
        parts = [c for c in fake.requests[since:] if c.method == "sendMessage" and c.params.get("chat_id") == chat]

        assert len(parts) >= 6 and not fake.calls("sendDocument")
        texts = [plain(c) for c in parts]
        for n, (call, text) in enumerate(zip(parts, texts, strict=True), 1):
            assert call.status == 200 and len(text.encode("utf-16-le")) // 2 <= 4096
            assert len(parse_telegram_html(call.params["text"])[1]) <= 100
            assert text.endswith(f"(Phần {n}/{len(parts)})")
        assert all(not buttons(c) for c in parts[:-1])
        assert buttons(parts[-1]) == [{"text": "Tin liên quan", "callback_data": f"r|{LONG}"}]

        header, _, first = texts[0].partition("\n\n")
        assert header == f"{TITLE}\n02/01/2030 08:00 · Hà Minh & Khánh Linh"
        body = "\n\n".join(re.sub(r"\s*\(Phần \d+/\d+\)$", "", t) for t in [first, *texts[1:]])
        assert body.split() == article.text.split()  # the whole text, in order (a cut paragraph rejoined)
        assert body.count("\n\n") >= article.text.count("\n\n")  # cut on paragraph boundaries

        related_at = len(fake.requests)
        press(fake, chat, parts[-1].response["result"]["message_id"], f"r|{LONG}")
        related = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=related_at)[0]
        assert "Tin liên quan" in plain(related)
        assert not fake.violations


def test_a_long_article_comes_as_one_txt_file(fake: FakeBotAPI, bot: Path) -> None:
    article, chat = the_article(bot), next(_chats)
    message_id, _ = latest(fake, chat)
    since = len(fake.requests)
    toast = press(fake, chat, message_id, READ)
    assert toast.params.get("text") == "📄 Bài dài nên mình gửi thành tệp văn bản."
    [sent] = fake.wait_for("sendDocument", lambda c: c.params.get("chat_id") == chat, since=since)
    document = sent.params["document"]
    assert document["filename"] == "nang-cao-chat-luong-sinh-hoat-chi-bo-tu-nghi-quyet-den.txt"
    content = document["content"].decode("utf-8")
    assert content.startswith(f"{TITLE}\n02/01/2030 08:00 · Hà Minh & Khánh Linh\n\n")
    assert article.text in content
    assert f"https://t.me/{fake.bot_username}?start=xem_{LONG}" in content
    caption = parse_telegram_html(sent.params["caption"])[0]
    assert caption.startswith(f"📄 {TITLE}") and "20." in caption and len(caption) <= 1024
    assert buttons(sent) == [{"text": "Tin liên quan", "callback_data": f"r|{LONG}"}]
    assert not [c for c in fake.requests[since:] if c.method == "sendMessage" and c.params.get("chat_id") == chat]
    assert not fake.violations


def test_english_button_and_file(fake: FakeBotAPI, bot: Path) -> None:
    chat = next(_chats)
    message_id, listing = latest(fake, chat, language_code="en")
    assert {"text": "📖 Read in full 1", "callback_data": READ} in buttons(listing)
    since = len(fake.requests)
    fake.press_button(chat, message_id, READ, language_code="en")
    [sent] = fake.wait_for("sendDocument", lambda c: c.params.get("chat_id") == chat, since=since)
    assert b"Source: the B" in sent.params["document"]["content"]
    assert "characters" in parse_telegram_html(sent.params["caption"])[0]
    assert not fake.violations


def test_deep_link_reads_the_article(fake: FakeBotAPI, bot: Path) -> None:
    chat = next(_chats)
    since = len(fake.requests)
    fake.send_text(chat, f"/start xem_{LONG}")
    [sent] = fake.wait_for("sendDocument", lambda c: c.params.get("chat_id") == chat, since=since)
    assert the_article(bot).text in sent.params["document"]["content"].decode("utf-8")

    sample = page_id(str((SAMPLES / "02_ea-rong-khai-giang.txt").resolve()))
    fake.send_text(chat, f"/start xem_{sample}")
    short = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=since)[0]
    assert "khai giảng" in plain(short).split("\n")[0].lower()
    assert buttons(short) == [{"text": "Tin liên quan", "callback_data": f"r|{sample}"}]

    fake.send_text(chat, "/start")
    welcome = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=since, count=2)[1]
    assert "Bản tin" in plain(welcome)
    assert not fake.violations


def test_forged_read_buttons_get_a_polite_toast(fake: FakeBotAPI, bot: Path) -> None:
    chat = next(_chats)
    message_id, _ = latest(fake, chat)
    since = len(fake.requests)
    gone = press(fake, chat, message_id, "f|khong-co-bai-nay|1", check=False)
    assert gone.params.get("text") == "Bài viết này không còn trong kho." and gone.params.get("show_alert") is True
    forged = press(fake, chat, message_id, "f|toan-van-20k|0", check=False)
    assert forged.params.get("text") == "Nút này đã cũ. Bạn hãy tìm lại nhé." and forged.params.get("show_alert")
    sent = [c for c in fake.requests[since:] if c.method in ("sendMessage", "sendDocument")]
    assert not sent and not fake.violations
