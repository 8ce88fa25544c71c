"""Chat search: replies to searches, listings, reading an article in full, their buttons, inline mode.

Plain values in, rendered `Reply`s out (`bot.chat.Core` joins this room with the digest settings),
so everything a user can see is testable without a network. Methods are synchronous (searching is CPU-bound);
the Telegram side runs them in a worker thread.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from bantin.articles.model import Article
from bantin.bot.clock import VIETNAM
from bantin.bot.render import (
    LISTED_TITLE,
    MAX_MESSAGE,
    MAX_PER_PAGE,
    fit_listing,
    plain_length,
    shorten,
)
from bantin.bot.reply import Button, CallbackResult, Document, Reply
from bantin.bot.search import buttons as cb
from bantin.bot.search import reading
from bantin.bot.search.links import read_command, read_deep_link
from bantin.bot.services import Services
from bantin.index.query import clean_query
from bantin.index.searcher import Hit, SearchPage

log = logging.getLogger(__name__)


#: Words a minute, for the "about N minutes to read" of a long article's file.
READING_SPEED = 220
INLINE_PAGE = 10
#: Inline results, in UTF-16 units: the title and description of the result in the list (Telegram
#: shows two lines of each), and the title and lead of the message it sends (well within 4096).
INLINE_TITLE = 256
INLINE_DESCRIPTION = 200
INLINE_MESSAGE_TITLE = 1000
INLINE_LEAD = 600


@dataclass(frozen=True)
class InlineItem:
    id: str
    title: str
    description: str
    html: str
    url: str | None


@dataclass
class SearchReplies(Services):
    """The search room of a chat's replies (see `bot.chat.Core`)."""

    # -- search --------------------------------------------------------------------------------

    def search(self, raw: str, lang: str, *, page: int = 1, sort: str = "relevance") -> Reply:
        """The index cleans and caps the query (`index.query.clean_query`); the page says if it was cut."""
        if not clean_query(raw).has_words:
            return self.notice("no_words", lang)
        index = self.index
        if index is None:
            return self.no_index(lang)
        result = index.search(raw, page=page, per_page=self.page_size, sort=sort)
        if result.timed_out:
            raise TimeoutError("the search passed its deadline")  # the handler's timeout reply
        return self._results(result, lang, sort=sort)

    def _results(self, page: SearchPage, lang: str, *, sort: str) -> Reply:
        first = (page.page - 1) * page.per_page + 1
        items = [self._item(n, hit, lang) for n, hit in enumerate(page.results, first)]
        html = fit_listing(lambda rows: self.renderer.render(lang, "results", page=page, items=rows, sort=sort),
                           items)
        return Reply(html, self._result_buttons(page, lang, sort), query=page.query)

    def _item(self, number: int, hit: Hit, lang: str) -> dict[str, Any]:
        return {"number": number, "hit": hit, "title": self._title(hit.title, lang), "snippet": hit.snippet,
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

    def press(self, button: cb.SearchButton, lang: str, *, message_query: str | None = None) -> CallbackResult:
        """A search, reading or related button (decoded by `Core.callback`)."""
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

    # -- inline mode ---------------------------------------------------------------------------

    def inline(self, raw: str, offset: str, lang: str) -> tuple[list[InlineItem], str]:
        """Results for `@bot query`, INLINE_PAGE at a time; the second value is the next offset."""
        index = self.index
        if not clean_query(raw).has_words or index is None:
            return [], ""
        page = cb.ascii_number(offset, 1, 50) or 1  # from the client: "²" or "٣" is page 1, not an error
        result = index.search(raw, page=page, per_page=INLINE_PAGE)
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
            description = hit.snippet.text
            items.append(InlineItem(inline_id(hit.id), shorten(title, INLINE_TITLE),
                                    shorten(" ".join(description.split()), INLINE_DESCRIPTION), html, hit.url))
        next_offset = str(page + 1) if page < result.pages and page < 50 else ""
        return items, next_offset



def inline_id(article_id: str) -> str:
    if len(article_id.encode("utf-8")) <= 64:
        return article_id
    return hashlib.blake2b(article_id.encode("utf-8"), digest_size=16).hexdigest()
