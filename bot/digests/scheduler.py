"""The JobQueue job that sends digests (started and stopped by `bantin run`, see bot.telegram.digests).

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

from bantin.bot.clock import VIETNAM
from bantin.bot.digests.broadcast import RunReport

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

    def __init__(self, run: Callable[[Callable[[], bool]], Awaitable[RunReport]]) -> None:
        self._run = run
        self._task: asyncio.Task[RunReport | None] | None = None
        self._stopping = False
        self.runs = 0
        self.bot: Any = None  # the broadcast Bot in `bantin run`, shut down with the scheduler
        #: A forced run for one chat (an editor's `/digest @channel`), set by `start_digests`.
        self.forced: Callable[[int, Callable[[], bool]], Awaitable[RunReport]] | None = None

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

    async def _guarded(self) -> RunReport | None:
        try:
            return await self._run(lambda: self._stopping)
        except Exception:
            log.exception("digest run failed; the next tick will try again")
            return None

    async def force(self, chat_id: int) -> RunReport | None:
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
