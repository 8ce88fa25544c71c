"""SQLite connections shared by every store in the project (articles, subscribers).

One connection per thread: the bot reads from worker threads while a reindex or a broadcast
writes, and a sqlite3 connection must not be used by two threads at once. WAL lets readers and
one writer work side by side, also across processes (`bantin run` and a cron'd `bantin digest`).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadLocalConnections:
    """Opens a connection per thread on first use; `close()` closes all of them."""

    def __init__(self, path: Path, *, readonly: bool = False, schema: str | None = None) -> None:
        self.path = path
        self.readonly = readonly
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = self.get()
            db.execute("PRAGMA journal_mode=WAL")
            if schema:
                db.executescript(schema)

    def get(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            if self.readonly:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            else:
                db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()
