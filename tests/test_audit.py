"""The audit log and the query counter: real SQLite files, shared with other features' tables."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bantin.bot.newsroom import audit as au
from bantin.bot.newsroom.usage import QueryCounter, count_query


def test_actions_are_recorded_with_who_what_when_and_result(tmp_path: Path) -> None:
    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    with au.AuditLog(tmp_path / "bot.sqlite") as log:
        log.record(42, "Lan", "reindex", au.REFUSED, {"data": "e|r"}, now=now)
        run = log.begin(7, "Hoa", "reindex", now=now + timedelta(minutes=1))
        assert log.last_reindex() is None  # a running run is not "the last reindex" yet
        log.finish(run, au.OK, {"added": 3}, now=now + timedelta(minutes=2))
        newest, refused = log.recent()
    assert (refused.user_id, refused.user_name, refused.action, refused.result) == (42, "Lan", "reindex", "refused")
    assert refused.detail == {"data": "e|r"} and refused.started_at == now
    assert (newest.user_id, newest.result, newest.detail) == (7, "ok", {"added": 3})
    assert newest.finished_at == now + timedelta(minutes=2)


def test_last_reindex_is_the_newest_finished_run(tmp_path: Path) -> None:
    with au.AuditLog(tmp_path / "bot.sqlite") as log:
        first = log.begin(1, "A", "reindex")
        log.finish(first, au.FAILED, {"index_busy": True})
        log.record(2, "B", "stats", au.OK)
        second = log.begin(None, "", "scan")
        log.finish(second, au.OK)
        log.begin(1, "A", "reindex full")  # still running
        last = log.last_reindex()
    assert last is not None and last.id == second and last.user_id is None and last.action == "scan"


def test_runs_left_running_by_a_killed_process_become_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    with au.AuditLog(path) as log:
        run = log.begin(1, "Hoa", "reindex")
    # the process was killed here; a new one opens the same file
    with au.AuditLog(path) as log:
        assert log.interrupt_stale() == 1
        assert log.interrupt_stale() == 0
        last = log.last_reindex()
    assert last is not None and last.id == run and last.result == au.INTERRUPTED and last.finished_at


def test_shares_the_state_file_with_other_features(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE digest_subscribers (chat_id INTEGER PRIMARY KEY, active INTEGER)")
    db.execute("INSERT INTO digest_subscribers VALUES (5, 1)")
    db.commit()
    db.close()
    with au.AuditLog(path) as log:
        log.record(1, "A", "stats", au.OK)
    with au.AuditLog(path) as log:  # reopening is harmless
        assert len(log.recent()) == 1
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM digest_subscribers").fetchone()[0] == 1
    db.close()


def test_editor_menu_users_are_remembered(tmp_path: Path) -> None:
    with au.AuditLog(tmp_path / "bot.sqlite") as log:
        assert log.menu_users() == set()
        log.set_menu_users({1, 2})
        log.set_menu_users({2, 3})
        assert log.menu_users() == {2, 3}


def test_queries_are_counted_per_vietnam_day_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    clock = [datetime(2026, 11, 20, 16, 30, tzinfo=UTC)]  # 23:30 in Vietnam
    counter = QueryCounter(path, clock=lambda: clock[0])
    for _ in range(3):
        counter.add()
    assert counter.today() == 3  # before any flush
    counter.flush()
    counter.add()
    assert counter.today() == 4
    clock[0] += timedelta(hours=1)  # 00:30 the next day in Vietnam, still the 20th in UTC
    assert counter.today() == 0
    counter.add(2)
    counter.flush()
    restarted = QueryCounter(path, clock=lambda: clock[0])
    assert restarted.today() == 2
    clock[0] -= timedelta(hours=1)
    assert restarted.today() == 4  # the unflushed one of the 20th was written by the second flush


def test_count_query_without_a_counter_is_a_no_op(tmp_path: Path) -> None:
    count_query(None)
    counter = QueryCounter(tmp_path / "bot.sqlite")
    count_query(counter)
    assert counter.today() == 1


def test_a_spammers_refused_attempts_are_counted_not_piled_up(tmp_path: Path) -> None:
    start = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    with au.AuditLog(tmp_path / "bot.sqlite") as log:
        for n in range(500):
            log.record(42, "Spam", "reindex", au.REFUSED, {"data": "e|r"}, now=start + timedelta(seconds=n))
        log.record(43, "Lan", "stats", au.REFUSED, now=start)  # someone else is still recorded
        rows = log.recent(1000)
        assert len([r for r in rows if r.user_id == 42]) == au.REFUSALS_PER_HOUR and len(rows) == 11
        last = max((r for r in rows if r.user_id == 42), key=lambda r: r.id)
        assert last.detail == {"data": "e|r", "more": 500 - au.REFUSALS_PER_HOUR}
        assert last.finished_at == start + timedelta(seconds=499)  # when the last attempt came
        log.record(42, "Spam", "reindex", au.REFUSED, now=start + timedelta(hours=1, seconds=10))
        assert len([r for r in log.recent(1000) if r.user_id == 42]) == au.REFUSALS_PER_HOUR + 1  # a new hour
        log.record(42, "Spam", "stats", au.OK, now=start)  # only refusals are limited
        assert log.recent(1)[0].result == au.OK


def test_the_audit_table_keeps_the_newest_rows(tmp_path: Path) -> None:
    with au.AuditLog(tmp_path / "bot.sqlite", max_rows=50) as log:
        run = log.begin(7, "Hoa", "reindex")
        for n in range(200):
            log.record(n, "User", "stats", au.OK)
        rows = log.recent(1000)
        assert len(rows) == 51 and rows[0].user_id == 199 and rows[49].user_id == 150
        assert rows[50].id == run  # a run still going is kept until it ends
