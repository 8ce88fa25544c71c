"""Sending to Telegram: the one inline-keyboard builder, replies in a chat, edits that ignore
"message is not modified", and the digest broadcast's senders (`SendFn` & co.).

Every message goes through here and through a bot built with `DEFAULTS` (HTML parse mode), so
keyboards, previews and forum topics are set the same way everywhere.
"""

from __future__ import annotations

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Defaults, ExtBot
from telegram.request import HTTPXRequest

from bantin.bot.digests.broadcast import DeleteFn, EditFn, SendFn
from bantin.bot.reply import Button, Reply

#: Every message is HTML rendered by a template (bot.render): one default instead of ~12 repeats.
DEFAULTS = Defaults(parse_mode=ParseMode.HTML)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def _button(b: Button) -> InlineKeyboardButton:
    if b.url:
        return InlineKeyboardButton(b.text, url=b.url)
    if b.switch_inline is not None:
        return InlineKeyboardButton(b.text, switch_inline_query_current_chat=b.switch_inline)
    return InlineKeyboardButton(b.text, callback_data=b.data)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as Telegram's inline keyboard (None without buttons)."""
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[_button(b) for b in row] for row in reply.buttons])


def not_modified(exc: BadRequest) -> bool:
    """Telegram's 400 "message is not modified": the message already shows the edit."""
    return "not modified" in str(exc).lower()


async def edit_text(bot: Bot, chat_id: int, message_id: int, reply: Reply, *, previews: bool = False) -> None:
    """Edit a message to show `reply`; one that already shows it is not an error. Other refusals
    (the message was deleted, is too old) are raised: the caller knows what to do instead."""
    try:
        await bot.edit_message_text(reply.html, chat_id=chat_id, message_id=message_id, reply_markup=keyboard(reply),
                                    link_preview_options=None if previews else NO_PREVIEW)
    except BadRequest as exc:
        if not not_modified(exc):
            raise


async def reply_in(message: Message, reply: Reply, *, quote: bool = False) -> None:
    """One reply in the chat (and forum topic) of `message`: a text message, or a file (a long
    article's .txt) with the reply as its caption."""
    if reply.document is not None:
        await message.reply_document(reply.document.content, filename=reply.document.filename, caption=reply.html,
                                     reply_markup=keyboard(reply), do_quote=quote)
        return
    await message.reply_text(reply.html, reply_markup=keyboard(reply), do_quote=quote, link_preview_options=NO_PREVIEW)


async def send_to(bot: Bot, chat_id: int, reply: Reply, *, previews: bool = False, thread_id: int | None = None) -> int:
    """One reply to a chat by id (no message to answer): its message id."""
    if reply.document is not None:
        message = await bot.send_document(chat_id, reply.document.content, filename=reply.document.filename,
                                          caption=reply.html, reply_markup=keyboard(reply))
    else:
        message = await bot.send_message(chat_id, reply.html, reply_markup=keyboard(reply),
                                         link_preview_options=None if previews else NO_PREVIEW,
                                         message_thread_id=thread_id)
    return int(message.message_id)


# -- the digest broadcast's senders (bot.digests.broadcast) ---------------------------------------------


def telegram_sender(bot: Bot) -> SendFn:
    """Send a digest message with PTB; exceptions are Telegram's, classified by the Broadcaster.
    Link previews are off (a digest is a list, not one link); forum topic and silence per part."""

    async def send(chat_id: int, part: Reply) -> int:
        message = await bot.send_message(chat_id, part.html, reply_markup=keyboard(part),
                                         link_preview_options=NO_PREVIEW, message_thread_id=part.thread_id,
                                         disable_notification=True if part.silent else None)
        return int(message.message_id)

    return send


def telegram_editor(bot: Bot) -> EditFn:
    """Edit a posted digest message to show a revised part (same chat, same message id)."""

    async def edit(chat_id: int, message_id: int, part: Reply) -> int:
        await bot.edit_message_text(part.html, chat_id=chat_id, message_id=message_id, reply_markup=keyboard(part),
                                    link_preview_options=NO_PREVIEW)
        return message_id

    return edit


def telegram_deleter(bot: Bot) -> DeleteFn:
    async def delete(chat_id: int, message_id: int) -> None:
        await bot.delete_message(chat_id, message_id)

    return delete


def digest_bot(token: str, api_url: str, *, pool: int = 32) -> Bot:
    """A Bot for broadcasts: no PTB rate limiter (the Broadcaster paces and retries itself, so each
    attempt is logged), and a connection pool wide enough for the broadcast's concurrency."""
    api = api_url.rstrip("/")
    request = HTTPXRequest(connection_pool_size=pool, read_timeout=15, write_timeout=15, connect_timeout=10)
    return ExtBot(token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot", request=request, defaults=DEFAULTS)
