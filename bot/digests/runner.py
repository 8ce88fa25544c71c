"""Planning digests: build what is due, record it as pending, then hand it to the `Broadcaster`.

`DigestRunner` is shared by the scheduler in `bantin run` and by `bantin digest` alike: `plan`
builds the digests that are due (pure building, see bot.digests.build) and `plan_and_record` writes
them to the delivery log as *pending* before anything is sent; `run` takes the broadcast lease,
plans, and delivers everything pending (bot.digests.broadcast).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from telegram.error import BadRequest, Forbidden, TelegramError

from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.bot.clock import VIETNAM, utcnow
from bantin.bot.digests.broadcast import Broadcaster, DeleteFn, EditFn, Limits, RunReport, SendFn, StopFn
from bantin.bot.digests.build import (
    TopicMatcher,
    Window,
    build_digest,
    recent_window,
    render_channel_digest,
    render_digest,
)
from bantin.bot.digests.slots import due_subscribers, latest_slot, next_slot, now_key, slot_key
from bantin.bot.digests.store import PENDING, Part, Planned, Subscriber, SubscriptionStore
from bantin.bot.render import Renderer
from bantin.bot.search.links import read_deep_link

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """Digests built for one run, with the subscribers they are for (dry runs print these)."""

    items: list[tuple[Subscriber, Planned]] = field(default_factory=list)
    unchanged: int = 0  # forced group/channel digests whose post already shows everything


@dataclass
class DigestRunner:
    """Builds due digests and runs broadcasts; shared by the scheduler and `bantin digest`."""

    articles: ArticleStore
    subscriptions: SubscriptionStore
    renderer: Renderer
    size: int = 10
    clock: Callable[[], datetime] = utcnow
    #: The bot's @username: group and channel digests link articles without a URL to its deep
    #: link (known once the bot has called getMe; without it those titles are not linked).
    bot_username: str | None = None

    def plan(self, now: datetime, *, force: bool = False, chat: int | None = None, console: bool = False) -> Plan:
        """Build (without recording) the digest of every due subscriber, or of every active one
        with `force`. Chats with a delivery still pending are left to that delivery.

        Forced, a private chat gets a digest of its own (`now:` key); a group or channel gets its
        current slot's, which revises that slot's post when it was already made (see the module
        docstring); `unchanged` counts those with nothing new to show. `console`: include the
        offline console's chat (dry runs only: it cannot be sent to)."""
        if force:
            due = [(s, now_key(now) if not s.shared else slot_key(latest_slot(s.slot, now)))
                   for s in self.subscriptions.active(chat, console=console)]
        else:
            due = [(s, k) for s, k in due_subscribers(self.subscriptions, now) if chat is None or s.chat_id == chat]
        waiting = self.subscriptions.pending_chats()
        due = [(s, k) for s, k in due if s.chat_id not in waiting]
        plan = Plan()
        if not due:
            return plan
        window = recent_window(self.articles, now)
        matcher = TopicMatcher(window)
        try:
            for subscriber, key in due:
                row = self.subscriptions.delivery(subscriber.chat_id, key) if force and subscriber.shared else None
                if row is None:
                    planned = self.build(subscriber, key, window, matcher, scheduled=not force or subscriber.shared)
                elif row.state == PENDING:
                    continue
                else:
                    start = datetime.fromisoformat(row.covered_from) if row.covered_from else subscriber.since
                    planned = self.build(subscriber, key, window, matcher, since=start, revise=True)
                    if not planned.parts or _same_parts(planned.parts, row.parts):
                        plan.unchanged += 1
                        continue
                plan.items.append((subscriber, planned))
        finally:
            matcher.close()
        return plan

    def build(self, subscriber: Subscriber, key: str, window: Window, matcher: TopicMatcher, *,
              scheduled: bool = True, since: datetime | None = None, revise: bool = False) -> Planned:
        digest = build_digest(window, since=since or subscriber.since, topics=subscriber.topics, matcher=matcher)
        if subscriber.shared:
            parts = render_channel_digest(
                self.renderer, subscriber.lang, digest, size=self.size, link=self.link, now=window.now,
                header=subscriber.header, footer=subscriber.footer, bot_username=self.bot_username,
                thread_id=subscriber.thread_id, silent=subscriber.silent)
        else:
            parts = render_digest(self.renderer, subscriber.lang, digest, size=self.size,
                                  next_at=next_slot(subscriber.slot, window.now))
        return Planned(subscriber.chat_id, key, tuple(parts), len(digest.articles), digest.until, scheduled,
                       covered_from=digest.since, revise=revise)

    def link(self, article: Article) -> str | None:
        """Where a title in a group or channel digest leads: the article's page, else the bot's
        deep link that shows its full text."""
        return article.url or read_deep_link(self.bot_username, article.id)

    def plan_and_record(self, now: datetime, *, force: bool = False, chat: int | None = None) -> RunReport:
        plan = self.plan(now, force=force, chat=chat)
        recorded = self.subscriptions.plan([p for _, p in plan.items], now=now)
        report = RunReport(unchanged=plan.unchanged)
        report.planned = sum(1 for p in recorded if p.parts and not p.revise)
        report.revised = sum(1 for p in recorded if p.revise)
        report.empty = sum(1 for p in recorded if not p.parts)
        return report

    async def run(self, send: SendFn, *, limits: Limits = Limits(), force: bool = False, chat: int | None = None,
                  should_stop: StopFn = lambda: False, lock_wait: float = 0.0, edit: EditFn | None = None,
                  delete: DeleteFn | None = None, progress: Callable[[int, int], None] | None = None) -> RunReport:
        """One broadcast: take the lease, plan and record what is due, send everything pending.

        `lock_wait`: how long to wait for another broadcaster (e.g. the bot's minute tick, which
        holds the lease for milliseconds when nothing is due) before reporting `busy`.
        """
        started = time.monotonic()
        token = self.subscriptions.acquire_lock(now=self.clock())
        while token is None and time.monotonic() - started < lock_wait and not should_stop():
            await asyncio.sleep(0.2)
            token = self.subscriptions.acquire_lock(now=self.clock())
        if token is None:
            return RunReport(busy=True)
        now = self.clock()
        renew = asyncio.get_running_loop().create_task(self._renew(token))
        try:
            report = await asyncio.to_thread(self.plan_and_record, now, force=force, chat=chat)
            pending = self.subscriptions.pending(now=self.clock(), chat_id=chat)
            report.resumed = max(0, len(pending) - report.planned - report.revised)
            broadcaster = Broadcaster(self.subscriptions, send, limits, clock=self.clock, should_stop=should_stop,
                                      edit=edit, delete=delete)
            await broadcaster.deliver(pending, report, progress=progress)
            report.notices = await self.send_notices(send)
        finally:
            renew.cancel()
            self.subscriptions.release_lock(token)
        report.seconds = time.monotonic() - started
        if report.planned or report.revised or report.resumed or report.blocked or report.failed or report.notices:
            log.info("digests: %s", report.to_json())
        return report

    async def send_notices(self, send: SendFn) -> int:
        """Tell editors that the bot can no longer post their group's or channel's digest (it was
        removed, or lost the right to post): once per removal, in the language they set it up in."""
        sent = 0
        for subscriber in self.subscriptions.claim_notices():
            if subscriber.report_chat is None:
                continue
            html = self.renderer.render(subscriber.lang, "channel_removed", subscriber=subscriber,
                                        reason=subscriber.stopped_reason or "",
                                        at=self.clock().astimezone(VIETNAM))
            try:
                await send(subscriber.report_chat, Part(html))
                sent += 1
            except (Forbidden, BadRequest) as exc:  # the editor never opened a chat with the bot
                log.warning("could not tell %s that chat %s was removed: %s", subscriber.report_chat,
                            subscriber.chat_id, exc.message)
            except TelegramError as exc:  # transient: the next run tries again
                log.warning("removal notice for chat %s postponed: %s", subscriber.chat_id, exc.message)
                self.subscriptions.release_notice(subscriber.chat_id)
        return sent

    async def _renew(self, token: str) -> None:
        while True:
            await asyncio.sleep(30)
            self.subscriptions.renew_lock(token, now=self.clock())



def _same_parts(parts: Sequence[Part], frozen: str) -> bool:
    """Whether rebuilt parts equal the ones a log row holds (JSON): then there is nothing to edit."""
    return [p.to_json() for p in parts] == json.loads(frozen)
