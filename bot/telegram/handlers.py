"""Telegram handlers: thin adapters from updates to the core and back.

Each callback reads plain values off the update, runs the core in a worker thread (searches are
CPU-bound and must not stall the event loop or the job queue), and sends what the core rendered.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable

from telegram import (
    CallbackQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType
from telegram.error import Forbidden
from telegram.ext import ApplicationHandlerStop

from bantin.bot import commands
from bantin.bot.commands import parse_command
from bantin.bot.digests import channels
from bantin.bot.digests.store import Place
from bantin.bot.newsroom.usage import count_query
from bantin.bot.reply import CallbackResult
from bantin.bot.search.replies import InlineItem
from bantin.bot.telegram import membership, newsroom
from bantin.bot.telegram.context import Context
from bantin.bot.telegram.plumbing import (
    allowed,
    answer,
    core_of,
    edit_pressed,
    in_thread,
    lang_of,
    queries_of,
    send,
    take_turn,
    was_answered,
)
from bantin.bot.telegram.send import NO_PREVIEW, reply_in, send_to

log = logging.getLogger(__name__)


async def search_and_send(update: Update, context: Context, text: str) -> None:
    core = core_of(context)
    lang = lang_of(update)
    try:
        replies = [await in_thread(context, core.search, text, lang)]
        count_query(queries_of(context))
    except TimeoutError:
        replies = [core.notice("timeout", lang)]
    await send(update, replies)


def addressed_text(message: Message, username: str | None) -> str | None:
    """In a group, the text after a @mention of this bot (or a reply to it); None otherwise."""
    text = message.text or ""
    if username:
        mention = f"@{username}".lower()
        for value in message.parse_entities([MessageEntity.MENTION]).values():
            if value.lower() == mention:
                return text.replace(value, " ").strip()
        reply_to = message.reply_to_message
        author = reply_to.from_user if reply_to else None
        if author and author.is_bot and (author.username or "").lower() == username.lower():
            return text
    return None


# -- channels: posts are never commands ---------------------------------------------------------------


def from_channel(update: Update) -> bool:
    """A post in a channel (new or edited), Telegram's copy of one in the channel's discussion
    group, or a button pressed under a message in a channel."""
    if update.channel_post is not None or update.edited_channel_post is not None:
        return True
    message = update.message or update.edited_message
    if message is not None and (message.chat.type == ChatType.CHANNEL or message.is_automatic_forward):
        return True
    query = update.callback_query
    return query is not None and query.message is not None and query.message.chat.type == ChatType.CHANNEL


async def channel_guard(update: Update, context: Context) -> None:
    """Registered before every other handler (group -1), so the rule holds for every route.

    Whoever may post in a channel is not thereby allowed to manage its digest: that is the
    editors' job, with /channel from a private chat. And a reply in a channel is public to all
    its readers. So the bot does nothing for channel posts, and refuses buttons pressed there
    (a query must still be answered, privately, as a toast).
    """
    if not from_channel(update):
        return
    query = update.callback_query
    if query is not None:
        await answer(context, query, core_of(context).renderer.label(lang_of(update), "channel_ignored"), alert=True)
    raise ApplicationHandlerStop


# -- commands: one route, through the command table (bot.commands) ---------------------------------


def command_of(update: Update) -> tuple[Message | None, tuple[str, str | None, str] | None]:
    """The update's message and its command (name, @bot, arguments); None parts when it has none."""
    message = update.effective_message
    if message is None or not message.text:
        return message, None
    return message, parse_command(message.text)


async def command(update: Update, context: Context) -> None:
    """Every command: the table says who may use it and whether it takes a turn; its room answers."""
    message, parsed = command_of(update)
    if message is None or parsed is None:
        return
    name, target, args = parsed
    if target and target.lower() != (context.bot.username or "").lower():
        return  # a command for another bot in the group
    entry = commands.find(name) or commands.UNLISTED
    if update.edited_message is not None and not entry.on_edit:
        return
    if entry.editor_only and not await newsroom.editor_only(update, context, entry.name):
        return
    await ROOMS[entry.room](update, context, name, args)


async def chat_room(update: Update, context: Context, name: str, args: str) -> None:
    """Search, reading and listings: a turn when the table says so, then the core in a worker thread."""
    entry = commands.find(name) or commands.UNLISTED
    if not await allowed(update, context, hint=not entry.takes_turn(args)):
        return
    core, lang, user = core_of(context), lang_of(update), update.effective_user
    try:
        replies = await in_thread(context, core.command, name, args, lang, user=user.first_name if user else None,
                                  chat=update.effective_chat.id if update.effective_chat else None)
        if entry.counted and args.strip():
            count_query(queries_of(context))
    except TimeoutError:
        replies = [core.notice("timeout", lang)]
    await send(update, replies)


async def digest_room(update: Update, context: Context, name: str, args: str) -> None:
    """/subscribe, /unsubscribe, /settings, /digest: private chats, and group admins for their group."""
    entry = commands.find(name)
    target = channels.target_in(args) if entry is not None and entry.name == "digest" else None
    if target is not None:  # an editor's `/digest @channel`
        await newsroom.post_digest_now(update, context, target)
        return
    message = update.effective_message
    if message is None or not await allowed(update, context):
        return
    allowed_here, place = await digest_place(update, context, message)
    if allowed_here:
        await send(update, await in_thread(context, core_of(context).command, name, args, lang_of(update),
                                           chat=message.chat_id, place=place))


async def digest_place(update: Update, context: Context, message: Message) -> tuple[bool, Place | None]:
    """Where a digest command may act: a private chat, or a group whose administrator sent it (the
    group's place); anyone else is told why not."""
    if message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        if await membership.sender_is_admin(context.bot, message, context.bot_data.admins):
            return True, membership.group_place(message)
        template = "digest_group_admins"
    elif message.chat.type == ChatType.PRIVATE:
        return True, None
    else:
        template = "digest_private"
    await send(update, [core_of(context).notice(template, lang_of(update), bot_username=context.bot.username)])
    return False, None



# -- messages ------------------------------------------------------------------------------------


async def private_text(update: Update, context: Context) -> None:
    """Any plain text in a private chat is a search (edited messages are searched again)."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    if await allowed(update, context):
        await search_and_send(update, context, message.text)


async def group_text(update: Update, context: Context) -> None:
    """In groups the bot answers only when mentioned or replied to; everything else is silence."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    text = addressed_text(message, context.bot.username)
    if text is None:
        return
    if not text.strip():
        if await allowed(update, context, hint=True):
            await send(update, [core_of(context).notice("empty_query", lang_of(update))])
    elif await allowed(update, context):
        await search_and_send(update, context, text)


async def not_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice…: a short hint that only text is understood."""
    if await allowed(update, context, hint=True):
        await send(update, [core_of(context).notice("not_text", lang_of(update))])


# -- buttons and inline mode -----------------------------------------------------------------------


def query_in_message(message: Message | None) -> str | None:
    """The search a results message shows: its first `code` entity (see bot.search.buttons)."""
    if message is None or not isinstance(message, Message):
        return None
    codes = message.parse_entities([MessageEntity.CODE])
    if not codes:
        return None
    first = min(codes, key=lambda e: e.offset)
    return codes[first]


async def press_guard(update: Update, context: Context) -> None:
    """Registered before every other handler (group -2): each button press takes a turn from the
    presses' bucket (BANTIN_BUTTON_RATE) before anything is asked of Telegram. A press past the
    limit gets a short toast and nothing else (no getChatMember, no edit, no message)."""
    query = update.callback_query
    if query is None:
        return
    ok, wait, _ = take_turn(update, context, answered=True, limiter=context.bot_data.presses)
    if not ok:
        await answer(context, query, core_of(context).renderer.label(lang_of(update), "rate_limited", int(wait)),
                     alert=True)
        raise ApplicationHandlerStop


async def button(update: Update, context: Context) -> None:
    """Page, related, read and digest buttons; stale or forged data gets a polite answer."""
    query = update.callback_query
    if query is None or not await may_press(update, context, query):
        return
    message = query.message if isinstance(query.message, Message) else None
    core, lang = core_of(context), lang_of(update)
    try:
        result = await in_thread(context, core.callback, query.data, lang, message_query=query_in_message(message),
                                 chat=message.chat_id if message is not None else query.from_user.id)
    except TimeoutError:
        await answer(context, query, core.renderer.label(lang, "busy"), alert=True)
        return
    await show_result(context, query, message, result)


async def may_press(update: Update, context: Context, query: CallbackQuery) -> bool:
    """A group's digest settings are its administrators' to change; presses that search, read or
    build a digest take a turn from the search limit, settings buttons (one row written, the message
    edited) only the presses' turn (`press_guard`), so stepping a digest's time by ±30 minutes is
    rarely refused. Administrators are asked once a minute (`AdminCache`). Every refusal is answered."""
    message, lang = query.message if isinstance(query.message, Message) else None, lang_of(update)
    settings_button = channels.changes_digest(query.data)
    if (message is not None and message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) and settings_button
            and not await context.bot_data.admins.is_admin(context.bot, message.chat.id, query.from_user.id)):
        await answer(context, query, core_of(context).renderer.label(lang, "digest_admins_only"), alert=True)
        return False
    ok, wait, _ = (True, 0.0, False) if settings_button else take_turn(update, context, answered=True)
    if not ok:  # every press needs an answer, so each refused one gets this short one
        await answer(context, query, core_of(context).renderer.label(lang, "rate_limited", int(wait)), alert=True)
    return ok


async def show_result(context: Context, query: CallbackQuery, message: Message | None, result: CallbackResult) -> None:
    """A press's answer (toast), the edit of the pressed message, then any new messages."""
    await answer(context, query, result.answer, alert=result.alert)
    if result.edit is not None and message is not None:
        await edit_pressed(query, message, result.edit)
    for reply in result.send:
        if message is not None:
            await reply_in(message, reply)
        elif query.from_user:
            await send_to(context.bot, query.from_user.id, reply)


async def inline_query(update: Update, context: Context) -> None:
    """`@bot words` in any chat: shareable article results."""
    inline = update.inline_query
    if inline is None:
        return
    core = core_of(context)
    ok, wait, _ = take_turn(update, context, answered=True)
    if not ok:  # no results, and the reason where results would be (not cached: it is personal)
        wait_button = InlineQueryResultsButton(text=core.renderer.label(lang_of(update), "rate_limited", int(wait)),
                                               start_parameter="help")
        await inline.answer([], cache_time=0, is_personal=True, button=wait_button)
        return
    try:
        items, next_offset = await in_thread(context, core.inline, inline.query, inline.offset, lang_of(update))
    except TimeoutError:
        items, next_offset = [], ""
    await inline.answer(inline_results(items), next_offset=next_offset, cache_time=60, is_personal=False)


def inline_results(items: list[InlineItem]) -> list[InlineQueryResultArticle]:
    return [InlineQueryResultArticle(id=item.id, title=item.title, description=item.description, url=item.url,
                                     input_message_content=InputTextMessageContent(item.html,
                                                                                   link_preview_options=NO_PREVIEW))
            for item in items]


async def chat_migrated(update: Update, context: Context) -> None:
    """A group became a supergroup (new chat id): its digest follows it, subscribers need do nothing."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    core = core_of(context)
    if await asyncio.to_thread(core.subs.move_chat, old, new, now=core.clock()):
        log.info("group %s became supergroup %s: its digest moved there", old, new)


async def bot_membership(update: Update, context: Context) -> None:
    """The bot was removed from a chat (or may no longer post there): stop its digest; its editor is told."""
    change = update.my_chat_member
    if change is None:
        return
    reason = membership.lost_rights(membership.kind_of(change.chat.type), change.new_chat_member)
    if reason is None:
        return
    core = core_of(context)
    if await asyncio.to_thread(core.subs.deactivate, change.chat.id, reason, now=core.clock()):
        log.info("digest for chat %s stopped: %s", change.chat.id, reason)
        scheduler = context.bot_data.digests
        if scheduler is not None:
            scheduler.kick()  # the run sends the editor's notice now, not at the next minute's tick


# -- the rooms of the command table ------------------------------------------------------------------

Room = Callable[[Update, Context, str, str], Awaitable[None]]
ROOMS: dict[commands.Room, Room] = {commands.Room.CHAT: chat_room, commands.Room.DIGEST: digest_room,
                                    commands.Room.NEWSROOM: newsroom.newsroom_room}


# -- errors ----------------------------------------------------------------------------------------


async def error_handler(update: object, context: Context) -> None:
    """Log the failure with its update; the user gets an apology rather than silence."""
    log.error("error while handling an update: %s", _describe(update), exc_info=context.error)
    if isinstance(context.error, Forbidden) or not isinstance(update, Update):
        return
    try:
        core = core_of(context)
        if update.callback_query is not None:
            if not was_answered(context, update.callback_query):
                await answer(context, update.callback_query, core.renderer.label(lang_of(update), "busy"), alert=True)
        elif update.effective_message is not None:
            await send(update, [core.notice("error", lang_of(update))])
    except Exception:  # the apology itself failed: nothing more to do than log it
        log.exception("could not send the apology")


def _describe(update: object) -> str:
    if isinstance(update, Update):
        return html.unescape(str(update.to_dict()))[:2000]
    return repr(update)[:2000]
