"""End to end: one per-user limit for every way into the bot (chat, inline, buttons, chats speaking
as themselves). A slow refill (1 a minute) keeps the counts exact whatever the machine's speed."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from telegram import Update

from bantin.bot.telegram.plumbing import limit_key
from bantin.bot.telegram.ratelimit import PRESS_BURST
from tests.e2e import buttons, plain, prepare_data, running_bot
from tests.fake_botapi import FakeBotAPI

pytestmark = pytest.mark.e2e
BURST = 3
_chats = itertools.count(3000)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def bot(fake: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    data = tmp_path_factory.mktemp("data")
    prepare_data(data)
    with running_bot(fake, data, BANTIN_RATE_BURST=str(BURST), BANTIN_RATE_PER_MINUTE="1",
                     BANTIN_BUTTON_RATE="1") as proc:
        yield proc


def test_inline_queries_take_turns_from_the_same_limit(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    user = next(_chats)
    queries = [fake.inline_query(user, "cau treo") for _ in range(BURST + 2)]
    answers = [fake.wait_for("answerInlineQuery", lambda c, q=q: c.params.get("inline_query_id") == q)[0]
               for q in queries]
    assert all(a.params["results"] for a in answers[:BURST])
    for refused in answers[BURST:]:
        assert refused.params["results"] == [] and refused.params.get("cache_time") == 0
        assert "đợi" in refused.params["button"]["text"]
    # the same user's chat search has no turn left either
    fake.send_text(user, "cau treo")
    reply = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user)[0]
    assert "đợi" in plain(reply)
    assert fake.violations == []


def test_button_presses_take_turns(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    user = next(_chats)
    fake.send_text(user, "dang vien")  # one turn
    sent = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user)[0]
    message_id = fake.messages_in(user)[-1]["message_id"]
    next_page = next(b for b in buttons(sent) if b["text"].startswith("Sau"))
    presses = [fake.press_button(user, message_id, next_page["callback_data"]) for _ in range(BURST + 1)]
    answers = [fake.wait_for("answerCallbackQuery", lambda c, q=q: c.params.get("callback_query_id") == q)[0]
               for q in presses]
    refused = [a for a in answers if "nhanh quá" in str(a.params.get("text"))]
    assert len(refused) == 2 and all(a.params.get("show_alert") for a in refused)
    fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == user)  # the presses with a turn worked
    assert fake.violations == []


def test_a_group_speaking_as_itself_is_limited_by_its_chat(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    group = -100 - next(_chats)
    for _ in range(BURST + 3):  # anonymous admins: sent on behalf of the group, no `from` at all
        fake.send_as_chat(group, "/search cau treo")
    fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == group and "đợi" in plain(c))
    time.sleep(1)
    replies = fake.calls("sendMessage", chat_id=group)
    assert len(replies) == BURST + 1  # BURST searches, one warning, then silence
    assert len([c for c in replies if "đợi" in plain(c)]) == 1


def _update(data: dict[str, object]) -> Update:
    return Update.de_json({"update_id": 1, **data}, None)  # type: ignore[arg-type]


def test_whose_turn_an_update_takes() -> None:
    channel = {"id": -1001, "type": "channel", "title": "Kênh"}
    group = {"id": -1002, "type": "supergroup", "title": "Nhóm"}
    user = {"id": 42, "is_bot": False, "first_name": "Lan"}
    placeholder = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
    assert limit_key(_update({"channel_post": {"message_id": 1, "date": 0, "chat": channel, "sender_chat": channel,
                                               "text": "/search x"}})) == -1001
    assert limit_key(_update({"message": {"message_id": 1, "date": 0, "chat": group, "sender_chat": group,
                                          "from": placeholder, "text": "/search x"}})) == -1002
    assert limit_key(_update({"message": {"message_id": 1, "date": 0, "chat": group, "from": user,
                                          "text": "/search x"}})) == 42
    # a button under the bot's post in a channel: the person who pressed it
    assert limit_key(_update({"callback_query": {"id": "1", "from": user, "chat_instance": "c", "data": "x",
                                                 "message": {"message_id": 1, "date": 1, "chat": channel,
                                                             "sender_chat": channel}}})) == 42
    assert limit_key(_update({"inline_query": {"id": "1", "from": user, "query": "x", "offset": ""}})) == 42


@pytest.mark.parametrize("command", ["/latest", "/moi", "/about", "/search cau treo", "/tim cau treo",
                                     "/timkiem cau treo", "/xem_khong_co", "/lenh_la"])
def test_every_search_like_command_takes_a_turn(fake: FakeBotAPI, bot: subprocess.Popen[str], command: str) -> None:
    """One route for every command (the command table): past the limit, each gets the same polite reply."""
    reply = past_the_limit(fake, command)
    assert "đợi" in reply, (command, reply)
    assert fake.violations == []


@pytest.mark.parametrize("command", ["/search", "/tim", "/timkiem"])
def test_a_search_without_words_gets_the_hint_even_past_the_limit(fake: FakeBotAPI, bot: subprocess.Popen[str],
                                                                  command: str) -> None:
    """Every alias of /search behaves alike (before the command table, /timkiem took a turn first and
    answered "please wait" where /search and /tim explained how to search)."""
    reply = past_the_limit(fake, command)
    assert "đợi" not in reply and "/search" in reply
    assert fake.violations == []


def past_the_limit(fake: FakeBotAPI, command: str) -> str:
    """The reply (as plain text) a new user gets to `command` after using up their burst on searches."""
    user = next(_chats)
    for _ in range(BURST):
        fake.send_text(user, "cau treo")
    fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user, count=BURST, timeout=30)
    fake.send_text(user, command)
    replies = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user, count=BURST + 1, timeout=30)
    return plain(replies[BURST])


# -- every path that sends takes a turn: one user must not fill a group's send queue -----------------
# (PTB's AIORateLimiter makes each request to a group wait in that group's 20-a-minute queue, and
# each waiting request holds one of the bot's 64 concurrent update slots.)

FLOOD = 30


def _flood_group(fake: FakeBotAPI, send: Callable[[int, int], object]) -> tuple[int, list[str]]:
    """FLOOD messages from one user in a new group; the bot's replies there (plain text), once the
    'please wait' shows that the limit was reached (then a second for stragglers)."""
    group, user = -100 - next(_chats), next(_chats)
    for _ in range(FLOOD):
        send(group, user)
    fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == group and "đợi" in plain(c), timeout=30)
    time.sleep(1)
    return group, [plain(c) for c in fake.calls("sendMessage", chat_id=group)]


@pytest.mark.parametrize("text", ["/help", "/start", "/search", "/help@bantin_test_bot"])
def test_usage_hints_in_a_group_take_turns(fake: FakeBotAPI, bot: subprocess.Popen[str], text: str) -> None:
    _, replies = _flood_group(fake, lambda group, user: fake.send_text(group, text, chat_type="supergroup",
                                                                         user_id=user))
    assert len(replies) <= BURST + 1, replies  # at most BURST hints and one "please wait"
    assert len([r for r in replies if "đợi" in r]) == 1
    assert fake.violations == []


def test_bare_mentions_in_a_group_take_turns(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    mention = f"@{fake.bot_username}"
    entity = [{"type": "mention", "offset": 0, "length": len(mention)}]
    _, replies = _flood_group(fake, lambda group, user: fake.send_text(group, mention, chat_type="supergroup",
                                                                         user_id=user, entities=entity))
    assert len(replies) <= BURST + 1, replies
    assert len([r for r in replies if "đợi" in r]) == 1
    assert fake.violations == []


def test_settings_presses_take_turns_before_asking_telegram(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    """A non-admin hammering a group's digest time button: at most a burst of getChatMember calls
    (the answer is cached), every press answered, the past-the-limit ones with a short toast."""
    group, user = -100 - next(_chats), next(_chats)
    fake.set_chat(group, title="Nhóm")
    markup = {"inline_keyboard": [[{"text": "06:00", "callback_data": "d|t|0600"}]]}
    message_id = fake.leave_bot_message(group, "Cài đặt bản tin", reply_markup=markup)
    presses = [fake.press_button(group, message_id, "d|t|0600", user_id=user) for _ in range(FLOOD)]
    answers = [fake.wait_for("answerCallbackQuery", lambda c, q=q: c.params.get("callback_query_id") == q)[0]
               for q in presses]
    asked = [c for c in fake.calls("getChatMember") if c.params.get("user_id") == user]
    assert 1 <= len(asked) <= BURST
    refused = [a for a in answers if "nhanh quá" in str(a.params.get("text"))]
    assert len(refused) >= FLOOD - PRESS_BURST and all(a.params.get("show_alert") for a in refused)
    assert len(str(refused[0].params["text"])) <= 200
    assert not fake.calls("editMessageText", chat_id=group) and not fake.calls("sendMessage", chat_id=group)
    assert fake.violations == []
