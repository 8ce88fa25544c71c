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

Groups and channels are subscribers too (`kind`), with what only they need: the forum topic a
group's digest goes to, the editor's header/footer, silent posts, and who attached them and where
to tell them when the bot is removed (`notice`: a removal notice that is *due* until sent, so it
goes out once). Their forced digests reuse the slot's row: `plan` with `revise` rebuilds a row
that is done, keeping the ids of the messages already posted, and the broadcaster edits those
messages instead of posting again.

Older files are migrated in place: columns added since are `ALTER TABLE … ADD COLUMN`ed when
missing (`_ADDED_COLUMNS`), with defaults under which existing private subscribers are unchanged.

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
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bantin.articles.sqlite import ThreadLocalConnections
from bantin.bot.reply import Reply

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
    stopped_reason TEXT,              -- 'user', 'blocked: …' when inactive
    kind TEXT NOT NULL DEFAULT 'private',  -- private | group | channel
    thread_id INTEGER,                -- forum topic a group's digest goes to
    title TEXT,                       -- the group's or channel's title, as last seen
    username TEXT,                    -- its public @username, if any
    header TEXT,                      -- editor's text above a group/channel digest
    footer TEXT,                      -- … and below it
    silent INTEGER NOT NULL DEFAULT 0,     -- post without a notification sound
    added_by INTEGER,                 -- user id of whoever attached or subscribed it
    added_by_name TEXT,
    report_chat INTEGER,              -- where to tell them that the bot was removed
    notice TEXT                       -- NULL | 'due' | 'sent': that removal notice
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
    covered_from TEXT,                -- the digest's exclusive start: a revision rebuilds from it
    revision INTEGER NOT NULL DEFAULT 0,   -- times it was rebuilt to edit the posted messages
    PRIMARY KEY (chat_id, slot_key)
);
CREATE INDEX IF NOT EXISTS digest_deliveries_state ON digest_deliveries(state);
CREATE TABLE IF NOT EXISTS digest_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    slot_key TEXT NOT NULL,
    part INTEGER,
    outcome TEXT NOT NULL,            -- planned | revised | empty | sent | edited | deleted | done
                                      -- | retry_after | network | retry_later | blocked | failed | cancelled | moved
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

#: Columns added after the first release: added to an older file when it is opened. The CREATE
#: TABLE above has them too; tests check that both routes give the same tables.
_ADDED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "digest_subscribers": (
        ("kind", "TEXT NOT NULL DEFAULT 'private'"), ("thread_id", "INTEGER"), ("title", "TEXT"),
        ("username", "TEXT"), ("header", "TEXT"), ("footer", "TEXT"), ("silent", "INTEGER NOT NULL DEFAULT 0"),
        ("added_by", "INTEGER"), ("added_by_name", "TEXT"), ("report_chat", "INTEGER"), ("notice", "TEXT"),
    ),
    "digest_deliveries": (("covered_from", "TEXT"), ("revision", "INTEGER NOT NULL DEFAULT 0")),
}

PRIVATE, GROUP, CHANNEL = "private", "group", "channel"
#: Options an editor can set on a group or channel digest (`set_option`).
OPTIONS = ("header", "footer", "silent", "lang")

#: The offline console's own chat: it can subscribe and preview, but is never broadcast to.
CONSOLE_CHAT = 0

PENDING, SENT, EMPTY, BLOCKED, FAILED, CANCELLED = "pending", "sent", "empty", "blocked", "failed", "cancelled"
DONE_STATES = frozenset({SENT, EMPTY, BLOCKED, FAILED, CANCELLED})


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
    kind: str = PRIVATE
    thread_id: int | None = None
    title: str | None = None
    username: str | None = None
    header: str | None = None
    footer: str | None = None
    silent: bool = False
    added_by: int | None = None
    added_by_name: str | None = None
    report_chat: int | None = None
    notice: str | None = None

    @property
    def shared(self) -> bool:
        """A group or channel: posted to many readers, in the channel layout, without buttons."""
        return self.kind != PRIVATE


@dataclass(frozen=True)
class Place:
    """Where a group or channel digest goes and who set it up, as the handler saw it."""

    kind: str  # group | channel
    thread_id: int | None = None
    title: str | None = None
    username: str | None = None
    added_by: int | None = None
    added_by_name: str | None = None
    report_chat: int | None = None


#: One message of a digest as it will be sent; frozen in the log, so a resumed run posts the same.
Part = Reply


@dataclass(frozen=True)
class DeliveryRow:
    """One row of the delivery log as stored (times ISO 8601 UTC; `parts` and `message_ids` JSON)."""

    chat_id: int
    slot_key: str
    state: str
    planned_at: str
    covered_until: str | None
    articles: int
    parts: str
    parts_sent: int
    message_ids: str
    attempts: int
    retry_at: str | None
    finished_at: str | None
    error: str | None
    covered_from: str | None
    revision: int


_DELIVERY_COLUMNS = ", ".join(f.name for f in fields(DeliveryRow))


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
    covered_from: datetime | None = None  # the exclusive start the digest was built from
    revise: bool = False  # rebuilds the slot's existing row: its posted messages get edited


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
        self._migrate()

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

    def _migrate(self) -> None:
        """Add the columns an older file lacks. In one IMMEDIATE transaction, so two processes
        opening the same old file at once don't both add a column."""
        with self._tx() as db:
            for table, columns in _ADDED_COLUMNS.items():
                have = {str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")}
                for name, declaration in columns:
                    if name not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")

    # -- subscribers ---------------------------------------------------------------------------

    def get(self, chat_id: int) -> Subscriber | None:
        row = self._db.execute(f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE chat_id = ?",
                               (chat_id,)).fetchone()
        return _subscriber(row) if row else None

    def subscribe(self, chat_id: int, *, lang: str, slot: str, topics: Sequence[str] | None,
                  now: datetime, place: Place | None = None) -> tuple[Subscriber, bool]:
        """Create or update a subscription; returns it and whether it was (re)activated.

        `topics=None` keeps the current topics. A new or returning subscriber starts from now (no
        backlog); a changed time is due from its next occurrence, not retroactively today.
        `place` (groups and channels) records where the digest goes and who set it up; without
        it those stay as they were (a settings button changes the time, not the topic or owner).
        """
        with self._tx() as db:
            row = db.execute(f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE chat_id = ?",
                             (chat_id,)).fetchone()
            old = _subscriber(row) if row else None
            if old is not None and old.kind != PRIVATE:
                lang = old.lang  # a group's or channel's digest is in its audience's language, set once
            kept = old.topics if old else ()
            new_topics = json.dumps(list(kept if topics is None else topics), ensure_ascii=False)
            stamp = _iso(now)
            if old is None:
                kind = place.kind if place else (GROUP if chat_id < 0 else PRIVATE)
                db.execute(
                    "INSERT INTO digest_subscribers (chat_id, lang, slot, topics, active, since, schedule_from,"
                    " last_slot, created_at, updated_at, kind) VALUES (?,?,?,?,1,?,?,NULL,?,?,?)",
                    (chat_id, lang, slot, new_topics, stamp, stamp, stamp, stamp, kind),
                )
                activated = True
            else:
                activated = not old.active
                since = stamp if activated else _iso(old.since)
                schedule_from = stamp if (activated or old.slot != slot) else _iso(old.schedule_from)
                db.execute(
                    "UPDATE digest_subscribers SET lang=?, slot=?, topics=?, active=1, since=?, schedule_from=?,"
                    " updated_at=?, stopped_reason=NULL, notice=CASE WHEN ? THEN NULL ELSE notice END"
                    " WHERE chat_id=?",
                    (lang, slot, new_topics, since, schedule_from, stamp, activated, chat_id),
                )
            if place is not None:
                db.execute(
                    "UPDATE digest_subscribers SET kind=?, thread_id=?, title=?, username=?, added_by=?,"
                    " added_by_name=?, report_chat=? WHERE chat_id=?",
                    (place.kind, place.thread_id, place.title, place.username, place.added_by, place.added_by_name,
                     place.report_chat, chat_id),
                )
        sub = self.get(chat_id)
        assert sub is not None
        return sub, activated

    def set_option(self, chat_id: int, name: str, value: str | bool | None, *, now: datetime) -> Subscriber | None:
        """Set a group or channel digest's header, footer (None clears), silent flag or language;
        None when the chat has no subscription. Takes effect from the next digest built."""
        if name not in OPTIONS:
            raise ValueError(f"unknown digest option {name!r}")
        with self._tx() as db:
            db.execute(f"UPDATE digest_subscribers SET {name}=?, updated_at=? WHERE chat_id=?",
                       (int(bool(value)) if name == "silent" else value, _iso(now), chat_id))
        return self.get(chat_id)

    def find_shared(self, target: int | str) -> Subscriber | None:
        """A group or channel subscription by chat id or @username (case-insensitive, as
        Telegram's usernames are): how editors name them in /channel and /digest."""
        if isinstance(target, int):
            row = self._db.execute(f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE chat_id=? AND kind!=?",
                                   (target, PRIVATE)).fetchone()
        else:
            row = self._db.execute(
                f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE lower(username)=? AND kind!=?"
                " ORDER BY active DESC, updated_at DESC LIMIT 1", (target.lstrip("@").lower(), PRIVATE)).fetchone()
        return _subscriber(row) if row else None

    def shared(self) -> list[Subscriber]:
        """Every group and channel subscription, active ones first (what /channels lists)."""
        rows = self._db.execute(f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE kind!=?"
                                " ORDER BY active DESC, kind, lower(coalesce(title, '')), chat_id", (PRIVATE,))
        return [_subscriber(r) for r in rows]

    def deactivate(self, chat_id: int, reason: str, *, now: datetime) -> bool:
        """The bot can no longer post there (removed from a channel, blocked by a user): stop the
        digest, cancel what is pending, and make the removal notice due; False if it was not active."""
        with self._tx() as db:
            stopped = self._stop(db, chat_id, reason, now)
            if stopped:
                self._cancel_pending(db, chat_id, now, "removed")
        return stopped

    def move_chat(self, old: int, new: int, *, now: datetime) -> bool:
        """A group became a supergroup, which Telegram gives a new id: its digest, pending posts
        and history follow it. False when nothing is subscribed under `old`, or `new` already
        has a digest of its own (then `old` is left for the caller to stop)."""
        with self._tx() as db:
            if old == new or db.execute("SELECT 1 FROM digest_subscribers WHERE chat_id=?", (new,)).fetchone():
                return False
            moved = db.execute("UPDATE digest_subscribers SET chat_id=?, kind='group', updated_at=? WHERE chat_id=?",
                               (new, _iso(now), old)).rowcount
            if moved:
                db.execute("UPDATE OR IGNORE digest_deliveries SET chat_id=? WHERE chat_id=?", (new, old))
                db.execute("UPDATE digest_events SET chat_id=? WHERE chat_id=?", (new, old))
                self._event(db, now, new, "", None, "moved", f"from chat {old}")
        return bool(moved)

    def claim_notices(self) -> list[Subscriber]:
        """Removal notices that are due, marked sent in the same transaction: a notice goes out at
        most once, even with two broadcasters (`release_notice` gives one back after a failure)."""
        with self._tx() as db:
            rows = db.execute(f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE notice='due'").fetchall()
            db.execute("UPDATE digest_subscribers SET notice='sent' WHERE notice='due'")
        return [_subscriber(r) for r in rows]

    def release_notice(self, chat_id: int) -> None:
        """Sending the notice failed for a reason that may pass: due again for the next run."""
        with self._tx() as db:
            db.execute("UPDATE digest_subscribers SET notice='due' WHERE chat_id=? AND notice='sent' AND active=0",
                       (chat_id,))

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

    def active(self, chat_id: int | None = None, *, console: bool = False) -> list[Subscriber]:
        """Active subscribers (the console's chat excluded unless asked for by id, or with
        `console`: a dry run shows it too, since that is where an operator tries digests)."""
        if chat_id is None and console:
            rows = self._db.execute(
                f"SELECT {_SUB_COLUMNS} FROM digest_subscribers WHERE active=1 ORDER BY chat_id")
        elif chat_id is not None:
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
                if item.revise:
                    if self._revise(db, item, now):
                        recorded.append(item)
                    continue
                state = PENDING if item.parts else EMPTY
                cur = db.execute(
                    "INSERT OR IGNORE INTO digest_deliveries (chat_id, slot_key, state, planned_at, covered_until,"
                    " articles, parts, finished_at, covered_from) VALUES (?,?,?,?,?,?,?,?,?)",
                    (item.chat_id, item.slot_key, state, stamp,
                     _iso(item.covered_until) if item.covered_until else None, item.articles,
                     json.dumps([p.to_json() for p in item.parts], ensure_ascii=False),
                     None if item.parts else stamp, _iso(item.covered_from) if item.covered_from else None),
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

    def _revise(self, db: sqlite3.Connection, item: Planned, now: datetime) -> bool:
        """A done row gets new content and is pending again; `message_ids` stays, so the
        broadcaster edits those messages (part n → message n), sends any extra parts and deletes
        surplus ones. A pending row is left to its delivery. The cursor never moves back."""
        cur = db.execute(
            "UPDATE digest_deliveries SET state=?, planned_at=?, covered_until=?, articles=?, parts=?, parts_sent=0,"
            " attempts=0, retry_at=NULL, finished_at=NULL, error=NULL, revision=revision+1"
            " WHERE chat_id=? AND slot_key=? AND state!=?",
            (PENDING, _iso(now), _iso(item.covered_until) if item.covered_until else None, item.articles,
             json.dumps([p.to_json() for p in item.parts], ensure_ascii=False), item.chat_id, item.slot_key,
             PENDING))
        if cur.rowcount:
            self._event(db, now, item.chat_id, item.slot_key, None, "revised",
                        f"{item.articles} articles, {len(item.parts)} messages")
        return cur.rowcount > 0

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
                    last: bool, attempts: int = 1, edited: bool = False) -> None:
        """Message `part` (0-based) was accepted by Telegram (sent, or `edited` in place); the last
        one completes the digest, unless a revision left older messages to delete first."""
        with self._tx() as db:
            row = db.execute("SELECT message_ids, covered_until, parts FROM digest_deliveries"
                             " WHERE chat_id=? AND slot_key=?", (chat_id, slot_key)).fetchone()
            ids: list[int] = json.loads(row[0]) if row else []
            if part < len(ids):
                ids[part] = message_id
            else:
                ids.append(message_id)
            done = last and (row is None or len(ids) <= len(json.loads(row[2])))
            db.execute(
                "UPDATE digest_deliveries SET parts_sent=?, message_ids=?, attempts=attempts+?, retry_at=NULL,"
                " state=?, finished_at=?, error=NULL WHERE chat_id=? AND slot_key=?",
                (part + 1, json.dumps(ids), attempts, SENT if done else PENDING, _iso(now) if done else None,
                 chat_id, slot_key))
            self._event(db, now, chat_id, slot_key, part, "edited" if edited else "sent", str(message_id))
            if done and row is not None:
                self._advance(db, chat_id, _dt(row[1]))
                self._event(db, now, chat_id, slot_key, None, "done", None)

    def record_trimmed(self, chat_id: int, slot_key: str, deleted: Sequence[int], *, now: datetime) -> None:
        """A revision with fewer messages than were posted: the surplus ones are deleted (or could
        not be, `deleted` lists the ids tried) and the digest is complete."""
        with self._tx() as db:
            row = db.execute("SELECT message_ids, covered_until, parts FROM digest_deliveries"
                             " WHERE chat_id=? AND slot_key=?", (chat_id, slot_key)).fetchone()
            if row is None:
                return
            ids = json.loads(row[0])[: len(json.loads(row[2]))]
            db.execute("UPDATE digest_deliveries SET message_ids=?, state=?, finished_at=?, error=NULL"
                       " WHERE chat_id=? AND slot_key=?", (json.dumps(ids), SENT, _iso(now), chat_id, slot_key))
            self._event(db, now, chat_id, slot_key, None, "deleted", " ".join(str(i) for i in deleted))
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
            self._stop(db, chat_id, f"blocked: {detail}", now)
            self._cancel_pending(db, chat_id, now, "blocked")

    def record_failed(self, chat_id: int, slot_key: str, part: int, detail: str, *, now: datetime) -> None:
        """Telegram refused the message itself (a bug on our side) or we gave up: never resent."""
        with self._tx() as db:
            self._finish(db, chat_id, slot_key, FAILED, detail, now)
            self._event(db, now, chat_id, slot_key, part, "failed", detail)

    def delivery(self, chat_id: int, slot_key: str) -> DeliveryRow | None:
        """One log row (for `bantin digest` output and tests)."""
        row = self._db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM digest_deliveries WHERE chat_id=? AND slot_key=?",
                               (chat_id, slot_key)).fetchone()
        return DeliveryRow(*row) if row else None

    def deliveries(self, chat_id: int | None = None) -> list[DeliveryRow]:
        sql = f"SELECT {_DELIVERY_COLUMNS} FROM digest_deliveries"
        cur = self._db.execute(sql + (" WHERE chat_id=?" if chat_id is not None else "") + " ORDER BY planned_at",
                               (chat_id,) if chat_id is not None else ())
        return [DeliveryRow(*r) for r in cur]

    def latest_delivery(self, chat_id: int) -> DeliveryRow | None:
        """The newest row of a chat's log (its last post and how it went), for /channels."""
        row = self._db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM digest_deliveries WHERE chat_id=? "
                               "ORDER BY planned_at DESC LIMIT 1", (chat_id,)).fetchone()
        return DeliveryRow(*row) if row else None

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

    @staticmethod
    def _stop(db: sqlite3.Connection, chat_id: int, reason: str, now: datetime) -> bool:
        """Deactivate; a group or channel with someone to tell gets its removal notice due."""
        cur = db.execute(
            "UPDATE digest_subscribers SET active=0, stopped_reason=?, updated_at=?,"
            " notice=CASE WHEN kind!=? AND report_chat IS NOT NULL THEN 'due' ELSE notice END"
            " WHERE chat_id=? AND active=1", (reason[:200], _iso(now), PRIVATE, chat_id))
        return cur.rowcount > 0

    def _cancel_pending(self, db: sqlite3.Connection, chat_id: int, now: datetime, why: str) -> None:
        rows = db.execute("SELECT slot_key FROM digest_deliveries WHERE chat_id=? AND state='pending'",
                          (chat_id,)).fetchall()
        for (slot_key,) in rows:
            db.execute("UPDATE digest_deliveries SET state=?, finished_at=?, error=? WHERE chat_id=? AND slot_key=?",
                       (CANCELLED, _iso(now), why, chat_id, slot_key))
            self._event(db, now, chat_id, slot_key, None, "cancelled", why)


_SUB_COLUMNS = ("chat_id, lang, slot, topics, active, since, schedule_from, last_slot, created_at, stopped_reason,"
                " kind, thread_id, title, username, header, footer, silent, added_by, added_by_name, report_chat,"
                " notice")


def _subscriber(row: Sequence[Any]) -> Subscriber:
    (chat_id, lang, slot, topics, active, since, schedule_from, last_slot, created_at, stopped, kind, thread_id,
     title, username, header, footer, silent, added_by, added_by_name, report_chat, notice) = row
    return Subscriber(
        chat_id=int(chat_id), lang=str(lang), slot=str(slot), topics=tuple(json.loads(topics)), active=bool(active),
        since=datetime.fromisoformat(since), schedule_from=datetime.fromisoformat(schedule_from),
        last_slot=last_slot, created_at=datetime.fromisoformat(created_at), stopped_reason=stopped,
        kind=str(kind or PRIVATE), thread_id=thread_id, title=title, username=username, header=header, footer=footer,
        silent=bool(silent), added_by=added_by, added_by_name=added_by_name, report_chat=report_chat, notice=notice,
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


def subscriber_counts(state_path: Path) -> tuple[int, int]:
    """(active, inactive) digest subscribers for the editors' /stats, read-only and defensively:
    before digests ever ran there is no table (or no file), which means 0/0; a read must not
    create the state file either."""
    if not state_path.exists():
        return 0, 0
    try:
        db = sqlite3.connect(f"file:{state_path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0, 0
    try:
        rows = db.execute(
            "SELECT active, count(*) FROM digest_subscribers WHERE chat_id != 0 GROUP BY active"
        ).fetchall()
    except sqlite3.Error:
        return 0, 0
    finally:
        db.close()
    counts = {bool(active): int(n) for active, n in rows}
    return counts.get(True, 0), counts.get(False, 0)
