"""When digests are due: slot arithmetic in Vietnam time (the JobQueue job is `bot.digests.scheduler`).

Design: one job that ticks every minute (a cron trigger at second 0, in Asia/Ho_Chi_Minh) and asks
the subscription store which subscribers have a slot that has come and is not planned yet, rather
than one APScheduler job per subscriber. Why:

* the truth lives in SQLite, not in the scheduler's memory: a restart, a crash or a cron'd
  `bantin digest` all see the same state, and there are no 10,000 jobs to rebuild at start-up or
  to move when someone changes their time;
* catching up after downtime is the same code path: a tick only looks at each subscriber's most
  recent slot, so a bot that was down over one or several slots sends exactly one digest (covering
  the whole gap) on its first tick, never one per missed day;
* a tick that APScheduler runs late (a busy event loop, a suspended laptop) loses nothing: the
  next tick finds the same due slots. Still, the job gets a generous `misfire_grace_time`
  (APScheduler's default of 1 s silently drops a run that starts late) and `coalesce`, so a
  backlog of missed ticks runs once, not in a burst;
* one broadcast at a time through one throttle keeps the whole bot inside Telegram's limits.

Slots are minutes of the day in Vietnam time (UTC+7, no daylight saving). Everything here takes
`now` as a parameter so tests drive it with a fake clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from bantin.bot.clock import VIETNAM
from bantin.bot.digests.store import Subscriber, SubscriptionStore

log = logging.getLogger(__name__)

_CLOCK = re.compile(r"^([01]?\d|2[0-3])(?:\s*(?::|h|g|giờ|gio)\s*([0-5]\d)?)?(?:\s*(?:phút|phut|p))?$", re.IGNORECASE)


def parse_clock(text: str) -> str | None:
    """A time of day as people type it → 'HH:MM'; None when it is not one.

    Accepts 18:30, 7:05, 18h30, 18h, 18g30, 7 giờ, 7 giờ 30 (phút), and a bare hour 0–23.
    """
    cleaned = " ".join(text.strip().split())
    match = _CLOCK.match(cleaned)
    if not match:
        return None
    return f"{int(match[1]):02d}:{match[2] or '00'}"


def looks_like_clock(text: str) -> bool:
    """Whether a word was meant as a time (starts with a digit), so '25:99' gets a time error."""
    return bool(re.match(r"^\d{1,2}(\s*(:|h|g|giờ|gio)|\s*$|\d)", text.strip(), re.IGNORECASE))


def clock_time(slot: str) -> time:
    hours, minutes = slot.split(":")
    return time(int(hours), int(minutes))


def shift_clock(slot: str, minutes: int) -> str:
    """'07:00' shifted by `minutes`, wrapping around midnight."""
    at = clock_time(slot)
    total = (at.hour * 60 + at.minute + minutes) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"


def local(moment: datetime) -> datetime:
    return moment.astimezone(VIETNAM)


def slot_on(slot: str, day: date) -> datetime:
    return datetime.combine(day, clock_time(slot), tzinfo=VIETNAM)


def latest_slot(slot: str, now: datetime) -> datetime:
    """The most recent occurrence of `slot` at or before `now`."""
    today = slot_on(slot, local(now).date())
    return today if today <= now else today - timedelta(days=1)


def next_slot(slot: str, now: datetime) -> datetime:
    """The first occurrence of `slot` strictly after `now` (for 'your next digest is at …')."""
    return latest_slot(slot, now) + timedelta(days=1)


def slot_key(moment: datetime) -> str:
    """'2024-05-01T07:00' in Vietnam time: sorts chronologically as text, one per slot."""
    return local(moment).strftime("%Y-%m-%dT%H:%M")


def latest_keys(slots: Iterable[str], now: datetime) -> dict[str, str]:
    return {slot: slot_key(latest_slot(slot, now)) for slot in set(slots)}


def is_due(subscriber: Subscriber, now: datetime) -> str | None:
    """The key of the slot this subscriber is due for at `now`, or None.

    Due when the most recent slot is after the moment they (re)subscribed or changed their time,
    and no digest has been planned for it. Only the most recent slot ever counts, which is what
    makes catch-up after downtime happen once.
    """
    if not subscriber.active:
        return None
    moment = latest_slot(subscriber.slot, now)
    if moment <= subscriber.schedule_from:
        return None
    key = slot_key(moment)
    if subscriber.last_slot is not None and subscriber.last_slot >= key:
        return None
    return key


def due_subscribers(store: SubscriptionStore, now: datetime) -> list[tuple[Subscriber, str]]:
    """Every active subscriber with a due slot at `now`, with that slot's key."""
    keys = latest_keys(store.slots_in_use(), now)
    found = []
    for subscriber in store.candidates_for(keys):
        key = is_due(subscriber, now)
        if key is not None:
            found.append((subscriber, key))
    return found


def now_key(now: datetime) -> str:
    """Key for `bantin digest --now`: not a daily slot, so the day's own slot still comes."""
    return "now:" + local(now).strftime("%Y-%m-%dT%H:%M:%S.%f")
