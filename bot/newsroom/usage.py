"""Searches served per day, for the editors' /stats ("queries served today").

Counting sits on the hottest path of the bot, so `add()` only bumps an in-memory number; a
periodic job (and shutdown) writes it to the bot's state file. A crash loses at most one flush
interval of counts, which is fine for a newsroom's daily figure. Days are Vietnam days: the
newsroom reads "today" on its own clock, not UTC's.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bantin.articles.model import VIETNAM_TZ
from bantin.bot.clock import utcnow

SCHEMA = "CREATE TABLE IF NOT EXISTS query_counts (day TEXT PRIMARY KEY, queries INTEGER NOT NULL DEFAULT 0)"
FLUSH_SECONDS = 60


def vietnam_day(moment: datetime) -> str:
    return moment.astimezone(VIETNAM_TZ).date().isoformat()


class QueryCounter:
    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = Path(path)
        self.clock = clock
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def add(self, n: int = 1) -> None:
        """Count served searches: memory only, safe from any thread, never blocks on disk."""
        day = vietnam_day(self.clock())
        with self._lock:
            self._pending[day] += n

    def flush(self) -> None:
        """Write pending counts; on failure they stay pending for the next try."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return
        try:
            db = self._connect()
            try:
                with db:
                    db.executemany(
                        "INSERT INTO query_counts (day, queries) VALUES (?, ?)"
                        " ON CONFLICT(day) DO UPDATE SET queries = queries + excluded.queries",
                        list(pending.items()),
                    )
            finally:
                db.close()
        except sqlite3.Error:
            with self._lock:
                self._pending.update(pending)
            raise

    def today(self) -> int:
        """Stored plus not yet flushed, for the current Vietnam day."""
        day = vietnam_day(self.clock())
        db = self._connect()
        try:
            row = db.execute("SELECT queries FROM query_counts WHERE day = ?", (day,)).fetchone()
        finally:
            db.close()
        with self._lock:
            return (int(row[0]) if row else 0) + self._pending.get(day, 0)


def count_query(counter: QueryCounter | None) -> None:
    """The one call the search path makes; a bot without a counter (tests, console) counts nothing."""
    if counter is not None:
        counter.add()
