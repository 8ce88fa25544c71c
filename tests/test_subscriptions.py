"""The subscription store and delivery log on real SQLite files: what survives restarts, and what
makes one digest per subscriber per slot a database fact."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bantin.bot.digests.store import CONSOLE_CHAT, Part, Planned, SubscriptionStore
from bantin.bot.reply import Button

T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # 07:00 in Vietnam


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite"


@pytest.fixture
def subs(path: Path) -> Iterator[SubscriptionStore]:
    with SubscriptionStore(path) as store:
        yield store


def planned(chat: int, key: str, parts: int = 1, *, until: datetime | None = T0, scheduled: bool = True) -> Planned:
    return Planned(chat, key, tuple(Part(f"<b>{chat}</b> {n}", ((Button("more", "d|g"),),)) for n in range(parts)),
                   articles=3 * parts, covered_until=until, scheduled=scheduled)


def test_subscribe_persists_across_reopen(path: Path) -> None:
    with SubscriptionStore(path) as subs:
        sub, activated = subs.subscribe(42, lang="vi", slot="18:30", topics=("đảng viên",), now=T0)
        assert activated and sub.active and sub.slot == "18:30" and sub.topics == ("đảng viên",)
    with SubscriptionStore(path) as subs:
        again = subs.get(42)
        assert again is not None and again.topics == ("đảng viên",) and again.since == T0


def test_resubscribe_keeps_topics_and_cursor_unless_changed(subs: SubscriptionStore) -> None:
    subs.subscribe(1, lang="vi", slot="07:00", topics=("a",), now=T0)
    later = T0 + timedelta(hours=5)
    sub, activated = subs.subscribe(1, lang="en", slot="07:00", topics=None, now=later)
    assert not activated and sub.topics == ("a",) and sub.lang == "en"
    assert sub.since == T0 and sub.schedule_from == T0  # same time: the slot schedule is unchanged
    sub, _ = subs.subscribe(1, lang="vi", slot="08:00", topics=(), now=later)
    assert sub.topics == () and sub.schedule_from == later  # a new time counts from now


def test_returning_subscriber_starts_from_now(subs: SubscriptionStore) -> None:
    subs.subscribe(1, lang="vi", slot="07:00", topics=(), now=T0)
    assert subs.unsubscribe(1, now=T0 + timedelta(days=1))
    assert not subs.unsubscribe(1, now=T0 + timedelta(days=1))  # already stopped
    back = T0 + timedelta(days=30)
    sub, activated = subs.subscribe(1, lang="vi", slot="07:00", topics=None, now=back)
    assert activated and sub.since == back  # no month of backlog


def test_a_slot_is_planned_once(subs: SubscriptionStore) -> None:
    subs.subscribe(5, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1))
    first = subs.plan([planned(5, "2024-05-01T07:00")], now=T0)
    second = subs.plan([planned(5, "2024-05-01T07:00")], now=T0 + timedelta(minutes=1))
    assert len(first) == 1 and second == []
    assert len(subs.deliveries(5)) == 1
    assert subs.get(5).last_slot == "2024-05-01T07:00"  # type: ignore[union-attr]


def test_partial_delivery_resumes_where_it_stopped(path: Path) -> None:
    with SubscriptionStore(path) as subs:
        subs.subscribe(7, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1))
        subs.plan([planned(7, "k", parts=3)], now=T0)
        subs.record_sent(7, "k", 0, 101, now=T0, last=False)
    with SubscriptionStore(path) as subs:  # "after a crash"
        [pending] = subs.pending(now=T0)
        assert pending.parts_sent == 1 and len(pending.parts) == 3 and pending.message_ids == (101,)
        subs.record_sent(7, "k", 1, 102, now=T0, last=False)
        subs.record_sent(7, "k", 2, 103, now=T0, last=True)
        assert subs.pending(now=T0) == []
        row = subs.delivery(7, "k")
        assert row is not None and row.state == "sent" and row.parts_sent == 3
        assert subs.get(7).since == T0  # type: ignore[union-attr]  # the cursor moved to covered_until


def test_cursor_moves_only_when_delivered_or_empty(subs: SubscriptionStore) -> None:
    start = T0 - timedelta(days=1)
    subs.subscribe(1, lang="vi", slot="07:00", topics=(), now=start)
    subs.subscribe(2, lang="vi", slot="07:00", topics=(), now=start)
    subs.plan([planned(1, "k"), Planned(2, "k", (), 0, T0)], now=T0)
    assert subs.get(1).since == start  # type: ignore[union-attr]  # pending: not yet
    assert subs.get(2).since == T0  # type: ignore[union-attr]  # nothing new: considered, moved
    assert subs.delivery(2, "k").state == "empty"  # type: ignore[index]
    assert [d.chat_id for d in subs.pending(now=T0)] == [1]


def test_blocked_chat_is_deactivated_with_its_pending_digests(subs: SubscriptionStore) -> None:
    subs.subscribe(9, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=2))
    subs.plan([planned(9, "a"), planned(9, "b", scheduled=False)], now=T0)
    subs.record_blocked(9, "a", 0, "Forbidden: bot was blocked by the user", now=T0)
    sub = subs.get(9)
    assert sub is not None and not sub.active and "blocked" in (sub.stopped_reason or "")
    assert subs.delivery(9, "a").state == "blocked"  # type: ignore[index]
    assert subs.delivery(9, "b").state == "cancelled"  # type: ignore[index]
    assert [e[3] for e in subs.events(9)][-2:] == ["blocked", "cancelled"]


def test_unsubscribe_cancels_pending(subs: SubscriptionStore) -> None:
    subs.subscribe(3, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=2))
    subs.plan([planned(3, "k")], now=T0)
    subs.unsubscribe(3, now=T0)
    assert subs.pending(now=T0) == [] and not subs.still_wanted(3, "k", now=T0)


def test_retry_later_waits_for_its_time(subs: SubscriptionStore) -> None:
    subs.subscribe(4, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=2))
    subs.plan([planned(4, "k")], now=T0)
    subs.record_retry_later(4, "k", 0, "timed out", now=T0, retry_at=T0 + timedelta(minutes=5))
    assert subs.pending(now=T0 + timedelta(minutes=4)) == []
    assert len(subs.pending(now=T0 + timedelta(minutes=5))) == 1
    assert subs.pending_chats() == {4}


def test_console_chat_is_never_broadcast(subs: SubscriptionStore) -> None:
    subs.subscribe(CONSOLE_CHAT, lang="vi", slot="07:00", topics=(), now=T0)
    subs.subscribe(11, lang="vi", slot="07:00", topics=(), now=T0)
    assert [s.chat_id for s in subs.active()] == [11]
    assert [s.chat_id for s in subs.active(CONSOLE_CHAT)] == [CONSOLE_CHAT]
    assert [s.chat_id for s in subs.candidates_for({"07:00": "2024-05-02T07:00"})] == [11]


def test_other_features_tables_in_the_same_file_are_left_alone(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE usage (day TEXT PRIMARY KEY, queries INTEGER)")
        db.execute("INSERT INTO usage VALUES ('2024-05-01', 12)")
    with SubscriptionStore(path) as subs:
        subs.subscribe(1, lang="vi", slot="07:00", topics=(), now=T0)
    with SubscriptionStore(path), sqlite3.connect(path) as db:  # opening twice is harmless too
        assert db.execute("SELECT queries FROM usage").fetchone() == (12,)


def test_broadcast_lease_is_exclusive_and_freed_by_a_dead_holder(subs: SubscriptionStore) -> None:
    token = subs.acquire_lock(now=T0)
    assert token is not None
    assert subs.acquire_lock(now=T0) is None  # held by us, alive
    subs.release_lock(token)
    assert subs.acquire_lock(now=T0) is not None
    # A holder that died on this host (its pid is gone) frees the lease at once…
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with sqlite3.connect(subs.path) as db:
        db.execute("UPDATE digest_lock SET pid=?", (int(dead.stdout),))
    assert subs.acquire_lock(now=T0) is not None
    # …one elsewhere only when its lease expires.
    with sqlite3.connect(subs.path) as db:
        db.execute("UPDATE digest_lock SET host='elsewhere', pid=?", (os.getpid(),))
    assert subs.acquire_lock(now=T0 + timedelta(seconds=60)) is None
    assert subs.acquire_lock(now=T0 + timedelta(seconds=121)) is not None
