"""Subscribers and the digest delivery log: tables in the bot's state file (`bot.sqlite`).

Why a log, not just a "last sent" date per subscriber: a broadcast to thousands of chats takes
minutes, and the process can die in the middle. Every digest is written down as *pending*, with
its rendered messages frozen, before the first message goes out, and marked *sent* after the last
one was accepted (`parts_sent` counts the messages in between). A restart resumes exactly the
rows that are not done, with the same content, and never builds a second digest for a slot that
already has a row (the primary key is chat + slot).

The one window this cannot close: Telegram accepted a message and the process died before the
commit that records it (or the request timed out after Telegram had accepted it). Telegram has no
idempotency key, so we cannot ask whether it arrived; the resumed run sends that one message
again. We choose at-least-once for that window (milliseconds, on a crash or a timeout) because a
lost digest is silent, while a rare duplicate is visible and harmless.

Several processes may use the file (`bantin run` and a cron'd `bantin digest`): a lease row
(`digest_lock`) lets only one of them broadcast at a time; a holder that died on this host is
detected by its pid, one elsewhere by the lease expiring.

Other features keep their own tables in the same file; everything here is prefixed `digest_`.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from articles.sqlite import ThreadLocalConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS digest_subscribers (
    chat_id INTEGER PRIMARY KEY,
    lang TEXT NOT NULL,
    slot TEXT NOT NULL,               -- 'HH:MM', Vietnam time
    topics TEXT NOT NULL,             -- JSON list of saved searches; empty = everything
    active INTEGER NOT NULL,
    since TEXT NOT NULL,              -- cursor: the next digest lists articles first seen after it
    schedule_from TEXT NOT NULL,      -- slots at or before this moment are not due (new/changed time)
    last_slot TEXT,                   -- key of the newest scheduled slot already planned
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    stopped_reason TEXT               -- 'user', 'blocked: …' when inactive
);
CREATE INDEX IF NOT EXISTS digest_subscribers_active ON digest_subscribers(active, last_slot);
CREATE TABLE IF NOT EXISTS digest_deliveries (
    chat_id INTEGER NOT NULL,
    slot_key TEXT NOT NULL,           -- '2024-05-01T07:00' (scheduled) or 'now:…' (bantin digest --now)
    state TEXT NOT NULL,              -- pending | sent | empty | blocked | failed | cancelled
    planned_at TEXT NOT NULL,
    covered_until TEXT,               -- the subscriber's cursor moves here once this is done
    articles INTEGER NOT NULL,
    parts TEXT NOT NULL,              -- JSON: the rendered messages, frozen when planned
    parts_sent INTEGER NOT NULL DEFAULT 0,
    message_ids TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at TEXT,
    finished_at TEXT,
    error TEXT,
    PRIMARY KEY (chat_id, slot_key)
);
CREATE INDEX IF NOT EXISTS digest_deliveries_state ON digest_deliveries(state);
CREATE TABLE IF NOT EXISTS digest_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    slot_key TEXT NOT NULL,
    part INTEGER,
    outcome TEXT NOT NULL,            -- planned | empty | sent | done | retry_after | network | retry_later
                                      -- | blocked | failed | cancelled
    detail TEXT
);
CREATE INDEX IF NOT EXISTS digest_events_chat ON digest_events(chat_id, slot_key);
CREATE TABLE IF NOT EXISTS digest_lock (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);
"""

#: The offline console's own chat: it can subscribe and preview, but is never broadcast to.
CONSOLE_CHAT = 0

PENDING, SENT, EMPTY, BLOCKED, FAILED, CANCELLED = "pending", "sent", "empty", "blocked", "failed", "cancelled"
DONE_STATES = frozenset({SENT, EMPTY, BLOCKED, FAILED, CANCELLED})


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Subscriber:
    chat_id: int
    lang: str
    slot: str
    topics: tuple[str, ...]
    active: bool
    since: datetime
    schedule_from: datetime
    last_slot: str | None
    created_at: datetime
    stopped_reason: str | None = None


@dataclass(frozen=True)
class Part:
    """One message of a digest as it will be sent: HTML and inline buttons (text, callback data)."""

    html: str
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"html": self.html, "buttons": [[list(b) for b in row] for row in self.buttons]}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Part:
        return Part(str(data["html"]), tuple(tuple((str(t), str(d)) for t, d in row) for row in data["buttons"]))


@dataclass(frozen=True)
class Planned:
    """A digest built for one subscriber and slot, about to be written to the log.

    `parts` empty means nothing new: the slot is recorded as served (state `empty`) and the
    cursor still moves to `covered_until`, since every article up to it was considered.
    """

    chat_id: int
    slot_key: str
    parts: tuple[Part, ...]
    articles: int
    covered_until: datetime | None
    scheduled: bool = True  # False for `--now` runs: they don't count as the day's slot


@dataclass(frozen=True)
class Delivery:
    """A row of the log that still has messages to send."""

    chat_id: int
    slot_key: str
    parts: tuple[Part, ...]
    parts_sent: int
    attempts: int
    planned_at: datetime
    message_ids: tuple[int, ...] = field(default=())


class SubscriptionStore:
    """Typed access to the digest tables; one SQLite connection per thread (WAL)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._connections = ThreadLocalConnections(self.path, schema=SCHEMA)

    @property
    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def close(self) -> None:
        self._connections.close()

    def __enter__(self) -> SubscriptionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: read-modify-write without another process slipping in."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.commit()

    # -- subscribers ---------------------------------------------------------------------------

    def get(self, chat_id: int) -> Subscriber | None:
        row = self._db.execute(f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE chat_id = ?",
                               (chat_id,)).fetchone()
        return _subscriber(row) if row else None

    def subscribe(self, chat_id: int, *, lang: str, slot: str, topics: Sequence[str] | None,
                  now: datetime) -> tuple[Subscriber, bool]:
        """Create or update a subscription; returns it and whether it was (re)activated.

        `topics=None` keeps the current topics. A new or returning subscriber starts from now (no
        backlog); a changed time is due from its next occurrence, not retroactively today.
        """
        with self._tx() as db:
            row = db.execute(f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE chat_id = ?",
                             (chat_id,)).fetchone()
            old = _subscriber(row) if row else None
            kept = old.topics if old else ()
            new_topics = json.dumps(list(kept if topics is None else topics), ensure_ascii=False)
            stamp = _iso(now)
            if old is None:
                db.execute(
                    "INSERT INTO digest_subscribers (chat_id, lang, slot, topics, active, since, schedule_from,"
                    " last_slot, created_at, updated_at) VALUES (?,?,?,?,1,?,?,NULL,?,?)",
                    (chat_id, lang, slot, new_topics, stamp, stamp, stamp, stamp),
                )
                activated = True
            else:
                activated = not old.active
                since = stamp if activated else _iso(old.since)
                schedule_from = stamp if (activated or old.slot != slot) else _iso(old.schedule_from)
                db.execute(
                    "UPDATE digest_subscribers SET lang=?, slot=?, topics=?, active=1, since=?, schedule_from=?,"
                    " updated_at=?, stopped_reason=NULL WHERE chat_id=?",
                    (lang, slot, new_topics, since, schedule_from, stamp, chat_id),
                )
        sub = self.get(chat_id)
        assert sub is not None
        return sub, activated

    def unsubscribe(self, chat_id: int, *, now: datetime, reason: str = "user") -> bool:
        """Stop digests for a chat; False when it was not subscribed. Pending ones are cancelled."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE digest_subscribers SET active=0, stopped_reason=?, updated_at=? WHERE chat_id=? AND active=1",
                (reason, _iso(now), chat_id),
            )
            stopped = cur.rowcount > 0
            if stopped:
                self._cancel_pending(db, chat_id, now, reason)
        return stopped

    def active(self, chat_id: int | None = None) -> list[Subscriber]:
        """Active subscribers (the console's chat excluded unless asked for by id)."""
        if chat_id is not None:
            rows = self._db.execute(
                f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE active=1 AND chat_id=?", (chat_id,))
        else:
            rows = self._db.execute(
                f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE active=1 AND chat_id != ? ORDER BY chat_id",
                (CONSOLE_CHAT,))
        return [_subscriber(r) for r in rows]

    def candidates_for(self, keys: dict[str, str]) -> list[Subscriber]:
        """Active subscribers whose newest slot (`keys`: slot time → key) is not planned yet.

        One indexed query a minute instead of a job per subscriber; after the morning run it
        returns nothing.
        """
        if not keys:
            return []
        case = " ".join("WHEN ? THEN ?" for _ in keys)
        params: list[object] = [x for pair in keys.items() for x in pair]
        rows = self._db.execute(
            f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE active=1 AND chat_id != ?"
            f" AND (last_slot IS NULL OR last_slot < (CASE slot {case} ELSE '' END)) ORDER BY chat_id",
            [CONSOLE_CHAT, *params],
        )
        return [_subscriber(r) for r in rows]

    def slots_in_use(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT slot FROM digest_subscribers WHERE active=1")]

    def count(self, *, active: bool = True) -> int:
        return int(self._db.execute("SELECT count(*) FROM digest_subscribers WHERE active=?",
                                    (1 if active else 0,)).fetchone()[0])

    # -- the delivery log ----------------------------------------------------------------------

    def plan(self, planned: Sequence[Planned], *, now: datetime) -> list[Planned]:
        """Write built digests to the log in one transaction; returns those actually recorded.

        A row that already exists for the chat and slot (another process, or a rerun) is left
        alone: the primary key makes "one digest per subscriber per slot" a database fact.
        Empty digests are recorded as served and move the cursor at once.
        """
        recorded: list[Planned] = []
        stamp = _iso(now)
        with self._tx() as db:
            for item in planned:
                state = PENDING if item.parts else EMPTY
                cur = db.execute(
                    "INSERT OR IGNORE INTO digest_deliveries (chat_id, slot_key, state, planned_at, covered_until,"
                    " articles, parts, finished_at) VALUES (?,?,?,?,?,?,?,?)",
                    (item.chat_id, item.slot_key, state, stamp,
                     _iso(item.covered_until) if item.covered_until else None, item.articles,
                     json.dumps([p.to_json() for p in item.parts], ensure_ascii=False),
                     None if item.parts else stamp),
                )
                if not cur.rowcount:
                    continue
                recorded.append(item)
                if item.scheduled:
                    db.execute(
                        "UPDATE digest_subscribers SET last_slot=? WHERE chat_id=?"
                        " AND (last_slot IS NULL OR last_slot<?)",
                        (item.slot_key, item.chat_id, item.slot_key))
                self._event(db, now, item.chat_id, item.slot_key, None, "planned" if item.parts else "empty",
                            f"{item.articles} articles, {len(item.parts)} messages")
                if not item.parts:
                    self._advance(db, item.chat_id, item.covered_until)
        return recorded

    def pending(self, *, now: datetime, chat_id: int | None = None) -> list[Delivery]:
        """Deliveries not done yet (a crashed run's, or ones waiting out a network failure)."""
        sql = ("SELECT chat_id, slot_key, parts, parts_sent, attempts, planned_at, message_ids FROM digest_deliveries"
               " WHERE state='pending' AND (retry_at IS NULL OR retry_at <= ?)")
        params: list[object] = [_iso(now)]
        if chat_id is not None:
            sql += " AND chat_id=?"
            params.append(chat_id)
        rows = self._db.execute(sql + " ORDER BY planned_at, chat_id", params)
        return [
            Delivery(int(r[0]), str(r[1]), tuple(Part.from_json(p) for p in json.loads(r[2])), int(r[3]), int(r[4]),
                     datetime.fromisoformat(r[5]), tuple(json.loads(r[6])))
            for r in rows
        ]

    def pending_chats(self) -> set[int]:
        """Chats with a delivery not done (whatever its retry time): no new digest is planned for
        them until it is, or the same articles would go out twice."""
        rows = self._db.execute("SELECT DISTINCT chat_id FROM digest_deliveries WHERE state='pending'")
        return {int(r[0]) for r in rows}

    def still_wanted(self, chat_id: int, slot_key: str, *, now: datetime) -> bool:
        """Whether a pending delivery should still go out: cancelled if the chat unsubscribed."""
        row = self._db.execute(
            "SELECT s.active, d.state FROM digest_deliveries d LEFT JOIN digest_subscribers s USING (chat_id)"
            " WHERE d.chat_id=? AND d.slot_key=?", (chat_id, slot_key)).fetchone()
        if row is None or row[1] != PENDING:
            return False
        if not row[0]:
            with self._tx() as db:
                self._cancel_pending(db, chat_id, now, "unsubscribed")
            return False
        return True

    def record_sent(self, chat_id: int, slot_key: str, part: int, message_id: int, *, now: datetime,
                    last: bool, attempts: int = 1) -> None:
        """Message `part` (0-based) was accepted by Telegram; the last one completes the digest."""
        with self._tx() as db:
            row = db.execute("SELECT message_ids, covered_until FROM digest_deliveries WHERE chat_id=? AND slot_key=?",
                             (chat_id, slot_key)).fetchone()
            ids = [*json.loads(row[0]), message_id] if row else [message_id]
            db.execute(
                "UPDATE digest_deliveries SET parts_sent=?, message_ids=?, attempts=attempts+?, retry_at=NULL,"
                " state=?, finished_at=?, error=NULL WHERE chat_id=? AND slot_key=?",
                (part + 1, json.dumps(ids), attempts, SENT if last else PENDING, _iso(now) if last else None,
                 chat_id, slot_key))
            self._event(db, now, chat_id, slot_key, part, "sent", str(message_id))
            if last and row is not None:
                self._advance(db, chat_id, _dt(row[1]))
                self._event(db, now, chat_id, slot_key, None, "done", None)

    def record_attempt(self, chat_id: int, slot_key: str, part: int, outcome: str, detail: str, *,
                       now: datetime) -> None:
        """A failed attempt that will be retried in this run (429, network error)."""
        with self._tx() as db:
            db.execute("UPDATE digest_deliveries SET attempts=attempts+1, error=? WHERE chat_id=? AND slot_key=?",
                       (detail, chat_id, slot_key))
            self._event(db, now, chat_id, slot_key, part, outcome, detail)

    def record_retry_later(self, chat_id: int, slot_key: str, part: int, detail: str, *, now: datetime,
                           retry_at: datetime) -> None:
        """Transient failures outlasted this run's retries: stays pending, a later run tries again."""
        with self._tx() as db:
            db.execute("UPDATE digest_deliveries SET retry_at=?, error=? WHERE chat_id=? AND slot_key=?",
                       (_iso(retry_at), detail, chat_id, slot_key))
            self._event(db, now, chat_id, slot_key, part, "retry_later", f"{detail}; next at {_iso(retry_at)}")

    def record_blocked(self, chat_id: int, slot_key: str, part: int, detail: str, *, now: datetime) -> None:
        """The chat is unreachable for good (blocked the bot, deleted, gone): stop its digests."""
        with self._tx() as db:
            self._finish(db, chat_id, slot_key, BLOCKED, detail, now)
            self._event(db, now, chat_id, slot_key, part, "blocked", detail)
            db.execute("UPDATE digest_subscribers SET active=0, stopped_reason=?, updated_at=? WHERE chat_id=?",
                       (f"blocked: {detail}"[:200], _iso(now), chat_id))
            self._cancel_pending(db, chat_id, now, "blocked")

    def record_failed(self, chat_id: int, slot_key: str, part: int, detail: str, *, now: datetime) -> None:
        """Telegram refused the message itself (a bug on our side) or we gave up: never resent."""
        with self._tx() as db:
            self._finish(db, chat_id, slot_key, FAILED, detail, now)
            self._event(db, now, chat_id, slot_key, part, "failed", detail)

    def delivery(self, chat_id: int, slot_key: str) -> dict[str, Any] | None:
        """One log row as a dict (for `bantin digest` output and tests)."""
        cur = self._db.execute("SELECT * FROM digest_deliveries WHERE chat_id=? AND slot_key=?", (chat_id, slot_key))
        row = cur.fetchone()
        return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None

    def deliveries(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM digest_deliveries"
        cur = self._db.execute(sql + (" WHERE chat_id=?" if chat_id is not None else "") + " ORDER BY planned_at",
                               (chat_id,) if chat_id is not None else ())
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]

    def events(self, chat_id: int | None = None) -> list[tuple[int, str, int | None, str, str | None]]:
        """(chat, slot, part, outcome, detail) in order: the audit trail of every attempt."""
        sql = "SELECT chat_id, slot_key, part, outcome, detail FROM digest_events"
        rows = self._db.execute(sql + (" WHERE chat_id=?" if chat_id is not None else "") + " ORDER BY id",
                                (chat_id,) if chat_id is not None else ())
        return [(int(r[0]), str(r[1]), r[2], str(r[3]), r[4]) for r in rows]

    # -- the broadcast lease -------------------------------------------------------------------

    def acquire_lock(self, *, now: datetime, ttl: float = 120.0, name: str = "broadcast") -> str | None:
        """Take the broadcast lease; returns a token, or None while another live process holds it."""
        token = uuid.uuid4().hex
        host, pid = socket.gethostname(), os.getpid()
        expires = _iso(now.fromtimestamp(now.timestamp() + ttl, UTC))
        with self._tx() as db:
            row = db.execute("SELECT owner, host, pid, expires_at FROM digest_lock WHERE name=?", (name,)).fetchone()
            if row is not None:
                held_here_by_dead = row[1] == host and not _alive(int(row[2]))
                if not held_here_by_dead and row[3] > _iso(now):
                    return None
            db.execute("INSERT OR REPLACE INTO digest_lock (name, owner, host, pid, expires_at) VALUES (?,?,?,?,?)",
                       (name, token, host, pid, expires))
        return token

    def lock_holder(self, name: str = "broadcast") -> tuple[str, int] | None:
        row = self._db.execute("SELECT host, pid FROM digest_lock WHERE name=?", (name,)).fetchone()
        return (str(row[0]), int(row[1])) if row else None

    def renew_lock(self, token: str, *, now: datetime, ttl: float = 120.0, name: str = "broadcast") -> bool:
        expires = _iso(now.fromtimestamp(now.timestamp() + ttl, UTC))
        with self._tx() as db:
            cur = db.execute("UPDATE digest_lock SET expires_at=? WHERE name=? AND owner=?", (expires, name, token))
        return cur.rowcount > 0

    def release_lock(self, token: str, name: str = "broadcast") -> None:
        with self._tx() as db:
            db.execute("DELETE FROM digest_lock WHERE name=? AND owner=?", (name, token))

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _event(db: sqlite3.Connection, now: datetime, chat_id: int, slot_key: str, part: int | None, outcome: str,
               detail: str | None) -> None:
        db.execute("INSERT INTO digest_events (at, chat_id, slot_key, part, outcome, detail) VALUES (?,?,?,?,?,?)",
                   (_iso(now), chat_id, slot_key, part, outcome, detail))

    @staticmethod
    def _advance(db: sqlite3.Connection, chat_id: int, covered_until: datetime | None) -> None:
        if covered_until is not None:
            stamp = _iso(covered_until)
            rows = db.execute("SELECT since FROM digest_subscribers WHERE chat_id=?", (chat_id,)).fetchone()
            if rows and datetime.fromisoformat(rows[0]) < covered_until:
                db.execute("UPDATE digest_subscribers SET since=? WHERE chat_id=?", (stamp, chat_id))

    @staticmethod
    def _finish(db: sqlite3.Connection, chat_id: int, slot_key: str, state: str, detail: str,
                now: datetime) -> None:
        db.execute("UPDATE digest_deliveries SET state=?, error=?, finished_at=?, attempts=attempts+1"
                   " WHERE chat_id=? AND slot_key=?", (state, detail[:500], _iso(now), chat_id, slot_key))

    def _cancel_pending(self, db: sqlite3.Connection, chat_id: int, now: datetime, why: str) -> None:
        rows = db.execute("SELECT slot_key FROM digest_deliveries WHERE chat_id=? AND state='pending'",
                          (chat_id,)).fetchall()
        for (slot_key,) in rows:
            db.execute("UPDATE digest_deliveries SET state=?, finished_at=?, error=? WHERE chat_id=? AND slot_key=?",
                       (CANCELLED, _iso(now), why, chat_id, slot_key))
            self._event(db, now, chat_id, slot_key, None, "cancelled", why)


_SUB_COLUMNS = ("chat_id, lang, slot, topics, active, since, schedule_from, last_slot, created_at, stopped_reason")


def _subscriber(row: Sequence[Any]) -> Subscriber:
    chat_id, lang, slot, topics, active, since, schedule_from, last_slot, created_at, stopped = row
    return Subscriber(
        chat_id=int(chat_id), lang=str(lang), slot=str(slot), topics=tuple(json.loads(topics)), active=bool(active),
        since=datetime.fromisoformat(since), schedule_from=datetime.fromisoformat(schedule_from),
        last_slot=last_slot, created_at=datetime.fromisoformat(created_at), stopped_reason=stopped,
    )


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a crashed holder frees the lease)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
