"""Telegram handlers of the newsroom's commands (editors only, BANTIN_EDITORS): /reindex, /failed,
/stats, their buttons, and the digests of groups and channels (/channel, /channels, /digest @chat).

The editor check runs on every command (from the command table) *and* every button press, because
callback data is chosen by the client and can be forged: a button is never proof that its presser
was shown it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType

from bantin.bot.digests import channels
from bantin.bot.digests.store import Subscriber
from bantin.bot.editor import Editor
from bantin.bot.newsroom import audit
from bantin.bot.reply import Reply
from bantin.bot.telegram import membership
from bantin.bot.telegram.context import Context
from bantin.bot.telegram.plumbing import allowed, answer, core_of, desk_of, edit_pressed, in_thread, lang_of, send
from bantin.bot.telegram.send import send_to
from bantin.bot.telegram.status import ChatStatus

log = logging.getLogger(__name__)

#: What the audit log keeps of an editor's action.
Detail = dict[str, Any]


async def newsroom_room(update: Update, context: Context, name: str, args: str) -> None:
    """Editors' commands (the editor check already ran, from the table)."""
    await NEWSROOM[name](update, context, args)


async def editor_only(update: Update, context: Context, action: str) -> bool:
    """True for an editor; anyone else is refused politely (and audited), and nothing happens."""
    desk = desk_of(context)
    user = editor_of(update)
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
    busy = desk.start(kind, editor_of(update), lang, status_message(update, context))
    if busy is not None:
        await desk.log(editor_of(update), kind, "busy")
        await send(update, [busy])


async def failed(update: Update, context: Context, args: str) -> None:
    """Editors: the pages that failed to parse, with their reasons."""
    await send(update, [await desk_of(context).failed(lang_of(update), editor_of(update))])


async def stats(update: Update, context: Context, args: str) -> None:
    """Editors: articles, subscribers, last reindex, index size and searches served today."""
    await send(update, [await desk_of(context).stats(lang_of(update), editor_of(update))])


async def editor_button(update: Update, context: Context) -> None:
    """Editors' buttons, checked again on every press: callback data can be forged."""
    query = update.callback_query
    if query is None or not await editor_only(update, context, "button"):
        return
    message = query.message if isinstance(query.message, Message) else None
    result = await desk_of(context).press(query.data, lang_of(update), editor_of(update),
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
    await desk_of(context).log(editor_of(update), "channel", result, detail)
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


def editor_of(update: Update) -> Editor:
    """Who sent this update, as the desk and the digests record it: their Telegram name, else
    @username, else their id."""
    user = update.effective_user
    if user is None:
        return Editor(None, "")
    return Editor(user.id, (user.full_name or "").strip() or (f"@{user.username}" if user.username else str(user.id)))


async def channels_list(update: Update, context: Context, args: str) -> None:
    """Editors: every group and channel digest, with its schedule, last post and who added it."""
    board = channels.Channels(core_of(context))
    await send(update, [await in_thread(context, board.listing, lang_of(update))])
    await desk_of(context).log(editor_of(update), "channels", audit.OK)


async def post_digest_now(update: Update, context: Context, target: channels.Target) -> None:
    """Editors' `/digest @channel`: post that chat's digest for the current slot now; again, it edits that post."""
    if not await editor_only(update, context, "digest"):
        return
    user, lang = editor_of(update), lang_of(update)
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



#: The newsroom's answer to each of its entries in the command table (tested: one for each).
NEWSROOM: dict[str, Callable[[Update, Context, str], Awaitable[None]]] = {
    "reindex": reindex, "failed": failed, "stats": stats, "channel": channel_command, "channels": channels_list}
