"""The status message of an editor's run in Telegram: sent at the start, edited with progress, then the summary."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bantin.bot.newsroom.reindex import Run
from bantin.bot.reply import Reply
from bantin.bot.telegram.send import edit_text, send_to

log = logging.getLogger(__name__)


class ChatStatus:
    """Shows a run in one chat message (a `Reporter` of bot.newsroom.reindex).

    Never edits with identical text (Telegram answers 400 'message is not modified'); a failed
    edit is logged and the run goes on. If the final edit fails (the message was deleted), the
    summary is sent as a new message so the editor still learns how it ended.
    """

    def __init__(self, bot: Bot, chat_id: int, render: Callable[[Run, bool], Reply], *,
                 message_id: int | None = None, thread_id: int | None = None) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.render = render
        self.message_id = message_id
        self.thread_id = thread_id
        self._shown: str | None = None

    async def show(self, run: Run, *, final: bool) -> None:
        reply = self.render(run, final)
        if reply.html == self._shown:
            return
        try:
            if self.message_id is None:
                await self._send(reply)
            else:
                try:
                    await edit_text(self.bot, self.chat_id, self.message_id, reply, previews=True)
                except BadRequest:
                    if not final:
                        raise
                    await self._send(reply)
            self._shown = reply.html
        except TelegramError as exc:
            log.warning("could not show %s status in chat %s: %s", run.kind, self.chat_id, exc)

    async def _send(self, reply: Reply) -> None:
        self.message_id = await send_to(self.bot, self.chat_id, reply, previews=True, thread_id=self.thread_id)
