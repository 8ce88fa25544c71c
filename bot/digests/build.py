"""Building a subscriber's digest: which articles, in what order, split into which messages.

Pure functions of (the store's recent articles, the subscriber, now), with topics matched by the
index package's own query rules: nothing here writes anything or talks to Telegram, so the
scheduler, `bantin digest`, the /digest preview and the "more" button all build the very same
digest, and tests need no network.

What goes in a digest (README, "Daily digests"): articles *first seen* by our ingest after the
subscriber's previous digest, so a page scraped late still makes it; never more than 7 days back,
and never an article dated more than 7 days before the digest (importing an old archive is not
news). Newest first. With topics, only articles that the same search as the chat would find for
at least one topic.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bantin.articles.model import Article, published_sort_key
from bantin.articles.store import ArticleStore
from bantin.bot.clock import VIETNAM
from bantin.bot.digests.slots import looks_like_clock, parse_clock
from bantin.bot.digests.store import Part
from bantin.bot.render import LISTED_TITLE, Renderer, fits, shorten, utf16_len
from bantin.bot.reply import Button
from bantin.bot.search import buttons as cb
from bantin.index.analysis import fold
from bantin.index.topics import TopicIndex

WINDOW = timedelta(days=7)
#: At most this many recent articles are considered per run (a week of a local paper is a few hundred).
CANDIDATES = 3000
MAX_TOPICS = 5
MAX_TOPIC_CHARS = 60
MAX_ARGS_CHARS = 400
#: Budgets for packing articles into one message, below Telegram's 4096 units / 100 entities.
_TEXT_BUDGET = 3300
_ENTITY_BUDGET = 80
_READ_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")


# -- what the user typed -----------------------------------------------------------------------


class BadSubscribe(ValueError):
    """`/subscribe` arguments we cannot use; `reason` picks the polite explanation."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # time | format | too_many | too_long | no_words
        self.detail = detail


@dataclass(frozen=True)
class SubscribeRequest:
    slot: str | None  # None: keep the current time (or the default for a new subscriber)
    topics: tuple[str, ...] | None  # None: keep the current topics


_CLOCK_PREFIX = re.compile(
    r"^(\d{1,2}(?:\s*(?::|h|g|giờ|gio)\s*\d{0,2})?(?:\s*(?:phút|phut|p)(?=\s|,|$))?)(?=\s|,|$)", re.IGNORECASE
)


def parse_subscribe(args: str) -> SubscribeRequest:
    """`[time] [topic, topic…]` → a request; raises BadSubscribe with a reason for the reply."""
    text = clean_text(args)
    if not text:
        return SubscribeRequest(None, None)
    if len(text) > MAX_ARGS_CHARS:
        raise BadSubscribe("too_long", str(MAX_TOPIC_CHARS))
    match = _CLOCK_PREFIX.match(text)
    if match is None:
        first = text.split()[0]
        if looks_like_clock(first):
            raise BadSubscribe("time", first)
        raise BadSubscribe("format", text[:MAX_TOPIC_CHARS])
    slot = parse_clock(match[1])
    if slot is None:
        raise BadSubscribe("time", match[1])
    rest = text[match.end():].strip(" ,;")
    return SubscribeRequest(slot, parse_topics(rest) if rest else None)


def parse_topics(text: str) -> tuple[str, ...]:
    """Comma- or semicolon-separated saved searches; duplicates (ignoring accents and case) dropped."""
    topics: list[str] = []
    seen: set[str] = set()
    for piece in re.split(r"[,;\n]+", text):
        topic = clean_text(piece)
        if not topic:
            continue
        if not any(ch.isalnum() for ch in topic):
            raise BadSubscribe("no_words", topic[:MAX_TOPIC_CHARS])
        if len(topic) > MAX_TOPIC_CHARS:
            raise BadSubscribe("too_long", topic[:MAX_TOPIC_CHARS] + "…")
        key = topic_key(topic)
        if key not in seen:
            seen.add(key)
            topics.append(topic)
    if len(topics) > MAX_TOPICS:
        raise BadSubscribe("too_many", str(len(topics)))
    return tuple(topics)


def clean_text(raw: str) -> str:
    """NFC, control and format characters dropped, whitespace collapsed."""
    kept = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch
                   for ch in unicodedata.normalize("NFC", raw))
    return " ".join(kept.split())


def topic_key(topic: str) -> str:
    """Topics equal up to accents and case are the same saved search."""
    return " ".join(fold(topic.lower()).split())


def topic_tag(topic: str) -> str:
    """Six hex characters naming a topic in a button, so a stale button can't remove another one."""
    return hashlib.blake2b(topic_key(topic).encode("utf-8"), digest_size=3).hexdigest()


# -- choosing the articles -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The recent articles one run (or one preview) chooses from, newest first by first_seen.

    `until` is the newest `first_seen` in the store when we looked: the cursor moves there, not
    to the wall clock, so an ingest batch still being written (its `first_seen` is taken before
    its commit) cannot fall between two digests.
    """

    articles: tuple[Article, ...]
    until: datetime | None
    now: datetime


def recent_window(store: ArticleStore, now: datetime, *, since: datetime | None = None) -> Window:
    """Articles first seen after `since` (at most 7 days back), up to the store's newest, that can
    be news (an imported archive is left out here, so topic matching never indexes it)."""
    until = store.first_seen_newest()
    floor = now - WINDOW
    start = max(since, floor) if since else floor
    if until is None:
        return Window((), None, now)
    articles = tuple(a for a in store.first_seen_after(start, limit=CANDIDATES)
                     if a.first_seen is not None and a.first_seen <= until and is_news(a, now))
    return Window(articles, until, now)


class Matcher(Protocol):
    def __call__(self, topic: str) -> frozenset[str]: ...


class TopicMatcher:
    """Which of a window's articles each topic finds, with the chat's own search rules.

    The matching itself is `index.topics.TopicIndex` (a small in-memory index of just the window's
    articles, same analysis and same rule for what *matches* as the chat, no "relaxed" fallback).
    Here: one per window, thread-safe, and memoised by topic, since 10,000 subscribers share a few
    hundred topics. It also means an article that was ingested but not yet added to the live
    index is still matched.
    """

    def __init__(self, window: Window) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._index = TopicIndex(window.articles)
        self._cache: dict[str, frozenset[str]] = {}

    def __call__(self, topic: str) -> frozenset[str]:
        key = topic_key(topic)
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = self._cache[key] = self._index.match(topic)
            return found

    def close(self) -> None:
        with self._lock:
            self._index.close()


@dataclass(frozen=True)
class Digest:
    articles: tuple[Article, ...]  # everything that qualifies, newest first
    since: datetime  # exclusive lower bound actually used (after the 7-day clamp)
    until: datetime | None  # inclusive upper bound; the cursor moves here once delivered
    topics: tuple[str, ...]


def is_news(article: Article, now: datetime) -> bool:
    """Dated within the window (or undated): an imported archive is not news."""
    moment = published_sort_key(article.published)
    return moment is None or moment >= now - WINDOW


def build_digest(window: Window, *, since: datetime, topics: Sequence[str], matcher: Matcher | None,
                 until: datetime | None = None) -> Digest:
    """The articles for one subscriber: in (since, until], news, matching a topic if they have any."""
    start = max(since, window.now - WINDOW)
    end = until if until is not None else window.until
    chosen = [a for a in window.articles
              if a.first_seen is not None and a.first_seen > start and (end is None or a.first_seen <= end)
              and is_news(a, window.now)]
    if topics:
        wanted: set[str] = set()
        for topic in topics:
            wanted |= matcher(topic) if matcher is not None else frozenset()
        chosen = [a for a in chosen if a.id in wanted]
    return Digest(tuple(chosen), start, end, tuple(topics))


# -- rendering ----------------------------------------------------------------------------------


def render_digest(renderer: Renderer, lang: str, digest: Digest, *, size: int, offset: int = 0,
                  preview: bool = False, next_at: datetime | None = None, status: str = "active") -> list[Part]:
    """Messages for articles [offset, offset+size) of a digest; [] when there is nothing.

    Articles are packed into as few messages as Telegram's limits allow; the last one carries a
    "more" button (stateless: the window and the offset) when articles remain, and a settings one.
    `status` (previews): the reader's subscription, `active`, `stopped` or `none`, for the closing line.
    """
    shown = digest.articles[offset : offset + size]
    if not shown:
        return []
    untitled = renderer.label(lang, "untitled")
    groups = _pack([_item(n, a, untitled) for n, a in enumerate(shown, offset + 1)])
    remaining = max(0, len(digest.articles) - offset - len(shown))
    common = {
        "preview": preview, "status": status, "continued": offset > 0, "total": len(digest.articles),
        "shown": len(shown), "offset": offset, "remaining": remaining, "topics": digest.topics,
        "since": digest.since.astimezone(VIETNAM), "next_at": next_at.astimezone(VIETNAM) if next_at else None,
    }
    while True:
        pages = [renderer.render(lang, "digest", items=group, part=n, parts=len(groups), last=n == len(groups),
                                 **common) for n, group in enumerate(groups, 1)]
        too_big = next((n for n, html in enumerate(pages) if not fits(html) and len(groups[n]) > 1), None)
        if too_big is None:
            break
        # The estimate was off (very long titles): split that message in two and render again.
        group = groups[too_big]
        groups[too_big : too_big + 1] = [group[: len(group) // 2], group[len(group) // 2 :]]
    row: list[Button] = []
    if remaining and digest.until is not None:
        more = cb.DigestMoreButton(to_micros(digest.since), to_micros(digest.until), offset + len(shown))
        row.append(Button(renderer.label(lang, "digest_more", min(remaining, size)), cb.encode(more)))
    row.append(Button(renderer.label(lang, "digest_settings_button"), cb.encode(cb.DigestButton("show"))))
    return [Part(html, (tuple(row),) if n == len(pages) else ()) for n, html in enumerate(pages, 1)]


def _item(number: int, article: Article, untitled: str) -> dict[str, Any]:
    """One listed article; its title cut to LISTED_TITLE, so that one always fits a message."""
    # Only the publication date: beside 🗓 the ingest time would pass for one (issue 13).
    date = article.published
    if isinstance(date, datetime):
        date = date.astimezone(VIETNAM)
    read = f"/xem_{article.id}" if not article.url and _READ_ID.match(article.id) else None
    title = shorten(article.title.strip(), LISTED_TITLE) or untitled
    return {"number": number, "article": article, "title": title, "date": date, "read_command": read}


def _pack(items: list[dict[str, Any]], *, budget: int = _TEXT_BUDGET, lead: bool = False) -> list[list[dict[str, Any]]]:
    """Greedy grouping by an estimate of each item's visible length and entities."""
    groups: list[list[dict[str, Any]]] = [[]]
    text = entities = 0
    for item in items:
        cost = utf16_len(item["title"]) + 40 + (len(item["read_command"] or "") + 20)
        if lead:
            cost += utf16_len(item["lead"] or "")
        ents = 2
        if groups[-1] and (text + cost > budget or entities + ents > _ENTITY_BUDGET):
            groups.append([])
            text = entities = 0
        groups[-1].append(item)
        text += cost
        entities += ents
    return groups


# -- the layout for groups and channels ------------------------------------------------------------

#: A lead is cut to one line of at most this many UTF-16 units (at a word boundary).
LEAD_CHARS = 160
#: Editors' header/footer texts: at most this many characters and lines.
MAX_NOTE_CHARS = 500
MAX_NOTE_LINES = 5


def one_line(text: str, limit: int = LEAD_CHARS) -> str:
    """Whitespace collapsed; at most `limit` UTF-16 units, cut between words, with an ellipsis."""
    return shorten(" ".join(text.split()), limit)


def clean_note(raw: str) -> str:
    """An editor's header or footer: NFC, control characters dropped, spaces collapsed per line,
    blank lines dropped; line breaks are kept (up to MAX_NOTE_LINES)."""
    lines = [clean_text(line) for line in unicodedata.normalize("NFC", raw).splitlines()]
    return "\n".join(line for line in lines if line)


def render_channel_digest(renderer: Renderer, lang: str, digest: Digest, *, size: int,
                          link: Callable[[Article], str | None], now: datetime, header: str | None = None,
                          footer: str | None = None, bot_username: str | None = None, thread_id: int | None = None,
                          silent: bool = False) -> list[Part]:
    """A group's or channel's digest: a headline, then per article the title (bold, linked to the
    article or to the bot's deep link that shows it in full), date and a one-line lead, with the
    editor's header and footer; [] when there is nothing. No buttons: everyone in the chat would
    share them. Articles past `size` are counted, with a pointer to the bot for the rest."""
    shown = digest.articles[:size]
    if not shown:
        return []
    untitled = renderer.label(lang, "untitled")
    items = [{**_item(n, a, untitled), "link": link(a), "lead": _lead(a)} for n, a in enumerate(shown, 1)]
    note_cost = sum(utf16_len(note or "") for note in (header, footer))
    groups = _pack(items, budget=_TEXT_BUDGET - note_cost, lead=True)
    common = {"total": len(digest.articles), "shown": len(shown), "remaining": len(digest.articles) - len(shown),
              "topics": digest.topics, "day": now.astimezone(VIETNAM), "header": header, "footer": footer,
              "bot_username": bot_username}
    while True:
        pages = [renderer.render(lang, "digest_channel", items=group, part=n, parts=len(groups),
                                 last=n == len(groups), **common) for n, group in enumerate(groups, 1)]
        too_big = next((n for n, html in enumerate(pages) if not fits(html) and len(groups[n]) > 1), None)
        if too_big is None:
            break
        group = groups[too_big]
        groups[too_big : too_big + 1] = [group[: len(group) // 2], group[len(group) // 2 :]]
    return [Part(html, thread_id=thread_id, silent=silent) for html in pages]


def _lead(article: Article) -> str | None:
    lead = one_line(article.lead) if article.lead else ""
    return lead if lead and topic_key(lead) != topic_key(article.title) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (a float timestamp could be off by one)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)

