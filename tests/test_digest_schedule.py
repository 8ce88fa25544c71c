"""When digests are due, with a controllable clock: no test here sleeps or waits for a minute."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.ext import Application

from bantin.bot.digests.scheduler import CATCH_UP_JOB, MISFIRE_GRACE, TICK_JOB, DigestScheduler, tick_job_kwargs
from bantin.bot.digests.slots import (
    VIETNAM,
    due_subscribers,
    is_due,
    latest_slot,
    next_slot,
    parse_clock,
    shift_clock,
    slot_key,
)
from bantin.bot.digests.store import Part, Planned, SubscriptionStore


def vn(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in May 2024, Vietnam time."""
    return datetime(2024, 5, day, hour, minute, second, tzinfo=VIETNAM)


@pytest.fixture
def subs(tmp_path: Path) -> Iterator[SubscriptionStore]:
    with SubscriptionStore(tmp_path / "bot.sqlite") as store:
        yield store


@pytest.mark.parametrize(("text", "slot"), [
    ("18:30", "18:30"), ("7:05", "07:05"), ("07:00", "07:00"), ("18h30", "18:30"), ("18h", "18:00"),
    ("18g30", "18:30"), ("7 giờ", "07:00"), ("7 giờ 30", "07:30"), ("7 giờ 30 phút", "07:30"), ("6", "06:00"),
    ("0:00", "00:00"), ("23:59", "23:59"),
])
def test_times_as_people_type_them(text: str, slot: str) -> None:
    assert parse_clock(text) == slot


@pytest.mark.parametrize("text", ["25:99", "24:00", "7:60", "abc", "", "18:3", "-1", "7h300"])
def test_impossible_times(text: str) -> None:
    assert parse_clock(text) is None


def test_slots_are_vietnam_time_across_midnight() -> None:
    assert latest_slot("07:00", vn(1, 7)) == vn(1, 7)  # at the minute itself
    assert latest_slot("07:00", vn(1, 6, 59)) == datetime(2024, 4, 30, 7, tzinfo=VIETNAM)
    # 23:30 UTC on 30 April is 06:30 on 1 May in Vietnam: the last 07:00 was on 30 April.
    assert latest_slot("07:00", datetime(2024, 4, 30, 23, 30, tzinfo=UTC)) == datetime(2024, 4, 30, 7, tzinfo=VIETNAM)
    assert next_slot("23:30", vn(1, 23, 45)) == vn(2, 23, 30)
    assert slot_key(datetime(2024, 5, 1, 0, 0, tzinfo=UTC)) == "2024-05-01T07:00"
    assert shift_clock("23:45", 30) == "00:15" and shift_clock("00:10", -30) == "23:40"


def test_due_at_the_slot_and_only_once(subs: SubscriptionStore) -> None:
    subs.subscribe(1, lang="vi", slot="07:00", topics=(), now=vn(1, 20))
    assert due_subscribers(subs, vn(2, 6, 59, 59)) == []
    [(sub, key)] = due_subscribers(subs, vn(2, 7))
    assert sub.chat_id == 1 and key == "2024-05-02T07:00"
    subs.plan([Planned(1, key, (Part("x"),), 1, vn(2, 7))], now=vn(2, 7))
    assert due_subscribers(subs, vn(2, 7, 1)) == []
    assert due_subscribers(subs, vn(2, 23, 59)) == []
    assert [k for _, k in due_subscribers(subs, vn(3, 7))] == ["2024-05-03T07:00"]


def test_subscribing_after_todays_slot_waits_for_tomorrow(subs: SubscriptionStore) -> None:
    subs.subscribe(1, lang="vi", slot="07:00", topics=(), now=vn(1, 7, 0, 30))  # 30 s too late
    assert due_subscribers(subs, vn(1, 12)) == []
    assert len(due_subscribers(subs, vn(2, 7))) == 1


def test_downtime_catches_up_once_not_per_missed_day(subs: SubscriptionStore) -> None:
    subs.subscribe(1, lang="vi", slot="07:00", topics=(), now=vn(1, 8))
    subs.plan([Planned(1, "2024-05-02T07:00", (), 0, vn(2, 7))], now=vn(2, 7))
    # Down from 2 May 08:00 until 5 May 10:00: the 3, 4 and 5 May slots were missed.
    due = due_subscribers(subs, vn(5, 10))
    assert [k for _, k in due] == ["2024-05-05T07:00"]  # the newest only
    subs.plan([Planned(1, "2024-05-05T07:00", (), 0, vn(5, 10))], now=vn(5, 10))
    for minute in range(1, 60 * 20, 7):  # every tick until the next slot: nothing more
        assert due_subscribers(subs, vn(5, 10) + timedelta(minutes=minute)) == []


def test_changing_the_time_is_not_retroactive(subs: SubscriptionStore) -> None:
    subs.subscribe(1, lang="vi", slot="18:00", topics=(), now=vn(1, 6))
    subs.subscribe(1, lang="vi", slot="08:00", topics=None, now=vn(2, 9))  # 08:00 today already passed
    assert due_subscribers(subs, vn(2, 9, 1)) == []
    assert due_subscribers(subs, vn(2, 18)) == []  # the old time no longer counts
    assert [k for _, k in due_subscribers(subs, vn(3, 8))] == ["2024-05-03T08:00"]


def test_a_later_time_today_still_comes_today(subs: SubscriptionStore) -> None:
    subs.subscribe(1, lang="vi", slot="07:00", topics=(), now=vn(1, 6))
    subs.plan([Planned(1, "2024-05-02T07:00", (), 0, vn(2, 7))], now=vn(2, 7))
    subs.subscribe(1, lang="vi", slot="18:30", topics=None, now=vn(2, 9))
    assert [k for _, k in due_subscribers(subs, vn(2, 18, 30))] == ["2024-05-02T18:30"]


def test_many_subscribers_many_slots(subs: SubscriptionStore) -> None:
    slots = ["06:00", "07:00", "07:30", "18:30", "23:59"]
    for chat in range(1, 101):
        subs.subscribe(chat, lang="vi", slot=slots[chat % len(slots)], topics=(), now=vn(1, 0, 1))
    assert len(due_subscribers(subs, vn(1, 7))) == 40  # 06:00 and 07:00 came; 07:30 not yet
    assert len(due_subscribers(subs, vn(2, 0, 0))) == 100
    assert is_due(subs.get(1), vn(1, 5)) is None  # type: ignore[arg-type]


def test_tick_job_configuration() -> None:
    """A minute cron in Asia/Ho_Chi_Minh that survives a busy loop: grace ≫ APScheduler's 1 s."""
    application = Application.builder().token("123:TEST").build()
    assert application.job_queue is not None

    async def run(should_stop: object) -> None:
        return None

    DigestScheduler(run).schedule(application.job_queue)
    jobs = {job.name: job for job in application.job_queue.jobs()}
    assert set(jobs) == {TICK_JOB, CATCH_UP_JOB}
    tick = jobs[TICK_JOB].job
    assert str(tick.trigger.timezone) == "Asia/Ho_Chi_Minh"
    assert tick.misfire_grace_time == MISFIRE_GRACE >= 600 and tick.coalesce and tick.max_instances == 1
    fire = tick.trigger.get_next_fire_time(None, vn(1, 6, 59, 30))
    assert fire == vn(1, 7)
    assert tick_job_kwargs()["misfire_grace_time"] == MISFIRE_GRACE
    assert jobs[CATCH_UP_JOB].job.misfire_grace_time == MISFIRE_GRACE


async def test_the_tick_starts_one_run_at_a_time_and_stop_waits_for_it() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    stops: list[bool] = []

    async def run(should_stop: object) -> str:
        started.set()
        await release.wait()
        stops.append(should_stop())  # type: ignore[operator]
        return "done"

    scheduler = DigestScheduler(run)
    await scheduler.tick()
    await started.wait()
    await scheduler.tick()  # a tick during a long broadcast does not start a second one
    assert scheduler.runs == 1 and scheduler.running
    stopping = asyncio.create_task(scheduler.stop(timeout=5))
    await asyncio.sleep(0)
    release.set()
    await stopping
    assert stops == [True] and not scheduler.running  # the run saw the stop request
    await scheduler.tick()
    assert scheduler.runs == 1  # stopped: no new run
