"""The command table: every chat command the bot knows, in one place.

One entry drives everything about a command: the names Telegram routes to it (aliases included),
the vi/en menus (`set_my_commands`, labels `cmd_<name>` in templates/<lang>/labels.j2), whether
only editors may use it, and whether it takes a turn from the per-user rate limit. The Telegram
edge registers one handler that looks commands up here (every command takes a turn, from the search
limit or the hints' bucket); `bot.chat.Core` answers the chat and
digest rooms, the editors' `Desk` the newsroom's. Adding a command = one entry here, its answer in
its room, its templates in both languages (CONTRIBUTING.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Room(Enum):
    """Who answers a command."""

    CHAT = "chat"  # search, reading, listings: bot.chat.Core
    DIGEST = "digest"  # a chat's own digest: private chats, and a group's administrators
    NEWSROOM = "newsroom"  # editors only (BANTIN_EDITORS): bot.newsroom.desk


class Menu(Enum):
    """In which command menu it is listed."""

    NONE = "none"
    PUBLIC = "public"  # everyone's menu (and the editors')
    EDITOR = "editor"  # only in an editor's private chat, after the public ones


class Limit(Enum):
    """When it takes a turn from the per-user rate limit (bot.telegram.ratelimit)."""

    ALWAYS = "always"
    WITH_WORDS = "with_words"  # only with arguments: a bare `/search` or `/start` is a usage hint
    #: A usage hint: a turn from the hints' own bucket, so it still answers past the search limit,
    #: but a flood of `/help` in a group cannot fill the bot's send queue either.
    HINT = "hint"


@dataclass(frozen=True)
class Command:
    name: str
    room: Room
    aliases: tuple[str, ...] = ()
    menu: Menu = Menu.NONE
    limit: Limit = Limit.ALWAYS
    #: Counted in the editors' /stats "searches served today".
    counted: bool = False
    #: Run again when its message is edited (fixing "/subscribe 7:00" to "8:00" applies it); not
    #: for a /reindex, where fixing a typo must not start a second run.
    on_edit: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def editor_only(self) -> bool:
        return self.room is Room.NEWSROOM

    def takes_turn(self, args: str) -> bool:
        """A turn from the search limit; otherwise the command is a usage hint (the hints' bucket)."""
        return self.limit is Limit.ALWAYS or (self.limit is Limit.WITH_WORDS and bool(args.strip()))


#: In menu order: the public menu lists its entries in this order, an editor's adds theirs after.
COMMANDS: tuple[Command, ...] = (
    Command("search", Room.CHAT, ("tim", "timkiem"), Menu.PUBLIC, Limit.WITH_WORDS, counted=True),
    Command("latest", Room.CHAT, ("moi",), Menu.PUBLIC),
    Command("subscribe", Room.DIGEST, ("dangky",), Menu.PUBLIC),
    Command("settings", Room.DIGEST, ("caidat",), Menu.PUBLIC),
    Command("help", Room.CHAT, (), Menu.PUBLIC, Limit.HINT),
    Command("about", Room.CHAT, (), Menu.PUBLIC),
    Command("start", Room.CHAT, (), Menu.NONE, Limit.WITH_WORDS),
    Command("unsubscribe", Room.DIGEST, ("huydangky",)),
    Command("digest", Room.DIGEST, ("bantin",)),
    Command("reindex", Room.NEWSROOM, (), Menu.EDITOR, on_edit=False),
    Command("failed", Room.NEWSROOM, (), Menu.EDITOR),
    Command("stats", Room.NEWSROOM, (), Menu.EDITOR),
    Command("channels", Room.NEWSROOM, (), Menu.EDITOR),
    Command("channel", Room.NEWSROOM, (), Menu.EDITOR),
)
_BY_NAME = {name: command for command in COMMANDS for name in command.names}
#: Commands not in the table that still get an answer (not a hint): `/xem_<id>` reads an article.
UNLISTED = Command("", Room.CHAT)

#: Any word after "/" is a command: Telegram marks `/khong-lenh` as one (up to the "-"), and the
#: user deserves a reply rather than silence. Valid names are `[A-Za-z0-9_]`; others are unknown.
_COMMAND = re.compile(r"^/([^\s@]+)(?:@(\S*))?(?:\s+(.*))?$", re.DOTALL)


def find(name: str) -> Command | None:
    """The entry of a command name or alias (lower case), None for one not in the table."""
    return _BY_NAME.get(name)


def menu(kind: Menu) -> tuple[str, ...]:
    return tuple(c.name for c in COMMANDS if c.menu is kind)


def parse_command(text: str) -> tuple[str, str | None, str] | None:
    """'/search@bot words' → ('search', 'bot', 'words'); None when it is not a command."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    return match.group(1).lower(), match.group(2), (match.group(3) or "").strip()
