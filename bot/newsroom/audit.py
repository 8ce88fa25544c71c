"""Audit log of editor actions: who did what, when, and how it ended.

Kept in the bot's state file (`Settings.state_path`, shared with other features, so only
`CREATE TABLE IF NOT EXISTS` on tables of our own). A newsroom needs to answer "who rebuilt the
index at 3 a.m.?" and "did last night's scan finish?" long after the chat scrolled away, and a
non-editor poking at editor commands is worth knowing about too.

A reindex is one row, written when it starts (`running`) and completed when it ends, so a run cut
short by a crash stays visible: the next start marks such rows `interrupted`.

Bounded, because anyone can make the bot write here by typing /reindex: a user's refused
attempts are recorded at most `REFUSALS_PER_HOUR` times an hour (later ones only counted, in
their last row's `more`), and the table keeps the newest `MAX_ROWS` rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bantin.bot.clock import utcnow

SCHEMA = """
CREATE TABLE IF NOT EXISTS editor_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    user_id INTEGER,
    user_name TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS editor_audit_action ON editor_audit(action, id);
CREATE INDEX IF NOT EXISTS editor_audit_user ON editor_audit(user_id, result, id);
CREATE TABLE IF NOT EXISTS editor_menus (user_id INTEGER PRIMARY KEY);
"""

#: Results of an action. `running` is only ever seen while a reindex is under way.
RUNNING, OK, FAILED, REFUSED, BUSY, INTERRUPTED = "running", "ok", "failed", "refused", "busy", "interrupted"
#: Actions that change the store or the index (the others only read).
REINDEX_ACTIONS = ("reindex", "reindex full", "scan", "fetch")
#: Refused attempts recorded per user and hour; the rest only raise the last row's `more`.
REFUSALS_PER_HOUR = 10
#: Rows kept (the newest; a run still going is kept until it ends): years of a newsroom's use.
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Entry:
    """One audited action. `user_id` is None for the automatic scan."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    user_id: int | None
    user_name: str
    action: str
    result: str
    detail: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    """One SQLite connection behind a lock: editor actions are rare, so simplicity beats pooling.

    Callers on the event loop should go through `asyncio.to_thread`: the state file is shared, and
    another feature's write may hold it for a moment.
    """

    def __init__(self, path: Path | str, *, max_rows: int = MAX_ROWS) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def record(self, user_id: int | None, user_name: str, action: str, result: str,
               detail: dict[str, Any] | None = None, *, now: datetime | None = None) -> int:
        """An action that is over as soon as it happened (a view, a refusal)."""
        moment = now or utcnow()
        if result == REFUSED:
            counted = self._count_refusal(user_id, moment)
            if counted is not None:
                return counted
        return self._insert(moment.isoformat(), moment.isoformat(), user_id, user_name, action, result, detail)

    def _count_refusal(self, user_id: int | None, moment: datetime) -> int | None:
        """Past the hourly allowance, a refusal only counts in the user's latest refused row
        (`more`, and `finished_at` = the last attempt); returns that row's id, or None to insert."""
        since = (moment - timedelta(hours=1)).isoformat()
        with self._lock, self._db:
            recent = self._db.execute(
                "SELECT id, detail FROM editor_audit WHERE user_id IS ? AND result = ? AND started_at > ?"
                " ORDER BY id DESC LIMIT ?", (user_id, REFUSED, since, REFUSALS_PER_HOUR)).fetchall()
            if len(recent) < REFUSALS_PER_HOUR:
                return None
            last_id, detail = recent[0]
            parsed = _load(detail)
            parsed["more"] = int(parsed.get("more", 0)) + 1
            self._db.execute("UPDATE editor_audit SET detail = ?, finished_at = ? WHERE id = ?",
                             (_dump(parsed), moment.isoformat(), last_id))
            return int(last_id)

    def begin(self, user_id: int | None, user_name: str, action: str, detail: dict[str, Any] | None = None,
              *, now: datetime | None = None) -> int:
        """A long action starts; `finish` completes the same row."""
        return self._insert((now or utcnow()).isoformat(), None, user_id, user_name, action, RUNNING, detail)

    def finish(self, entry_id: int, result: str, detail: dict[str, Any] | None = None,
               *, now: datetime | None = None) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE editor_audit SET finished_at = ?, result = ?, detail = ? WHERE id = ?",
                ((now or utcnow()).isoformat(), result, _dump(detail), entry_id),
            )

    def interrupt_stale(self, *, now: datetime | None = None) -> int:
        """Rows still `running` from a previous process (killed mid-run) become `interrupted`.

        Call once at start-up, before any new run: only one run exists at a time, per process.
        """
        with self._lock, self._db:
            cur = self._db.execute(
                "UPDATE editor_audit SET result = ?, finished_at = ? WHERE result = ?",
                (INTERRUPTED, (now or utcnow()).isoformat(), RUNNING),
            )
            return cur.rowcount

    def _insert(self, started: str, finished: str | None, user_id: int | None, user_name: str, action: str,
                result: str, detail: dict[str, Any] | None) -> int:
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO editor_audit (started_at, finished_at, user_id, user_name, action, result, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (started, finished, user_id, user_name, action, result, _dump(detail)),
            )
            new_id = int(cur.lastrowid or 0)
            # Ids only grow (AUTOINCREMENT): everything this far back is older than the newest max_rows.
            self._db.execute("DELETE FROM editor_audit WHERE id <= ? AND result != ?",
                             (new_id - self.max_rows, RUNNING))
            return new_id

    # -- reading ------------------------------------------------------------------------------

    def recent(self, limit: int = 20, *, actions: Iterable[str] | None = None) -> list[Entry]:
        """Newest first, optionally only some actions."""
        sql = "SELECT id, started_at, finished_at, user_id, user_name, action, result, detail FROM editor_audit"
        params: list[Any] = []
        wanted = list(actions) if actions is not None else None
        if wanted is not None:
            sql += f" WHERE action IN ({','.join('?' * len(wanted))})"
            params += wanted
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_entry(row) for row in rows]

    def last_reindex(self) -> Entry | None:
        """The latest reindex or scan that ran and ended (what /stats reports): refusals and
        'busy' answers were not runs, and a running one has no result yet."""
        marks = ",".join("?" * len(REINDEX_ACTIONS))
        with self._lock:
            row = self._db.execute(
                "SELECT id, started_at, finished_at, user_id, user_name, action, result, detail FROM editor_audit"
                f" WHERE action IN ({marks}) AND result IN (?, ?, ?) ORDER BY id DESC LIMIT 1",
                (*REINDEX_ACTIONS, OK, FAILED, INTERRUPTED),
            ).fetchone()
        return _entry(row) if row else None

    # -- editors' command menus -----------------------------------------------------------------

    def menu_users(self) -> set[int]:
        """Users who were given the editors' command menu: the ones to take it back from."""
        with self._lock:
            return {int(r[0]) for r in self._db.execute("SELECT user_id FROM editor_menus")}

    def set_menu_users(self, user_ids: Iterable[int]) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM editor_menus")
            self._db.executemany("INSERT OR IGNORE INTO editor_menus (user_id) VALUES (?)",
                                 ((u,) for u in user_ids))


def _dump(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail or {}, ensure_ascii=False, default=str)


def _load(detail: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(detail) if detail else {}
    except json.JSONDecodeError:
        parsed = {}
    return parsed if isinstance(parsed, dict) else {}


def _entry(row: tuple[Any, ...]) -> Entry:
    entry_id, started, finished, user_id, user_name, action, result, detail = row
    parsed = _load(detail)
    return Entry(
        id=int(entry_id),
        started_at=datetime.fromisoformat(started),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        user_id=None if user_id is None else int(user_id),
        user_name=str(user_name or ""),
        action=str(action),
        result=str(result),
        detail=parsed,
    )
