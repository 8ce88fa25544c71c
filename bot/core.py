"""The bot's core: plain values in, rendered replies out.

Telegram handlers, the offline console and the tests all drive this same object, so everything
a user can see is testable without a network. Methods are synchronous (searching is CPU-bound);
the Telegram side runs them in a worker thread.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.searcher import Hit, IndexMissing, SearchIndex, SearchPage

from articles.model import Article
from articles.store import ArticleStore
from bot import callbacks as cb
from bot.render import Renderer, fits, safe, split_text, strip_bold

#: Longer queries are cut (and the user told): nobody types more, and scoring cost grows with it.
MAX_QUERY_CHARS = 200
INLINE_PAGE = 10
_READ_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL)
READ_COMMANDS = ("xem", "read")


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
    _index: SearchIndex | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- services ------------------------------------------------------------------------------

    @property
    def index(self) -> SearchIndex | None:
        """The search index, opened on first use (it may be built after the bot starts)."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    try:
                        self._index = SearchIndex.open(self.index_root)
                    except IndexMissing:
                        return None
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    # -- messages ------------------------------------------------------------------------------

    def message(self, text: str, lang: str, *, user: str | None = None) -> list[Reply]:
        """Any text message: a command, or a search."""
        command = parse_command(text)
        if command is not None:
            return self.command(command[0], command[2], lang, user=user)
        return [self.search(text, lang)]

    def command(self, command: str, args: str, lang: str, *, user: str | None = None) -> list[Reply]:
        """A command by name (without the slash); unknown ones get a hint, not silence."""
        if command == "start":
            return [self.notice("start", lang, name=user)]
        if command == "help":
            return [self.notice("help", lang, inline=self.bot_username)]
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
            return self.read(article_id, lang)
        return [self.notice("unknown_command", lang, command="/" + command)]

    def notice(self, template: str, lang: str, /, **context: Any) -> Reply:
        return Reply(self.renderer.render(lang, template, **context))

    # -- search --------------------------------------------------------------------------------

    def search(self, raw: str, lang: str, *, page: int = 1, sort: str = "relevance") -> Reply:
        query = clean_query(raw)
        if not query.has_words:
            return self.notice("no_words", lang)
        index = self.index
        if index is None:
            return self.notice("no_index", lang)
        result = index.search(query.text, page=page, per_page=self.per_page, sort=sort)
        return self._results(result, lang, sort=sort, truncated=query.truncated)

    def _results(self, page: SearchPage, lang: str, *, sort: str, truncated: bool) -> Reply:
        first = (page.page - 1) * page.per_page + 1
        items = [self._item(n, hit) for n, hit in enumerate(page.results, first)]
        html = self.renderer.render(lang, "results", page=page, items=items, sort=sort, truncated=truncated)
        if not fits(html):
            items = [{**item, "snippet": safe(strip_bold(str(item["snippet"])))} for item in items]
            html = self.renderer.render(lang, "results", page=page, items=items, sort=sort, truncated=truncated)
        return Reply(html, self._result_buttons(page, lang, sort), query=page.query)

    def _item(self, number: int, hit: Hit) -> dict[str, Any]:
        return {"number": number, "hit": hit, "snippet": safe(hit.snippet), "read_command": read_command(hit.id)}

    def _result_buttons(self, page: SearchPage, lang: str, sort: str) -> tuple[tuple[Button, ...], ...]:
        label = self.renderer.label
        rows: list[tuple[Button, ...]] = []
        first = (page.page - 1) * page.per_page + 1
        related = [
            Button(label(lang, "related_button", n), cb.encode(cb.RelatedButton(hit.id)))
            for n, hit in enumerate(page.results, first)
            if cb.id_fits(hit.id)
        ]
        rows += [tuple(related[i : i + 3]) for i in range(0, len(related), 3)]
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

    # -- other listings ------------------------------------------------------------------------

    def latest(self, lang: str) -> Reply:
        items = [
            {"number": n, "article": a, "read_command": read_command(a.id)}
            for n, a in enumerate(self.store.latest(self.per_page), 1)
        ]
        return Reply(self.renderer.render(lang, "latest", items=items))

    def about(self, lang: str) -> Reply:
        first, last = self.store.date_range()
        newest = self.store.first_seen_newest()
        return Reply(self.renderer.render(lang, "about", count=self.store.count(), first=first, last=last,
                                          newest_seen=newest))

    def related(self, article_id: str, lang: str) -> Reply:
        article = self.store.get(article_id)
        index = self.index
        if article is None:
            return self.notice("not_found", lang)
        if index is None:
            return self.notice("no_index", lang)
        hits = index.related(article_id, limit=5)
        items = [self._item(n, hit) for n, hit in enumerate(hits, 1)]
        return Reply(self.renderer.render(lang, "related", title=article.title, items=items))

    def read(self, article_id: str, lang: str) -> list[Reply]:
        """The full text, split on paragraph boundaries into messages within Telegram's limits."""
        article = self.store.get(article_id)
        if article is None:
            return [self.notice("not_found", lang)]
        return self.article_messages(article, lang)

    def article_messages(self, article: Article, lang: str) -> list[Reply]:
        # The first part also carries the title and byline, so give it a smaller budget.
        chunks = split_text(list(article.paragraphs), budget=3400)
        replies = []
        for part, paragraphs in enumerate(chunks, 1):
            html = self.renderer.render(lang, "article", article=article, paragraphs=paragraphs, part=part,
                                        parts=len(chunks))
            replies.append(Reply(html))
        if cb.id_fits(article.id):
            last = replies[-1]
            button = Button(self.renderer.label(lang, "related_button", "").strip(),
                            cb.encode(cb.RelatedButton(article.id)))
            replies[-1] = Reply(last.html, ((button,),))
        return replies

    # -- buttons -------------------------------------------------------------------------------

    def callback(self, data: str | None, lang: str, *, message_query: str | None = None) -> CallbackResult:
        """A button press. Stale or forged data gets a polite toast, never an exception."""
        try:
            button = cb.decode(data)
        except cb.BadCallback:
            return CallbackResult(answer=self.renderer.label(lang, "stale_button"), alert=True)
        if isinstance(button, cb.NoopButton):
            return CallbackResult()
        if isinstance(button, cb.PageButton):
            query = button.query or message_query
            if not query:
                return CallbackResult(answer=self.renderer.label(lang, "stale_button"), alert=True)
            return CallbackResult(edit=self.search(query, lang, page=button.page, sort=button.sort))
        if isinstance(button, cb.RelatedButton):
            if self.store.get(button.article_id) is None:
                return CallbackResult(answer=self.renderer.label(lang, "not_found"), alert=True)
            return CallbackResult(send=(self.related(button.article_id, lang),))
        replies = self.read(button.article_id, lang)
        return CallbackResult(send=tuple(replies[button.part - 1 :]) or tuple(replies))

    # -- inline mode ---------------------------------------------------------------------------

    def inline(self, raw: str, offset: str, lang: str) -> tuple[list[InlineItem], str]:
        """Results for `@bot query`, INLINE_PAGE at a time; the second value is the next offset."""
        query = clean_query(raw)
        index = self.index
        if not query.has_words or index is None:
            return [], ""
        page = int(offset) if offset.isdigit() and 0 < int(offset) <= 50 else 1
        result = index.search(query.text, page=page, per_page=INLINE_PAGE)
        items = []
        for hit in result.results:
            article = self.store.get(hit.id)
            lead = article.lead if article else ""
            if len(lead) > 600:
                lead = lead[:600].rsplit(" ", 1)[0] + "…"
            html = self.renderer.render(lang, "inline_article", hit=hit, lead=lead,
                                        read_command=None if hit.url else read_command(hit.id),
                                        bot_username=self.bot_username or "")
            description = re.sub(r"<[^>]+>", "", hit.snippet)
            items.append(InlineItem(inline_id(hit.id), hit.title[:256], _unescape(description)[:200], html, hit.url))
        next_offset = str(page + 1) if page < result.pages and page < 50 else ""
        return items, next_offset


def read_command(article_id: str) -> str | None:
    """`/xem_<id>`, a tappable command that shows an article's full text in the chat."""
    return f"/xem_{article_id}" if _READ_ID.match(article_id) else None


def inline_id(article_id: str) -> str:
    if len(article_id.encode("utf-8")) <= 64:
        return article_id
    return hashlib.blake2b(article_id.encode("utf-8"), digest_size=16).hexdigest()


def _unescape(text: str) -> str:
    return html.unescape(text)
