"""Delivering digests: send what the delivery log says is pending, inside Telegram's limits, logging every outcome.

The planning half is `bot.digests.runner` (`DigestRunner` builds what is due and records it as
*pending*); both are used by the scheduler in `bantin run` and by `bantin digest` alike.

`Broadcaster` sends at most `rate` messages a second overall, one a second per private chat and 20
a minute per group or channel; a 429 pauses everyone for its `retry_after`, a chat that blocked us
or vanished is unsubscribed while the rest go on, network errors are retried with backoff, and each
message is marked sent right after Telegram accepts it. A stop request (SIGTERM) lets the message
in flight finish and be recorded; the rest stays pending for the next run.

Groups and channels: a forced digest (`bantin digest --now`, an editor's `/digest @channel`) uses
the slot's own key, not a fresh one, so forcing it again *revises* that row: its messages are
edited in place (extra parts sent, surplus ones deleted) instead of being posted twice. A channel
the bot was removed from is deactivated, and the editor who attached it is told once, at the end
of the run (`digest_subscribers.notice`).

The sending functions are injected (`SendFn`, `EditFn`, `DeleteFn`), so tests and the benchmark
can count, fail or time sends without Telegram; `bot.telegram.send.telegram_sender` & co. are the
real ones.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bantin.bot.clock import utcnow
from bantin.bot.digests.store import Delivery, Part, SubscriptionStore

log = logging.getLogger(__name__)

SendFn = Callable[[int, Part], Awaitable[int]]
#: Edit message `message_id` in a chat to show a part; returns the message id.
EditFn = Callable[[int, int, Part], Awaitable[int]]
DeleteFn = Callable[[int, int], Awaitable[None]]
StopFn = Callable[[], bool]
#: BadRequest descriptions that mean the chat is gone for good (no point in retrying, ever).
_GONE = ("chat not found", "user is deactivated", "bot was kicked", "bot was blocked", "peer_id_invalid",
         "have no rights to send", "not enough rights to send", "chat_write_forbidden", "user not found",
         # a forum topic that was closed or deleted: every day would fail alike, so stop and tell the editor
         "message thread not found", "topic_closed", "topic_deleted", "topic closed", "topic deleted")
#: BadRequest descriptions of an edit whose message is gone or too old: post it anew instead.
_EDIT_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")


@dataclass(frozen=True)
class Limits:
    """How fast and how stubbornly to send. `rate`, `per_chat` and `per_group` None turn limiting off."""

    rate: float | None = 25.0  # messages per second for the whole broadcast
    per_chat: float | None = 1.0  # seconds between two messages to the same chat
    per_group: float | None = 3.0  # … to the same group or channel: Telegram allows 20 a minute
    concurrency: int = 8  # requests in flight: plenty at 25/s even at 300 ms a request; more only
    #                       adds client-side overhead (httpcore scans its pool per request)
    network_retries: int = 4  # per message, within one run, with exponential backoff
    backoff: float = 1.0  # first backoff in seconds; doubles each time, with jitter
    flood_retries: int = 8  # 429s tolerated for one message within one run
    retry_later: timedelta = timedelta(minutes=5)  # after a run's retries are spent
    give_up_after: timedelta = timedelta(hours=24)  # a digest this old that still fails is dropped


@dataclass
class RunReport:
    """What one run did; also what `bantin digest` prints."""

    planned: int = 0  # digests built and recorded as pending
    revised: int = 0  # group/channel digests of a slot already served, rebuilt to edit their posts
    unchanged: int = 0  # … forced again with nothing new: left as they are
    empty: int = 0  # due, but nothing new: recorded, nothing sent
    resumed: int = 0  # pending from an earlier (interrupted) run
    delivered: int = 0  # digests fully sent
    messages: int = 0  # messages accepted by Telegram
    edited: int = 0  # … of which posted messages edited in place
    deleted: int = 0  # posted messages deleted because a revision has fewer parts
    notices: int = 0  # editors told that the bot was removed from their channel or group
    blocked: int = 0  # chat gone or bot blocked: unsubscribed
    failed: int = 0  # refused for good (or too old to keep retrying)
    retry_later: int = 0  # left pending after transient failures
    cancelled: int = 0  # unsubscribed before their turn
    interrupted: int = 0  # left pending because the run was asked to stop
    busy: bool = False  # another process holds the broadcast lease
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Throttle:
    """Paces sends: evenly spaced at `rate` per second overall, `per_chat` seconds apart per chat
    (`per_group` for groups and channels, whose ids are negative), and everyone paused while
    Telegram's flood control (429 `retry_after`) is in force.

    Even spacing (rather than bursts) is what Telegram's own guidance suggests, and it makes the
    achieved rate predictable: the benchmark checks it reaches ≥ 90 % of the configured one.
    """

    def __init__(self, rate: float | None, per_chat: float | None, *, per_group: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 should_stop: StopFn = lambda: False) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.per_chat = per_chat or 0.0
        self.per_group = max(self.per_chat, per_group or 0.0)
        self.clock = clock
        self._sleep = sleep
        self.should_stop = should_stop
        self._next = 0.0
        self._paused_until = 0.0
        self._last: dict[int, float] = {}

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def wait(self, chat_id: int) -> bool:
        """Wait for this chat's turn; False when asked to stop meanwhile."""
        while True:
            now = self.clock()
            spacing = self.per_group if chat_id < 0 else self.per_chat
            ready = max(self._paused_until, self._last.get(chat_id, -1e18) + spacing)
            if ready > now:
                if not await self.sleep(ready - now):
                    return False
                continue
            slot = max(now, self._next)
            self._next = slot + self.interval
            if slot > now and not await self.sleep(slot - now):
                return False
            if self._paused_until > self.clock():  # a 429 arrived while we waited for our slot
                continue
            self._last[chat_id] = self.clock()
            return True

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless asked to stop meanwhile (checked every 0.25 s); False when stopped."""
        deadline = self.clock() + seconds
        while True:
            if self.should_stop():
                return False
            left = deadline - self.clock()
            if left <= 0:
                return True
            await self._sleep(min(left, 0.25))


class Broadcaster:
    """Delivers pending digests from the log; see the module docstring for the rules."""

    def __init__(self, log_store: SubscriptionStore, send: SendFn, limits: Limits = Limits(), *,
                 clock: Callable[[], datetime] = utcnow, should_stop: StopFn = lambda: False,
                 throttle: Throttle | None = None, edit: EditFn | None = None, delete: DeleteFn | None = None) -> None:
        self.store = log_store
        self.send = send
        self.edit = edit
        self.delete = delete
        self.limits = limits
        self.clock = clock
        self._fatal: BaseException | None = None
        self.should_stop = lambda: should_stop() or self._fatal is not None
        self.throttle = throttle or Throttle(limits.rate, limits.per_chat, per_group=limits.per_group)
        self.throttle.should_stop = self.should_stop

    async def deliver(self, deliveries: Sequence[Delivery], report: RunReport | None = None, *,
                      progress: Callable[[int, int], None] | None = None) -> RunReport:
        """Send every delivery; `progress(done, total)` after each (the command line's bar)."""
        report = report or RunReport()
        queue: asyncio.Queue[Delivery] = asyncio.Queue()
        for delivery in deliveries:
            queue.put_nowait(delivery)
        done = 0

        async def worker() -> None:
            nonlocal done
            while not queue.empty():
                delivery = queue.get_nowait()
                if self.should_stop():
                    report.interrupted += 1
                    continue
                try:
                    await self._deliver(delivery, report)
                except InvalidToken as exc:  # every send would fail alike: stop the run, loudly
                    self._fatal = exc
                    report.interrupted += 1
                done += 1
                if progress is not None:
                    progress(done, len(deliveries))

        workers = max(1, min(self.limits.concurrency, len(deliveries)))
        await asyncio.gather(*(worker() for _ in range(workers)))
        if self._fatal is not None:
            raise self._fatal
        return report

    async def _deliver(self, delivery: Delivery, report: RunReport) -> None:
        now = self.clock()
        if not self.store.still_wanted(delivery.chat_id, delivery.slot_key, now=now):
            report.cancelled += 1
            return
        posted = delivery.message_ids  # a revision: part n replaces message n
        for index in range(delivery.parts_sent, len(delivery.parts)):
            outcome = await self._send_part(delivery, index, posted[index] if index < len(posted) else None)
            if outcome not in ("sent", "edited"):
                setattr(report, outcome, getattr(report, outcome) + 1)
                return
            report.messages += 1
            report.edited += outcome == "edited"
        surplus = posted[len(delivery.parts):]
        if surplus:
            if not await self._delete_all(delivery.chat_id, surplus):
                report.interrupted += 1
                return
            self.store.record_trimmed(delivery.chat_id, delivery.slot_key, surplus, now=self.clock())
            report.deleted += len(surplus)
        report.delivered += 1

    async def _post(self, chat: int, part: Part, target: int | None) -> tuple[int, bool]:
        """Send a part, or edit message `target` to show it; (message id, whether edited).

        An edit that changes nothing counts as done (a resumed revision); one whose message was
        deleted meanwhile, or is too old to edit, becomes a new message."""
        if target is None or self.edit is None:
            return await self.send(chat, part), False
        try:
            return await self.edit(chat, target, part), True
        except BadRequest as exc:
            text = exc.message.lower()
            if "not modified" in text:
                return target, True
            if not any(marker in text for marker in _EDIT_GONE):
                raise
        return await self.send(chat, part), False

    async def _delete_all(self, chat: int, message_ids: Sequence[int]) -> bool:
        """Delete a revision's surplus messages; failures are logged, not fatal (the digest is
        already complete above them). False when asked to stop first."""
        for message_id in message_ids:
            for _ in range(self.limits.flood_retries + 1):
                if not await self.throttle.wait(chat):
                    return False
                try:
                    if self.delete is not None:
                        await self.delete(chat, message_id)
                except RetryAfter as exc:
                    self.throttle.pause(_retry_after_seconds(exc) + 0.1)
                    continue
                except InvalidToken:
                    raise
                except TelegramError as exc:
                    log.info("digest in %s: could not delete message %s: %s", chat, message_id, exc.message)
                break
        return True

    async def _send_part(self, delivery: Delivery, index: int, target: int | None = None) -> str:
        """Send one message (or edit `target`) until it is accepted or it is clear it won't be;
        returns the outcome."""
        chat, key = delivery.chat_id, delivery.slot_key
        part = delivery.parts[index]
        last = index == len(delivery.parts) - 1
        network_failures = floods = 0
        while True:
            if not await self.throttle.wait(chat):
                return "interrupted"
            try:
                message_id, edited = await self._post(chat, part, target)
            except RetryAfter as exc:
                seconds = _retry_after_seconds(exc)
                self.throttle.pause(seconds + 0.1)
                floods += 1
                self.store.record_attempt(chat, key, index, "retry_after", f"{seconds:g} s", now=self.clock())
                log.info("digest to %s: flood control, retrying after %g s", chat, seconds)
                if floods > self.limits.flood_retries:
                    return self._later(delivery, index, f"flood control ({floods}×)")
                continue
            except ChatMigrated as exc:
                return self._moved(chat, key, index, exc.new_chat_id)
            except Forbidden as exc:
                return self._blocked(chat, key, index, exc.message)
            except BadRequest as exc:
                if any(marker in exc.message.lower() for marker in _GONE):
                    return self._blocked(chat, key, index, exc.message)
                self.store.record_failed(chat, key, index, exc.message, now=self.clock())
                log.error("digest to %s refused by Telegram (not retried): %s", chat, exc.message)
                return "failed"
            except InvalidToken:
                raise
            except NetworkError as exc:  # includes TimedOut; BadRequest was handled above
                network_failures += 1
                self.store.record_attempt(chat, key, index, "network", exc.message, now=self.clock())
                if network_failures > self.limits.network_retries:
                    return self._later(delivery, index, exc.message)
                delay = self.limits.backoff * 2 ** (network_failures - 1) * random.uniform(0.8, 1.2)
                log.warning("digest to %s: %s; retry %d in %.1f s", chat, exc.message, network_failures, delay)
                if not await self.throttle.sleep(delay):
                    return "interrupted"
                continue
            except TelegramError as exc:
                self.store.record_failed(chat, key, index, exc.message, now=self.clock())
                log.error("digest to %s failed: %s", chat, exc.message)
                return "failed"
            self.store.record_sent(chat, key, index, message_id, now=self.clock(), last=last, edited=edited)
            return "edited" if edited else "sent"

    def _blocked(self, chat: int, key: str, index: int, why: str) -> str:
        self.store.record_blocked(chat, key, index, why, now=self.clock())
        log.info("chat %s unreachable (%s): unsubscribed", chat, why)
        return "blocked"

    def _moved(self, chat: int, key: str, index: int, new: int) -> str:
        """The group became a supergroup: move its digest to the new id; the next run (within a
        minute) resumes this delivery there, from the part that was refused."""
        now = self.clock()
        if not self.store.move_chat(chat, new, now=now):
            return self._blocked(chat, key, index, f"chat migrated to {new}")
        self.store.record_retry_later(new, key, index, f"chat migrated from {chat}", now=now, retry_at=now)
        log.info("chat %s became supergroup %s: its digest moved there", chat, new)
        return "retry_later"

    def _later(self, delivery: Delivery, index: int, why: str) -> str:
        now = self.clock()
        if now - delivery.planned_at > self.limits.give_up_after:
            self.store.record_failed(delivery.chat_id, delivery.slot_key, index, f"gave up: {why}", now=now)
            log.error("digest to %s dropped after %s of failures: %s", delivery.chat_id,
                      self.limits.give_up_after, why)
            return "failed"
        self.store.record_retry_later(delivery.chat_id, delivery.slot_key, index, why, now=now,
                                      retry_at=now + self.limits.retry_later)
        log.warning("digest to %s postponed: %s", delivery.chat_id, why)
        return "retry_later"


def _retry_after_seconds(exc: RetryAfter) -> float:
    value = getattr(exc, "_retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) if value is not None else 1.0
