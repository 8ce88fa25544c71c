"""Sending to Telegram: the one inline-keyboard builder, replies in a chat, edits that ignore
"message is not modified", and the digest broadcast's senders (`SendFn` & co.).

Every message the bot sends goes through here, so link previews, forum topics and HTML are set
the same way everywhere.
"""

from __future__ import annotations

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode

from bantin.bot.digests.broadcast import DeleteFn, EditFn, SendFn
from bantin.bot.digests.store import Part


def _markup(part: Part) -> InlineKeyboardMarkup | None:
    if not part.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in part.buttons])


def telegram_sender(bot: Bot) -> SendFn:
    """Send a digest message with PTB; exceptions are Telegram's, classified by the Broadcaster.
    Link previews are off (a digest is a list, not one link); forum topic and silence per part."""

    async def send(chat_id: int, part: Part) -> int:
        message = await bot.send_message(chat_id, part.html, parse_mode=ParseMode.HTML, reply_markup=_markup(part),
                                         link_preview_options=LinkPreviewOptions(is_disabled=True),
                                         message_thread_id=part.thread_id,
                                         disable_notification=True if part.silent else None)
        return int(message.message_id)

    return send


def telegram_editor(bot: Bot) -> EditFn:
    """Edit a posted digest message to show a revised part (same chat, same message id)."""

    async def edit(chat_id: int, message_id: int, part: Part) -> int:
        await bot.edit_message_text(part.html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                                    reply_markup=_markup(part),
                                    link_preview_options=LinkPreviewOptions(is_disabled=True))
        return message_id

    return edit


def telegram_deleter(bot: Bot) -> DeleteFn:
    async def delete(chat_id: int, message_id: int) -> None:
        await bot.delete_message(chat_id, message_id)

    return delete


def digest_bot(token: str, api_url: str, *, pool: int = 32) -> Bot:
    """A Bot for broadcasts: no PTB rate limiter (the Broadcaster paces and retries itself, so each
    attempt is logged), and a connection pool wide enough for the broadcast's concurrency."""
    from telegram.request import HTTPXRequest

    api = api_url.rstrip("/")
    request = HTTPXRequest(connection_pool_size=pool, read_timeout=15, write_timeout=15, connect_timeout=10)
    return Bot(token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot", request=request)
