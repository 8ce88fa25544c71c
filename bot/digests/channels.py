"""Digests posted to groups and channels: what editors type, who may do what, and the replies.

Like `bot.search.replies`, plain values in and rendered `Reply`s out: the handlers ask Telegram who is who
(`bot.telegram.membership`) and pass the answers here, so everything an editor can see is testable
without a network. The digests themselves are ordinary subscribers of the same store and
delivery log (`kind` group or channel, see bot.digests.store).

Who may do what (README, "Digests in groups and channels"):

* editors (`BANTIN_EDITORS`) attach the digest to a channel or group where the bot may post,
  change its time, topics, header, footer, language and silence, stop it, list them all, and
  post a slot's digest right away (posting it again edits the post);
* in a group, its administrators (anonymous ones included) may `/subscribe` the group itself, in
  the forum topic they write in; plain members may not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bantin.bot.clock import VIETNAM
from bantin.bot.digests import build as dg
from bantin.bot.digests.slots import next_slot
from bantin.bot.digests.store import CHANNEL, GROUP, DeliveryRow, Place, Subscriber
from bantin.bot.editor import Editor
from bantin.bot.render import fits
from bantin.bot.reply import Reply
from bantin.bot.search import buttons as cb
from bantin.bot.services import Services

Target = int | str  # a chat id, or "@username"

OFF_WORDS = frozenset({"off", "stop", "tắt", "tat", "dừng", "dung", "huỷ", "hủy", "huy"})
ON_WORDS = frozenset({"on", "bật", "bat", "có", "co", "yes"})
NO_WORDS = OFF_WORDS | {"no", "không", "khong"}
CLEAR_WORDS = OFF_WORDS | {"-", "xoá", "xóa", "xoa", "clear"}
OPTION_WORDS = {"header": "header", "đầu": "header", "dau": "header", "footer": "footer", "cuối": "footer",
                "cuoi": "footer", "silent": "silent", "im": "silent", "lang": "lang", "ngôn_ngữ": "lang"}
LANGUAGES = ("vi", "en")
#: What an editor may type at most after /channel (a header and a footer of a few lines fit).
MAX_ARGS = 1200
_USERNAME = re.compile(r"^@([A-Za-z][A-Za-z0-9_]{3,31})$")
_LINK = re.compile(r"^(?:https?://)?(?:t|telegram)\.me/([A-Za-z][A-Za-z0-9_]{3,31})/?$", re.IGNORECASE)
_BARE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_CHAT_ID = re.compile(r"^-?\d{5,20}$")
#: Digest settings buttons that change something: in a group only its administrators may press them.
_CHANGES = frozenset({"time", "drop", "clear", "stop", "start"})


class BadChannel(ValueError):
    """/channel arguments we cannot use; `reason` picks the explanation in `channel_usage`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # usage | target | silent | lang | note_too_long | and BadSubscribe's reasons
        self.detail = detail


@dataclass(frozen=True)
class ChannelRequest:
    """A parsed /channel: `action` attach | off | header | footer | silent | lang.

    `target` None means "this chat" (the command was sent in the group itself). For attach,
    None `slot`/`topics` keep the current ones; for header/footer, None `text` clears it.
    """

    action: str
    target: Target | None = None
    slot: str | None = None
    topics: tuple[str, ...] | None = None
    text: str | None = None
    flag: bool | None = None


def parse_target(word: str) -> Target | None:
    """`@name`, `t.me/name` or a numeric chat id → a target; None when the word is none of
    these; BadChannel for an @name Telegram would never accept."""
    word = word.strip()
    link = _LINK.match(word)
    if link:
        return "@" + link[1]
    if word.startswith("@"):
        name = _USERNAME.match(word)
        if name is None:
            raise BadChannel("target", word[:40])
        return "@" + name[1]
    if _CHAT_ID.match(word):
        return int(word)
    return None


def target_in(args: str) -> Target | None:
    """The target of `/digest @channel` (one word that names a chat), else None; never raises."""
    words = args.split()
    if len(words) != 1:
        return None
    try:
        return parse_target(words[0])
    except BadChannel:
        return None


def parse_channel_command(args: str) -> ChannelRequest:
    """`[@name|id] [HH:MM] [topics]`, `[@name] off`, `off @name`, `[@name] header|footer <text>`,
    `[@name] silent on|off`, `[@name] lang vi|en`; raises BadChannel with the reason."""
    raw = unicodedata.normalize("NFC", args).strip()
    if len(raw) > MAX_ARGS:
        raise BadChannel("command_too_long", str(MAX_ARGS))
    words = raw.split()
    if not words:
        return ChannelRequest("attach")
    if words[0].lower() in OFF_WORDS:
        if len(words) == 1:
            return ChannelRequest("off")
        target = parse_target(words[1])
        if len(words) == 2 and target is not None:
            return ChannelRequest("off", target)
        raise BadChannel("usage")
    target = parse_target(words[0])
    rest = raw[len(words[0]):].strip() if target is not None else raw
    rest_words = rest.split()
    if not rest_words:
        return ChannelRequest("attach", target)
    key = rest_words[0].lower()
    if key in OFF_WORDS and len(rest_words) == 1:
        return ChannelRequest("off", target)
    option = OPTION_WORDS.get(key)
    if option in ("header", "footer"):
        if len(rest_words) == 1:  # a bare `header` must not silently erase the current one
            raise BadChannel("note_empty", option)
        return ChannelRequest(option, target, text=_note(rest[len(rest_words[0]):]))
    if option == "silent":
        value = rest_words[1].lower() if len(rest_words) == 2 else ""
        if value not in ON_WORDS | NO_WORDS:
            raise BadChannel("silent", value)
        return ChannelRequest("silent", target, flag=value in ON_WORDS)
    if option == "lang":
        value = rest_words[1].lower() if len(rest_words) == 2 else ""
        if value not in LANGUAGES:
            raise BadChannel("lang", value)
        return ChannelRequest("lang", target, text=value)
    try:
        request = dg.parse_subscribe(rest)
    except dg.BadSubscribe as exc:
        if exc.reason == "format" and target is None and _BARE_NAME.match(words[0]):
            raise BadChannel("target", words[0]) from exc  # "/channel baodang": the @ was forgotten
        raise BadChannel(exc.reason, exc.detail) from exc
    return ChannelRequest("attach", target, slot=request.slot, topics=request.topics)


def _note(raw: str) -> str | None:
    """A header or footer: None (cleared) for `off` or `-`; BadChannel when too long."""
    note = dg.clean_note(raw)
    if not note:
        raise BadChannel("note_empty", "")
    if note.lower() in CLEAR_WORDS:
        return None
    if len(note) > dg.MAX_NOTE_CHARS or note.count("\n") >= dg.MAX_NOTE_LINES:
        raise BadChannel("note_too_long", str(dg.MAX_NOTE_CHARS))
    return note


def label_of(target: Target) -> str:
    """How a target is shown back: @name as typed, or the numeric id."""
    return target if isinstance(target, str) else str(target)


def changes_digest(data: str | None) -> bool:
    """Whether a button press would change a chat's digest (in groups: administrators only)."""
    try:
        button = cb.decode(data)
    except cb.BadCallback:
        return False
    return isinstance(button, cb.DigestButton) and button.action in _CHANGES


# -- who may post where ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatInfo:
    """A chat as getChat described it; `kind` private | group | channel."""

    id: int
    kind: str
    title: str
    username: str | None = None
    is_forum: bool = False


@dataclass(frozen=True)
class BotRights:
    """The bot's own membership (getChatMember): its status and whether it may post there."""

    status: str  # creator | administrator | member | restricted | left | kicked
    can_post: bool


@dataclass(frozen=True)
class Inspection:
    """What Telegram said about a target: the chat (None when it could not be found) and the
    bot's rights in it (None when the bot is not in it), or `problem` not_found | not_member."""

    chat: ChatInfo | None
    rights: BotRights | None = None
    problem: str | None = None


def refusal(inspection: Inspection) -> str | None:
    """Why the digest cannot go to this chat (a `channel_refused` reason), or None when it can.

    Channels need the bot as an administrator allowed to post (or their creator); groups need it
    as a member that may send messages."""
    chat, rights = inspection.chat, inspection.rights
    if chat is None:
        return inspection.problem or "not_found"
    if chat.kind not in (GROUP, CHANNEL):
        return "private"
    if inspection.problem or rights is None or rights.status in ("left", "kicked"):
        return "not_member"
    if chat.kind == CHANNEL and rights.status not in ("creator", "administrator"):
        return "not_admin"
    if not rights.can_post:
        return "cannot_post"
    return None


# -- replies -------------------------------------------------------------------------------------------


class Channels:
    """Every reply about group and channel digests, over the core's store and renderer."""

    def __init__(self, core: Services) -> None:
        self.core = core

    def render(self, lang: str, template: str, **context: Any) -> Reply:
        return Reply(self.core.renderer.render(lang, template, **context))

    def usage(self, lang: str, reason: str | None = None, detail: str = "") -> Reply:
        return self.render(lang, "channel_usage", reason=reason, detail=detail, max_topics=dg.MAX_TOPICS,
                           max_chars=dg.MAX_TOPIC_CHARS, max_note=dg.MAX_NOTE_CHARS, default_time=self.core.digest_time)

    def refused(self, lang: str, reason: str, target: Target, chat: ChatInfo | None = None) -> Reply:
        return self.render(lang, "channel_refused", reason=reason, target=label_of(target), chat=chat,
                           bot_username=self.core.bot_username or "")

    def not_attached(self, lang: str, target: Target) -> Reply:
        return self.render(lang, "channel_done", what="not_attached", target=label_of(target), sub=None,
                           next_at=None)

    def not_postable(self, lang: str, target: Target, sub: Subscriber | None) -> Reply:
        """An editor's `/digest @channel` for a chat with no digest, or a stopped one."""
        if sub is None:
            return self.not_attached(lang, target)
        return self.render(lang, "channel_done", what="already_off", sub=sub, target=label_of(target), next_at=None)

    def attach(self, chat: ChatInfo, request: ChannelRequest, lang: str, editor: Editor, *,
               thread_id: int | None = None, here: bool = False) -> Reply:
        """Start (or update) the digest of a chat the bot may post in. `here`: the command was sent
        in that chat, so its forum topic (`thread_id`) is where the digest goes from now on."""
        subs, now = self.core.subs, self.core.clock()
        current = subs.get(chat.id)
        # resuming a stopped digest keeps its time, as it keeps its topics and texts
        slot = request.slot or (current.slot if current else self.core.digest_time)
        thread = thread_id if here else (current.thread_id if current else None)
        place = Place(kind=chat.kind, thread_id=thread if chat.is_forum else None, title=chat.title,
                      username=chat.username, added_by=editor.id, added_by_name=editor.name, report_chat=editor.id)
        digest_lang = current.lang if current else "vi"  # the audience's language, not the editor's
        sub, activated = subs.subscribe(chat.id, lang=digest_lang, slot=slot, topics=request.topics, now=now,
                                        place=place)
        return self.render(lang, "channel_done", what="attached", activated=activated, sub=sub,
                           target=self._label(sub), next_at=next_slot(sub.slot, now))

    def stop(self, sub: Subscriber, lang: str, editor: Editor) -> Reply:
        stopped = self.core.subs.unsubscribe(sub.chat_id, now=self.core.clock(), reason=f"editor:{editor.name}")
        return self.render(lang, "channel_done", what="off" if stopped else "already_off", sub=sub,
                           target=self._label(sub), next_at=None)

    def set_option(self, sub: Subscriber, request: ChannelRequest, lang: str) -> Reply:
        value: str | bool | None = request.flag if request.action == "silent" else request.text
        updated = self.core.subs.set_option(sub.chat_id, request.action, value, now=self.core.clock()) or sub
        next_at = next_slot(updated.slot, self.core.clock()) if updated.active else None
        return self.render(lang, "channel_done", what=request.action, sub=updated, target=self._label(updated),
                           next_at=next_at)

    def listing(self, lang: str) -> Reply:
        """/channels: every group and channel digest with its schedule, last post and owner."""
        subs = self.core.subs
        now = self.core.clock()
        items = [self._row(sub, subs.latest_delivery(sub.chat_id), now) for sub in subs.shared()]
        shown = len(items)
        while True:
            html = self.core.renderer.render(lang, "channel_list", items=items[:shown], total=len(items))
            if fits(html) or shown <= 1:
                return Reply(html)
            shown -= 1

    def forced(self, lang: str, sub: Subscriber, report: Any) -> Reply:
        """The outcome of an editor's `/digest @channel` (a RunReport, or None: digests are off)."""
        return self.render(lang, "channel_posted", sub=sub, target=self._label(sub), report=report)

    def _row(self, sub: Subscriber, last: DeliveryRow | None, now: datetime) -> dict[str, Any]:
        moment = (last.finished_at or last.planned_at) if last else None
        # Telegram's own words for why posting stopped can be long: one line of them is enough here.
        reason = dg.one_line(sub.stopped_reason, 200) if sub.stopped_reason else None
        return {"sub": sub, "target": self._label(sub), "next_at": next_slot(sub.slot, now) if sub.active else None,
                "reason": reason,
                "last": last, "last_at": datetime.fromisoformat(moment).astimezone(VIETNAM) if moment else None}

    @staticmethod
    def _label(sub: Subscriber) -> str:
        return f"@{sub.username}" if sub.username else str(sub.chat_id)
