"""Broadcasting digests with an injected send function: limits, Telegram's errors, crash and resume.

The send function plays Telegram (raising PTB's own exceptions); the delivery log is a real SQLite
file, reopened to simulate a restart. The end-to-end tests do the same against the fake Bot API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bantin.articles.model import VIETNAM_TZ, Article
from bantin.articles.store import ArticleStore
from bantin.bot.digests.broadcast import Broadcaster, Limits, Throttle
from bantin.bot.digests.runner import DigestRunner
from bantin.bot.digests.store import Part, Planned, SubscriptionStore
from bantin.bot.render import Renderer

#: PTB warns when a RetryAfter is built (its attribute will become a timedelta); that is PTB's.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
FAST = Limits(rate=None, per_chat=None, concurrency=4, backoff=0.001)


class Crash(BaseException):
    """The process dies: nothing after this point runs (not even `except Exception`)."""


class Telegram:
    """A scripted Telegram: `faults[chat]` is a list of exceptions raised by successive sends."""

    def __init__(self, faults: dict[int, list[BaseException]] | None = None, crash_after: int | None = None) -> None:
        self.faults = faults or {}
        self.crash_after = crash_after
        self.delivered: list[tuple[int, str]] = []
        self.attempts = 0

    async def __call__(self, chat_id: int, part: Part) -> int:
        self.attempts += 1
        queue = self.faults.get(chat_id)
        if queue:
            raise queue.pop(0)
        if self.crash_after is not None and len(self.delivered) == self.crash_after:
            raise Crash
        self.delivered.append((chat_id, part.html))
        return len(self.delivered)

    def count(self, chat_id: int) -> int:
        return sum(1 for chat, _ in self.delivered if chat == chat_id)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite"


@pytest.fixture
def subs(path: Path) -> Iterator[SubscriptionStore]:
    with SubscriptionStore(path) as store:
        yield store


def plan_for(subs: SubscriptionStore, chats: range | list[int], parts: int = 1) -> None:
    for chat in chats:
        subs.subscribe(chat, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1))
    subs.plan([Planned(chat, "2024-05-01T07:00", tuple(Part(f"chat {chat} part {n}") for n in range(parts)),
                       parts, T0) for chat in chats], now=T0)


async def deliver(subs: SubscriptionStore, telegram: Telegram, limits: Limits = FAST, **kw: object):  # type: ignore[no-untyped-def]
    return await Broadcaster(subs, telegram, limits, clock=lambda: T0, **kw).deliver(subs.pending(now=T0))  # type: ignore[arg-type]


async def test_every_pending_digest_is_delivered_and_logged(subs: SubscriptionStore) -> None:
    plan_for(subs, range(1, 21), parts=2)
    telegram = Telegram()
    report = await deliver(subs, telegram)
    assert report.delivered == 20 and report.messages == 40
    assert all(telegram.count(chat) == 2 for chat in range(1, 21))
    assert subs.pending(now=T0) == []
    assert [e[3] for e in subs.events(7)] == ["planned", "sent", "sent", "done"]
    assert [d.chat_id for d in subs.pending(now=T0)] == [] and subs.get(7).since == T0  # type: ignore[union-attr]


async def test_flood_control_is_honoured_and_retried(subs: SubscriptionStore) -> None:
    plan_for(subs, [1, 2])
    telegram = Telegram({1: [RetryAfter(2)]})
    clock = FakeClock()
    throttle = Throttle(None, None, clock=clock, sleep=clock.sleep)
    report = await deliver(subs, telegram, throttle=throttle)
    assert report.delivered == 2 and telegram.count(1) == 1
    assert clock.now >= 2.0  # everyone waited out retry_after
    outcomes = [(e[3], e[4]) for e in subs.events(1)]
    assert ("retry_after", "2 s") in outcomes and outcomes[-1] == ("done", None)
    assert subs.delivery(1, "2024-05-01T07:00").attempts == 2  # type: ignore[index]


async def test_blocked_and_vanished_chats_are_unsubscribed_while_others_get_theirs(subs: SubscriptionStore) -> None:
    plan_for(subs, range(1, 7))
    telegram = Telegram({2: [Forbidden("Forbidden: bot was blocked by the user")],
                         4: [BadRequest("Bad Request: chat not found")],
                         5: [Forbidden("Forbidden: user is deactivated")]})
    report = await deliver(subs, telegram)
    assert report.blocked == 3 and report.delivered == 3
    assert sorted(chat for chat, _ in telegram.delivered) == [1, 3, 6]
    assert [s.chat_id for s in subs.active()] == [1, 3, 6]
    assert subs.delivery(2, "2024-05-01T07:00").state == "blocked"  # type: ignore[index]


async def test_a_message_telegram_refuses_is_not_retried(subs: SubscriptionStore) -> None:
    plan_for(subs, [1, 2])
    telegram = Telegram({1: [BadRequest("Bad Request: can't parse entities")]})
    report = await deliver(subs, telegram)
    assert report.failed == 1 and report.delivered == 1 and telegram.attempts == 2
    row = subs.delivery(1, "2024-05-01T07:00")
    assert row is not None and row.state == "failed" and "parse entities" in row.error
    assert subs.get(1).active  # type: ignore[union-attr]  # our bug, not theirs: still subscribed


async def test_network_errors_are_retried_with_backoff(subs: SubscriptionStore) -> None:
    plan_for(subs, [1])
    telegram = Telegram({1: [TimedOut("Timed out"), NetworkError("httpx.ConnectError: refused")]})
    report = await deliver(subs, telegram)
    assert report.delivered == 1 and telegram.count(1) == 1
    assert [e[3] for e in subs.events(1)] == ["planned", "network", "network", "sent", "done"]


async def test_a_network_outage_leaves_the_digest_for_a_later_run(path: Path, subs: SubscriptionStore) -> None:
    plan_for(subs, [1, 2])
    telegram = Telegram({1: [NetworkError("down")] * 10})
    report = await deliver(subs, telegram, Limits(rate=None, per_chat=None, network_retries=2, backoff=0.001))
    assert report.retry_later == 1 and report.delivered == 1
    assert subs.pending(now=T0) == []  # waits for its retry time…
    later = T0 + timedelta(minutes=6)
    [waiting] = subs.pending(now=later)
    telegram.faults.clear()
    report = await Broadcaster(subs, telegram, FAST, clock=lambda: later).deliver([waiting])
    assert report.delivered == 1 and telegram.count(1) == 1 and telegram.count(2) == 1


async def test_crash_mid_broadcast_then_restart_delivers_exactly_once(path: Path) -> None:
    chats = range(1, 31)
    with SubscriptionStore(path) as subs:
        plan_for(subs, chats, parts=2)
        telegram = Telegram(crash_after=23)  # dies in the middle of someone's two-part digest
        with pytest.raises(Crash):
            await deliver(subs, telegram, Limits(rate=None, per_chat=None, concurrency=1))
        assert len(subs.pending(now=T0)) == 30 - 11
    with SubscriptionStore(path) as subs:  # the restart
        telegram.crash_after = None
        report = await deliver(subs, telegram)
        assert report.delivered == 19 and subs.pending(now=T0) == []
    assert all(telegram.count(chat) == 2 for chat in chats)
    assert len(set(telegram.delivered)) == len(telegram.delivered) == 60


async def test_a_stop_request_leaves_the_rest_pending(subs: SubscriptionStore) -> None:
    plan_for(subs, range(1, 11))
    telegram = Telegram()
    report = await deliver(subs, telegram, Limits(rate=None, per_chat=None, concurrency=1),
                           should_stop=lambda: len(telegram.delivered) >= 4)
    assert report.delivered == 4 and report.interrupted == 6
    assert len(subs.pending(now=T0)) == 6


async def test_unsubscribed_before_their_turn_get_nothing(subs: SubscriptionStore) -> None:
    plan_for(subs, [1, 2])
    pending = subs.pending(now=T0)
    subs.unsubscribe(2, now=T0)
    telegram = Telegram()
    report = await Broadcaster(subs, telegram, FAST, clock=lambda: T0).deliver(pending)
    assert report.cancelled == 1 and telegram.count(2) == 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_throttle_spaces_sends_overall_and_per_chat() -> None:
    clock = FakeClock()
    throttle = Throttle(20.0, 1.0, clock=clock, sleep=clock.sleep)
    times = []
    for chat in [1, 2, 3, 1, 1]:
        assert await throttle.wait(chat)
        times.append((chat, round(clock.now, 3)))
    assert times[:3] == [(1, 0.0), (2, 0.05), (3, 0.1)]  # 20/s overall
    assert times[3] == (1, 1.0) and times[4] == (1, 2.0)  # 1/s for the same chat
    throttle.pause(5)
    assert await throttle.wait(2)
    assert clock.now >= 7.0


# -- the runner: plan, record, send ----------------------------------------------------------------


def news(n: int, seen: datetime) -> Article:
    return Article(id=f"n{n}", title=f"Tin {n}", paragraphs=("x",), url=f"https://b.vn/{n}",
                   published=seen.astimezone(VIETNAM_TZ).date(), first_seen=seen)


async def test_runner_sends_whats_due_and_a_second_run_sends_nothing(tmp_path: Path) -> None:
    now = [T0 - timedelta(days=1)]
    with ArticleStore(tmp_path / "articles.sqlite") as store, SubscriptionStore(tmp_path / "bot.sqlite") as subs:
        for chat in (1, 2, 3):
            subs.subscribe(chat, lang="vi", slot="07:00", topics=(), now=now[0])
        store.upsert_many([news(1, T0), news(2, T0)], now=T0 - timedelta(hours=3))
        runner = DigestRunner(store, subs, Renderer(), size=10, clock=lambda: now[0])
        telegram = Telegram()
        now[0] = T0 + timedelta(seconds=5)
        first = await runner.run(telegram, limits=FAST)
        assert first.planned == 3 and first.delivered == 3 and "Tin 2" in telegram.delivered[0][1]
        again = await runner.run(telegram, limits=FAST)
        assert again.planned == 0 and again.delivered == 0 and len(telegram.delivered) == 3
        forced = await runner.run(telegram, limits=FAST, force=True)  # `--now`: nothing new since
        assert forced.empty == 3 and forced.delivered == 0 and len(telegram.delivered) == 3
        store.upsert_many([news(3, T0)], now=T0 + timedelta(minutes=1))
        now[0] = T0 + timedelta(minutes=2)
        forced = await runner.run(telegram, limits=FAST, force=True, chat=2)
        assert forced.delivered == 1 and telegram.delivered[-1][0] == 2 and "Tin 3" in telegram.delivered[-1][1]
        assert "Tin 1" not in telegram.delivered[-1][1]


async def test_runner_matches_topics_without_needing_the_live_index(tmp_path: Path) -> None:
    with ArticleStore(tmp_path / "articles.sqlite") as store, SubscriptionStore(tmp_path / "bot.sqlite") as subs:
        subs.subscribe(1, lang="vi", slot="07:00", topics=("tin 2",), now=T0 - timedelta(days=1))
        subs.subscribe(2, lang="vi", slot="07:00", topics=("không có",), now=T0 - timedelta(days=1))
        store.upsert_many([news(1, T0), news(2, T0)], now=T0 - timedelta(hours=1))
        runner = DigestRunner(store, subs, Renderer(), clock=lambda: T0)
        telegram = Telegram()
        report = await runner.run(telegram, limits=FAST)
        assert report.delivered == 1 and report.empty == 1
        [(chat, html)] = telegram.delivered
        assert chat == 1 and "Tin 2" in html and "Tin 1" not in html


async def test_a_second_broadcaster_waits_for_the_first(tmp_path: Path) -> None:
    with ArticleStore(tmp_path / "articles.sqlite") as store, SubscriptionStore(tmp_path / "bot.sqlite") as subs:
        token = subs.acquire_lock(now=T0)
        assert token
        runner = DigestRunner(store, subs, Renderer(), clock=lambda: T0)
        assert (await runner.run(Telegram(), limits=FAST)).busy
