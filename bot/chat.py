"""A chat's replies: plain values in, rendered `Reply`s out.

`Core` joins the rooms a user talks to (search and reading, their own digest settings) over one set
of services, and routes commands through the command table (`bot.commands`). The Telegram
handlers, the offline console and the tests all drive this same object, so everything a user can
see is testable without a network. Methods are synchronous (searching is CPU-bound); the Telegram
side runs them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bantin.bot import commands
from bantin.bot.commands import Room, parse_command
from bantin.bot.digests.controls import DigestControls
from bantin.bot.digests.store import CONSOLE_CHAT, Place
from bantin.bot.render import shorten
from bantin.bot.reply import CallbackResult, Reply
from bantin.bot.search import buttons as cb
from bantin.bot.search.links import READ_COMMANDS, READ_ID, deep_link_article
from bantin.bot.search.replies import SearchReplies

#: How much of an unknown command the reply repeats.
SHOWN_COMMAND = 40


@dataclass(frozen=True)
class Call:
    """One command as the chat room sees it."""

    args: str
    lang: str
    user: str | None = None


@dataclass
class Core(SearchReplies, DigestControls):
    """Every reply a chat can get (the editors' own are the newsroom's `Desk`)."""

    def message(self, text: str, lang: str, *, user: str | None = None, chat: int | None = None) -> list[Reply]:
        """Any text message: a command, or a search."""
        command = parse_command(text)
        if command is not None:
            return self.command(command[0], command[2], lang, user=user, chat=chat)
        return [self.search(text, lang)]

    def command(self, command: str, args: str, lang: str, *, user: str | None = None,
                chat: int | None = None, place: Place | None = None) -> list[Reply]:
        """A command by name or alias (without the slash); unknown ones get a hint, not silence.

        `chat` identifies the subscriber for digest commands; None is the offline console's chat.
        `place`: the command came from a group (by one of its administrators: the handler checked).
        """
        entry = commands.find(command)
        if entry is not None and entry.room is Room.DIGEST:
            return self.digest_command(entry.name, args, lang, CONSOLE_CHAT if chat is None else chat, place)
        if entry is not None and entry.room is Room.CHAT:
            return CHAT_ANSWERS[entry.name](self, Call(args, lang, user))
        return self.unlisted(command, lang)

    def unlisted(self, command: str, lang: str) -> list[Reply]:
        """`/xem_<id>` reads an article; anything else (an editor's command too) gets a hint."""
        prefix, _, article_id = command.partition("_")
        if prefix in READ_COMMANDS and article_id:
            # Only ids that read_command offers; anything else cannot be an article of ours.
            return self.read(article_id, lang) if READ_ID.fullmatch(article_id) else [self.notice("not_found", lang)]
        return [self.notice("unknown_command", lang, command=shorten("/" + command, SHOWN_COMMAND))]

    def start(self, call: Call) -> list[Reply]:
        """The welcome; a deep link's `/start xem_<id>` shows that article instead."""
        article_id = deep_link_article(call.args)
        if article_id is not None:
            return self.read(article_id, call.lang)
        return [self.notice("start", call.lang, name=call.user, digest_time=self.digest_time)]

    def search_command(self, call: Call) -> list[Reply]:
        if not call.args.strip():
            return [self.notice("empty_query", call.lang)]
        return [self.search(call.args, call.lang)]

    def callback(self, data: str | None, lang: str, *, message_query: str | None = None,
                 chat: int | None = None) -> CallbackResult:
        """A button press. Stale or forged data gets a polite toast, never an exception."""
        try:
            button = cb.decode(data)
        except cb.BadCallback:
            return CallbackResult(answer=self.renderer.label(lang, "stale_button"), alert=True)
        if isinstance(button, cb.DigestMoreButton | cb.DigestButton):
            return self.digest_button(button, lang, CONSOLE_CHAT if chat is None else chat)
        return self.press(button, lang, message_query=message_query)


#: The chat room's answer to each of its entries in the command table (tested: one for each).
CHAT_ANSWERS: dict[str, Callable[[Core, Call], list[Reply]]] = {
    "start": Core.start,
    "help": lambda core, call: [core.notice("help", call.lang, inline=core.bot_username,
                                            digest_time=core.digest_time)],
    "about": lambda core, call: [core.about(call.lang)],
    "latest": lambda core, call: [core.latest(call.lang)],
    "search": Core.search_command,
}
