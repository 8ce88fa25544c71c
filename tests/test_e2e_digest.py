"""Daily digests end to end: the real `bantin run` and `bantin digest` processes against the local
Bot API server, a real store, index and delivery log in a temporary data folder.

Subscribers are made the way users make them (/subscribe in Telegram) where that is what is
tested, and written straight into the store where a test needs many of them or a past date.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bantin.bot.clock import VIETNAM
from bantin.bot.digests.store import SubscriptionStore
from tests.conftest import ROOT
from tests.e2e import buttons, cli, plain, running_bot
from tests.fake_botapi import FakeBotAPI

pytestmark = pytest.mark.e2e
_chats = itertools.count(5000)
_articles = itertools.count(1)


def ingest_news(data: Path, *titles: str) -> list[str]:
    """Today's articles as a newsroom export, ingested with the CLI (which updates the index)."""
    export = data.parent / f"export-{next(_articles)}.jsonl"
    today = datetime.now(VIETNAM).replace(microsecond=0)
    ids = []
    with export.open("w", encoding="utf-8") as out:
        for title in titles:
            article_id = f"moi-{next(_articles)}"
            ids.append(article_id)
            out.write(json.dumps({"id": article_id, "title": title, "sapo": f"{title}. Tin trong ngày.",
                                  "body": "Nội dung chi tiết của bài viết.", "url": f"https://baodang.vn/{article_id}",
                                  "published": today.isoformat()}, ensure_ascii=False) + "\n")
    cli(data, "ingest", str(export))
    return ids


def digest(fake: FakeBotAPI, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bantin.bot.cli", "digest", *args],
                          env={**os.environ, "BANTIN_DATA_DIR": str(data), "BANTIN_TOKEN": fake.token,
                               "BANTIN_API_URL": fake.url, "BANTIN_DIGEST_RATE": "30"},
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def sent_to(fake: FakeBotAPI, chat: int, *, ok: bool = True) -> list[str]:
    return [plain(c) for c in fake.calls("sendMessage", chat_id=chat) if not ok or c.status == 200]


def subscribe_directly(data: Path, chats: list[int], *, since: datetime, slot: str = "07:00",
                       topics: tuple[str, ...] = ()) -> None:
    with SubscriptionStore(data / "bot.sqlite") as subs:
        for chat in chats:
            subs.subscribe(chat, lang="vi", slot=slot, topics=topics, now=since)


def far_slot() -> str:
    """A time of day 12 hours away: never due while a test runs."""
    return (datetime.now(VIETNAM) + timedelta(hours=12)).strftime("%H:%M")


def test_subscribe_then_new_articles_arrive_in_the_next_digest_once(fake: FakeBotAPI, data: Path) -> None:
    chat, topical = next(_chats), next(_chats)
    with running_bot(fake, data):
        fake.send_text(chat, f"/subscribe {far_slot()}")
        fake.send_text(topical, f"/subscribe {far_slot()} cau treo, ho tieu", language_code="en")
        for who, expect in ((chat, "đã đăng ký"), (topical, "subscribed")):
            reply = fake.wait_for("sendMessage", lambda c, w=who: c.params.get("chat_id") == w)[0]
            assert expect in plain(reply)
        titles = ["Khánh thành cầu treo bản Mông", "Giá hồ tiêu tăng mạnh", "Hội nghị chuyển đổi số toàn tỉnh"]
        ingest_news(data, *titles)

        result = digest(fake, data, "--now")
        assert result.returncode == 0, result.stderr
        [_, text] = sent_to(fake, chat)  # the /subscribe confirmation, then the digest
        assert all(title in text for title in titles) and "3 bài mới" in text
        [_, english] = sent_to(fake, topical)
        assert "Khánh thành cầu treo" in english and "hồ tiêu" in english and "chuyển đổi số" not in english
        assert fake.violations == []

        # The digest's settings button is answered by the running bot, from any restart's point of view.
        message = fake.messages_in(chat)[-1]
        settings = next(b for b in buttons(fake.calls("sendMessage", chat_id=chat)[-1]) if b["callback_data"] == "d|g")
        fake.press_button(chat, message["message_id"], settings["callback_data"])
        reply = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, count=3)[2]
        assert "Cài đặt bản tin" in plain(reply)

        for again in (digest(fake, data, "--now"), digest(fake, data)):
            assert again.returncode == 0, again.stderr
        assert len(sent_to(fake, chat)) == 3 and len(sent_to(fake, topical)) == 2  # nothing new: nothing sent
        assert "0 đã gửi" in again.stdout


def test_blocked_subscriber_is_unsubscribed_and_the_others_still_get_theirs(fake: FakeBotAPI, data: Path) -> None:
    chats = [next(_chats) for _ in range(5)]
    subscribe_directly(data, chats, since=datetime.now(UTC) - timedelta(minutes=1), slot=far_slot())
    ingest_news(data, "Tin mới về nông thôn mới")
    fake.block_chat(chats[1])
    fake.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found", chat_id=chats[3])
    result = digest(fake, data, "--now")
    assert result.returncode == 0, result.stderr
    assert "2 bị chặn" in result.stdout and "3 đã gửi" in result.stdout
    for chat in (chats[0], chats[2], chats[4]):
        assert len(sent_to(fake, chat)) == 1
    with SubscriptionStore(data / "bot.sqlite") as subs:
        assert {s.chat_id for s in subs.active()} == {chats[0], chats[2], chats[4]}
        assert subs.delivery(chats[1], subs.deliveries(chats[1])[0].slot_key).state == "blocked"  # type: ignore[union-attr]
    ingest_news(data, "Thêm một tin nữa")
    digest(fake, data, "--now")
    assert len(fake.calls("sendMessage", chat_id=chats[1])) == 1  # never tried again


def test_flood_control_429_is_waited_out_and_delivered(fake: FakeBotAPI, data: Path) -> None:
    chats = [next(_chats) for _ in range(3)]
    subscribe_directly(data, chats, since=datetime.now(UTC) - timedelta(minutes=1), slot=far_slot())
    ingest_news(data, "Tin về phòng chống thiên tai")
    fake.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=chats[1], count=2)
    result = digest(fake, data, "--now")
    assert result.returncode == 0, result.stderr
    calls = fake.calls("sendMessage", chat_id=chats[1])
    assert [c.status for c in calls] == [429, 429, 200]
    assert calls[2].time - calls[1].time >= 0.9  # retry_after honoured
    assert all(len(sent_to(fake, chat)) == 1 for chat in chats)
    with SubscriptionStore(data / "bot.sqlite") as subs:
        outcomes = [e[3] for e in subs.events(chats[1])]
    assert outcomes == ["planned", "retry_after", "retry_after", "sent", "done"]


def test_crash_mid_broadcast_then_restart_delivers_exactly_once(fake: FakeBotAPI, data: Path) -> None:
    chats = [next(_chats) for _ in range(30)]
    subscribe_directly(data, chats, since=datetime.now(UTC) - timedelta(minutes=1), slot=far_slot())
    ingest_news(data, "Bài về đại hội chi bộ", "Bài về kết nạp đảng viên")
    victim = chats[12]
    # Telegram's flood control stops everyone for a long time: the process is killed -9 while it
    # waits, between two sends, some digests delivered and recorded, the rest not yet.
    fake.fail_next("sendMessage", error_code=429, retry_after=60, chat_id=victim)
    proc = subprocess.Popen([sys.executable, "-m", "bantin.bot.cli", "digest", "--now"], cwd=ROOT,
                            env={**os.environ, "BANTIN_DATA_DIR": str(data), "BANTIN_TOKEN": fake.token,
                                 "BANTIN_API_URL": fake.url}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == victim and c.status == 429, timeout=60)
        time.sleep(0.5)  # let the requests already in flight be answered and recorded
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    before = {chat: len(sent_to(fake, chat)) for chat in chats}
    assert 0 < sum(before.values()) < len(chats)  # it really was mid-broadcast

    result = digest(fake, data)  # the restart: no --now, only what the log says is pending
    assert result.returncode == 0, result.stderr
    assert "tiếp tục từ lần trước" in result.stdout
    assert {chat: len(sent_to(fake, chat)) for chat in chats} == dict.fromkeys(chats, 1)
    assert digest(fake, data, "--now").returncode == 0
    assert {chat: len(sent_to(fake, chat)) for chat in chats} == dict.fromkeys(chats, 1)
    assert fake.violations == []


def test_the_running_bot_catches_up_a_missed_slot_once(fake: FakeBotAPI, data: Path) -> None:
    """`bantin run` was down at the subscriber's time: on start it sends that digest, once."""
    chat = next(_chats)
    missed = (datetime.now(VIETNAM) - timedelta(hours=1)).strftime("%H:%M")
    subscribe_directly(data, [chat], since=datetime.now(UTC) - timedelta(days=3), slot=missed)
    ingest_news(data, "Tin sáng nay", "Tin trưa nay")
    with running_bot(fake, data):
        message = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, timeout=20)[0]
        assert "Tin sáng nay" in plain(message) and "Tin trưa nay" in plain(message)
    with FakeBotAPI() as again, running_bot(again, data):  # restarted: the slot is already served
        time.sleep(4)  # the start-up catch-up tick runs 2 s after start
        assert again.calls("sendMessage", chat_id=chat) == []
    assert len(fake.calls("sendMessage", chat_id=chat)) == 1
    with SubscriptionStore(data / "bot.sqlite") as subs:
        [row] = subs.deliveries(chat)
        assert row.state == "sent" and row.slot_key.endswith("T" + missed)
    log = (data / "bot.log").read_text()
    assert "Traceback" not in log, log[-2000:]


def test_sigterm_mid_broadcast_stops_promptly_and_the_restart_finishes_exactly_once(fake: FakeBotAPI,
                                                                                   data: Path) -> None:
    chats = [next(_chats) for _ in range(60)]
    missed = (datetime.now(VIETNAM) - timedelta(hours=1)).strftime("%H:%M")
    subscribe_directly(data, chats, since=datetime.now(UTC) - timedelta(days=3), slot=missed)
    ingest_news(data, "Tin cho mọi người")
    with running_bot(fake, data, BANTIN_DIGEST_RATE="20") as proc:  # 60 digests take 3 s
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") in chats, count=10, timeout=20)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        assert time.monotonic() - started < 10 and proc.returncode == 0
    first = sum(len(sent_to(fake, chat)) for chat in chats)
    assert 10 <= first < len(chats)
    with SubscriptionStore(data / "bot.sqlite") as subs:
        assert len(subs.pending(now=datetime.now(UTC))) == len(chats) - first  # exactly the rest, recorded
    with FakeBotAPI() as again, running_bot(again, data):
        again.wait_for("sendMessage", count=len(chats) - first, timeout=20)
        time.sleep(1)
        resent = {c.params["chat_id"] for c in again.calls("sendMessage")}
    assert len(resent) == len(chats) - first
    assert all(len(sent_to(fake, chat)) + (chat in resent) == 1 for chat in chats)
    assert "Traceback" not in (data / "bot.log").read_text()


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def bot(shared_fake: FakeBotAPI, template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("bot") / "data"
    shutil.copytree(template, data)
    with running_bot(shared_fake, data):
        yield data


def say(fake: FakeBotAPI, chat: int, text: str, **kw: object) -> str:
    before = len(fake.calls("sendMessage", chat_id=chat))
    fake.send_text(chat, text, **kw)  # type: ignore[arg-type]
    return plain(fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, count=before + 1)[before])


@pytest.mark.parametrize(("text", "lang", "expect"), [
    ("/subscribe 25:99", "vi", "chưa hiểu giờ"),
    ("/subscribe abc", "vi", "gõ giờ nhận trước"),
    ("/subscribe 07:00 a, b, c, d, e, f", "vi", "tối đa 5 chủ đề"),
    ("/subscribe 07:00 " + "chuyển đổi số " * 10, "vi", "dài quá"),
    ("/subscribe 7:61", "en", "I don't understand the time"),
    ("/dangky xyz", "en", "give the time first"),
    ("/unsubscribe", "vi", "chưa đăng ký"),
])
def test_bad_subscribe_input_gets_a_polite_reply(shared_fake: FakeBotAPI, bot: Path, text: str, lang: str,
                                                 expect: str) -> None:
    chat = next(_chats)
    assert expect in say(shared_fake, chat, text, language_code=lang)
    with SubscriptionStore(bot / "bot.sqlite") as subs:
        assert subs.get(chat) is None
    assert shared_fake.violations == []


def test_settings_buttons_change_time_and_topics(shared_fake: FakeBotAPI, bot: Path) -> None:
    fake, chat = shared_fake, next(_chats)
    assert "18:30" in say(fake, chat, "/subscribe 18h30 đảng viên, hồ tiêu")
    assert "đảng viên" in say(fake, chat, "/settings")
    settings_call = fake.calls("sendMessage", chat_id=chat)[-1]
    message_id = fake.messages_in(chat)[-1]["message_id"]
    datas = {b["text"]: b["callback_data"] for b in buttons(settings_call)}
    fake.press_button(chat, message_id, datas["07:00"])
    edit = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == chat)[0]
    assert "07:00" in plain(edit) and "✓ 07:00" in [b["text"] for b in buttons(edit)]
    fake.press_button(chat, message_id, datas["✕ đảng viên"])
    edit = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == chat, count=2)[1]
    assert "đảng viên" not in plain(edit) and "hồ tiêu" in plain(edit)
    # The old keyboard's "drop topic 1" now points at another topic: refused, not misapplied.
    query = fake.press_button(chat, message_id, datas["✕ đảng viên"], check=False)
    answer = fake.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)[0]
    assert "cũ" in answer.params["text"]
    with SubscriptionStore(bot / "bot.sqlite") as subs:
        sub = subs.get(chat)
        assert sub is not None and sub.slot == "07:00" and sub.topics == ("hồ tiêu",)
    fake.press_button(chat, message_id, datas["🔕 Ngừng nhận"])
    # The third edit: the refused press left the message as it was, so it was not edited again.
    fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == chat, count=3)
    with SubscriptionStore(bot / "bot.sqlite") as subs:
        assert not subs.get(chat).active  # type: ignore[union-attr]
    assert fake.violations == []


def test_digest_preview_changes_nothing_due(shared_fake: FakeBotAPI, bot: Path) -> None:
    fake, chat = shared_fake, next(_chats)
    preview = say(fake, chat, "/digest")  # not subscribed: the last 24 hours
    assert "Xem trước" in preview or "Chưa có bài mới" in preview
    say(fake, chat, f"/subscribe {far_slot()}")
    ingest_news(bot, "Tin xem trước")
    assert "Tin xem trước" in say(fake, chat, "/digest")
    assert "Tin xem trước" in say(fake, chat, "/bantin")  # still there: the preview recorded nothing
    with SubscriptionStore(bot / "bot.sqlite") as subs:
        assert subs.deliveries(chat) == []


def test_groups_are_told_to_subscribe_privately(shared_fake: FakeBotAPI, bot: Path) -> None:
    group = -100 - next(_chats)
    shared_fake.send_text(group, "/subscribe", chat_type="supergroup", user_id=42)
    reply = shared_fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == group)[0]
    assert "trò chuyện riêng" in plain(reply)
    with SubscriptionStore(bot / "bot.sqlite") as subs:
        assert subs.get(group) is None


def test_menu_offers_the_digest(shared_fake: FakeBotAPI, bot: Path) -> None:
    names = {c["command"] for c in shared_fake.commands() or []}
    assert {"subscribe", "settings"} <= names


def test_pressing_a_setting_that_is_already_so_edits_nothing(shared_fake: FakeBotAPI, bot: Path) -> None:
    fake, chat = shared_fake, next(_chats)
    say(fake, chat, "/subscribe 18:00")
    say(fake, chat, "/settings")
    message_id = fake.messages_in(chat)[-1]["message_id"]
    datas = {b["text"]: b["callback_data"] for b in buttons(fake.calls("sendMessage", chat_id=chat)[-1])}
    fake.press_button(chat, message_id, datas["07:00"])
    fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == chat)
    for _ in range(3):  # it is 07:00 already: the message shows just that
        query = fake.press_button(chat, message_id, datas["07:00"], check=False)
        fake.wait_for("answerCallbackQuery", lambda c, q=query: c.params.get("callback_query_id") == q)
    time.sleep(1.0)  # room for an edit after the answer, were there one
    fake.press_button(chat, message_id, datas["12:00"], check=False)
    edits = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == chat, count=2)
    time.sleep(0.5)
    assert "12:00" in plain(edits[1]) and len(fake.calls("editMessageText", chat_id=chat)) == 2
    assert [c.status for c in fake.calls("editMessageText", chat_id=chat)] == [200, 200]  # no "not modified"
    assert fake.violations == []
