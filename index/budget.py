"""A search's deadline, checked from inside the engine's loops (cooperative cancellation).

Why: the bot gives up waiting for a slow search after `BANTIN_SEARCH_TIMEOUT`, but a thread or a
worker process cannot be interrupted from outside; without this, an abandoned search went on
computing and every search queued behind it waited too. So a search carries a `Budget`: the loops
that can run long (postings, candidates, phrase positions) report their work to it, and it raises
`SearchTimeout` once the deadline has passed; `SearchIndex.search` turns that into a page marked
`timed_out`.

The deadline is wall-clock time (`time.time()`), because it crosses into the search worker
processes. The bot sets it for everything run under its timeout with `deadline_after`; a
`ContextVar` carries it into the worker thread (asyncio.to_thread copies the context), so the
core between the handler and the index needs no extra argument.

No Whoosh here: `bot` imports this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

#: Work units between two looks at the clock (a unit is a posting or a candidate, ~1 µs).
CHECK_EVERY = 2048

_deadline: ContextVar[float | None] = ContextVar("bantin_search_deadline", default=None)


class SearchTimeout(Exception):
    """The search's deadline passed; whatever it was computing is abandoned."""


class Budget:
    """The deadline of one search and a count of the work it did.

    `work` counts postings and candidates looked at; `texts` counts stored texts read and folded
    (the expensive way to check a phrase). Tests read them to bound a query's work without timing it.
    """

    __slots__ = ("_next_check", "deadline", "texts", "work")

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self.work = 0
        self.texts = 0
        self._next_check = 0

    def check(self) -> None:
        """Raise `SearchTimeout` if the deadline has passed."""
        if self.deadline is not None and time.time() >= self.deadline:
            raise SearchTimeout

    def spend(self, units: int = 1) -> None:
        """Count `units` of work; every `CHECK_EVERY` units, look at the clock."""
        self.work += units
        if self.work >= self._next_check:
            self._next_check = self.work + CHECK_EVERY
            self.check()

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a deadline."""
        return None if self.deadline is None else max(0.0, self.deadline - time.time())


def current_deadline() -> float | None:
    """The deadline set by the caller's `deadline_after`, if any."""
    return _deadline.get()


@contextmanager
def deadline_after(seconds: float | None) -> Iterator[None]:
    """Searches started inside this block (in this context) stop after `seconds`."""
    token = _deadline.set(None if seconds is None else time.time() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def call_with_deadline(seconds: float | None, func: Callable[..., T], /, *args: object, **kwargs: object) -> T:
    """`func(*args, **kwargs)` with searches inside it bounded by `seconds` (for asyncio.to_thread)."""
    with deadline_after(seconds):
        return func(*args, **kwargs)
