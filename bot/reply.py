"""What the bot says: one reply type for every message (chat replies, editors' replies, digest parts).

Plain values, no Telegram types: the rooms build them, the Telegram edge (`bot.telegram.send`) and
the console show them, and digest parts are frozen in the delivery log as JSON (`Reply.to_json`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Button:
    text: str
    data: str | None = None
    url: str | None = None
    switch_inline: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message: HTML for Telegram's HTML parse mode, and an inline keyboard."""

    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    query: str | None = None  # the search this message shows, for stateless page buttons
    #: A file to send instead of a text message; `html` is then its caption (≤ 1024 characters).
    document: Document | None = None


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

