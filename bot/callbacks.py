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
    """The 📖 "Đọc toàn văn" button: the whole article, sent to the chat (from part `part` on)."""

    article_id: str
    part: int = 1


@dataclass(frozen=True)
class NoopButton:
    """The 'page 2/7' label between the arrows: pressing it does nothing."""


@dataclass(frozen=True)
class DigestMoreButton:
    """The next articles of a digest: its window (exclusive start, inclusive end, in microseconds
    since the epoch) and where to continue; the chat's topics are looked up when pressed."""

    since_us: int
    until_us: int
    offset: int


#: Digest settings actions and the shape of their value: a time 'HHMM', a topic 'n:tag', or none.
DIGEST_ACTIONS = {"time": "t", "drop": "x", "clear": "c", "stop": "u", "start": "s", "show": "g", "preview": "p"}
_DIGEST_CODES = {v: k for k, v in DIGEST_ACTIONS.items()}
_HHMM = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")
_DROP = re.compile(r"^[1-9]:[0-9a-f]{6}$")


@dataclass(frozen=True)
class DigestButton:
    """A /settings button: change the time, drop a topic (index and a tag of its text, so a stale
    button cannot drop a different topic), clear topics, stop or restart, show settings, preview."""

    action: str
    value: str = ""


Callback = PageButton | RelatedButton | ReadButton | NoopButton | DigestMoreButton | DigestButton


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
    if isinstance(button, DigestMoreButton):
        return _checked(f"d|m|{_b36(button.since_us)}|{_b36(button.until_us)}|{button.offset}")
    if isinstance(button, DigestButton):
        return _checked(f"d|{DIGEST_ACTIONS[button.action]}" + (f"|{button.value}" if button.value else ""))
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
    if kind == "d":
        return _decode_digest(rest)
    raise BadCallback(f"unknown button {kind!r}")


def _decode_digest(rest: str) -> Callback:
    code, _, value = rest.partition("|")
    if code == "m":
        fields = value.split("|")
        if len(fields) == 3 and all(re.fullmatch(r"[0-9a-z]{1,13}", f) for f in fields[:2]) \
                and fields[2].isdigit() and 1 <= int(fields[2]) <= 10000:
            since, until = int(fields[0], 36), int(fields[1], 36)
            if since < until:
                return DigestMoreButton(since, until, int(fields[2]))
        raise BadCallback("bad digest more button")
    action = _DIGEST_CODES.get(code)
    if action == "time" and _HHMM.match(value):
        return DigestButton(action, value)
    if action == "drop" and _DROP.match(value):
        return DigestButton(action, value)
    if action in ("clear", "stop", "start", "show", "preview") and not value:
        return DigestButton(action)
    raise BadCallback(f"bad digest button {code!r}")


def _b36(value: int) -> str:
    if value < 0:
        raise ValueError("negative timestamp")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
        if not value:
            return out


def _checked(data: str) -> str:
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def id_fits(article_id: str) -> bool:
    """Whether an article id can ride in a button (JSON Lines ids are free-form; a Vietnamese
    letter takes 2-3 of the 64 bytes, hence the byte count too)."""
    return bool(_ID.fullmatch(article_id)) and len(article_id.encode("utf-8")) <= 48
