"""Per-user rate limit: a short burst, then a steady rate; one polite warning per wait.

Telegram's own flood limits are PTB's AIORateLimiter's job; this one protects the search index
from a single user (or script) hammering it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Button presses a user may make at once before BANTIN_BUTTON_RATE applies: stepping a digest's
#: time by ±30 minutes from 07:00 to 12:00 is ten presses, and must not be refused.
PRESS_BURST = 10


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class RateLimiter:
    def __init__(self, burst: int, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = max(1, burst)
        self.rate = max(1, per_minute) / 60.0
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, user_id: int, *, answered: bool = False) -> tuple[bool, float, bool]:
        """(allowed, seconds to wait, warn) — `warn` is True only for the first refusal in a row,
        so a flooding user gets one 'please wait', not one per message.

        `answered`: the caller answers every refusal itself (a button's toast, an inline answer),
        so this one does not use up the chat warning."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(user_id)
            if bucket is None:
                bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                bucket.warned = False
                return True, 0.0, False
            warn = not bucket.warned and not answered
            bucket.warned = bucket.warned or not answered
            if len(self._buckets) > 10000:
                self._forget_full(now)
            return False, math.ceil((1.0 - bucket.tokens) / self.rate), warn

    def _forget_full(self, now: float) -> None:
        """Drop users whose bucket has refilled: keeps memory bounded on a busy bot."""
        full_after = self.burst / self.rate
        for user_id in [u for u, b in self._buckets.items() if now - b.updated > full_after]:
            del self._buckets[user_id]
