"""The bot's core: plain values in, rendered replies out.

Telegram handlers, the offline console and the tests all drive this same object, so everything
a user can see is testable without a network. Methods are synchronous (searching is CPU-bound);
the Telegram side runs them in a worker thread.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.bot import callbacks as cb
from bantin.bot import digest as dg
from bantin.bot import reading
from bantin.bot.render import (
    LISTED_TITLE,
    MAX_MESSAGE,
    MAX_PER_PAGE,
    Renderer,
    fit_listing,
    number,
    plain_length,
    safe,
    shorten,
)
from bantin.bot.schedule import VIETNAM, clock_time, next_slot, shift_clock
from bantin.bot.subscriptions import CONSOLE_CHAT, Part, Place, SubscriptionStore, utcnow
from bantin.index.layout import pointer_stamp
from bantin.index.pool import CACHE_BUDGET, PooledIndex
from bantin.index.searcher import Hit, IndexDamaged, IndexMissing, SearchIndex, SearchPage

log = logging.getLogger(__name__)

#: Longer queries are cut (and the user told): nobody types more, and scoring cost grows with it.
MAX_QUERY_CHARS = 200
#: Words a minute, for the "about N minutes to read" of a long article's file.
READING_SPEED = 220
INLINE_PAGE = 10
#: Inline results, in UTF-16 units: the title and description of the result in the list (Telegram
#: shows two lines of each), and the title and lead of the message it sends (well within 4096).
INLINE_TITLE = 256
INLINE_DESCRIPTION = 200
INLINE_MESSAGE_TITLE = 1000
INLINE_LEAD = 600
_READ_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")
#: Any word after "/" is a command: Telegram marks `/khong-lenh` as one (up to the "-"), and the
#: user deserves a reply rather than silence. Valid names are `[A-Za-z0-9_]`; others are unknown.
_COMMAND = re.compile(r"^/([^\s@]+)(?:@(\S*))?(?:\s+(.*))?$", re.DOTALL)
#: How much of an unknown command the reply repeats.
SHOWN_COMMAND = 40
READ_COMMANDS = ("xem", "read")
#: `/start xem_<id>`: a deep link (t.me/<bot>?start=xem_<id>) that opens an article. Telegram allows
#: start payloads of up to 64 characters from A-Z, a-z, 0-9, _ and -.
READ_PAYLOAD = "xem_"
_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BOT_USERNAME = re.compile(r"[A-Za-z0-9_]{1,64}")
#: Daily digest commands and their Vietnamese aliases → canonical name.
DIGEST_COMMANDS = {"subscribe": "subscribe", "dangky": "subscribe", "unsubscribe": "unsubscribe",
                   "huydangky": "unsubscribe", "settings": "settings", "caidat": "settings",
                   "digest": "digest", "bantin": "digest"}
DIGEST_PRESETS = ("06:00", "07:00", "12:00", "18:00", "21:00")
#: Seconds between two attempts to open a damaged index whose pointer did not change (a rebuild
#: changes it, and is noticed at once; an operator restoring files by hand, within this).
DAMAGE_RETRY = 30.0


@dataclass(frozen=True)
class Button:
    text: str
    data: str | None = None
    url: str | None = None
    switch_inline: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message: HTML for Telegram's HTML parse mode, and an inline keyboard."""

    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    query: str | None = None  # the search this message shows, for stateless page buttons
    #: A file to send instead of a text message; `html` is then its caption (≤ 1024 characters).
    document: Document | None = None


@dataclass(frozen=True)
class Document:
    """A file attached to a reply: a long article as plain UTF-8 text."""

    filename: str
    content: bytes
    #: The article it holds: where two articles' names clash (same title), this tells them apart.
    article_id: str = ""


@dataclass(frozen=True)
class CallbackResult:
    """What a button press does: a toast, an edit of the pressed message, and/or new messages."""

    answer: str | None = None
    alert: bool = False
    edit: Reply | None = None
    send: tuple[Reply, ...] = ()


@dataclass(frozen=True)
class InlineItem:
    id: str
    title: str
    description: str
    html: str
    url: str | None


@dataclass(frozen=True)
class CleanQuery:
    text: str
    truncated: bool
    has_words: bool


def clean_query(raw: str) -> CleanQuery:
    """Strip what can't be searched (control and format characters), collapse spaces, cap length."""
    kept = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch
        for ch in unicodedata.normalize("NFC", raw)
    )
    text = " ".join(kept.split())
    truncated = len(text) > MAX_QUERY_CHARS
    if truncated:
        cut = text[:MAX_QUERY_CHARS]
        text = cut.rsplit(" ", 1)[0] if " " in cut[MAX_QUERY_CHARS // 2 :] else cut
    has_words = any(ch.isalnum() for ch in text)
    return CleanQuery(text, truncated, has_words)


def parse_command(text: str) -> tuple[str, str | None, str] | None:
    """'/search@bot words' → ('search', 'bot', 'words'); None when it is not a command."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    return match.group(1).lower(), match.group(2), (match.group(3) or "").strip()


@dataclass
class Core:
    store: ArticleStore
    index_root: Path
    renderer: Renderer = field(default_factory=Renderer)
    per_page: int = 5
    bot_username: str | None = None
    #: Daily digests. The console builds a Core without a store: it then opens `bot.sqlite` beside
    #: the index (Settings.state_path) on first use.
    subscriptions: SubscriptionStore | None = None
    digest_time: str = "07:00"
    digest_size: int = 10
    clock: Callable[[], datetime] = utcnow
    #: Processes that run searches (index.pool); 0 searches in this process.
    search_workers: int = 0
    #: Decoded postings each search process keeps (Settings.search_cache).
    search_cache: int = CACHE_BUDGET
    #: Articles longer than this (characters of text) are read as one .txt file rather than a
    #: run of messages; 0 = always messages.
    read_document_chars: int = 12000
    #: How far a build of the index has got, (done, total articles; total 0 = not counting yet),
    #: or None when nothing is building it. Set by the bot (bot.upkeep); None in the console.
    index_progress: Callable[[], tuple[int, int] | None] | None = None
    #: Why the index cannot be read (None: it can, or there is none yet).
    damage: str | None = field(default=None, init=False)
    _damage_seen: tuple[tuple[int, int] | None, float] = field(default=(None, 0.0), init=False, repr=False)
    _own_subscriptions: bool = field(default=False, init=False, repr=False)
    _topics: dg.TopicMatcher | None = field(default=None, init=False, repr=False)
    _index: SearchIndex | PooledIndex | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- services ------------------------------------------------------------------------------

    @property
    def index(self) -> SearchIndex | PooledIndex | None:
        """The search index, opened on first use (it may be built after the bot starts)."""
        if self._index is None:
            with self._lock:
                if self._index is None and self._worth_opening():
                    self._index = self._open_index()
        return self._index

    def _open_index(self) -> SearchIndex | PooledIndex | None:
        try:
            if self.search_workers > 0:
                index: SearchIndex | PooledIndex = PooledIndex.open(self.index_root, self.search_workers,
                                                                    cache=self.search_cache)
            else:
                index = SearchIndex.open(self.index_root, cache=self.search_cache)
        except IndexMissing:
            self.damage = None
            return None
        except IndexDamaged as exc:
            if self.damage is None:  # once, not once per query
                log.error("the search index is damaged (%s); searches are answered 'being repaired' until it "
                          "is rebuilt from the article store: `bantin reindex --full`, or /reindex full in "
                          "Telegram", exc.reason)
            self.damage = exc.reason
            self._damage_seen = (pointer_stamp(self.index_root), time.monotonic())
            return None
        if self.damage is not None:
            log.info("the search index can be read again; searching")
            self.damage = None
        return index

    def _worth_opening(self) -> bool:
        """A damaged index is tried again when a rebuild swapped in a new one, or now and then."""
        if self.damage is None:
            return True
        stamp, when = self._damage_seen
        return pointer_stamp(self.index_root) != stamp or time.monotonic() - when >= DAMAGE_RETRY

    def no_index(self, lang: str) -> Reply:
        """Why a search cannot run: the index is being prepared (and how far it got), or it is
        being repaired: damaged, or no longer being built (the build failed; editors are told)."""
        progress = self.index_progress() if self.index_progress is not None else None
        repairing = self.damage is not None or (self.index_progress is not None and progress is None)
        done, total = progress or (0, 0)
        return self.notice("index_repair" if repairing else "no_index", lang,
                           done=number(min(done, total), lang), total=number(total, lang) if total else None)

    @property
    def subs(self) -> SubscriptionStore:
        if self.subscriptions is None:
            with self._lock:
                if self.subscriptions is None:
                    self.subscriptions = SubscriptionStore(self.index_root.parent / "bot.sqlite")
                    self._own_subscriptions = True
        return self.subscriptions

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
        if self._topics is not None:
            self._topics.close()
            self._topics = None
        if self._own_subscriptions and self.subscriptions is not None:
            self.subscriptions.close()
            self.subscriptions = None

    # -- messages ------------------------------------------------------------------------------

    def message(self, text: str, lang: str, *, user: str | None = None, chat: int | None = None) -> list[Reply]:
        """Any text message: a command, or a search."""
        command = parse_command(text)
        if command is not None:
            return self.command(command[0], command[2], lang, user=user, chat=chat)
        return [self.search(text, lang)]

    def command(self, command: str, args: str, lang: str, *, user: str | None = None,
                chat: int | None = None, place: Place | None = None) -> list[Reply]:
        """A command by name (without the slash); unknown ones get a hint, not silence.

        `chat` identifies the subscriber for digest commands; None is the offline console's chat.
        `place`: the command came from a group (by one of its administrators: the handler checked).
        """
        if command in DIGEST_COMMANDS:
            return self.digest_command(DIGEST_COMMANDS[command], args, lang, CONSOLE_CHAT if chat is None else chat,
                                       place)
        if command == "start":
            if args.startswith(READ_PAYLOAD) and len(args) > len(READ_PAYLOAD) and _START_PAYLOAD.fullmatch(args):
                return self.read(args[len(READ_PAYLOAD) :], lang)  # a deep link (read_deep_link)
            return [self.notice("start", lang, name=user, digest_time=self.digest_time)]
        if command == "help":
            return [self.notice("help", lang, inline=self.bot_username, digest_time=self.digest_time)]
        if command == "about":
            return [self.about(lang)]
        if command in ("latest", "moi"):
            return [self.latest(lang)]
        if command in ("search", "tim", "timkiem"):
            if not args.strip():
                return [self.notice("empty_query", lang)]
            return [self.search(args, lang)]
        prefix, _, article_id = command.partition("_")
        if prefix in READ_COMMANDS and article_id:
            # Only ids that read_command offers; anything else cannot be an article of ours.
            return self.read(article_id, lang) if _READ_ID.fullmatch(article_id) else [self.notice("not_found", lang)]
        return [self.notice("unknown_command", lang, command=shorten("/" + command, SHOWN_COMMAND))]

    def notice(self, template: str, lang: str, /, **context: Any) -> Reply:
        return Reply(self.renderer.render(lang, template, **context))

    # -- search --------------------------------------------------------------------------------

    def search(self, raw: str, lang: str, *, page: int = 1, sort: str = "relevance") -> Reply:
        query = clean_query(raw)
        if not query.has_words:
            return self.notice("no_words", lang)
        index = self.index
        if index is None:
            return self.no_index(lang)
        result = index.search(query.text, page=page, per_page=self.page_size, sort=sort)
        if result.timed_out:
            raise TimeoutError("the search passed its deadline")  # the handler's timeout reply
        return self._results(result, lang, sort=sort, truncated=query.truncated)

    def _results(self, page: SearchPage, lang: str, *, sort: str, truncated: bool) -> Reply:
        first = (page.page - 1) * page.per_page + 1
        items = [self._item(n, hit, lang) for n, hit in enumerate(page.results, first)]
        html = fit_listing(lambda rows: self.renderer.render(lang, "results", page=page, items=rows, sort=sort,
                                                             truncated=truncated), items)
        return Reply(html, self._result_buttons(page, lang, sort), query=page.query)

    def _item(self, number: int, hit: Hit, lang: str) -> dict[str, Any]:
        return {"number": number, "hit": hit, "title": self._title(hit.title, lang), "snippet": safe(hit.snippet),
                "read_command": read_command(hit.id)}

    def _title(self, title: str, lang: str) -> str:
        """An article's title as listed; a label for one without (a bad export must still read well)."""
        return title.strip() or self.renderer.label(lang, "untitled")

    @property
    def page_size(self) -> int:
        """Results per message: BANTIN_PER_PAGE, but never more than MAX_PER_PAGE, so that the
        same number of results fits every page (page buttons count pages of this size)."""
        return max(1, min(self.per_page, MAX_PER_PAGE))

    def _result_buttons(self, page: SearchPage, lang: str, sort: str) -> tuple[tuple[Button, ...], ...]:
        label = self.renderer.label
        rows: list[tuple[Button, ...]] = []
        if page.suggestion:
            # "Did you mean" as a button: the corrected search, page 1 (only when it fits in the data)
            data = cb.encode(cb.PageButton(1, "relevance", page.suggestion))
            if not data.endswith(cb.QUERY_IN_MESSAGE):
                rows.append((Button(label(lang, "suggestion_button", page.suggestion), data),))
        first = (page.page - 1) * page.per_page + 1
        related = [
            Button(label(lang, "related_button", n), cb.encode(cb.RelatedButton(hit.id)))
            for n, hit in enumerate(page.results, first)
            if cb.id_fits(hit.id)
        ]
        rows += [tuple(related[i : i + 3]) for i in range(0, len(related), 3)]
        rows += self._read_buttons(lang, [(n, hit.id, hit.url) for n, hit in enumerate(page.results, first)])
        if page.pages > 1:
            nav: list[Button] = []
            if page.page > 1:
                nav.append(Button(label(lang, "prev_page"), cb.encode(cb.PageButton(page.page - 1, sort, page.query))))
            nav.append(Button(label(lang, "page_of", page.page, page.pages), cb.encode(cb.NoopButton())))
            if page.page < page.pages:
                nav.append(Button(label(lang, "next_page"), cb.encode(cb.PageButton(page.page + 1, sort, page.query))))
            rows.append(tuple(nav))
            other = "newest" if sort == "relevance" else "relevance"
            rows.append((Button(label(lang, f"sort_{other}"), cb.encode(cb.PageButton(1, other, page.query))),))
        return tuple(rows)

    def _read_buttons(self, lang: str, numbered: list[tuple[int, str, str | None]]) -> list[tuple[Button, ...]]:
        """A 📖 "Đọc toàn văn N" button for each listed article (number, id, url) without a web
        link to read it at; two to a row, since the label is long and the number must stay visible."""
        buttons = [Button(self.renderer.label(lang, "read_full", n), cb.encode(cb.ReadButton(article_id)))
                   for n, article_id, url in numbered if not url and cb.id_fits(article_id)]
        return [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]

    def _related_row(self, article_id: str, lang: str) -> tuple[tuple[Button, ...], ...]:
        if not cb.id_fits(article_id):
            return ()
        button = Button(self.renderer.label(lang, "related_button", ""), cb.encode(cb.RelatedButton(article_id)))
        return ((button,),)

    # -- other listings ------------------------------------------------------------------------

    def latest(self, lang: str) -> Reply:
        articles = self.store.latest(self.page_size)
        items = [{"number": n, "article": a, "title": self._title(a.title, lang), "read_command": read_command(a.id)}
                 for n, a in enumerate(articles, 1)]
        buttons = self._read_buttons(lang, [(n, a.id, a.url) for n, a in enumerate(articles, 1)])
        html = fit_listing(lambda rows: self.renderer.render(lang, "latest", items=rows), items)
        return Reply(html, tuple(buttons))

    def about(self, lang: str) -> Reply:
        first, last = self.store.date_range()
        newest = self.store.first_seen_newest()  # UTC; shown in Vietnam time, like the digests
        return Reply(self.renderer.render(lang, "about", count=self.store.count(), first=first, last=last,
                                          newest_seen=newest.astimezone(VIETNAM) if newest else None))

    def related(self, article_id: str, lang: str) -> Reply:
        article = self.store.get(article_id)
        index = self.index
        if article is None:
            return self.notice("not_found", lang)
        if index is None:
            return self.no_index(lang)
        hits = index.related(article_id, limit=5)
        items = [self._item(n, hit, lang) for n, hit in enumerate(hits, 1)]
        buttons = self._read_buttons(lang, [(n, hit.id, hit.url) for n, hit in enumerate(hits, 1)])
        title = shorten(self._title(article.title, lang), LISTED_TITLE)
        html = fit_listing(lambda rows: self.renderer.render(lang, "related", title=title, items=rows), items)
        return Reply(html, tuple(buttons))

    def read(self, article_id: str, lang: str) -> list[Reply]:
        """The whole article (`/xem_<id>`, the 📖 button, a deep link), or a polite 'not found'."""
        article = self.store.get(article_id)
        if article is None:
            return [self.notice("not_found", lang)]
        return self.article_messages(article, lang)

    def article_messages(self, article: Article, lang: str) -> list[Reply]:
        """Past `read_document_chars`, one .txt document: a flood of messages is hard to read and
        buries the chat. Otherwise messages cut on paragraph boundaries, each within Telegram's
        limits, numbered when there are several; "Tin liên quan" (only) under the last."""
        if self.read_document_chars and len(article.text) > self.read_document_chars:
            return [self.article_document(article, lang)]
        title, byline = self._title(article.title, lang), article.author

        def render(text: str, part: int, parts: int) -> str:
            return self.renderer.render(lang, "article", article=article, title=title, byline=byline, text=text,
                                        part=part, parts=parts)

        # Room for the text: the limit less what the template puts around it (title and byline on
        # the first part, the widest "(Part i/n)" on every part, and the blank lines between).
        first = MAX_MESSAGE - plain_length(render("", 1, 1000)) - 4
        if first < MAX_MESSAGE // 2:  # an absurd title or byline must not squeeze out the text
            title, byline = shorten(title, 300), byline and shorten(byline, 200)
            first = MAX_MESSAGE - plain_length(render("", 1, 1000)) - 4
        rest = MAX_MESSAGE - plain_length(render("", 2, 1000)) - 4
        pieces = reading.split_message_text(article.text, first, rest)
        replies = [Reply(render(piece.strip(), n, len(pieces))) for n, piece in enumerate(pieces, 1)]
        replies[-1] = Reply(replies[-1].html, self._related_row(article.id, lang))
        return replies

    def article_document(self, article: Article, lang: str) -> Reply:
        """A long article as one UTF-8 .txt file (title, date, author, paragraphs, source), named
        after its title, with a short caption and "Tin liên quan" under it."""
        content = self.renderer.render_text(lang, "article", article=article, bot_username=self.bot_username,
                                            link=read_deep_link(self.bot_username, article.id))
        filename = reading.document_filename(article.title, self.renderer.label(lang, "read_file_fallback"))
        words = len(article.text.split())
        caption = ""
        for cut in (None, 300, 100):  # a caption is at most 1024 characters: shorten what can be long
            title = self._title(article.title, lang)
            title = title if cut is None else shorten(title, cut)
            byline = article.author if cut is None or not article.author else shorten(article.author, cut)
            caption = self.renderer.render(lang, "article_document", article=article, title=title, byline=byline,
                                           chars=len(article.text), minutes=max(1, round(words / READING_SPEED)))
            if plain_length(caption) <= reading.MAX_CAPTION:
                break
        return Reply(caption, self._related_row(article.id, lang),
                     document=Document(filename, content.encode(), article.id))

    # -- buttons -------------------------------------------------------------------------------

    def callback(self, data: str | None, lang: str, *, message_query: str | None = None,
                 chat: int | None = None) -> CallbackResult:
        """A button press. Stale or forged data gets a polite toast, never an exception."""
        try:
            button = cb.decode(data)
        except cb.BadCallback:
            return CallbackResult(answer=self.renderer.label(lang, "stale_button"), alert=True)
        if isinstance(button, cb.DigestMoreButton | cb.DigestButton):
            return self.digest_button(button, lang, CONSOLE_CHAT if chat is None else chat)
        if isinstance(button, cb.NoopButton):
            return CallbackResult()
        if isinstance(button, cb.PageButton):
            query = button.query or message_query
            if not query:
                return CallbackResult(answer=self.renderer.label(lang, "stale_button"), alert=True)
            return CallbackResult(edit=self.search(query, lang, page=button.page, sort=button.sort))
        article = self.store.get(button.article_id)
        if article is None:
            return CallbackResult(answer=self.renderer.label(lang, "not_found"), alert=True)
        if isinstance(button, cb.RelatedButton):
            return CallbackResult(send=(self.related(button.article_id, lang),))
        replies = self.article_messages(article, lang)
        toast = self.renderer.label(lang, "read_file_toast" if replies[0].document else "read_toast")
        return CallbackResult(answer=toast, send=tuple(replies[button.part - 1 :]) or tuple(replies))

    # -- daily digests -------------------------------------------------------------------------

    def digest_command(self, name: str, args: str, lang: str, chat: int, place: Place | None = None) -> list[Reply]:
        """/subscribe, /unsubscribe, /settings and /digest (a preview that changes nothing)."""
        if name == "subscribe":
            return [self.subscribe(chat, args, lang, place)]
        if name == "unsubscribe":
            stopped = self.subs.unsubscribe(chat, now=self.clock())
            return [self.notice("digest_unsubscribed", lang, stopped=stopped)]
        if name == "settings":
            return [self.digest_settings(chat, lang)]
        return self.digest_preview(chat, lang)

    def subscribe(self, chat: int, args: str, lang: str, place: Place | None = None) -> Reply:
        try:
            request = dg.parse_subscribe(args)
        except dg.BadSubscribe as exc:
            return self.notice("digest_bad", lang, reason=exc.reason, detail=exc.detail, max_topics=dg.MAX_TOPICS,
                               max_chars=dg.MAX_TOPIC_CHARS)
        now = self.clock()
        current = self.subs.get(chat)
        slot = request.slot or (current.slot if current and current.active else self.digest_time)
        subscriber, activated = self.subs.subscribe(chat, lang=lang, slot=slot, topics=request.topics, now=now,
                                                    place=place)
        return self.notice("digest_subscribed", lang, activated=activated, slot=subscriber.slot,
                           topics=subscriber.topics, next_at=next_slot(subscriber.slot, now),
                           group=subscriber.shared, thread_id=subscriber.thread_id)

    def digest_settings(self, chat: int, lang: str) -> Reply:
        """Current time and topics, with buttons to change them (stateless, see bot.callbacks)."""
        label = self.renderer.label
        subscriber = self.subs.get(chat)
        now = self.clock()
        rows: list[tuple[Button, ...]] = []
        if subscriber and subscriber.active:
            slot = subscriber.slot
            rows.append(tuple(Button(label(lang, "digest_time_choice", t, slot), _digest_data("time", t))
                              for t in DIGEST_PRESETS))
            earlier, later = shift_clock(slot, -30), shift_clock(slot, 30)
            rows.append((Button(label(lang, "digest_earlier", earlier), _digest_data("time", earlier)),
                         Button(label(lang, "digest_later", later), _digest_data("time", later))))
            rows += [(Button(label(lang, "digest_drop_topic", topic),
                             _digest_data("drop", f"{n}:{dg.topic_tag(topic)}")),)
                     for n, topic in enumerate(subscriber.topics, 1)]
            if subscriber.topics:
                rows.append((Button(label(lang, "digest_clear_topics"), _digest_data("clear")),))
            rows.append((Button(label(lang, "digest_preview_button"), _digest_data("preview")),
                         Button(label(lang, "digest_stop"), _digest_data("stop"))))
            next_at = next_slot(slot, now)
        else:
            rows.append((Button(label(lang, "digest_start"), _digest_data("start")),
                         Button(label(lang, "digest_preview_button"), _digest_data("preview"))))
            next_at = None
        html = self.renderer.render(lang, "digest_settings", subscriber=subscriber, next_at=next_at,
                                    default_time=self.digest_time, max_topics=dg.MAX_TOPICS)
        return Reply(html, tuple(rows))

    def digest_preview(self, chat: int, lang: str) -> list[Reply]:
        """What the next digest would hold right now; records nothing, so nothing due changes.

        A subscriber sees the articles since their previous digest; anyone else the last 24 hours.
        """
        now = self.clock()
        subscriber = self.subs.get(chat)
        active = subscriber is not None and subscriber.active
        topics = subscriber.topics if subscriber is not None and active else ()
        since = subscriber.since if subscriber is not None and active else now - timedelta(days=1)
        window = dg.recent_window(self.store, now)
        digest = dg.build_digest(window, since=since, topics=topics, matcher=self._topic_matcher(window))
        next_at = next_slot(subscriber.slot, now) if subscriber is not None and active else None
        status = "active" if active else "none" if subscriber is None else "stopped"
        parts = dg.render_digest(self.renderer, lang, digest, size=self.digest_size, preview=True, next_at=next_at,
                                 status=status)
        if not parts:
            return [self.notice("digest_empty", lang, subscribed=active, topics=topics,
                                since=digest.since.astimezone(VIETNAM),
                                next_at=next_at, default_time=self.digest_time)]
        return [_reply(part) for part in parts]

    def _topic_matcher(self, window: dg.Window) -> dg.TopicMatcher:
        """One matcher per batch of new articles: previews reuse its small index and memo."""
        with self._lock:
            current = self._topics
            if current is None or current.window.until != window.until:
                if current is not None:
                    current.close()
                current = self._topics = dg.TopicMatcher(window)
            return current

    def digest_button(self, button: cb.DigestMoreButton | cb.DigestButton, lang: str, chat: int) -> CallbackResult:
        label = self.renderer.label
        if isinstance(button, cb.DigestMoreButton):
            return self._digest_more(button, lang, chat)
        if button.action == "show":
            return CallbackResult(send=(self.digest_settings(chat, lang),))
        if button.action == "preview":
            return CallbackResult(send=tuple(self.digest_preview(chat, lang)))
        now = self.clock()
        subscriber = self.subs.get(chat)
        if button.action == "start":
            slot = subscriber.slot if subscriber else self.digest_time
            self.subs.subscribe(chat, lang=lang, slot=slot, topics=None, now=now)
            return CallbackResult(answer=label(lang, "digest_started"), edit=self.digest_settings(chat, lang))
        if subscriber is None or not subscriber.active:
            return CallbackResult(answer=label(lang, "digest_not_subscribed"), alert=True,
                                  edit=self.digest_settings(chat, lang))
        if button.action == "stop":
            self.subs.unsubscribe(chat, now=now)
            answer = label(lang, "digest_stopped")
        elif button.action == "time":
            slot = f"{button.value[:2]}:{button.value[2:]}"
            clock_time(slot)  # validated by the decoder; raises on anything else
            self.subs.subscribe(chat, lang=lang, slot=slot, topics=None, now=now)
            answer = label(lang, "digest_time_changed", slot)
        elif button.action == "clear":
            self.subs.subscribe(chat, lang=lang, slot=subscriber.slot, topics=(), now=now)
            answer = label(lang, "digest_topics_cleared")
        else:  # drop one topic: its position and a tag of its text must both still match
            number, _, tag = button.value.partition(":")
            position = int(number) - 1
            if position >= len(subscriber.topics) or dg.topic_tag(subscriber.topics[position]) != tag:
                return CallbackResult(answer=label(lang, "stale_button"), alert=True,
                                      edit=self.digest_settings(chat, lang))
            topic = subscriber.topics[position]
            remaining = subscriber.topics[:position] + subscriber.topics[position + 1 :]
            self.subs.subscribe(chat, lang=lang, slot=subscriber.slot, topics=remaining, now=now)
            answer = label(lang, "digest_topic_dropped", topic)
        return CallbackResult(answer=answer, edit=self.digest_settings(chat, lang))

    def _digest_more(self, button: cb.DigestMoreButton, lang: str, chat: int) -> CallbackResult:
        """The next articles of a digest: the same window, rebuilt, from the button's offset."""
        subscriber = self.subs.get(chat)
        topics = subscriber.topics if subscriber is not None and subscriber.active else ()
        now = self.clock()
        since, until = dg.from_micros(button.since_us), dg.from_micros(button.until_us)
        window = dg.recent_window(self.store, now)
        digest = dg.build_digest(window, since=since, until=until, topics=topics,
                                 matcher=self._topic_matcher(window))
        parts = dg.render_digest(self.renderer, lang, digest, size=self.digest_size, offset=button.offset)
        if not parts:
            return CallbackResult(answer=self.renderer.label(lang, "digest_nothing_more"))
        return CallbackResult(send=tuple(_reply(part) for part in parts))

    # -- inline mode ---------------------------------------------------------------------------

    def inline(self, raw: str, offset: str, lang: str) -> tuple[list[InlineItem], str]:
        """Results for `@bot query`, INLINE_PAGE at a time; the second value is the next offset."""
        query = clean_query(raw)
        index = self.index
        if not query.has_words or index is None:
            return [], ""
        page = int(offset) if offset.isdigit() and 0 < int(offset) <= 50 else 1
        result = index.search(query.text, page=page, per_page=INLINE_PAGE)
        if result.timed_out:
            raise TimeoutError("the search passed its deadline")
        items = []
        for hit in result.results:
            article = self.store.get(hit.id)
            title = self._title(hit.title, lang)
            lead = shorten(article.lead, INLINE_LEAD) if article else ""
            html = self.renderer.render(lang, "inline_article", hit=hit, title=shorten(title, INLINE_MESSAGE_TITLE),
                                        lead=lead, read_command=None if hit.url else read_command(hit.id),
                                        bot_username=self.bot_username or "")
            description = _unescape(re.sub(r"<[^>]+>", "", hit.snippet))
            items.append(InlineItem(inline_id(hit.id), shorten(title, INLINE_TITLE),
                                    shorten(" ".join(description.split()), INLINE_DESCRIPTION), html, hit.url))
        next_offset = str(page + 1) if page < result.pages and page < 50 else ""
        return items, next_offset


def _digest_data(action: str, value: str = "") -> str:
    return cb.encode(cb.DigestButton(action, value.replace(":", "") if action == "time" else value))


def _reply(part: Part) -> Reply:
    return Reply(part.html, tuple(tuple(Button(text, data) for text, data in row) for row in part.buttons))


def read_deep_link(bot_username: str | None, article_id: str) -> str | None:
    """`https://t.me/<bot>?start=xem_<id>`: opens a private chat with the bot, which shows the
    article. For places where a button cannot carry a private reading (channel posts, other
    apps). None without a username or when the id cannot be a start payload."""
    payload = READ_PAYLOAD + article_id
    if not article_id or not bot_username or not _BOT_USERNAME.fullmatch(bot_username) \
            or not _START_PAYLOAD.fullmatch(payload):
        return None
    return f"https://t.me/{bot_username}?start={payload}"


def read_command(article_id: str) -> str | None:
    """`/xem_<id>`, a tappable command that shows an article's full text in the chat."""
    return f"/xem_{article_id}" if _READ_ID.match(article_id) else None


def inline_id(article_id: str) -> str:
    if len(article_id.encode("utf-8")) <= 64:
        return article_id
    return hashlib.blake2b(article_id.encode("utf-8"), digest_size=16).hexdigest()


def _unescape(text: str) -> str:
    return html.unescape(text)
