"""The JobQueue job that sends digests, and its start and stop in `bantin run`.

Design: one job that ticks every minute (a cron trigger at second 0, in Asia/Ho_Chi_Minh) and asks
the subscription store which subscribers have a slot that has come and is not planned yet
(`bot.digests.slots`), rather than one APScheduler job per subscriber: the truth lives in SQLite,
catching up after downtime is the same code path, and one broadcast at a time through one throttle
keeps the whole bot inside Telegram's limits (see `bot.digests.slots` for the whole argument).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from bantin.bot.digests.broadcast import Limits
from bantin.bot.digests.runner import DigestRunner
from bantin.bot.digests.slots import VIETNAM
from bantin.bot.telegram.send import digest_bot, telegram_deleter, telegram_editor, telegram_sender

log = logging.getLogger(__name__)

TICK_JOB = "digest-tick"
CATCH_UP_JOB = "digest-catch-up"
#: A tick may start this late and still run (APScheduler's default, 1 s, would skip it).
MISFIRE_GRACE = 3600


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

