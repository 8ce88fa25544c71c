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
_ID = re.compile(r"[\w.:-]{1,48}")
_DIGITS = re.compile(r"[0-9]{1,6}")
_B36 = re.compile(r"[0-9a-z]{1,13}")
#: Digest windows end before 2100: a forged larger timestamp would overflow a datetime later.
MAX_MICROS = 4_102_444_800 * 1_000_000


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
_HHMM = re.compile(r"([01][0-9]|2[0-3])[0-5][0-9]")
_DROP = re.compile(r"[1-9]:[0-9a-f]{6}")


@dataclass(frozen=True)
class DigestButton:
    """A /settings button: change the time, drop a topic (index and a tag of its text, so a stale
    button cannot drop a different topic), clear topics, stop or restart, show settings, preview."""

    action: str
    value: str = ""


SearchButton = PageButton | RelatedButton | ReadButton | NoopButton
Callback = SearchButton | DigestMoreButton | DigestButton


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
    """Parse button data; anything unexpected is a BadCallback, never another exception.

    Every field is checked whole (`fullmatch`, ASCII digits, ranges), so what is returned can be
    used as is: the client chooses callback data, and a forged one must not reach the core as an
    OverflowError or a ValueError."""
    if not data or len(data.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise BadCallback("empty or oversized")
    kind, _, rest = data.partition("|")
    if kind == "x" and not rest:
        return NoopButton()
    if kind == "s":
        page, _, rest = rest.partition("|")
        sort, _, query = rest.partition("|")
        number = ascii_number(page, 1, 1000)
        if sort not in _SORTS or number is None or not query:
            raise BadCallback("bad page button")
        return PageButton(number, _SORTS[sort], None if query == QUERY_IN_MESSAGE else query)
    if kind == "r" and id_fits(rest):
        return RelatedButton(rest)
    if kind == "f":
        article_id, _, part = rest.rpartition("|")
        number = ascii_number(part, 1, 1000)
        if id_fits(article_id) and number is not None:
            return ReadButton(article_id, number)
    if kind == "d":
        return _decode_digest(rest)
    raise BadCallback(f"unknown button {kind!r}")


def _decode_digest(rest: str) -> Callback:
    code, _, value = rest.partition("|")
    if code == "m":
        fields = value.split("|")
        if len(fields) == 3 and all(_B36.fullmatch(f) for f in fields[:2]):
            since, until, offset = int(fields[0], 36), int(fields[1], 36), ascii_number(fields[2], 1, 10000)
            if since < until <= MAX_MICROS and offset is not None:
                return DigestMoreButton(since, until, offset)
        raise BadCallback("bad digest more button")
    action = _DIGEST_CODES.get(code)
    if action == "time" and _HHMM.fullmatch(value):
        return DigestButton(action, value)
    if action == "drop" and _DROP.fullmatch(value):
        return DigestButton(action, value)
    if action in ("clear", "stop", "start", "show", "preview") and not value:
        return DigestButton(action)
    raise BadCallback(f"bad digest button {code!r}")


def ascii_number(text: str, low: int, high: int) -> int | None:
    """ASCII digits within [low, high], else None ("²" is a str.isdigit() digit int() refuses, "٣" one
    it takes): for any number the client chooses (button data, inline offsets)."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


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
