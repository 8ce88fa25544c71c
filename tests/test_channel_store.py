"""Group and channel subscribers in the delivery log, on real SQLite files: the migration of an
older `bot.sqlite`, revisions that edit a slot's post, and removal notices that go out once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bantin.bot.digests.store import CHANNEL, GROUP, PRIVATE, Part, Place, Planned, SubscriptionStore

T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # 07:00 in Vietnam
KEY = "2024-05-01T07:00"
CHAN = -1001234567890
EDITOR = 5501

#: `bot.sqlite` as the first release created it (before groups and channels).
OLD_SCHEMA = """
CREATE TABLE digest_subscribers (
    chat_id INTEGER PRIMARY KEY, lang TEXT NOT NULL, slot TEXT NOT NULL, topics TEXT NOT NULL,
    active INTEGER NOT NULL, since TEXT NOT NULL, schedule_from TEXT NOT NULL, last_slot TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, stopped_reason TEXT
);
CREATE INDEX digest_subscribers_active ON digest_subscribers(active, last_slot);
CREATE TABLE digest_deliveries (
    chat_id INTEGER NOT NULL, slot_key TEXT NOT NULL, state TEXT NOT NULL, planned_at TEXT NOT NULL,
    covered_until TEXT, articles INTEGER NOT NULL, parts TEXT NOT NULL, parts_sent INTEGER NOT NULL DEFAULT 0,
    message_ids TEXT NOT NULL DEFAULT '[]', attempts INTEGER NOT NULL DEFAULT 0, retry_at TEXT, finished_at TEXT,
    error TEXT, PRIMARY KEY (chat_id, slot_key)
);
CREATE TABLE digest_events (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, chat_id INTEGER NOT NULL, slot_key TEXT NOT NULL, part INTEGER,
    outcome TEXT NOT NULL, detail TEXT
);
CREATE TABLE digest_lock (name TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    expires_at TEXT NOT NULL);
"""


@pytest.fixture
def subs(tmp_path: Path) -> Iterator[SubscriptionStore]:
    with SubscriptionStore(tmp_path / "bot.sqlite") as store:
        yield store


def channel(subs: SubscriptionStore, chat: int = CHAN, **place: object) -> None:
    subs.subscribe(chat, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1),
                   place=Place(**{"kind": CHANNEL, "title": "Báo Đảng xã", "username": "baodangxa",
                                  "added_by": EDITOR, "added_by_name": "Hoa", "report_chat": EDITOR, **place}))


def columns(path: Path) -> dict[str, list[tuple[str, str, object]]]:
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted((r[1], r[2], r[4]) for r in db.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        db.close()


def test_an_old_file_is_migrated_in_place_and_its_subscribers_keep_working(tmp_path: Path) -> None:
    old = tmp_path / "old" / "bot.sqlite"
    old.parent.mkdir()
    db = sqlite3.connect(old)
    db.executescript(OLD_SCHEMA)
    stamp = (T0 - timedelta(days=2)).isoformat()
    db.execute("INSERT INTO digest_subscribers VALUES (42, 'vi', '07:00', '[\"đảng viên\"]', 1, ?, ?, NULL, ?, ?,"
               " NULL)", (stamp, stamp, stamp, stamp))
    db.execute("INSERT INTO digest_deliveries (chat_id, slot_key, state, planned_at, articles, parts, parts_sent,"
               " message_ids) VALUES (42, '2024-04-30T07:00', 'sent', ?, 1, ?, 1, '[7]')",
               (stamp, json.dumps([{"html": "<b>cũ</b>", "buttons": []}])))
    db.commit()
    db.close()

    with SubscriptionStore(old) as subs:
        sub = subs.get(42)
        assert sub is not None and sub.kind == PRIVATE and sub.active and sub.topics == ("đảng viên",)
        assert not sub.shared and sub.thread_id is None and not sub.silent and sub.notice is None
        row = subs.delivery(42, "2024-04-30T07:00")
        assert row is not None and row.revision == 0 and row.covered_from is None
        assert [p.html for p in subs.pending(now=T0)] == []
        subs.subscribe(42, lang="vi", slot="08:00", topics=None, now=T0)  # still writable as before
        assert subs.get(42).slot == "08:00"  # type: ignore[union-attr]
    with SubscriptionStore(tmp_path / "fresh.sqlite"):
        pass
    assert columns(old) == columns(tmp_path / "fresh.sqlite")  # both routes give the same tables
    with SubscriptionStore(old):  # opening a migrated file again changes nothing
        pass
    assert columns(old) == columns(tmp_path / "fresh.sqlite")


def test_a_channel_records_where_it_goes_and_who_set_it_up(subs: SubscriptionStore) -> None:
    channel(subs)
    sub = subs.get(CHAN)
    assert sub is not None and sub.kind == CHANNEL and sub.shared and sub.title == "Báo Đảng xã"
    assert sub.added_by == EDITOR and sub.report_chat == EDITOR
    assert subs.find_shared("@BaoDangXa") == sub and subs.find_shared(CHAN) == sub
    assert subs.find_shared("@other") is None
    # A settings button (no place) changes the time but not where it goes or whose it is.
    sub, _ = subs.subscribe(CHAN, lang="vi", slot="08:00", topics=None, now=T0)
    assert sub.kind == CHANNEL and sub.username == "baodangxa" and sub.slot == "08:00"
    subs.set_option(CHAN, "header", "Bản tin Đảng bộ xã", now=T0)
    subs.set_option(CHAN, "silent", True, now=T0)
    sub = subs.set_option(CHAN, "lang", "en", now=T0)  # type: ignore[assignment]
    assert sub.header == "Bản tin Đảng bộ xã" and sub.silent and sub.lang == "en"
    assert subs.set_option(CHAN, "header", None, now=T0).header is None  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        subs.set_option(CHAN, "active", True, now=T0)
    assert [s.chat_id for s in subs.shared()] == [CHAN]


def test_a_forum_group_moves_to_the_topic_it_was_subscribed_from(subs: SubscriptionStore) -> None:
    group = -1009
    subs.subscribe(group, lang="vi", slot="07:00", topics=(), now=T0, place=Place(GROUP, thread_id=5))
    subs.subscribe(group, lang="vi", slot="07:00", topics=None, now=T0, place=Place(GROUP, thread_id=9))
    assert subs.get(group).thread_id == 9  # type: ignore[union-attr]
    # A group that never gave its place (a settings button in an old message) is still a group.
    subs.subscribe(-77, lang="vi", slot="07:00", topics=(), now=T0)
    assert subs.get(-77).kind == GROUP and subs.get(77) is None  # type: ignore[union-attr]


def test_a_revision_keeps_the_posted_ids_replaces_edited_ones_and_trims_the_rest(subs: SubscriptionStore) -> None:
    channel(subs)
    first = Planned(CHAN, KEY, (Part("a"), Part("b"), Part("c")), 9, T0, covered_from=T0 - timedelta(days=1))
    subs.plan([first], now=T0)
    for n, message_id in enumerate((11, 12, 13)):
        subs.record_sent(CHAN, KEY, n, message_id, now=T0, last=n == 2)
    assert subs.delivery(CHAN, KEY).state == "sent"  # type: ignore[index]

    later = T0 + timedelta(hours=3)
    revision = Planned(CHAN, KEY, (Part("a2"), Part("b2")), 11, later, revise=True)
    assert subs.plan([revision], now=later) == [revision]
    [pending] = subs.pending(now=later)
    assert pending.message_ids == (11, 12, 13) and pending.parts_sent == 0 and [p.html for p in pending.parts] == [
        "a2", "b2"]
    subs.record_sent(CHAN, KEY, 0, 11, now=later, last=False, edited=True)
    subs.record_sent(CHAN, KEY, 1, 12, now=later, last=True, edited=True)
    row = subs.delivery(CHAN, KEY)
    assert row is not None and row.state == "pending"  # message 13 is still to delete
    assert subs.get(CHAN).since == T0  # type: ignore[union-attr]  # the cursor waits for the end
    subs.record_trimmed(CHAN, KEY, [13], now=later)
    row = subs.delivery(CHAN, KEY)
    assert row is not None and row.state == "sent" and json.loads(row.message_ids) == [11, 12]
    assert row.revision == 1 and row.covered_from == (T0 - timedelta(days=1)).isoformat()
    assert subs.get(CHAN).since == later  # type: ignore[union-attr]
    outcomes = [e[3] for e in subs.events(CHAN)]
    assert outcomes == ["planned", "sent", "sent", "sent", "done", "revised", "edited", "edited", "deleted", "done"]
    # A revision never overtakes a delivery still going.
    subs.plan([Planned(CHAN, KEY, (Part("x"),), 1, later, revise=True)], now=later)
    assert subs.plan([Planned(CHAN, KEY, (Part("y"),), 1, later, revise=True)], now=later) == []


def test_a_removed_channel_stops_and_its_editor_is_told_once(subs: SubscriptionStore) -> None:
    channel(subs)
    subs.subscribe(42, lang="vi", slot="07:00", topics=(), now=T0)
    subs.plan([Planned(CHAN, KEY, (Part("a"),), 1, T0), Planned(42, KEY, (Part("b"),), 1, T0)], now=T0)
    subs.record_blocked(CHAN, KEY, 0, "Forbidden: bot is not a member of the channel chat", now=T0)
    subs.record_blocked(42, KEY, 0, "Forbidden: bot was blocked by the user", now=T0)
    sub = subs.get(CHAN)
    assert sub is not None and not sub.active and sub.notice == "due" and "not a member" in (sub.stopped_reason or "")
    assert subs.get(42).notice is None  # type: ignore[union-attr]  # nobody to tell about a private chat
    [claimed] = subs.claim_notices()
    assert claimed.chat_id == CHAN and claimed.report_chat == EDITOR
    assert subs.claim_notices() == []  # once
    subs.release_notice(CHAN)  # the notice could not be sent this time: due again
    assert [s.chat_id for s in subs.claim_notices()] == [CHAN]
    assert not subs.deactivate(CHAN, "again", now=T0)  # already stopped: no second notice
    assert subs.claim_notices() == []
    channel(subs)  # attached again: a later removal is news again
    assert subs.get(CHAN).active and subs.get(CHAN).notice is None  # type: ignore[union-attr]
    assert subs.deactivate(CHAN, "the bot was removed from the channel (kicked)", now=T0)
    assert [s.chat_id for s in subs.claim_notices()] == [CHAN]
