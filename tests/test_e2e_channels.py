"""Digests posted to channels and groups, end to end: the real `bantin run` and `bantin digest`
processes against the local Bot API server, a real store, index and delivery log.

Channels and groups are described to the fake server the way Telegram would answer getChat and
getChatMember; editors and group administrators drive the bot with the commands users type.
Subscriptions are written straight into the store where a test needs a past date.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bantin.bot.clock import VIETNAM
from bantin.bot.digests.store import CHANNEL, GROUP, Place, SubscriptionStore
from tests.conftest import ROOT
from tests.e2e import cli, plain, running_bot
from tests.fake_botapi import Call, FakeBotAPI

pytestmark = pytest.mark.e2e
EDITOR = 5501
_ids = itertools.count(1)
_chats = itertools.count(1)


def new_channel(fake: FakeBotAPI, *, admin: bool = True, can_post: bool = True, name: str | None = None) -> int:
    """A channel as Telegram describes it; the bot an administrator allowed to post, or not."""
    n = next(_chats)
    chat = -1001000000000 - n
    fake.set_chat(chat, type="channel", title=f"Báo Đảng xã số {n}", username=name or f"baodang_{n:03d}")
    if admin:
        fake.set_chat_member(chat, fake.bot_id, "administrator", can_post_messages=can_post, can_edit_messages=True)
    return chat


def ingest(data: Path, count: int, *, lead: str = "Tin trong ngày.") -> list[str]:
    """Today's articles as a newsroom export (every other one without a web link)."""
    export = data.parent / f"export-{next(_ids)}.jsonl"
    today = datetime.now(VIETNAM).replace(microsecond=0)
    ids = []
    with export.open("w", encoding="utf-8") as out:
        for _ in range(count):
            n = next(_ids)
            ids.append(f"kenh-{n}")
            record = {"id": f"kenh-{n}", "title": f"Tin số {n} về đời sống bà con trong xã", "sapo": f"{lead} ({n})",
                      "body": "Nội dung chi tiết.", "published": today.isoformat()}
            if n % 2:
                record["url"] = f"https://baodang.vn/{n}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    cli(data, "ingest", str(export))
    return ids


def digest(fake: FakeBotAPI, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bantin.bot.cli", "digest", *args],
                          env={**os.environ, "BANTIN_DATA_DIR": str(data), "BANTIN_TOKEN": fake.token,
                               "BANTIN_API_URL": fake.url},
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def attach_directly(data: Path, chat: int, *, slot: str, kind: str = CHANNEL, since: datetime | None = None,
                    thread: int | None = None, silent: bool = False) -> None:
    with SubscriptionStore(data / "bot.sqlite") as subs:
        subs.subscribe(chat, lang="vi", slot=slot, topics=(), now=since or datetime.now(UTC) - timedelta(days=1),
                       place=Place(kind, thread_id=thread, title="Báo Đảng xã", added_by=EDITOR, added_by_name="Hoa",
                                   report_chat=EDITOR))
        if silent:
            subs.set_option(chat, "silent", True, now=datetime.now(UTC))


def posts(fake: FakeBotAPI, chat: int) -> list[Call]:
    return [c for c in fake.calls("sendMessage", chat_id=chat) if c.status == 200]


def ask(fake: FakeBotAPI, chat: int, text: str, **kw: object) -> str:
    """Send `text` in `chat`; the plain text of the bot's next message there."""
    since = len(fake.requests)
    fake.send_text(chat, text, **kw)  # type: ignore[arg-type]
    return plain(fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=since,
                               timeout=30)[0])


def past_slot() -> str:
    return (datetime.now(VIETNAM) - timedelta(hours=1)).strftime("%H:%M")


def far_slot() -> str:
    return (datetime.now(VIETNAM) + timedelta(hours=12)).strftime("%H:%M")


def test_an_editor_attaches_channels_and_is_told_why_not_where_the_bot_cannot_post(fake: FakeBotAPI,
                                                                                   data: Path) -> None:
    good = new_channel(fake, name="baodangxa")
    not_admin = new_channel(fake, admin=False, name="tinxa_khac")
    no_rights = new_channel(fake, can_post=False, name="tinxa_chuadang")
    with running_bot(fake, data, BANTIN_EDITORS=str(EDITOR)):
        reply = ask(fake, EDITOR, "/channel @baodangxa 18:30 đảng viên, nông thôn mới")
        assert "Đã gắn bản tin vào kênh" in reply and "18:30" in reply and "đảng viên" in reply
        assert "chưa là quản trị viên" in ask(fake, EDITOR, "/channel @tinxa_khac")
        assert "không được phép đăng bài" in ask(fake, EDITOR, "/channel @tinxa_chuadang")
        assert "Không tìm thấy" in ask(fake, EDITOR, "/channel @khongcokenhnay")
        assert "chưa hiểu giờ" in ask(fake, EDITOR, "/channel @baodangxa 25:00")
        assert "/channel @tenkenh" in ask(fake, EDITOR, "/channel")  # usage
        assert "lời đầu" in ask(fake, EDITOR, "/channel @baodangxa header Bản tin Đảng bộ xã Đông Lâm").lower()
        assert "im lặng" in ask(fake, EDITOR, "/channel @baodangxa silent on")
        assert "dành cho biên tập viên" in ask(fake, 7001, "/channel @baodangxa")  # not an editor
        listing = ask(fake, EDITOR, "/channels")
        assert "@baodangxa" in listing and "18:30" in listing and "Chưa đăng lần nào" in listing
        assert "tinxa_khac" not in listing
        checked = {c.params["chat_id"] for c in fake.calls("getChatMember") if c.params.get("user_id") == fake.bot_id}
        assert {good, not_admin, no_rights} <= checked
    with SubscriptionStore(data / "bot.sqlite") as subs:
        sub = subs.get(good)
        assert sub is not None and sub.kind == CHANNEL and sub.active and sub.slot == "18:30" and sub.silent
        assert sub.header == "Bản tin Đảng bộ xã Đông Lâm" and sub.added_by == EDITOR and sub.report_chat == EDITOR
        assert subs.get(not_admin) is None and subs.get(no_rights) is None
    db_rows = _audit(data)
    assert ("channel", "ok") in db_rows and ("channel", "failed") in db_rows and ("channel", "refused") in db_rows
    assert fake.violations == []


def _audit(data: Path) -> list[tuple[str, str]]:
    import sqlite3

    db = sqlite3.connect(data / "bot.sqlite")
    try:
        return list(db.execute("SELECT action, result FROM editor_audit ORDER BY id"))
    finally:
        db.close()


def test_a_slot_is_posted_once_and_forcing_it_again_edits_the_post(fake: FakeBotAPI, data: Path) -> None:
    chan = new_channel(fake)
    slot = past_slot()  # once: called again a minute later, it would name another slot
    attach_directly(data, chan, slot=slot, silent=True)
    ingest(data, 3)
    with running_bot(fake, data, BANTIN_EDITORS=str(EDITOR)):  # catches up the slot it missed
        [post] = [fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chan, timeout=20)[0]]
        time.sleep(3)  # a few more ticks' chances to post again (there must be none)
        assert len(posts(fake, chan)) == 1
        text = plain(post)
        assert "Bản tin ngày" in text and text.count("Tin số") == 3 and "Tin trong ngày." in text
        assert post.params.get("disable_notification") is True and "reply_markup" not in post.params
        assert post.params["link_preview_options"] == {"is_disabled": True}
        links = {e.get("url") for e in post.response["result"].get("entities", []) if e["type"] == "text_link"}
        assert any(u.startswith("https://baodang.vn/") for u in links)
        assert any(u.startswith(f"https://t.me/{fake.bot_username}?start=xem_kenh-") for u in links)

        ingest(data, 2)
        reply = ask(fake, EDITOR, f"/digest @baodang_{abs(chan) - 1001000000000:03d}")
        assert "Đã cập nhật bản tin đã đăng" in reply
        [edit] = fake.calls("editMessageText", chat_id=chan)
        assert edit.params["message_id"] == post.response["result"]["message_id"]
        assert plain(edit).count("Tin số") == 5 and len(posts(fake, chan)) == 1  # edited, not posted again
        assert "không có gì để sửa" in ask(fake, EDITOR, f"/digest {chan}")
    assert digest(fake, data).returncode == 0 and digest(fake, data, "--now", "--chat", str(chan)).returncode == 0
    assert len(posts(fake, chan)) == 1 and len(fake.calls("editMessageText", chat_id=chan)) == 1
    with SubscriptionStore(data / "bot.sqlite") as subs:
        [row] = subs.deliveries(chan)
        assert row.state == "sent" and row.revision == 1 and row.slot_key.endswith("T" + slot)
    assert fake.violations == []


def test_an_editor_posts_a_fresh_channel_digest_on_demand(fake: FakeBotAPI, data: Path) -> None:
    chan = new_channel(fake, name="tinmoi_xa")
    with running_bot(fake, data, BANTIN_EDITORS=str(EDITOR)):
        ask(fake, EDITOR, f"/channel @tinmoi_xa {far_slot()}")
        assert "Chưa có bài mới" in ask(fake, EDITOR, "/digest @tinmoi_xa")
        ingest(data, 2)
        reply = ask(fake, EDITOR, "/digest @tinmoi_xa")
        assert "Đã đăng bản tin" in reply and len(posts(fake, chan)) == 1
        assert "đã đăng" in ask(fake, EDITOR, "/channels")
    assert fake.violations == []


def test_sigkill_mid_broadcast_then_restart_posts_every_part_exactly_once(fake: FakeBotAPI, data: Path) -> None:
    chan = new_channel(fake)
    attach_directly(data, chan, slot=past_slot())
    ingest(data, 30, lead="Bà con phấn khởi đón tin vui khi công trình được khánh thành đúng hẹn, " * 3)
    env = {**os.environ, "BANTIN_DATA_DIR": str(data), "BANTIN_TOKEN": fake.token, "BANTIN_API_URL": fake.url,
           "BANTIN_DIGEST_SIZE": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "bantin.bot.cli", "digest"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chan, timeout=60)[0]
        # The next part waits 3 s (20 a minute per channel): then flood control holds it for a minute,
        # and the process is killed while it waits.
        fake.fail_next("sendMessage", error_code=429, retry_after=60, chat_id=chan)
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chan and c.status == 429, timeout=30)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert first.status == 200 and len(posts(fake, chan)) == 1
    with SubscriptionStore(data / "bot.sqlite") as subs:
        [row] = subs.deliveries(chan)
        parts = len(json.loads(row.parts))
        assert row.state == "pending" and row.parts_sent == 1 and parts >= 2

    result = digest(fake, data)  # the restart: only what the log says is left
    assert result.returncode == 0, result.stderr
    assert "tiếp tục từ lần trước" in result.stdout
    texts = [plain(c) for c in posts(fake, chan)]
    assert len(texts) == parts and len(set(texts)) == parts  # every part once, none twice
    assert all(f"(Phần {n}/{parts})" in texts[n - 1] for n in range(1, parts + 1))
    times = [c.time for c in posts(fake, chan)[1:]]
    assert all(b - a >= 2.9 for a, b in itertools.pairwise(times))  # 20 a minute per channel
    assert digest(fake, data).returncode == 0 and len(posts(fake, chan)) == parts
    assert fake.violations == []


def test_a_channel_the_bot_was_removed_from_is_stopped_and_the_editor_told_once(fake: FakeBotAPI,
                                                                                data: Path) -> None:
    chan = new_channel(fake)
    other = new_channel(fake)
    attach_directly(data, chan, slot=far_slot())
    attach_directly(data, other, slot=far_slot())
    ingest(data, 1)
    fake.block_chat(chan, "Forbidden: bot is not a member of the channel chat")
    result = digest(fake, data, "--now")
    assert result.returncode == 0, result.stderr
    assert "1 bị chặn" in result.stdout and len(posts(fake, other)) == 1
    [notice] = fake.calls("sendMessage", chat_id=EDITOR)
    assert "ngừng đăng" in plain(notice) and "not a member" in plain(notice)
    with SubscriptionStore(data / "bot.sqlite") as subs:
        sub = subs.get(chan)
        assert sub is not None and not sub.active and "not a member" in (sub.stopped_reason or "")
    ingest(data, 1)
    assert digest(fake, data, "--now").returncode == 0
    assert len(fake.calls("sendMessage", chat_id=chan)) == 1 and len(fake.calls("sendMessage", chat_id=EDITOR)) == 1

    # The running bot hears it from Telegram too (my_chat_member), before any digest is due.
    with running_bot(fake, data, BANTIN_EDITORS=str(EDITOR)):
        fake.change_bot_status(other, "kicked")
        notice = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == EDITOR, count=2, timeout=20)[1]
        assert "ngừng đăng" in plain(notice) and "bot đã bị gỡ khỏi đó" in plain(notice)  # in Vietnamese
        listing = ask(fake, EDITOR, "/channels")
        assert listing.count("Đã ngừng") == 2 and "bot đã bị gỡ khỏi đó" in listing
    with SubscriptionStore(data / "bot.sqlite") as subs:
        assert not subs.get(other).active  # type: ignore[union-attr]
    assert "Traceback" not in (data / "bot.log").read_text()


def test_in_a_group_only_administrators_subscribe_it(fake: FakeBotAPI, data: Path) -> None:
    group = -100500 - next(_chats)
    fake.set_chat(group, type="supergroup", title="Chi bộ thôn 3")
    fake.set_chat_member(group, 42, "member")
    fake.set_chat_member(group, 43, "administrator")
    with running_bot(fake, data):
        refused = ask(fake, group, "/subscribe 07:00", chat_type="supergroup", user_id=42)
        assert "Chỉ quản trị viên" in refused and "trò chuyện riêng" in refused
        with SubscriptionStore(data / "bot.sqlite") as subs:
            assert subs.get(group) is None
        accepted = ask(fake, group, "/subscribe 18:30 đảng viên", chat_type="supergroup", user_id=43)
        assert "Nhóm đã đăng ký" in accepted and "18:30" in accepted
        # An anonymous administrator writes as the group itself.
        since = len(fake.requests)
        fake.send_message_update(group, {"text": "/subscribe 19:00", "sender_chat": {"id": group,
                                         "type": "supergroup", "title": "Chi bộ thôn 3"},
                                         "entities": [{"type": "bot_command", "offset": 0, "length": 10}]},
                                 chat_type="supergroup", user_id=1087968824, first_name="Group")
        reply = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == group, since=since)[0]
        assert "19:00" in plain(reply)
        assert "Chỉ quản trị viên" in ask(fake, group, "/unsubscribe", chat_type="supergroup", user_id=42)
        # The settings buttons are checked too: a member's press changes nothing.
        ask(fake, group, "/settings", chat_type="supergroup", user_id=43)
        settings = fake.messages_in(group)[-1]
        stop = next(b["callback_data"] for row in settings["reply_markup"]["inline_keyboard"] for b in row
                    if b["callback_data"] == "d|u")
        query = fake.press_button(group, settings["message_id"], stop, user_id=42)
        answer = fake.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)[0]
        assert "quản trị viên" in answer.params["text"]
    with SubscriptionStore(data / "bot.sqlite") as subs:
        sub = subs.get(group)
        assert sub is not None and sub.kind == GROUP and sub.active and sub.slot == "19:00"
        assert sub.topics == ("đảng viên",) and sub.added_by is None  # the anonymous admin is nobody in particular
    assert fake.violations == []


def test_a_forum_group_gets_its_digest_in_the_topic_it_subscribed_from(fake: FakeBotAPI, data: Path) -> None:
    forum = -100600 - next(_chats)
    fake.set_chat(forum, type="supergroup", title="Cán bộ xã", is_forum=True)
    fake.set_chat_member(forum, 43, "creator")
    with running_bot(fake, data):
        first = ask(fake, forum, f"/subscribe {far_slot()}", chat_type="supergroup", user_id=43, message_thread_id=5)
        assert "chủ đề này" in first
        ask(fake, forum, f"/subscribe {far_slot()}", chat_type="supergroup", user_id=43, message_thread_id=9)
        replies = [c for c in fake.calls("sendMessage", chat_id=forum)]
        assert [c.params.get("message_thread_id") for c in replies] == [5, 9]  # answered in each topic
    with SubscriptionStore(data / "bot.sqlite") as subs:
        subs.set_option(forum, "silent", False, now=datetime.now(UTC))
        subs.subscribe(forum, lang="vi", slot=far_slot(), topics=None, now=datetime.now(UTC) - timedelta(minutes=5))
    ingest(data, 2)
    result = digest(fake, data, "--now", "--chat", str(forum))
    assert result.returncode == 0, result.stderr
    post = fake.calls("sendMessage", chat_id=forum)[-1]
    assert post.params.get("message_thread_id") == 9 and "Bản tin ngày" in plain(post)
    assert post.response["result"].get("is_topic_message") is True
    assert fake.violations == []


def test_a_group_upgraded_to_a_supergroup_keeps_its_digest(fake: FakeBotAPI, data: Path) -> None:
    old, new = -4500 - next(_chats), -1004500 - next(_chats)
    fake.set_chat(old, type="group", title="Tổ dân phố 5")
    fake.set_chat_member(old, 43, "administrator")
    with running_bot(fake, data):
        assert "Nhóm đã đăng ký" in ask(fake, old, "/subscribe 18:30", chat_type="group", user_id=43)
        # Telegram's service message in the old group, naming the new supergroup's id.
        since = len(fake.requests)
        fake.send_message_update(old, {"migrate_to_chat_id": new}, chat_type="group", user_id=43)
        deadline = time.monotonic() + 10
        moved = None
        while moved is None and time.monotonic() < deadline:
            with SubscriptionStore(data / "bot.sqlite") as subs:
                moved = subs.get(new)
            time.sleep(0.05)
        assert moved is not None and moved.active and moved.slot == "18:30"
        # a service message gets no reply
        assert not [c for c in fake.requests[since:] if c.method == "sendMessage" and c.params.get("chat_id") == old]
    with SubscriptionStore(data / "bot.sqlite") as subs:
        assert subs.get(old) is None
    assert fake.violations == []


# -- channel posts are not commands (SECURITY.md: channel posters can do nothing) ----------------


def _to_chats(fake: FakeBotAPI, *chats: int) -> list[Call]:
    """Everything the bot sent, edited or deleted in these chats (asking Telegram about them is fine)."""
    return [c for c in fake.requests if c.params.get("chat_id") in chats
            and c.method.startswith(("send", "edit", "delete", "copy", "forward", "pin"))]


def _settle(fake: FakeBotAPI) -> None:
    """Let the bot handle what was sent before: a private /help is answered after it, and a moment more."""
    ask(fake, 7777, "/help")
    time.sleep(1.0)


def test_channel_posts_cannot_change_or_stop_its_digest_and_get_no_answer(fake: FakeBotAPI, data: Path) -> None:
    chan = new_channel(fake)
    unattached = new_channel(fake)
    group = -100700 - next(_chats)  # the channel's linked discussion group
    fake.set_chat(group, type="supergroup", title="Thảo luận Báo Đảng xã")
    slot = far_slot()
    attach_directly(data, chan, slot=slot, since=datetime.now(UTC))  # nothing is due while the test runs
    with running_bot(fake, data, BANTIN_EDITORS=str(EDITOR)):
        for text in ("/subscribe 23:30", f"/dangky@{fake.bot_username} 22:00 đảng viên", "/settings", "/digest",
                     "/help", "/khong-lenh", "/xem_1", "/reindex", "/stats", "/channel off", "/start"):
            fake.send_channel_post(chan, text)
        typo = fake.send_channel_post(chan, "/subscrib")
        fake.send_channel_post(chan, "/unsubscribe", edit_of=typo)  # an edited post is a post too
        fake.send_channel_post(unattached, "/subscribe 06:00")
        # Telegram copies every channel post into the linked group, as the channel.
        fake.send_message_update(group, {"text": "/unsubscribe", "is_automatic_forward": True,
                                         "sender_chat": fake._chat_brief(chan),
                                         "entities": [{"type": "bot_command", "offset": 0, "length": 12}]},
                                 chat_type="supergroup", user_id=777000, first_name="Telegram")
        fake.send_channel_post(chan, "/unsubscribe")
        _settle(fake)
        assert _to_chats(fake, chan, unattached, group) == []
    with SubscriptionStore(data / "bot.sqlite") as subs:
        sub = subs.get(chan)
        assert sub is not None and sub.active and sub.slot == slot and sub.topics == ()
        assert subs.get(unattached) is None and subs.get(group) is None
    assert "Traceback" not in (data / "bot.log").read_text()
    assert fake.violations == []


def test_digest_buttons_in_a_channel_are_refused_to_everyone(fake: FakeBotAPI, data: Path) -> None:
    chan = new_channel(fake)
    slot = far_slot()
    attach_directly(data, chan, slot=slot, since=datetime.now(UTC))  # nothing is due while the test runs
    fake.set_chat_member(chan, 4242, "administrator")
    # A settings keyboard an older version left in the channel, readable (and pressable) by every reader.
    left = {"inline_keyboard": [[{"text": "01:00", "callback_data": "d|t|0100"},
                                 {"text": "Dừng", "callback_data": "d|u"}]]}
    message = fake.leave_bot_message(chan, "Bản tin hằng ngày", left)
    with running_bot(fake, data, BANTIN_EDITORS=str(EDITOR)):
        presses = [("d|t|0100", 4242), ("d|u", 4243), ("d|u", EDITOR), ("d|s", 4243), ("d|c", 4243),
                   ("d|g", 4243), ("d|p", 4243), ("d|x|1:abcdef", 4243), ("r|vn-1", 4243), ("e|r", EDITOR)]
        for data_, user in presses:
            query = fake.press_button(chan, message, data_, user_id=user, check=False)
            [answer] = fake.wait_for("answerCallbackQuery", lambda c, q=query: c.params.get("callback_query_id") == q)
            assert answer.params.get("show_alert") is True and "kênh" in answer.params["text"], data_
        gone = fake.press_button(chan, 999, "d|u", user_id=4243, check=False)  # an inaccessible message
        fake.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == gone)
        _settle(fake)
        assert _to_chats(fake, chan, 4242, 4243) == []
        assert len(fake.calls("answerCallbackQuery")) == len(presses) + 1  # each answered exactly once
    with SubscriptionStore(data / "bot.sqlite") as subs:
        sub = subs.get(chan)
        assert sub is not None and sub.active and sub.slot == slot
        assert subs.get(4243) is None and subs.get(4242) is None
    assert fake.violations == []
