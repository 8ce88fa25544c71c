"""The getChatMember cache: a user pressing a group's settings button again and again asks
Telegram once a minute, never once per press."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Bot
from telegram.error import BadRequest

from bantin.bot.telegram.membership import AdminCache


class CountingBot:
    """Answers getChatMember like Telegram (an admin or a member), or fails; counts the requests."""

    def __init__(self, admins: set[tuple[int, int]], fail: bool = False) -> None:
        self.admins, self.fail, self.asked = admins, fail, 0

    async def get_chat_member(self, chat_id: int, user_id: int) -> Any:
        self.asked += 1
        await asyncio.sleep(0)  # let concurrent presses arrive while the request is under way
        if self.fail:
            raise BadRequest("chat not found")
        status = "administrator" if (chat_id, user_id) in self.admins else "member"
        return type("Member", (), {"status": status})()


def _bot(fake: CountingBot) -> Bot:
    return fake  # type: ignore[return-value]


def test_answers_are_kept_a_minute_and_shared_by_concurrent_presses() -> None:
    now = [0.0]
    cache, fake = AdminCache(ttl=60, clock=lambda: now[0]), CountingBot({(-1, 7)})

    async def run() -> None:
        assert await asyncio.gather(*(cache.is_admin(_bot(fake), -1, 8) for _ in range(30))) == [False] * 30
        assert fake.asked == 1
        assert await cache.is_admin(_bot(fake), -1, 7) and fake.asked == 2
        now[0] = 59.0
        assert not await cache.is_admin(_bot(fake), -1, 8) and fake.asked == 2
        now[0] = 60.5  # a promotion or demotion counts within a minute
        fake.admins.add((-1, 8))
        assert await cache.is_admin(_bot(fake), -1, 8) and fake.asked == 3

    asyncio.run(run())


def test_size_is_bounded_and_failures_are_not_kept() -> None:
    cache, fake = AdminCache(size=3, clock=lambda: 0.0), CountingBot(set(), fail=True)

    async def run() -> None:
        for _ in range(2):
            assert not await cache.is_admin(_bot(fake), -1, 8)
        assert fake.asked == 2  # Telegram could not say: asked again next time
        fake.fail = False
        for user in range(10):
            await cache.is_admin(_bot(fake), -1, user)
        assert len(cache._asked) == 3

    asyncio.run(run())
