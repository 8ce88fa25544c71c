"""Telegram handlers: thin adapters from updates to the core and back.

Each callback reads plain values off the update, runs the core in a worker thread (searches are
CPU-bound and must not stall the event loop or the job queue), and sends what the core rendered.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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
from telegram.error import BadRequest, Forbidden
from telegram.ext import ApplicationHandlerStop

from bantin.bot import commands
from bantin.bot.chat import Core
from bantin.bot.commands import parse_command
from bantin.bot.digests import channels
from bantin.bot.digests.store import Place, Subscriber
from bantin.bot.newsroom import audit
from bantin.bot.newsroom import desk as editors
from bantin.bot.newsroom.usage import QueryCounter, count_query
from bantin.bot.render import ENTITY_TYPES, language_of, telegram_view
from bantin.bot.reply import CallbackResult, Reply
from bantin.bot.search.replies import InlineItem
from bantin.bot.telegram import membership
from bantin.bot.telegram.context import Context
from bantin.bot.telegram.send import NO_PREVIEW, edit_text, keyboard, reply_in, send_to
from bantin.bot.telegram.status import ChatStatus
from bantin.index.budget import call_with_deadline

log = logging.getLogger(__name__)
T = TypeVar("T")
#: What the audit log keeps of an editor's action.
Detail = dict[str, Any]
#: Button presses answered lately, so the error handler never answers one a second time.
ANSWERED_KEPT = 1000


# -- plumbing -----------------------------------------------------------------------------------


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


def take_turn(update: Update, context: Context, *, answered: bool = False) -> tuple[bool, float, bool]:
    """The per-user limit for this update: (allowed, seconds to wait, warn), see `RateLimiter.check`."""
    limiter, key = context.bot_data.limiter, limit_key(update)
    return (True, 0.0, False) if key is None or limiter is None else limiter.check(key, answered=answered)


async def allowed(update: Update, context: Context) -> bool:
    """Per-user rate limit; the first refusal in a row gets a polite 'please wait'."""
    ok, wait, warn = take_turn(update, context)
    if not ok and warn:
        core = core_of(context)
        await send(update, [core.notice("rate_limited", lang_of(update), seconds=int(wait))])
    return ok


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
    if entry.editor_only and not await editor_only(update, context, entry.name):
        return
    await ROOMS[entry.room](update, context, name, args)


async def chat_room(update: Update, context: Context, name: str, args: str) -> None:
    """Search, reading and listings: a turn when the table says so, then the core in a worker thread."""
    entry = commands.find(name) or commands.UNLISTED
    if entry.takes_turn(args) and not await allowed(update, context):
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
        await post_digest_now(update, context, target)
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
        if await membership.sender_is_admin(context.bot, message):
            return True, membership.group_place(message)
        template = "digest_group_admins"
    elif message.chat.type == ChatType.PRIVATE:
        return True, None
    else:
        template = "digest_private"
    await send(update, [core_of(context).notice(template, lang_of(update), bot_username=context.bot.username)])
    return False, None


async def newsroom_room(update: Update, context: Context, name: str, args: str) -> None:
    """Editors' commands (the editor check already ran, from the table)."""
    await NEWSROOM[name](update, context, args)


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
        await send(update, [core_of(context).notice("empty_query", lang_of(update))])
    elif await allowed(update, context):
        await search_and_send(update, context, text)


async def not_text(update: Update, context: Context) -> None:
    """Stickers, photos, voice…: a short hint that only text is understood."""
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
    build a digest take a turn, settings buttons (one row written, the message edited) do not, so
    stepping a digest's time by ±30 minutes is never refused. Every refusal is answered."""
    message, lang = query.message if isinstance(query.message, Message) else None, lang_of(update)
    settings_button = channels.changes_digest(query.data)
    if (message is not None and message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) and settings_button
            and not await membership.is_admin(context.bot, message.chat.id, query.from_user.id)):
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


# -- editors (newsroom staff, BANTIN_EDITORS) ------------------------------------------------------


def desk_of(context: Context) -> editors.Desk:
    desk = context.bot_data.desk
    assert desk is not None, "post_init opens the desk before any update is handled"
    return desk


def queries_of(context: Context) -> QueryCounter | None:
    desk = context.bot_data.desk
    return desk.queries if desk is not None else None


async def editor_only(update: Update, context: Context, action: str) -> bool:
    """True for an editor; anyone else is refused politely (and audited), and nothing happens."""
    desk = desk_of(context)
    user = update.effective_user
    if desk.is_editor(user):
        return True
    await desk.log(user, action, "refused", {"data": update.callback_query.data} if update.callback_query else None)
    if update.callback_query is not None:
        await answer(context, update.callback_query, desk.label(lang_of(update), "editor_only"), alert=True)
    elif await allowed(update, context):
        await send(update, [desk.refusal(lang_of(update))])
    return False


def status_message(update: Update, context: Context) -> ChatStatus:
    """Where a run started from this update shows its progress: a new message in the same chat."""
    message = update.effective_message
    chat = update.effective_chat
    assert chat is not None
    thread = message.message_thread_id if isinstance(message, Message) and message.is_topic_message else None
    return ChatStatus(context.bot, chat.id, desk_of(context).run_reply, thread_id=thread)


async def reindex(update: Update, context: Context, args: str) -> None:
    """Editors: scan the sources into the store and index in the background; `full` rebuilds the index.
    Not on an edited message (the table's `on_edit`): fixing a typo must not start another run."""
    desk, lang = desk_of(context), lang_of(update)
    kind = desk.reindex_kind(args)
    if kind is None:
        await send(update, [desk.usage(lang)])
        return
    busy = desk.start(kind, update.effective_user, lang, status_message(update, context))
    if busy is not None:
        await desk.log(update.effective_user, kind, "busy")
        await send(update, [busy])


async def failed(update: Update, context: Context, args: str) -> None:
    """Editors: the pages that failed to parse, with their reasons."""
    await send(update, [await desk_of(context).failed(lang_of(update), update.effective_user)])


async def stats(update: Update, context: Context, args: str) -> None:
    """Editors: articles, subscribers, last reindex, index size and searches served today."""
    await send(update, [await desk_of(context).stats(lang_of(update), update.effective_user)])


async def editor_button(update: Update, context: Context) -> None:
    """Editors' buttons, checked again on every press: callback data can be forged."""
    query = update.callback_query
    if query is None or not await editor_only(update, context, "button"):
        return
    message = query.message if isinstance(query.message, Message) else None
    result = await desk_of(context).press(query.data, lang_of(update), update.effective_user,
                                          lambda: status_message(update, context))
    await answer(context, query, result.answer, alert=result.alert)
    if result.edit is not None and message is not None:
        await edit_pressed(query, message, result.edit, previews=True)
    for reply in result.send:
        if update.effective_chat is not None:
            await send_to(context.bot, update.effective_chat.id, reply, previews=True)


# -- digests in groups and channels (editors) --------------------------------------------------------


async def attached(context: Context, target: channels.Target) -> Subscriber | None:
    """The group or channel digest an editor names: by id or @username in the store, else by
    asking Telegram for the chat's id (its @username may have changed since)."""
    subs = core_of(context).subs
    found = await in_thread(context, subs.find_shared, target)
    if found is None and isinstance(target, str):
        inspection = await membership.inspect_chat(context.bot, target)
        if inspection.chat is not None:
            found = await in_thread(context, subs.find_shared, inspection.chat.id)
    return found


async def channel_command(update: Update, context: Context, args: str) -> None:
    """Editors: attach the digest to a channel or group, set its options, or stop it; audited."""
    message = update.effective_message
    if message is None:
        return
    reply, detail = await channel_outcome(update, context, message, args)
    result = audit.FAILED if "reason" in detail else audit.OK
    await desk_of(context).log(update.effective_user, "channel", result, detail)
    await send(update, [reply])


async def channel_outcome(update: Update, context: Context, message: Message, args: str) -> tuple[Reply, Detail]:
    """The reply to a /channel command and what the audit log keeps of it (a `reason` when it failed)."""
    lang, board = lang_of(update), channels.Channels(core_of(context))
    try:
        request = channels.parse_channel_command(args)
    except channels.BadChannel as exc:
        return board.usage(lang, exc.reason, exc.detail), {"reason": exc.reason}
    in_group = message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    target = request.target if request.target is not None else (message.chat.id if in_group else None)
    if target is None:
        return board.usage(lang), {"reason": "no_target"}
    detail: Detail = {"target": channels.label_of(target), "action": request.action}
    if request.action == "attach":
        return await channel_attach(update, context, message, request, target, detail)
    return await channel_change(update, context, request, target, detail)


async def channel_attach(update: Update, context: Context, message: Message, request: channels.ChannelRequest,
                         target: channels.Target, detail: Detail) -> tuple[Reply, Detail]:
    """Attach the digest to a chat where Telegram says the bot may post (asked first)."""
    lang, board = lang_of(update), channels.Channels(core_of(context))
    inspection = await membership.inspect_chat(context.bot, target)
    reason = channels.refusal(inspection)
    if reason is not None or inspection.chat is None:
        return board.refused(lang, reason or "not_found", target, inspection.chat), {**detail, "reason": reason}
    thread = message.message_thread_id if message.is_topic_message else None
    reply = await in_thread(context, board.attach, inspection.chat, request, lang, editor_of(update),
                            thread_id=thread, here=inspection.chat.id == message.chat.id)
    return reply, {**detail, "chat": inspection.chat.id}


async def channel_change(update: Update, context: Context, request: channels.ChannelRequest,
                         target: channels.Target, detail: Detail) -> tuple[Reply, Detail]:
    """Stop an attached digest, or set one of its options."""
    lang, board = lang_of(update), channels.Channels(core_of(context))
    sub = await attached(context, target)
    if sub is None:
        return board.not_attached(lang, target), {**detail, "chat": None, "reason": "not_attached"}
    if request.action == "off":
        reply = await in_thread(context, board.stop, sub, lang, editor_of(update))
    else:
        reply = await in_thread(context, board.set_option, sub, request, lang)
    return reply, {**detail, "chat": sub.chat_id}


def editor_of(update: Update) -> channels.Editor:
    user = update.effective_user
    return channels.Editor(user.id if user else None, editors.display_name(user))


async def channels_list(update: Update, context: Context, args: str) -> None:
    """Editors: every group and channel digest, with its schedule, last post and who added it."""
    board = channels.Channels(core_of(context))
    await send(update, [await in_thread(context, board.listing, lang_of(update))])
    await desk_of(context).log(update.effective_user, "channels", audit.OK)


async def post_digest_now(update: Update, context: Context, target: channels.Target) -> None:
    """Editors' `/digest @channel`: post that chat's digest for the current slot now; again, it edits that post."""
    if not await editor_only(update, context, "digest"):
        return
    user, lang = update.effective_user, lang_of(update)
    board = channels.Channels(core_of(context))
    sub = await attached(context, target)
    if sub is None or not sub.active:
        await desk_of(context).log(user, "digest", audit.FAILED, {"target": channels.label_of(target),
                                   "reason": "not_attached" if sub is None else "stopped"})
        await send(update, [board.not_postable(lang, target, sub)])
        return
    scheduler = context.bot_data.digests
    report = await scheduler.force(sub.chat_id) if scheduler is not None else None
    await desk_of(context).log(user, "digest", audit.OK if report is not None else audit.FAILED,
                               {"chat": sub.chat_id, **(report.to_json() if report is not None else {})})
    await send(update, [board.forced(lang, sub, report)])


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
                                    commands.Room.NEWSROOM: newsroom_room}
#: The newsroom's answer to each of its entries in the command table (tested: one for each).
NEWSROOM: dict[str, Callable[[Update, Context, str], Awaitable[None]]] = {
    "reindex": reindex, "failed": failed, "stats": stats, "channel": channel_command, "channels": channels_list}


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
