"""Search follows the article store: at start-up the bot brings a missing, stale or damaged index
up to date by itself, in the background, and tells the editors when the index was damaged.

Why here and not in `bantin run`'s command line: the bot must answer from its first second
(a damaged or missing index never stops it), and citizens must be told the truth meanwhile:
`Core.no_index` asks `building_progress` whether a build is really under way and how far it got.
Building a missing index and repairing a damaged one are ordinary runs of the editors'
`ReindexRunner` (kinds `index build` and `index repair`): one run at a time with `/reindex`, in
the audit log and in `/stats`, and an editor's `/reindex full` is the manual fix when the
automatic one fails. An index that is only behind keeps answering, so its catch-up is not a run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.error import TelegramError

from bantin.articles.store import ArticleStore
from bantin.bot.newsroom import audit as au
from bantin.bot.newsroom.desk import Desk
from bantin.bot.newsroom.reindex import BUILD, REPAIR, ReindexRunner, Run, in_daemon_thread

log = logging.getLogger(__name__)


def building_progress(runner: ReindexRunner) -> tuple[int, int] | None:
    """(articles done, total; total 0 while still scanning) of the run under way, else None.
    Every kind of run ends with the index up to date, so any run counts."""
    run = runner.current
    if run is None or run.outcome is not None:  # none, or it ended and is only reporting
        return None
    step = run.step
    return (step.done, step.total) if step.phase in ("index", "rebuild") else (0, 0)


async def start_upkeep(bot: Any, desk: Desk) -> Run | None:
    """Start bringing the index up to date when it is missing, behind the store or damaged; None
    when it is current. Called once from `post_init`, after the core tried to open the index."""
    from bantin.index.maintenance import index_pending

    core, runner = desk.core, desk.runner
    core.index_progress = lambda: building_progress(runner)
    try:
        pending = await asyncio.to_thread(index_pending, core.store, desk.settings.index_root)
        articles = await asyncio.to_thread(core.store.count)
    except Exception:  # never stop the bot over the index: the build below reports what is wrong
        log.exception("could not compare the search index with the article store; rebuilding it")
        pending, articles = None, 0
    if core.damage is not None:
        kind = REPAIR
        log.info("rebuilding the damaged search index from the article store (%d articles) in the background",
                 articles)
        await tell_editors(bot, desk, failed=False, reason=core.damage, articles=articles)
    elif pending is None:
        kind = BUILD
        log.info("no search index yet: building it from the article store (%d articles) in the background",
                 articles)
    elif pending:
        # Searches go on meanwhile, so this is not a run: an editor's /reindex right after the
        # start must not be told "busy" over a catch-up (it waits for the index lock instead).
        log.info("the search index is %d change(s) behind the article store: catching up in the background",
                 pending)
        in_daemon_thread(catch_up, desk)
        return None
    else:
        return None
    run, started = runner.start(kind, EditorAlert(bot, desk))
    return run if started else None


def catch_up(desk: Desk) -> None:
    """Apply the store's changes to an index that is only behind (the open one notices by itself)."""
    from bantin.index.maintenance import update_index

    try:
        with ArticleStore(desk.settings.store_path) as store:
            update = update_index(store, desk.settings.index_root, batch=desk.settings.index_batch)
    except Exception as exc:  # the next /reindex, scan or start catches up; searching goes on
        log.warning("could not catch the search index up with the store: %s", exc)
    else:
        log.info("search index caught up with the store: %s", update.to_json())


class EditorAlert:
    """The automatic run's reporter: silent while it works (citizens see its progress), and a
    private message to every editor if it could not finish, with what to do."""

    def __init__(self, bot: Any, desk: Desk) -> None:
        self.bot = bot
        self.desk = desk

    async def show(self, run: Run, *, final: bool) -> None:
        outcome = run.outcome
        if not final or outcome is None or outcome.result != au.FAILED:
            return
        reason = outcome.error or ("chỉ mục đang bận" if outcome.index_busy else "")
        await tell_editors(self.bot, self.desk, failed=True, reason=reason, articles=0)


async def tell_editors(bot: Any, desk: Desk, *, failed: bool, reason: str, articles: int) -> None:
    """One private message to each editor (in Vietnamese: the newsroom's language). An editor
    who never opened a chat with the bot cannot be written to: logged, not fatal."""
    for user_id in sorted(desk.settings.editors):
        html = desk.render("vi", "editor_index_alert", failed=failed, reason=reason, articles=articles)
        try:
            await bot.send_message(user_id, html)
        except TelegramError as exc:
            log.warning("could not tell editor %s about the search index: %s", user_id, exc)
