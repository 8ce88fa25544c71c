"""When digests are due, and the JobQueue job that sends them.

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

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bantin.bot.digests.store import Subscriber, SubscriptionStore

log = logging.getLogger(__name__)

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
TICK_JOB = "digest-tick"
CATCH_UP_JOB = "digest-catch-up"
#: A tick may start this late and still run (APScheduler's default, 1 s, would skip it).
MISFIRE_GRACE = 3600
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


# -- JobQueue wiring -------------------------------------------------------------------------------


def tick_job_kwargs() -> dict[str, Any]:
    """APScheduler options of the minute tick (tested: timezone, misfire grace, coalescing)."""
    return {
        "trigger": CronTrigger(second=0, timezone=VIETNAM),
        "misfire_grace_time": MISFIRE_GRACE,
        "coalesce": True,
        "max_instances": 1,
        "id": TICK_JOB,
        "replace_existing": True,
    }


class DigestScheduler:
    """Runs at most one digest broadcast at a time, in the background of the bot's event loop.

    The tick itself returns at once: it only starts a run (an asyncio task) if none is going, so
    APScheduler never sees a job overrun, and a SIGTERM stops the run between two messages
    (`stop()`), leaving the rest pending for the next start instead of blocking shutdown.
    """

    def __init__(self, run: Callable[[Callable[[], bool]], Awaitable[object]]) -> None:
        self._run = run
        self._task: asyncio.Task[object] | None = None
        self._stopping = False
        self.runs = 0
        self.bot: Any = None  # the broadcast Bot in `bantin run`, shut down with the scheduler
        #: A forced run for one chat (an editor's `/digest @channel`), set by `start_digests`.
        self.forced: Callable[[int, Callable[[], bool]], Awaitable[object]] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def kick(self) -> bool:
        """Start a run unless one is going or we are stopping; True when one was started."""
        if self._stopping or self.running:
            return False
        self.runs += 1
        self._task = asyncio.get_running_loop().create_task(self._guarded(), name="digest-broadcast")
        return True

    async def _guarded(self) -> object:
        try:
            return await self._run(lambda: self._stopping)
        except Exception:
            log.exception("digest run failed; the next tick will try again")
            return None

    async def force(self, chat_id: int) -> object:
        """Post (or revise) one chat's digest now, waiting for a run already going; None when
        digests are off or the bot is stopping."""
        if self.forced is None or self._stopping:
            return None
        return await self.forced(chat_id, lambda: self._stopping)

    async def tick(self, context: object = None) -> None:
        """The JobQueue callback (every minute, and once shortly after start-up)."""
        self.kick()

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the current message finish, record it, and stop; pending ones wait for next start."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()

    def schedule(self, job_queue: Any, *, first: float = 2.0) -> None:
        """Register the minute tick and a catch-up run shortly after start-up."""
        job_queue.run_custom(self.tick, job_kwargs=tick_job_kwargs(), name=TICK_JOB)
        job_queue.run_once(self.tick, when=first, name=CATCH_UP_JOB,
                           job_kwargs={"misfire_grace_time": MISFIRE_GRACE})


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# -- the bot process -------------------------------------------------------------------------------


async def start_digests(application: Any, core: Any, settings: Any) -> DigestScheduler:
    """In `bantin run`'s post_init: a broadcast Bot, the runner over the core's stores and index,
    and the minute tick on the JobQueue. Returns the scheduler (kept in bot_data["digests"])."""
    from bantin.bot.digests.broadcast import (
        DigestRunner,
        Limits,
        digest_bot,
        telegram_deleter,
        telegram_editor,
        telegram_sender,
    )

    bot = digest_bot(settings.token, settings.api_url)
    await bot.initialize()
    runner = DigestRunner(core.store, core.subs, core.renderer, size=settings.digest_size,
                          bot_username=bot.username)
    limits = Limits(rate=settings.digest_rate, per_group=60 / settings.group_rate)
    send, edit, delete = telegram_sender(bot), telegram_editor(bot), telegram_deleter(bot)

    async def run(should_stop: Callable[[], bool]) -> object:
        return await runner.run(send, limits=limits, edit=edit, delete=delete,
                                should_stop=lambda: should_stop() or not application.running)

    async def forced(chat_id: int, should_stop: Callable[[], bool]) -> object:
        return await runner.run(send, limits=limits, edit=edit, delete=delete, force=True, chat=chat_id,
                                lock_wait=60.0, should_stop=lambda: should_stop() or not application.running)

    scheduler = DigestScheduler(run)
    scheduler.bot = bot
    scheduler.forced = forced
    if application.job_queue is not None:
        scheduler.schedule(application.job_queue)
    else:
        log.warning("no JobQueue (python-telegram-bot[job-queue] missing): daily digests are off")
    return scheduler


async def stop_digests(scheduler: DigestScheduler | None) -> None:
    """In post_stop: finish the message in flight, record it, leave the rest pending."""
    if scheduler is None:
        return
    await scheduler.stop()
    if scheduler.bot is not None:
        await scheduler.bot.shutdown()
