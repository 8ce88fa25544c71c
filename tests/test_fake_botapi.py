"""Tests of the fake Telegram Bot API itself, driven by a real PTB ``Bot``.

Why: the e2e tests trust the fake to understand exactly what python-telegram-bot sends and to
reject what Telegram would reject. If the fake mis-decoded PTB's form encoding, or accepted
broken HTML, every e2e test built on it would be silently wrong.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, NetworkError, RetryAfter

from tests.fake_botapi import Call, FakeBotAPI, parse_telegram_html

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as api:
        yield api


@pytest_asyncio.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(token=TOKEN, base_url=f"{fake.url}/bot") as b:  # initialize() calls getMe
        yield b


def _keyboard(*datas: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"Nút {d}", callback_data=d)] for d in datas])


# ----------------------------------------------------------------------------- basics


@pytest.mark.asyncio
async def test_get_me(bot: Bot, fake: FakeBotAPI) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.username == "bantin_test_bot"
    assert me.is_bot
    assert fake.calls("getMe")


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(InvalidToken):
        async with Bot(token="999:WRONG", base_url=f"{fake.url}/bot"):  # initialize() calls getMe
            pass
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1})
    assert any("sendTelepathy" in v for v in fake.violations)


@pytest.mark.asyncio
async def test_send_message_records_decoded_params(bot: Bot, fake: FakeBotAPI) -> None:
    msg = await bot.send_message(
        chat_id=5,
        text="<b>Tin nóng</b> &amp; <i>mới</i>",
        parse_mode=ParseMode.HTML,
        reply_markup=_keyboard("page:2"),
    )
    call = fake.calls("sendMessage", chat_id=5)[0]
    assert isinstance(call, Call)
    assert call.params["chat_id"] == 5
    assert call.params["text"] == "<b>Tin nóng</b> &amp; <i>mới</i>"
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "Nút page:2", "callback_data": "page:2"}]]}
    # The returned Message is what Telegram would send back: plain text + entities.
    assert msg.text == "Tin nóng & mới"
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bold", 0, 8), ("italic", 11, 3)]
    assert msg.reply_markup == _keyboard("page:2")
    assert msg.from_user is not None and msg.from_user.id == 123456
    [stored] = fake.messages_in(5)
    assert stored["message_id"] == msg.message_id
    assert stored["text"] == "Tin nóng & mới"
    assert not fake.violations


@pytest.mark.asyncio
async def test_string_params_stay_strings(bot: Bot, fake: FakeBotAPI) -> None:
    """PTB sends str params unencoded: a text of "42" or "true" must not become 42 / True."""
    await bot.send_message(chat_id="7", text="42")
    await bot.send_message(chat_id=7, text="true")
    texts = [c.params["text"] for c in fake.calls("sendMessage")]
    assert texts == ["42", "true"]
    assert all(c.params["chat_id"] == 7 for c in fake.calls("sendMessage"))
    assert [m["text"] for m in fake.messages_in(7)] == ["42", "true"]


@pytest.mark.asyncio
async def test_json_body_is_accepted(fake: FakeBotAPI) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(
            f"{fake.url}/bot{TOKEN}/sendMessage",
            json={"chat_id": "-100123", "text": "xin chào", "reply_markup": json.dumps({"inline_keyboard": []})},
        )
    assert resp.json()["ok"] is True
    call = fake.calls("sendMessage")[0]
    assert call.params["chat_id"] == -100123
    assert call.params["reply_markup"] == {"inline_keyboard": []}
    assert resp.json()["result"]["chat"]["type"] == "supergroup"


# ----------------------------------------------------------------------------- validation


@pytest.mark.asyncio
async def test_invalid_html_is_bad_request(bot: Bot, fake: FakeBotAPI) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(chat_id=5, text="giá < 100 nghìn", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)Unmatched end tag"):
        await bot.send_message(chat_id=5, text="<b><i>x</b></i>", parse_mode=ParseMode.HTML)
    assert fake.messages_in(5) == []
    assert len(fake.violations) == 2
    # Without a parse mode the same text is fine.
    await bot.send_message(chat_id=5, text="giá < 100 nghìn")


@pytest.mark.asyncio
async def test_message_length_limit_in_utf16(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.send_message(chat_id=5, text="a" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(chat_id=5, text="a" * 4097)
    # Markup does not count, only the parsed text.
    await bot.send_message(chat_id=5, text="<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    # 2049 emoji = 4098 UTF-16 code units.
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(chat_id=5, text="📰" * 2049)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(chat_id=5, text="<b> </b>\n", parse_mode=ParseMode.HTML)


@pytest.mark.asyncio
async def test_too_many_entities_is_a_violation_but_ok(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.send_message(chat_id=5, text="<b>x</b> " * 101, parse_mode=ParseMode.HTML)
    assert fake.violations and "101 entities" in fake.violations[0]


@pytest.mark.asyncio
async def test_keyboard_validation(bot: Bot, fake: FakeBotAPI) -> None:
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(chat_id=5, text="x", reply_markup=_keyboard("đ" * 33))  # 66 bytes
    await bot.send_message(chat_id=5, text="x", reply_markup=_keyboard("đ" * 32))  # 64 bytes: ok
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_URL_INVALID"):
        await bot.send_message(
            chat_id=5, text="x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", url="báo")]])
        )
    assert fake.violations == [
        "sendMessage: Bad Request: BUTTON_DATA_INVALID",
        "sendMessage: Bad Request: BUTTON_URL_INVALID",
    ]


# ----------------------------------------------------------------------------- faults


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next_429(bot: Bot, fake: FakeBotAPI) -> None:
    fake.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(chat_id=5, text="x")
    retry_after = info.value.retry_after  # int today, timedelta with PTB_TIMEDELTA=1
    seconds = retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after
    assert seconds == 7
    await bot.send_message(chat_id=5, text="x")  # only the next call failed
    assert [c.status for c in fake.calls("sendMessage")] == [429, 200]
    assert fake.calls("sendMessage")[0].response["parameters"] == {"retry_after": 7}

    # Chat-targeted fault: other chats are unaffected.
    fake.fail_next("sendMessage", error_code=500, chat_id=9)
    await bot.send_message(chat_id=5, text="y")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(chat_id=9, text="y")


@pytest.mark.asyncio
async def test_block_chat(bot: Bot, fake: FakeBotAPI) -> None:
    fake.block_chat(5)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(chat_id=5, text="x")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(chat_id=5, action="typing")
    await bot.send_message(chat_id=6, text="x")
    fake.unblock_chat(5)
    await bot.send_message(chat_id=5, text="x")


# ----------------------------------------------------------------------------- edits


@pytest.mark.asyncio
async def test_edit_message_text(bot: Bot, fake: FakeBotAPI) -> None:
    sent = await bot.send_message(chat_id=5, text="Trang 1", reply_markup=_keyboard("p:2"))
    edited = await bot.edit_message_text(
        chat_id=5, message_id=sent.message_id, text="<i>Trang 2</i>", parse_mode="html"
    )
    assert not isinstance(edited, bool) and edited.text == "Trang 2"
    [state] = fake.messages_in(5)
    assert state["text"] == "Trang 2"
    assert state["reply_markup"] is None  # editMessageText without markup removes the keyboard
    assert state["entities"] == [{"type": "italic", "offset": 0, "length": 7}]

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(chat_id=5, message_id=sent.message_id, text="<i>Trang 2</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text(chat_id=5, message_id=999, text="x")

    await bot.edit_message_reply_markup(chat_id=5, message_id=sent.message_id, reply_markup=_keyboard("p:3"))
    assert fake.messages_in(5)[0]["reply_markup"] == _keyboard("p:3").to_dict()
    assert await bot.delete_message(chat_id=5, message_id=sent.message_id)
    assert fake.messages_in(5) == []
    assert not fake.violations


# ----------------------------------------------------------------------------- updates


@pytest.mark.asyncio
async def test_get_updates_offsets(bot: Bot, fake: FakeBotAPI) -> None:
    first = fake.send_text(42, "/start@bantin_test_bot")
    second = fake.send_text(-100777, "bão số 3", chat_type="supergroup", user_id=42, message_thread_id=5)
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first, second]
    start = updates[0].message
    assert start is not None and start.text == "/start@bantin_test_bot"
    assert start.entities[0].type == "bot_command" and start.entities[0].length == 22
    assert start.from_user is not None and start.from_user.language_code == "vi"
    group = updates[1].message
    assert group is not None and group.chat.type == "supergroup" and group.message_thread_id == 5
    # Unconfirmed updates are returned again; a higher offset confirms them.
    assert len(await bot.get_updates(timeout=0)) == 2
    assert [u.update_id for u in await bot.get_updates(offset=second, timeout=0)] == [second]
    assert await bot.get_updates(offset=second + 1, timeout=0) == ()
    # getUpdates itself is not recorded.
    assert not fake.calls("getUpdates")


@pytest.mark.asyncio
async def test_long_polling_returns_when_update_arrives(bot: Bot, fake: FakeBotAPI) -> None:
    timer = threading.Timer(0.3, fake.send_text, args=(42, "hello"))
    timer.start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    elapsed = time.monotonic() - started
    timer.join()
    assert [u.message.text for u in updates if u.message] == ["hello"]
    assert 0.2 < elapsed < 2


@pytest.mark.asyncio
async def test_long_polling_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 3


@pytest.mark.asyncio
async def test_allowed_updates_filter(bot: Bot, fake: FakeBotAPI) -> None:
    fake.send_text(42, "text")
    cq = fake.press_button(42, 1, "x", check=False)
    updates = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert [u.callback_query.id for u in updates if u.callback_query] == [cq]
    assert len(updates) == 1


@pytest.mark.asyncio
async def test_press_button_and_answer(bot: Bot, fake: FakeBotAPI) -> None:
    sent = await bot.send_message(chat_id=42, text="Kết quả", reply_markup=_keyboard("p:2"))
    with pytest.raises(AssertionError, match="no button"):
        fake.press_button(42, sent.message_id, "p:9")
    query_id = fake.press_button(42, sent.message_id, "p:2")
    [update] = await bot.get_updates(timeout=0)
    assert update.callback_query is not None
    assert update.callback_query.data == "p:2"
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id
    with pytest.raises(BadRequest, match=r"(?i)MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="Đang tải…")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    assert fake.calls("answerCallbackQuery", callback_query_id=query_id)


@pytest.mark.asyncio
async def test_inline_query_answer(bot: Bot, fake: FakeBotAPI) -> None:
    query_id = fake.inline_query(42, "lũ lụt", offset="")
    [update] = await bot.get_updates(timeout=0)
    assert update.inline_query is not None and update.inline_query.query == "lũ lụt"

    def article(text: str, rid: str = "a1") -> InlineQueryResultArticle:
        return InlineQueryResultArticle(
            id=rid, title="Lũ lụt", input_message_content=InputTextMessageContent(text, parse_mode="HTML")
        )

    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.answer_inline_query(query_id, [article("<b>oops")])
    with pytest.raises(BadRequest, match=r"(?i)RESULT_ID_INVALID"):
        await bot.answer_inline_query(query_id, [article("ok", rid="x" * 65)])
    assert await bot.answer_inline_query(query_id, [article("<b>ok</b>")], next_offset="10")
    call = fake.calls("answerInlineQuery")[-1]
    assert call.params["next_offset"] == "10"
    assert call.params["results"][0]["input_message_content"]["message_text"] == "<b>ok</b>"


# ----------------------------------------------------------------------------- other methods


@pytest.mark.asyncio
async def test_send_document_multipart(bot: Bot, fake: FakeBotAPI) -> None:
    content = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    msg = await bot.send_document(
        chat_id=5,
        document=content,
        filename='bản tin "số 1".csv',
        caption="<b>Bản tin</b> hôm nay",
        parse_mode="HTML",
    )
    call = fake.calls("sendDocument")[0]
    assert call.params["chat_id"] == 5
    assert call.params["document"] == {"filename": 'bản tin "số 1".csv', "content": content}
    assert call.params["caption"] == "<b>Bản tin</b> hôm nay"
    assert msg.document is not None and msg.document.file_name == 'bản tin "số 1".csv'
    assert msg.document.file_size == len(content)
    assert msg.caption == "Bản tin hôm nay"
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_document(chat_id=5, document=b"x", filename="a.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)file must be non-empty"):
        await bot.send_document(chat_id=5, document=b"", filename="empty.txt")


@pytest.mark.asyncio
async def test_commands_per_scope_and_language(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.set_my_commands([BotCommand("tim", "Tìm tin"), BotCommand("help", "Trợ giúp")], language_code="vi")
    await bot.set_my_commands([BotCommand("search", "Search")], scope=BotCommandScopeChat(-100777))
    assert fake.commands(language_code="vi") == [
        {"command": "tim", "description": "Tìm tin"},
        {"command": "help", "description": "Trợ giúp"},
    ]
    assert fake.commands() is None
    assert fake.commands({"type": "chat", "chat_id": -100777}) == [{"command": "search", "description": "Search"}]
    got = await bot.get_my_commands(language_code="vi")
    assert [c.command for c in got] == ["tim", "help"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Tìm", "x")])
    await bot.delete_my_commands(language_code="vi")
    assert fake.commands(language_code="vi") is None


@pytest.mark.asyncio
async def test_chat_and_members(bot: Bot, fake: FakeBotAPI) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat_member(-100555, 1)
    fake.set_chat(-100555, title="Tin Đà Nẵng", username="tindanang", is_forum=True)
    fake.set_chat_member(-100555, 1, "creator")
    fake.set_chat_member(-100555, 2, "administrator", can_delete_messages=False)
    fake.set_chat_member(-100555, 3, "left")
    fake.set_chat_member(-100555, 4, "kicked")
    assert isinstance(await bot.get_chat_member(-100555, 1), ChatMemberOwner)
    admin = await bot.get_chat_member(-100555, 2)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_delete_messages is False
    assert isinstance(await bot.get_chat_member(-100555, 3), ChatMemberLeft)
    assert isinstance(await bot.get_chat_member(-100555, 4), ChatMemberBanned)
    assert isinstance(await bot.get_chat_member(-100555, 5), ChatMemberMember)
    admins = await bot.get_chat_administrators(-100555)
    assert {m.user.id for m in admins} == {1, 2}
    chat = await bot.get_chat("@tindanang")
    assert chat.id == -100555 and chat.title == "Tin Đà Nẵng" and chat.is_forum
    assert await bot.send_chat_action(-100555, "typing")


@pytest.mark.asyncio
async def test_webhook_and_lifecycle_methods(bot: Bot, fake: FakeBotAPI) -> None:
    fake.send_text(42, "pending")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == ()


@pytest.mark.asyncio
async def test_latency_and_wait_for(bot: Bot, fake: FakeBotAPI) -> None:
    fake.set_latency(0.2)
    task = asyncio.create_task(bot.send_message(chat_id=5, text="chậm"))
    calls = await asyncio.to_thread(fake.wait_for, "sendMessage", lambda c: c.params["text"] == "chậm", 5.0)
    assert calls[0].params["chat_id"] == 5
    await task
    fake.set_latency(0)
    with pytest.raises(AssertionError, match="Calls seen"):
        fake.wait_for("sendMessage", timeout=0.1, count=2)


# ----------------------------------------------------------------------------- HTML parser


def test_parse_nested_tags_and_utf16_offsets() -> None:
    text, entities = parse_telegram_html('📰 <b>Tin <i>nóng</i></b> <a href="https://x.vn/?a=1&amp;b=2">đọc</a>')
    assert text == "📰 Tin nóng đọc"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 8},  # the emoji is 2 UTF-16 units
        {"type": "italic", "offset": 7, "length": 4},
        {"type": "text_link", "offset": 12, "length": 3, "url": "https://x.vn/?a=1&b=2"},
    ]


def test_parse_all_supported_tags() -> None:
    html = (
        "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><s>e</s><u>f</u>"
        '<span class="tg-spoiler">g</span><tg-spoiler>h</tg-spoiler><code>i</code>'
        '<pre><code class="language-python">j</code></pre><pre>k</pre>'
        "<blockquote expandable>l</blockquote><blockquote>m</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><B>n</B>'
    )
    text, entities = parse_telegram_html(html)
    assert text == "abcdefghijkl" + "m👍n"
    kinds = [(e["type"], e.get("language")) for e in entities]
    assert kinds == [
        ("bold", None),
        ("italic", None),
        ("underline", None),
        ("strikethrough", None),
        ("strikethrough", None),
        ("underline", None),
        ("spoiler", None),
        ("spoiler", None),
        ("code", None),
        ("pre", "python"),
        ("pre", None),
        ("expandable_blockquote", None),
        ("blockquote", None),
        ("custom_emoji", None),
        ("bold", None),
    ]


def test_parse_html_entities() -> None:
    text, entities = parse_telegram_html("&lt;b&gt; &amp; &quot;x&quot; &#39;y&#x27; Q&A &#0; &amp")
    # A "&" that does not start a recognised entity stays literal, as in Telegram.
    assert text == "<b> & \"x\" 'y' Q&A &#0; &amp"
    assert entities == []


def test_parse_empty_elements_and_short_end_tag() -> None:
    assert parse_telegram_html("<b></b>x<i>y</>") == ("xy", [{"type": "italic", "offset": 1, "length": 1}])


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("a < b", 'Unsupported start tag ""'),
        ("<3 bạn", 'Unsupported start tag "3"'),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag"),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("<b", "Unclosed start tag"),
        ("&nbsp;tin", 'Unsupported HTML entity "&nbsp;"'),
        ("<a>link</a>", "href"),
        ('<span class="x">s</span>', 'must have class "tg-spoiler"'),
        ("<tg-emoji>x</tg-emoji>", "custom emoji"),
        ('<a href="x>y</a>', "Unclosed start tag"),
    ],
)
def test_parse_errors(html: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
        parse_telegram_html(html)


def test_parse_error_reports_utf8_byte_offset() -> None:
    with pytest.raises(ValueError, match="at byte offset 8"):
        parse_telegram_html("Tiếng <x>")  # "ế" is 3 bytes in UTF-8
