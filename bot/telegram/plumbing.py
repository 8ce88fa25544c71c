"""What every Telegram handler needs: the core and desk from typed bot_data, the user's language,
work in a worker thread within the search timeout, replies in the chat, answered button presses,
and the per-user rate limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from telegram import (
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest

from bantin.bot.chat import Core
from bantin.bot.newsroom import desk as editors
from bantin.bot.newsroom.usage import QueryCounter
from bantin.bot.render import ENTITY_TYPES, language_of, telegram_view
from bantin.bot.reply import Reply
from bantin.bot.telegram.context import Context
from bantin.bot.telegram.ratelimit import RateLimiter
from bantin.bot.telegram.send import edit_text, keyboard, reply_in
from bantin.index.budget import call_with_deadline

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Button presses answered lately, so the error handler never answers one a second time.
ANSWERED_KEPT = 1000


def core_of(context: Context) -> Core:
    core = context.bot_data.core
    assert core is not None, "post_init opens the core before any update is handled"
    return core


def lang_of(update: Update) -> str:
    user = update.effective_user
    return language_of(user.language_code if user else None)


async def in_thread(context: Context, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run core work off the event loop, bounded by the search timeout: the wait here, and the
    searches inside through their deadline (they stop computing when it passes)."""
    timeout = context.bot_data.search_timeout
    return await asyncio.wait_for(asyncio.to_thread(call_with_deadline, timeout, func, *args, **kwargs), timeout)


async def send(update: Update, replies: list[Reply]) -> None:
    message = update.effective_message
    if message is None:
        return
    in_group = message.chat.type != ChatType.PRIVATE
    for reply in replies:
        await reply_in(message, reply, quote=in_group and reply is replies[0])


async def answer(context: Context, query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press, and remember it: Telegram accepts one answer per press, so the error
    handler must not add its apology to a press that was already answered."""
    answered = context.bot_data.answered
    answered[query.id] = None
    while len(answered) > ANSWERED_KEPT:
        answered.popitem(last=False)
    await query.answer(text, show_alert=alert)


def was_answered(context: Context, query: CallbackQuery) -> bool:
    return query.id in context.bot_data.answered


def shows(message: Message, reply: Reply) -> bool:
    """Whether `message` already shows `reply` (text, formatting, buttons): editing it to the same
    would only cost a request and Telegram's 400 "message is not modified"."""
    text, entities = telegram_view(reply.html)
    shown = tuple(sorted(((e.type, e.offset, e.length, e.url) for e in message.entities
                          if e.type in ENTITY_TYPES.values()), key=lambda e: (e[1], -e[2], e[0])))
    markup = keyboard(reply)
    return (message.text == text and shown == entities
            and (message.reply_markup.to_dict() if message.reply_markup else None)
            == (markup.to_dict() if markup else None))


async def edit_pressed(query: CallbackQuery, message: Message, reply: Reply, *, previews: bool = False) -> None:
    """Show `reply` in the message whose button was pressed; nothing when it already does. A
    message that can no longer be edited (deleted, too old) gets `reply` as a new message
    instead: the press is answered by now, and the presser still gets what they asked for."""
    if shows(message, reply):
        return
    try:
        await edit_text(query.get_bot(), message.chat_id, message.message_id, reply, previews=previews)
    except BadRequest as exc:
        log.info("could not edit message %s in chat %s (%s): sent anew", message.message_id, message.chat_id, exc)
        await reply_in(message, reply)


def limit_key(update: Update) -> int | None:
    """Whose turn an update takes from the per-user limit.

    A message sent on behalf of a chat (a channel post, an anonymous group admin, a linked
    channel) counts against that chat: its `from`, if any, is a placeholder bot shared by every
    such chat. Otherwise the user (messages, buttons, inline queries), else the chat itself.
    """
    message = update.effective_message
    if update.callback_query is None and message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    user = update.effective_user
    if user is not None:
        return user.id
    chat = update.effective_chat
    return chat.id if chat is not None else None


def take_turn(update: Update, context: Context, *, answered: bool = False,
              limiter: RateLimiter | None = None) -> tuple[bool, float, bool]:
    """The per-user limit for this update: (allowed, seconds to wait, warn), see `RateLimiter.check`.
    `limiter`: another bucket than the search limit's (usage hints, button presses)."""
    limiter, key = limiter or context.bot_data.limiter, limit_key(update)
    return (True, 0.0, False) if key is None or limiter is None else limiter.check(key, answered=answered)


async def allowed(update: Update, context: Context, *, hint: bool = False) -> bool:
    """Per-user rate limit; the first refusal in a row gets a polite 'please wait'. Every path that
    sends takes a turn: each request to a group waits in PTB's queue for that group while holding
    one of the bot's update slots. `hint`: a usage hint, from the hints' own bucket."""
    ok, wait, warn = take_turn(update, context, limiter=context.bot_data.hints if hint else None)
    if not ok and warn:
        core = core_of(context)
        await send(update, [core.notice("rate_limited", lang_of(update), seconds=int(wait))])
    return ok



def desk_of(context: Context) -> editors.Desk:
    desk = context.bot_data.desk
    assert desk is not None, "post_init opens the desk before any update is handled"
    return desk


def queries_of(context: Context) -> QueryCounter | None:
    desk = context.bot_data.desk
    return desk.queries if desk is not None else None


