"""What the bot says: one reply type for every message (chat replies, editors' replies, digest parts).

Plain values, no Telegram types: the rooms build them, the Telegram edge (`bot.telegram.send`) and
the console show them, and digest parts are frozen in the delivery log as JSON (`Reply.to_json`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Button:
    text: str
    data: str | None = None
    url: str | None = None
    switch_inline: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message: HTML for Telegram's HTML parse mode, and an inline keyboard.

    A digest's messages are replies too (`bot.digests.store.Part`), frozen in the delivery log as
    JSON so a resumed run posts the same: only their HTML, callback buttons, forum topic and silence.
    """

    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    query: str | None = None  # the search this message shows, for stateless page buttons
    #: A file to send instead of a text message; `html` is then its caption (≤ 1024 characters).
    document: Document | None = None
    #: Where and how a digest part is posted: a forum topic, and without a notification.
    thread_id: int | None = None
    silent: bool = False

    def to_json(self) -> dict[str, Any]:
        """As the delivery log keeps a digest part (callback buttons as [text, data] pairs)."""
        data: dict[str, Any] = {"html": self.html,
                                "buttons": [[[b.text, b.data] for b in row] for row in self.buttons]}
        if self.thread_id is not None:
            data["thread_id"] = self.thread_id
        if self.silent:
            data["silent"] = True
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Reply:
        thread = data.get("thread_id")
        return Reply(str(data["html"]), tuple(tuple(Button(str(t), str(d)) for t, d in row) for row in data["buttons"]),
                     thread_id=int(thread) if thread is not None else None, silent=bool(data.get("silent", False)))


@dataclass(frozen=True)
class Document:
    """A file attached to a reply: a long article as plain UTF-8 text."""

    filename: str
    content: bytes
    #: The article it holds: where two articles' names clash (same title), this tells them apart.
    article_id: str = ""


@dataclass(frozen=True)
class CallbackResult:
    """What a button press does: a toast, an edit of the pressed message, and/or new messages."""

    answer: str | None = None
    alert: bool = False
    edit: Reply | None = None
    send: tuple[Reply, ...] = ()

