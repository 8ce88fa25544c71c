"""`bantin chat --editor`: the offline console's user counts as an editor.

The editors' commands (`/reindex`, `/failed`, `/stats`) and their buttons go to the same `Desk`
as in Telegram, on an event loop of the console's own; a reindex runs to its end before the
console reads the next line, then prints the summary Telegram would show. Everything is audited
as done by the console user, like any editor action.
"""

from __future__ import annotations

import asyncio

from bantin.bot.chat import Core
from bantin.bot.editor import Editor
from bantin.bot.newsroom import desk as editors
from bantin.bot.reply import CallbackResult, Reply
from bantin.bot.settings import Settings

#: Not a Telegram user id (those are positive): the console's editor in the audit log.
CONSOLE_EDITOR_ID = 0
EDITOR_COMMANDS = ("reindex", "failed", "stats")


class _Collect:
    """A run's reporter that keeps its replies (the console prints the last one)."""

    def __init__(self, desk: editors.Desk) -> None:
        self.desk = desk
        self.replies: list[Reply] = []

    async def show(self, run: editors.Run, *, final: bool) -> None:
        if final:
            self.replies.append(self.desk.run_reply(run, final=True))


class EditorConsole:
    def __init__(self, settings: Settings, core: Core) -> None:
        self.loop = asyncio.new_event_loop()
        self.desk = editors.open_desk(settings, core)
        self.user = Editor(CONSOLE_EDITOR_ID, "console")

    def command(self, name: str, args: str, lang: str) -> list[Reply] | None:
        """The replies to an editor command; None when `name` is not one (the core answers it)."""
        if name not in EDITOR_COMMANDS:
            return None
        if name == "failed":
            return [self.loop.run_until_complete(self.desk.failed(lang, self.user))]
        if name == "stats":
            return [self.loop.run_until_complete(self.desk.stats(lang, self.user))]
        kind = self.desk.reindex_kind(args)
        if kind is None:
            return [self.desk.usage(lang)]
        return self.loop.run_until_complete(self._reindex(kind, lang))

    async def _reindex(self, kind: str, lang: str) -> list[Reply]:
        status = _Collect(self.desk)
        busy = self.desk.start(kind, self.user, lang, status)
        if busy is not None:
            return [busy]
        run = self.desk.runner.current
        if run is not None and run.task is not None:
            await run.task
        return status.replies

    def press(self, data: str, lang: str) -> CallbackResult | None:
        """An editor button's result; None when `data` is not an editor button."""
        if not data.startswith(editors.BUTTON_PREFIX):
            return None
        result = self.loop.run_until_complete(self.desk.press(data, lang, self.user, lambda: _Collect(self.desk)))
        run = self.desk.runner.current
        if run is not None and run.task is not None:  # 🔄 started a scan: wait for it, show the summary
            self.loop.run_until_complete(run.task)
            final = self.desk.run_reply(run, final=True)
            result = CallbackResult(answer=result.answer, edit=result.edit, send=(*result.send, final))
        return result

    def close(self) -> None:
        self.loop.run_until_complete(editors.close_desk(self.desk))
        self.loop.close()
