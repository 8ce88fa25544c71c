"""The bot's clock: now in UTC (what the stores keep) and Vietnam's zone (what people read)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: Slots, "today" and every time shown are Vietnam time (UTC+7, no daylight saving).
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    """The default clock of the stores and replies; tests pass their own."""
    return datetime.now(UTC)
