"""Digests in the bot process: the broadcast bot, the runner and the minute tick, started in
`post_init` and stopped in `post_stop` (bot.telegram.app)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bantin.bot.digests.broadcast import Limits, RunReport
from bantin.bot.digests.runner import DigestRunner
from bantin.bot.digests.scheduler import DigestScheduler
from bantin.bot.services import Services
from bantin.bot.settings import Settings
from bantin.bot.telegram.context import App
from bantin.bot.telegram.send import digest_bot, telegram_deleter, telegram_editor, telegram_sender

log = logging.getLogger(__name__)


async def start_digests(application: App, core: Services, settings: Settings) -> DigestScheduler:
    """In `bantin run`'s post_init: a broadcast Bot, the runner over the core's stores and index,
    and the minute tick on the JobQueue. Returns the scheduler (kept in bot_data.digests)."""
    assert settings.token, "run_bot checked it"
    bot = digest_bot(settings.token, settings.api_url)
    await bot.initialize()
    runner = DigestRunner(core.store, core.subs, core.renderer, size=settings.digest_size,
                          bot_username=bot.username)
    limits = Limits(rate=settings.digest_rate, per_group=60 / settings.group_rate)
    send, edit, delete = telegram_sender(bot), telegram_editor(bot), telegram_deleter(bot)

    async def run(should_stop: Callable[[], bool]) -> RunReport:
        return await runner.run(send, limits=limits, edit=edit, delete=delete,
                                should_stop=lambda: should_stop() or not application.running)

    async def forced(chat_id: int, should_stop: Callable[[], bool]) -> RunReport:
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

