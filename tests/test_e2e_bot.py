"""End to end: the real `bantin run` process, a local HTTP server playing the Bot API, real updates.

One bot process serves the whole module; each test talks in its own chat so they stay independent.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.articles.rawpage import page_id
from tests.conftest import SAMPLES
from tests.e2e import buttons, plain, prepare_data, running_bot
from tests.fake_botapi import FakeBotAPI, parse_telegram_html

pytestmark = pytest.mark.e2e
_chats = itertools.count(1000)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def bot(fake: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    data = tmp_path_factory.mktemp("data")
    prepare_data(data)
    # Long articles as messages, never a .txt file: the file is tested in tests/test_e2e_read.py.
    with running_bot(fake, data, BANTIN_RATE_BURST="8", BANTIN_RATE_PER_MINUTE="30", BANTIN_PER_PAGE="3",
                     BANTIN_READ_DOCUMENT_CHARS="0") as proc:
        yield proc


@pytest.fixture
def chat() -> int:
    return next(_chats)


def reply_to(fake: FakeBotAPI, chat: int, text: str, **kw: object) -> dict[str, object]:
    """Send `text` as the user and return the bot's (first) message in reply."""
    before = len(fake.calls("sendMessage", chat_id=chat))
    fake.send_text(chat, text, **kw)  # type: ignore[arg-type]
    calls = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, count=before + 1)
    return calls[before].params | {"_call": calls[before]}


def assert_valid(fake: FakeBotAPI) -> None:
    assert fake.violations == []


def test_command_menus_registered_in_both_languages(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    vi = fake.commands()
    en = fake.commands(language_code="en")
    assert vi and en
    assert {c["command"] for c in vi} == {c["command"] for c in en} >= {"search", "latest", "help", "about"}
    assert any("Tìm" in c["description"] for c in vi) and any("Search" in c["description"] for c in en)


def test_start_welcomes_with_examples(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    sent = reply_to(fake, chat, "/start")
    text = plain(sent["_call"])  # type: ignore[arg-type]
    assert "Bản tin" in text and "chuyen doi so" in text and "đảng viên" in text
    assert_valid(fake)


def test_unaccented_search_pages_and_related(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    sent = reply_to(fake, chat, "dang vien")
    text = plain(sent["_call"])  # type: ignore[arg-type]
    assert "đảng viên" in text.lower()
    _, entities = parse_telegram_html(str(sent["text"]))
    assert any(e["type"] == "bold" for e in entities)
    datas = [b["callback_data"] for b in buttons(sent["_call"])]  # type: ignore[arg-type]
    assert all(len(d.encode()) <= 64 for d in datas)
    message_id = fake.messages_in(chat)[-1]["message_id"]
    next_page = next(b for b in buttons(sent["_call"]) if b["text"].startswith("Sau"))  # type: ignore[arg-type]
    fake.press_button(chat, message_id, next_page["callback_data"])
    edit = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == chat)[0]
    assert edit.params["message_id"] == message_id and "trang 2/" in plain(edit)
    fake.wait_for("answerCallbackQuery")
    related = next(b for b in buttons(sent["_call"]) if b["text"].startswith("Tin liên quan"))  # type: ignore[arg-type]
    before = len(fake.calls("sendMessage", chat_id=chat))
    fake.press_button(chat, message_id, related["callback_data"], check=False)
    related_msg = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, count=before + 1)[-1]
    assert "liên quan" in plain(related_msg).lower()
    assert_valid(fake)


def test_forged_and_stale_buttons_get_a_polite_answer(fake: FakeBotAPI, bot: subprocess.Popen[str],
                                                      chat: int) -> None:
    reply_to(fake, chat, "chi bo")
    message_id = fake.messages_in(chat)[-1]["message_id"]
    for data in ["zzz", "s|2|r", "r|does-not-exist", "f|nope|1", "s|999|q|x"]:
        query_id = fake.press_button(chat, message_id, data, check=False)
        answer = fake.wait_for("answerCallbackQuery", lambda c, q=query_id: c.params.get("callback_query_id") == q)
        assert answer[0].params.get("text")
    assert bot.poll() is None
    assert_valid(fake)


def test_a_forged_digest_button_is_stale_not_an_error(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    reply_to(fake, chat, "chi bo")
    message_id = fake.messages_in(chat)[-1]["message_id"]
    for data in ["d|m|0|zzzzzzzzzzzzz|1", "d|m|0|1|²", "s|²|r|q", "d|t|0100\n"]:
        query_id = fake.press_button(chat, message_id, data, check=False)
        [answer] = fake.wait_for("answerCallbackQuery", lambda c, q=query_id: c.params.get("callback_query_id") == q)
        assert "Nút này đã cũ" in answer.params["text"], data
    assert_valid(fake)


def test_long_query_stays_in_the_page_buttons(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    # Long (over 64 bytes) yet matching more than a page of the samples with every word required
    # (issue 14): exclusions of absent phrases lengthen it without narrowing the results.
    sent = reply_to(fake, chat, 'chi bộ đảng viên -"xổ số kiến thiết" -"ngoại hạng anh" -"champions league"')
    nav = [b for b in buttons(sent["_call"]) if b["text"].startswith("Sau")]  # type: ignore[arg-type]
    if not nav:
        pytest.skip("only one page of results")
    message_id = fake.messages_in(chat)[-1]["message_id"]
    fake.press_button(chat, message_id, nav[0]["callback_data"])
    edit = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == chat)[0]
    assert "chi bộ đảng viên" in plain(edit) and "trang 2/" in plain(edit)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("tìm " * 1300, "dài quá"),
        ("<b>đảng viên</b> *chi bộ* _x_ &amp; <script>", "đảng viên"),
        ("\x00\x07 \u202e\u200b", "chưa thấy từ khoá"),
        ("😀🎉👍", "chưa thấy từ khoá"),
        ("مرحبا بالعالم", "Không tìm thấy"),
        ("/search", "Bạn muốn tìm gì"),
        ("/khonglenhnay", "không biết lệnh"),
        ("/khong-lenh", "không biết lệnh /khong-lenh"),
        ("/xem_1'--", "không còn trong kho"),
        ("/xem_evil1.", "không còn trong kho"),
        ("/xem_" + "a" * 3000, "không còn trong kho"),
        ("/" + "x" * 3000, "không biết lệnh"),
    ],
)
def test_bad_input_gets_a_polite_reply(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int, text: str,
                                       expect: str) -> None:
    sent = reply_to(fake, chat, text)
    shown = plain(sent["_call"])  # type: ignore[arg-type]
    assert expect.lower() in shown.lower()
    assert len(shown.encode("utf-16-le")) // 2 <= 4096
    assert_valid(fake)


@pytest.mark.parametrize("kind", [{"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular",
                                               "width": 512, "height": 512, "is_animated": False,
                                               "is_video": False}},
                                  {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
                                  {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 2}}])
def test_non_text_messages(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int, kind: dict[str, object]) -> None:
    fake.send_message_update(chat, kind)
    sent = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat)[0]
    assert "chữ" in plain(sent)


def test_edited_message_is_searched_again(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    reply_to(fake, chat, "cong chieng")
    fake.send_edited_text(chat, "ho tieu")
    second = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, count=2)[1]
    assert "hồ tiêu" in plain(second).lower()


def test_english_user_gets_english(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    sent = reply_to(fake, chat, "/help", language_code="en")
    assert "How to search" in plain(sent["_call"])  # type: ignore[arg-type]
    sent = reply_to(fake, chat, "xyzzyqwerty", language_code="en")
    assert "No articles found" in plain(sent["_call"])  # type: ignore[arg-type]


def test_latest_and_about(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    latest = plain(reply_to(fake, chat, "/latest")["_call"])  # type: ignore[arg-type]
    assert "Tin mới nhất" in latest and "1." in latest
    about = plain(reply_to(fake, chat, "/about")["_call"])  # type: ignore[arg-type]
    assert "24" in about and "bài viết" in about


def test_full_text_of_a_long_article_is_split(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    long_page = (SAMPLES / "21_son-nguyen-sinh-hoat-chi-bo.txt").resolve()
    fake.send_text(chat, f"/xem_{page_id(str(long_page))}")
    fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat
                  and re.search(r"Phần (\d+)/\1\b", plain(c)) is not None, timeout=15)
    parts = fake.calls("sendMessage", chat_id=chat)
    assert len(parts) >= 3
    assert all(len(plain(c).encode("utf-16-le")) // 2 <= 4096 for c in parts)
    assert buttons(parts[-1]) and not buttons(parts[0])
    assert_valid(fake)


def test_groups_answer_only_commands_and_mentions(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    group = -100 - next(_chats)
    fake.send_text(group, "dang vien", chat_type="supergroup", user_id=42)
    fake.send_text(group, "/search dang vien", chat_type="supergroup", user_id=42)
    first = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == group)[0]
    assert "đảng viên" in plain(first).lower()
    text = f"@{fake.bot_username} chi bo"
    fake.send_text(group, text, chat_type="supergroup", user_id=42,
                   entities=[{"type": "mention", "offset": 0, "length": len(fake.bot_username) + 1}])
    fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == group, count=2)
    time.sleep(0.5)
    assert len(fake.calls("sendMessage", chat_id=group)) == 2  # the plain "dang vien" got silence
    fake.send_text(group, "/search@some_other_bot dang vien", chat_type="supergroup", user_id=42)
    time.sleep(0.5)
    assert len(fake.calls("sendMessage", chat_id=group)) == 2


def test_inline_mode(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    query_id = fake.inline_query(777, "nong thon moi")
    answer = fake.wait_for("answerInlineQuery", lambda c: c.params.get("inline_query_id") == query_id)[0]
    results = answer.params["results"]
    assert results and all(r["type"] == "article" for r in results)
    assert any("nông thôn mới" in r["title"].lower() for r in results)
    assert_valid(fake)


def test_inline_offset_that_is_no_number_answers_page_one(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    answers = [fake.wait_for("answerInlineQuery", lambda c, q=q: c.params.get("inline_query_id") == q)[0]
               for q in (fake.inline_query(778, "nong thon moi"), fake.inline_query(778, "nong thon moi", offset="²"))]
    first, odd = ([r["id"] for r in a.params["results"]] for a in answers)
    assert odd and odd == first
    assert answers[1].params.get("next_offset") == answers[0].params.get("next_offset")
    assert_valid(fake)


def test_rate_limit_then_polite_wait(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    for n in range(12):
        fake.send_text(chat, f"cau treo {n}")
    fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat and "đợi" in plain(c), timeout=15)
    time.sleep(1)
    waits = [c for c in fake.calls("sendMessage", chat_id=chat) if "đợi" in plain(c)]
    assert len(waits) == 1  # one warning, not one per message


def test_flood_429_is_retried(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    fake.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=chat)
    fake.send_text(chat, "/help")
    calls = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, count=2, timeout=15)
    assert calls[0].status == 429 and calls[1].status == 200


def test_unexpected_failure_gets_an_apology(fake: FakeBotAPI, bot: subprocess.Popen[str], chat: int) -> None:
    fake.fail_next("sendMessage", error_code=400, description="Bad Request: something odd", chat_id=chat)
    fake.send_text(chat, "/about")
    calls = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, count=2, timeout=15)
    assert "Xin lỗi" in plain(calls[1])
    assert bot.poll() is None


def test_sigterm_stops_within_seconds(fake: FakeBotAPI, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    prepare_data(data)
    with FakeBotAPI() as own, running_bot(own, data) as proc:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0
    log = (data / "bot.log").read_text()
    assert "Traceback" not in log, json.dumps(log[-2000:])
