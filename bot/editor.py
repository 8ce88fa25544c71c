"""Who sent an editor command, as plain values.

Why its own module: the newsroom's desk (audit, reindex runs) and the group/channel digests both
record who acted, and neither should depend on python-telegram-bot's `User` type: the Telegram
edge (`bot.telegram.newsroom.editor_of`) and the console build this from what they know.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Editor:
    """Who sent the command: recorded with runs, audit lines and subscriptions, shown to editors."""

    id: int | None
    name: str
