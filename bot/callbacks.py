"""Callback data for inline buttons: self-contained, ≤ 64 bytes, valid across restarts.

No server-side session: a button carries everything needed to answer it. A search query too long
to fit is replaced by `QUERY_IN_MESSAGE`, and the handler reads it back from the results message
it belongs to (its first `code` entity), which is also stateless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
QUERY_IN_MESSAGE = "\x1f"
_SORTS = {"r": "relevance", "n": "newest"}
_SORT_CODES = {v: k for k, v in _SORTS.items()}
_ID = re.compile(r"^[\w.:-]{1,48}$")


class BadCallback(ValueError):
    """Stale, forged or foreign button data."""


@dataclass(frozen=True)
class PageButton:
    """Another page of a search: `query` is None when it must be read from the message."""

    page: int
    sort: str
    query: str | None


@dataclass(frozen=True)
class RelatedButton:
    article_id: str


@dataclass(frozen=True)
class ReadButton:
    """Full text of an article, starting at part `part`."""

    article_id: str
    part: int = 1


@dataclass(frozen=True)
class NoopButton:
    """The 'page 2/7' label between the arrows: pressing it does nothing."""


Callback = PageButton | RelatedButton | ReadButton | NoopButton


def encode(button: Callback) -> str:
    if isinstance(button, PageButton):
        head = f"s|{button.page}|{_SORT_CODES[button.sort]}|"
        query = button.query or ""
        data = head + query
        if not query or len(data.encode("utf-8")) > MAX_BYTES:
            data = head + QUERY_IN_MESSAGE
        return data
    if isinstance(button, RelatedButton):
        return _checked(f"r|{button.article_id}")
    if isinstance(button, ReadButton):
        return _checked(f"f|{button.article_id}|{button.part}")
    return "x"


def decode(data: str | None) -> Callback:
    """Parse button data; anything unexpected is a BadCallback, never another exception."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BadCallback("empty or oversized")
    kind, _, rest = data.partition("|")
    if kind == "x" and not rest:
        return NoopButton()
    if kind == "s":
        page, _, rest = rest.partition("|")
        sort, _, query = rest.partition("|")
        if sort not in _SORTS or not page.isdigit() or not 1 <= int(page) <= 1000 or not query:
            raise BadCallback("bad page button")
        return PageButton(int(page), _SORTS[sort], None if query == QUERY_IN_MESSAGE else query)
    if kind == "r" and _ID.match(rest):
        return RelatedButton(rest)
    if kind == "f":
        article_id, _, part = rest.rpartition("|")
        if _ID.match(article_id) and part.isdigit() and 1 <= int(part) <= 1000:
            return ReadButton(article_id, int(part))
    raise BadCallback(f"unknown button {kind!r}")


def _checked(data: str) -> str:
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def id_fits(article_id: str) -> bool:
    """Whether an article id can ride in a button (JSON Lines ids are free-form)."""
    return bool(_ID.match(article_id))
