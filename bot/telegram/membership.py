"""Asking Telegram who is who in a group or channel: the I/O edge of `bot.digests.channels`.

getChat and getChatMember answers become plain values (`ChatInfo`, `BotRights`, a yes/no for
"is this user an administrator"), which the handlers hand to `bot.digests.channels` and `bot.search.replies`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from telegram import Bot, Chat, ChatFullInfo, ChatMember, ChatMemberAdministrator, ChatMemberRestricted, Message
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bantin.bot.digests.channels import BotRights, ChatInfo, Inspection, Target
from bantin.bot.digests.store import CHANNEL, GROUP, PRIVATE, Place

log = logging.getLogger(__name__)

ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})


def kind_of(chat_type: str) -> str:
    """Telegram's chat type → our subscriber kind (a supergroup is a group to readers)."""
    if chat_type == ChatType.CHANNEL:
        return CHANNEL
    if chat_type in (ChatType.GROUP, ChatType.SUPERGROUP):
        return GROUP
    return PRIVATE


def chat_info(chat: Chat | ChatFullInfo) -> ChatInfo:
    title = chat.title or chat.full_name or chat.username or str(chat.id)
    return ChatInfo(chat.id, kind_of(chat.type), title, chat.username, bool(chat.is_forum))


def rights_of(member: ChatMember, kind: str) -> BotRights:
    """May the bot post? In a channel: an administrator with can_post_messages (or the creator);
    in a group: any member that is not restricted from sending messages."""
    status = str(member.status)
    if isinstance(member, ChatMemberAdministrator):
        can_post = bool(member.can_post_messages) if kind == CHANNEL else True
    elif isinstance(member, ChatMemberRestricted):
        can_post = bool(member.is_member and member.can_send_messages) and kind != CHANNEL
    elif status == ChatMemberStatus.OWNER:
        can_post = True
    else:
        can_post = status == ChatMemberStatus.MEMBER and kind != CHANNEL
    return BotRights(status, can_post)


async def inspect_chat(bot: Bot, target: Target) -> Inspection:
    """getChat, then getChatMember for the bot itself. Telegram answers "chat not found" both for
    a chat that does not exist and for a private one the bot has never been in, and Forbidden
    for a chat the bot was removed from; network errors are left to the caller."""
    try:
        chat = await bot.get_chat(target)
    except ChatMigrated as exc:  # an old group id, upgraded to a supergroup since: look at that one
        if exc.new_chat_id == target:
            return Inspection(None, None, "not_found")
        return await inspect_chat(bot, exc.new_chat_id)
    except Forbidden:
        return Inspection(None, None, "not_member")
    except BadRequest:
        return Inspection(None, None, "not_found")
    info = chat_info(chat)
    if info.kind == PRIVATE:
        return Inspection(info)
    try:
        member = await bot.get_chat_member(chat.id, bot.id)
    except (Forbidden, BadRequest) as exc:
        log.info("bot's membership in %s: %s", chat.id, exc)
        return Inspection(info, None, "not_member")
    return Inspection(info, rights_of(member, info.kind))


def anonymous_admin(message: Message) -> bool:
    """A message an administrator sent anonymously, as the group itself."""
    return message.sender_chat is not None and message.sender_chat.id == message.chat.id


async def ask_admin(bot: Bot, chat_id: int, user_id: int) -> bool | None:
    """Whether a user is the chat's creator or an administrator; None when Telegram can't say."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.warning("could not check whether %s is an admin of %s: %s", user_id, chat_id, exc)
        return None
    return member.status in ADMIN_STATUSES


class AdminCache:
    """getChatMember answers, kept `ttl` seconds for the `size` latest (chat, user) pairs.

    Each getChatMember waits in the group's 20-a-minute queue of PTB's rate limiter, holding one
    of the bot's update slots meanwhile: a user pressing a settings button again and again must
    not ask Telegram each time. Presses that arrive together share one request. A promotion or
    demotion counts after at most `ttl` seconds; a failed request is not kept.
    """

    def __init__(self, ttl: float = 60.0, size: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._asked: OrderedDict[tuple[int, int], tuple[float, asyncio.Future[bool | None]]] = OrderedDict()

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        """False when Telegram can't say (nothing is changed then)."""
        key, now = (chat_id, user_id), self.clock()
        kept = self._asked.get(key)
        if kept is None or kept[0] <= now:
            kept = self._asked[key] = (now + self.ttl, asyncio.ensure_future(ask_admin(bot, chat_id, user_id)))
            while len(self._asked) > self.size:
                self._asked.popitem(last=False)
        self._asked.move_to_end(key)
        answer: bool | None = None
        try:
            answer = await asyncio.shield(kept[1])  # one presser giving up must not cancel the others' request
        finally:  # nothing learnt (Telegram could not say, or the request failed): ask again next time
            if answer is None and kept[1].done() and self._asked.get(key) is kept:
                del self._asked[key]
        return bool(answer)


async def sender_is_admin(bot: Bot, message: Message, admins: AdminCache) -> bool:
    """The group's own check for `/subscribe` and friends: anonymous administrators count."""
    if anonymous_admin(message):
        return True
    user = message.from_user
    return user is not None and await admins.is_admin(bot, message.chat.id, user.id)


def group_place(message: Message) -> Place:
    """Where a group administrator's /subscribe puts the group's digest: the forum topic it was
    sent in (a re-subscription from another topic moves it), and who to tell if the bot is
    removed (nobody for an anonymous administrator: we don't know who they are)."""
    chat = message.chat
    user = None if anonymous_admin(message) else message.from_user
    thread = message.message_thread_id if message.is_topic_message else None
    return Place(kind=GROUP, thread_id=thread, title=chat.title, username=chat.username,
                 added_by=user.id if user else None, added_by_name=user.full_name if user else None,
                 report_chat=user.id if user else None)


def lost_rights(kind: str, member: ChatMember) -> str | None:
    """After a my_chat_member update: why the bot can no longer post the digest there, or None.

    A reason code (`removed:<status>`, `no_post_rights`, `blocked_by_user`), put into words by the
    templates (channel_macros.j2 `reason`) in the reader's language.
    """
    status = str(member.status)
    if status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        return f"removed:{status}" if kind != PRIVATE else "blocked_by_user"
    if kind != PRIVATE and not rights_of(member, kind).can_post:
        return "no_post_rights"
    return None
