"""Posting digests to groups and channels with injected send/edit/delete functions: the per-group
pace, a forced digest that edits the slot's post instead of posting twice, and removal notices.

The functions play Telegram (raising PTB's own exceptions); stores are real SQLite files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden

from bantin.articles.model import VIETNAM_TZ, Article
from bantin.articles.store import ArticleStore
from bantin.bot.digests.broadcast import Broadcaster, Limits, Throttle
from bantin.bot.digests.runner import DigestRunner
from bantin.bot.digests.store import CHANNEL, GROUP, Part, Place, Planned, SubscriptionStore
from bantin.bot.render import Renderer
from tests.test_digest_broadcast import FakeClock

T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # 07:00 in Vietnam
KEY = "2024-05-01T07:00"
CHAN, EDITOR = -1001234567890, 5501
FAST = Limits(rate=None, per_chat=None, per_group=None, concurrency=4, backoff=0.001)


async def test_throttle_spaces_posts_to_one_group_by_three_seconds() -> None:
    clock = FakeClock()
    throttle = Throttle(20.0, 1.0, per_group=3.0, clock=clock, sleep=clock.sleep)
    times = []
    for chat in [CHAN, CHAN, 1, 1, -5, CHAN]:
        assert await throttle.wait(chat)
        times.append((chat, round(clock.now, 3)))
    assert times == [(CHAN, 0.0), (CHAN, 3.0),  # 20 a minute in one group or channel
                     (1, 3.05), (1, 4.05),  # a private chat keeps its 1 s (and the overall 20/s)
                     (-5, 4.1),  # another group is not held back by the first one
                     (CHAN, 6.0)]


class Telegram:
    """Scripted Telegram for one chat's messages: ids count up; edits and deletes are recorded."""

    def __init__(self) -> None:
        self.messages: dict[tuple[int, int], str] = {}
        self.sent: list[tuple[int, Part]] = []
        self.edits: list[tuple[int, int]] = []
        self.deletes: list[tuple[int, int]] = []
        self.next_id = 100
        self.faults: list[BaseException] = []

    async def send(self, chat: int, part: Part) -> int:
        if self.faults:
            raise self.faults.pop(0)
        self.next_id += 1
        self.messages[(chat, self.next_id)] = part.html
        self.sent.append((chat, part))
        return self.next_id

    async def edit(self, chat: int, message_id: int, part: Part) -> int:
        if (chat, message_id) not in self.messages:
            raise BadRequest("Bad Request: message to edit not found")
        if self.messages[(chat, message_id)] == part.html:
            raise BadRequest("Bad Request: message is not modified: specified new message content …")
        self.messages[(chat, message_id)] = part.html
        self.edits.append((chat, message_id))
        return message_id

    async def delete(self, chat: int, message_id: int) -> None:
        self.messages.pop((chat, message_id), None)
        self.deletes.append((chat, message_id))

    def shown(self, chat: int) -> list[str]:
        return [html for (c, _), html in sorted(self.messages.items()) if c == chat]


@pytest.fixture
def subs(tmp_path: Path) -> Iterator[SubscriptionStore]:
    with SubscriptionStore(tmp_path / "bot.sqlite") as store:
        yield store


def attach(subs: SubscriptionStore, *, silent: bool = False, thread: int | None = None) -> None:
    subs.subscribe(CHAN, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1),
                   place=Place(CHANNEL, thread_id=thread, title="Báo Đảng xã", username="baodangxa",
                               added_by=EDITOR, added_by_name="Hoa", report_chat=EDITOR))
    if silent:
        subs.set_option(CHAN, "silent", True, now=T0)


async def deliver(subs: SubscriptionStore, telegram: Telegram) -> object:
    broadcaster = Broadcaster(subs, telegram.send, FAST, clock=lambda: T0, edit=telegram.edit,
                              delete=telegram.delete)
    return await broadcaster.deliver(subs.pending(now=T0))


async def test_a_revision_edits_the_posted_messages_adds_and_deletes(subs: SubscriptionStore) -> None:
    attach(subs)
    telegram = Telegram()
    subs.plan([Planned(CHAN, KEY, (Part("a"), Part("b"), Part("c")), 3, T0)], now=T0)
    await deliver(subs, telegram)
    assert telegram.shown(CHAN) == ["a", "b", "c"]

    subs.plan([Planned(CHAN, KEY, (Part("A"), Part("b")), 4, T0 + timedelta(hours=1), revise=True)], now=T0)
    report = await deliver(subs, telegram)
    assert telegram.shown(CHAN) == ["A", "b"] and len(telegram.sent) == 3  # nothing posted twice
    assert report.edited == 2 and report.deleted == 1 and report.delivered == 1  # type: ignore[attr-defined]
    assert subs.delivery(CHAN, KEY).state == "sent"  # type: ignore[index]

    subs.plan([Planned(CHAN, KEY, (Part("A"), Part("B"), Part("C")), 5, T0 + timedelta(hours=2), revise=True)],
              now=T0)
    await deliver(subs, telegram)
    assert telegram.shown(CHAN) == ["A", "B", "C"] and len(telegram.sent) == 4  # one extra part sent


async def test_a_deleted_post_is_posted_again_when_revised(subs: SubscriptionStore) -> None:
    attach(subs)
    telegram = Telegram()
    subs.plan([Planned(CHAN, KEY, (Part("a"),), 1, T0)], now=T0)
    await deliver(subs, telegram)
    telegram.messages.clear()  # an admin deleted the post in the channel
    subs.plan([Planned(CHAN, KEY, (Part("a2"),), 2, T0, revise=True)], now=T0)
    await deliver(subs, telegram)
    assert telegram.shown(CHAN) == ["a2"]
    assert subs.delivery(CHAN, KEY).message_ids == "[102]"  # type: ignore[index]


async def test_a_channel_the_bot_was_removed_from_is_stopped_and_its_editor_told_once(tmp_path: Path,
                                                                                      subs: SubscriptionStore) -> None:
    attach(subs)
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        store.upsert_many([news(1)], now=T0 - timedelta(hours=1))
        runner = DigestRunner(store, subs, Renderer(), clock=lambda: T0 + timedelta(minutes=1))
        telegram = Telegram()
        telegram.faults.append(Forbidden("Forbidden: bot is not a member of the channel chat"))
        report = await runner.run(telegram.send, limits=FAST, edit=telegram.edit, delete=telegram.delete)
        assert report.blocked == 1 and report.notices == 1
        [(chat, notice)] = telegram.sent
        assert chat == EDITOR and "Báo Đảng xã" in notice.html and "not a member" in notice.html
        again = await runner.run(telegram.send, limits=FAST, force=True)
        assert again.notices == 0 and len(telegram.sent) == 1
    assert not subs.get(CHAN).active  # type: ignore[union-attr]


def news(n: int, hours: int = 1) -> Article:
    seen = T0 - timedelta(hours=hours)
    return Article(id=f"n{n}", title=f"Tin số {n}", paragraphs=(f"Mở đầu của tin {n}.", "Thân bài."),
                   url=None if n % 2 else f"https://b.vn/{n}", published=seen.astimezone(VIETNAM_TZ),
                   first_seen=seen)


async def test_forcing_a_channel_digest_again_edits_its_post(tmp_path: Path, subs: SubscriptionStore) -> None:
    attach(subs, silent=True, thread=None)
    now = [T0 + timedelta(hours=2)]  # 09:00: today's 07:00 slot has come, nothing posted yet
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        store.upsert_many([news(1), news(2)], now=T0 - timedelta(hours=1))
        runner = DigestRunner(store, subs, Renderer(), clock=lambda: now[0], bot_username="bantin_bot")
        telegram = Telegram()

        async def force() -> object:
            return await runner.run(telegram.send, limits=FAST, force=True, chat=CHAN, edit=telegram.edit,
                                    delete=telegram.delete)

        first = await force()
        assert first.planned == 1 and first.delivered == 1  # type: ignore[attr-defined]
        [(_, part)] = telegram.sent
        assert part.silent and not part.buttons
        assert '<a href="https://t.me/bantin_bot?start=xem_n1"><b>Tin số 1</b></a>' in part.html
        assert '<a href="https://b.vn/2"><b>Tin số 2</b></a>' in part.html and "Mở đầu của tin 2." in part.html

        unchanged = await force()
        assert unchanged.unchanged == 1 and len(telegram.sent) == 1 and telegram.edits == []  # type: ignore[attr-defined]

        store.upsert_many([news(3, hours=0)], now=T0 + timedelta(hours=1, minutes=30))
        now[0] = T0 + timedelta(hours=3)
        revised = await force()
        assert revised.revised == 1 and revised.edited == 1 and len(telegram.sent) == 1  # type: ignore[attr-defined]
        [html] = telegram.shown(CHAN)
        assert all(f"Tin số {n}" in html for n in (1, 2, 3))  # the slot's articles plus the new one
        assert subs.get(CHAN).since == T0 + timedelta(hours=1, minutes=30)  # type: ignore[union-attr]

        # The scheduled tick for that slot finds it served; tomorrow's starts after the new article.
        scheduled = await runner.run(telegram.send, limits=FAST, edit=telegram.edit, delete=telegram.delete)
        assert scheduled.planned == 0 and len(telegram.sent) == 1
        [row] = subs.deliveries(CHAN)
        assert row.slot_key == KEY and row.revision == 1

        # A private subscriber's `--now` is still a digest of its own, never an edit.
        subs.subscribe(42, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1))
        private = await runner.run(telegram.send, limits=FAST, force=True, chat=42)
        assert private.planned == 1 and subs.deliveries(42)[0].slot_key.startswith("now:")


async def test_a_group_that_became_a_supergroup_gets_its_digest_at_the_new_id(subs: SubscriptionStore) -> None:
    """Telegram refuses a post to an upgraded group with the new id: the digest moves there and the
    rest of the delivery goes out on the next run, nothing posted twice and nobody unsubscribed."""
    old, new = -4001, -1004001
    subs.subscribe(old, lang="vi", slot="07:00", topics=(), now=T0 - timedelta(days=1),
                   place=Place(GROUP, title="Chi bộ thôn 3", added_by=EDITOR, report_chat=EDITOR))
    subs.plan([Planned(old, KEY, (Part("a"), Part("b")), 2, T0)], now=T0)
    telegram = Telegram()

    async def send(chat: int, part: Part) -> int:
        if chat == old and part.html == "b":  # the first part went out, then the group was upgraded
            raise ChatMigrated(new)
        return await telegram.send(chat, part)

    broadcaster = Broadcaster(subs, send, FAST, clock=lambda: T0, edit=telegram.edit, delete=telegram.delete)
    report = await broadcaster.deliver(subs.pending(now=T0))
    assert report.blocked == 0  # type: ignore[attr-defined]
    assert subs.get(old) is None and subs.get(new).active  # type: ignore[union-attr]
    await broadcaster.deliver(subs.pending(now=T0))
    assert [(chat, part.html) for chat, part in telegram.sent] == [(old, "a"), (new, "b")]
    assert subs.delivery(new, KEY).state == "sent"  # type: ignore[index]


def test_moving_a_chat_never_overwrites_a_digest_already_at_the_new_id(subs: SubscriptionStore) -> None:
    for chat in (-1, -2):
        subs.subscribe(chat, lang="vi", slot="07:00", topics=(), now=T0, place=Place(GROUP))
    assert not subs.move_chat(-1, -2, now=T0)
    assert not subs.move_chat(-3, -4, now=T0)  # nothing subscribed there
    assert subs.get(-1) is not None and subs.get(-2) is not None


async def test_a_deleted_forum_topic_stops_the_digest_and_makes_the_notice_due(subs: SubscriptionStore) -> None:
    """Bug: a closed or deleted topic failed every day, the digest stayed on, and nobody was told."""
    attach(subs, thread=7)
    subs.plan([Planned(CHAN, KEY, (Part("a"),), 1, T0)], now=T0)
    telegram = Telegram()
    telegram.faults.append(BadRequest("Bad Request: message thread not found"))
    report = await deliver(subs, telegram)
    assert report.blocked == 1  # type: ignore[attr-defined]
    sub = subs.get(CHAN)
    assert sub is not None and not sub.active and sub.notice == "due"
