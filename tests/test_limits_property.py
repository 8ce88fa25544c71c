"""Property tests: whatever the articles hold, every rendered reply is a message Telegram accepts.

Arbitrary titles (huge, full of `<>&` that grow when escaped, emoji that count twice in UTF-16,
empty), snippets with many highlights, long ids, paths and names go through the real renderer and
templates; each reply is then checked by the fake Bot API's own validation (tests/fake_botapi.py:
HTML parsing, 4096/1024 UTF-16 units after parsing, 100 entities, keyboards and 64-byte data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bantin.articles.model import Article
from bantin.bot.chat import Core
from bantin.bot.digests import build as dg
from bantin.bot.digests.channels import Channels
from bantin.bot.digests.store import DeliveryRow, Part, Subscriber
from bantin.bot.newsroom.desk import Desk
from bantin.bot.render import MAX_PER_PAGE, Renderer
from bantin.bot.reply import Reply
from bantin.index.searcher import Hit, SearchPage
from bantin.index.snippets import Snippet
from tests.fake_botapi import FakeBotAPI, _ApiError

RENDERER = Renderer()
CHECKER = FakeBotAPI()  # never started: only its request validation is used
SOME = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2024, 5, 20, 1, 0, tzinfo=UTC)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def accepted(html_text: str, buttons: Any = (), *, limit: int = 4096, key: str = "text") -> str:
    """What Telegram would show, or an assertion error saying why it would refuse the message."""
    CHECKER.violations.clear()
    try:
        text, _ = CHECKER._formatted({key: html_text, "parse_mode": "HTML"}, text_key=key, limit=limit)
        CHECKER._check_markup({"inline_keyboard": [[_button(b) for b in row] for row in buttons]})
    except _ApiError as err:
        raise AssertionError(f"{err.description} ({utf16(html_text)} units of HTML)") from None
    assert CHECKER.violations == []
    return text


def _button(button: Any) -> dict[str, str]:
    if isinstance(button, tuple):  # a digest Part's (text, data)
        return {"text": button[0], "callback_data": button[1]}
    if button.url:
        return {"text": button.text, "url": button.url}
    if button.switch_inline is not None:
        return {"text": button.text, "switch_inline_query": button.switch_inline}
    return {"text": button.text, "callback_data": button.data}


def reply_ok(reply: Reply, limit: int = 4096) -> str:
    return accepted(reply.html, reply.buttons, limit=limit, key="caption" if reply.document else "text")


def part_ok(part: Part) -> str:
    return accepted(part.html, part.buttons)


# -- arbitrary article data ---------------------------------------------------------------------

_chars = st.characters(blacklist_categories=("Cs", "Cc"))
nasty = st.one_of(
    st.text(_chars, max_size=40),
    st.text(st.sampled_from("<>&\"' aăêđ😀𝕏\u200d"), min_size=1, max_size=3000),
    st.builds(lambda word, n: (word + " ") * n, st.sampled_from(["&lt;b&gt;", "<b>", "Đắk", "😀😀", "x" * 50]),
              st.integers(1, 600)),
    st.just(""),
)
ids = st.one_of(st.from_regex(r"[A-Za-z0-9_]{1,40}", fullmatch=True), st.from_regex(r"[\w.:-]{1,60}", fullmatch=True),
                st.text(_chars, min_size=1, max_size=80))
urls = st.one_of(st.none(), st.builds(lambda s: "https://bao.vn/" + s, st.from_regex(r"[a-z0-9/-]{0,300}",
                                                                                      fullmatch=True)))
dates = st.one_of(st.none(), st.dates(date(1990, 1, 1), date(2030, 1, 1)),
                  st.datetimes(datetime(1990, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)))


@st.composite
def snippets(draw: st.DrawFn) -> Snippet:
    """A snippet from the index: any text with the query words marked, possibly hundreds of them."""
    parts = draw(st.lists(st.tuples(st.text(_chars, max_size=30), st.booleans()), max_size=300))
    text, marks = "", []
    for t, bold in parts:
        if bold and t:
            marks.append((len(text), len(text) + len(t)))
        text += t
    return Snippet(text, tuple(marks))


hits = st.builds(Hit, id=ids, title=nasty, published=dates, url=urls, snippet=snippets(), score=st.just(1.0))
articles = st.builds(
    lambda i, title, lead, body, published, url, author: Article(
        id=i, title=title, paragraphs=tuple(p for p in (lead, body) if p), published=published, url=url,
        author=author or None, first_seen=NOW - timedelta(hours=1)),
    ids, nasty, nasty, st.text(_chars, max_size=200), dates, urls, st.one_of(st.none(), nasty))
queries = st.text(_chars, min_size=1, max_size=200)


@st.composite
def pages(draw: st.DrawFn) -> SearchPage:
    per_page = draw(st.integers(1, MAX_PER_PAGE))
    results = draw(st.lists(hits, min_size=0, max_size=per_page))
    page = draw(st.integers(1, 1000))
    total = draw(st.integers(len(results), 10**6)) if results else draw(st.sampled_from([0, 5]))
    pages_ = max(page, -(-total // per_page))
    return SearchPage(draw(queries), total, page, pages_, per_page, results,
                      suggestion=draw(st.one_of(st.none(), queries)), relaxed=draw(st.booleans()),
                      truncated=draw(st.booleans()), words_used=draw(st.integers(0, 12)))


# -- stand-ins for the store and the index (the rendering is the real one) ----------------------


@dataclass
class Shelf:
    """The part of ArticleStore and SearchIndex the listings read."""

    articles: list[Article] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)

    def latest(self, limit: int) -> list[Article]:
        return self.articles[:limit]

    def get(self, article_id: str) -> Article | None:
        return next((a for a in self.articles if a.id == article_id), None)

    def related(self, article_id: str, *, limit: int = 5) -> list[Hit]:
        return self.hits[:limit]

    def search(self, query: str, *, page: int = 1, per_page: int = 5, sort: str = "relevance") -> SearchPage:
        return SearchPage(query, len(self.hits), page, 3, per_page, self.hits[:per_page])


def core_over(shelf: Shelf, per_page: int = 5) -> Core:
    core = Core(cast(Any, shelf), Path("/nonexistent"), RENDERER, per_page=per_page, bot_username="bantin_bot")
    core._index = cast(Any, shelf)
    return core


# -- the properties ----------------------------------------------------------------------------


@SOME
@given(page=pages(), lang=st.sampled_from(["vi", "en"]), sort=st.sampled_from(["relevance", "newest"]))
def test_search_results_always_fit(page: SearchPage, lang: str, sort: str) -> None:
    reply = core_over(Shelf())._results(page, lang, sort=sort)
    text = reply_ok(reply)
    for n in range(len(page.results)):  # every result is still listed: the page buttons count on it
        assert f"{(page.page - 1) * page.per_page + n + 1}. " in text


@SOME
@given(items=st.lists(articles, max_size=MAX_PER_PAGE), per_page=st.integers(1, MAX_PER_PAGE),
       lang=st.sampled_from(["vi", "en"]))
def test_latest_always_fits(items: list[Article], per_page: int, lang: str) -> None:
    reply_ok(core_over(Shelf(articles=items), per_page).latest(lang))


@SOME
@given(article=articles, related=st.lists(hits, max_size=5), lang=st.sampled_from(["vi", "en"]))
def test_related_always_fits(article: Article, related: list[Hit], lang: str) -> None:
    reply_ok(core_over(Shelf(articles=[article], hits=related)).related(article.id, lang))


@SOME
@given(found=st.lists(hits, max_size=10, unique_by=lambda h: h.id), leads=st.lists(nasty, min_size=10, max_size=10),
       lang=st.sampled_from(["vi", "en"]))
def test_inline_results_always_fit(found: list[Hit], leads: list[str], lang: str) -> None:
    stored = [Article(id=h.id, title=h.title, paragraphs=(lead,) if lead else ())
              for h, lead in zip(found, leads, strict=False)]
    items, _ = core_over(Shelf(articles=stored, hits=found)).inline("chuyen doi so", "", lang)
    assert len(items) == len(found)
    for item in items:
        accepted(item.html)
        assert item.title.strip() and utf16(item.title) <= 256 and utf16(item.description) <= 200
        assert 1 <= len(item.id.encode()) <= 64


@SOME
@given(news=st.lists(articles, min_size=1, max_size=50), size=st.integers(1, 50), offset=st.integers(0, 10),
       topics=st.lists(st.text(_chars, min_size=1, max_size=60), max_size=5), preview=st.booleans(),
       lang=st.sampled_from(["vi", "en"]))
def test_private_digests_always_fit(news: list[Article], size: int, offset: int, topics: list[str], preview: bool,
                                    lang: str) -> None:
    digest = dg.Digest(tuple(news), NOW - timedelta(days=1), NOW, tuple(topics))
    parts = dg.render_digest(RENDERER, lang, digest, size=size, offset=offset, preview=preview, next_at=NOW)
    listed = "".join(part_ok(part) for part in parts)
    assert listed.count("\n") >= len(news[offset : offset + size])  # nobody is dropped


@SOME
@given(news=st.lists(articles, min_size=1, max_size=50), size=st.integers(1, 50),
       topics=st.lists(st.text(_chars, min_size=1, max_size=60), max_size=5),
       header=st.text(_chars, max_size=500), footer=st.text(st.sampled_from("😀<&> \n"), max_size=500),
       lang=st.sampled_from(["vi", "en"]))
def test_channel_digests_always_fit(news: list[Article], size: int, topics: list[str], header: str, footer: str,
                                    lang: str) -> None:
    digest = dg.Digest(tuple(news), NOW - timedelta(days=1), NOW, tuple(topics))
    parts = dg.render_channel_digest(RENDERER, lang, digest, size=size, now=NOW,
                                     link=lambda a: a.url or f"https://t.me/bantin_bot?start=xem_{a.id}",
                                     header=dg.clean_note(header) or None, footer=dg.clean_note(footer) or None,
                                     bot_username="bantin_bot")
    for part in parts:
        part_ok(part)


@SOME
@given(article=articles, author=nasty, lang=st.sampled_from(["vi", "en"]))
def test_document_captions_always_fit(article: Article, author: str, lang: str) -> None:
    article = Article(id=article.id, title=article.title, paragraphs=article.paragraphs or ("x",),
                      published=article.published, author=author or None)
    reply_ok(core_over(Shelf()).article_document(article, lang), limit=1024)


@dataclass
class FailureShelf:
    rows: list[tuple[str, str, str]]

    def failure_count(self) -> int:
        return len(self.rows)

    def failures(self, limit: int = 50) -> list[tuple[str, str, str]]:
        return self.rows[:limit]


@SOME
@given(rows=st.lists(st.tuples(nasty, nasty), min_size=1, max_size=30), page=st.integers(1, 5),
       lang=st.sampled_from(["vi", "en"]))
def test_failed_pages_always_fit(rows: list[tuple[str, str]], page: int, lang: str) -> None:
    listed = [("/srv/pages/" + path, reason, "2024-05-20T01:00:00+00:00") for path, reason in rows]
    core = core_over(cast(Any, FailureShelf(listed)))
    desk = Desk(cast(Any, type("S", (), {"sources": (Path("/srv/pages"),)})), core, cast(Any, None),
                cast(Any, None), cast(Any, None))
    reply = desk.failed_page(lang, page)
    text = reply_ok(reply)
    first = (min(page, -(-len(rows) // 8)) - 1) * 8
    for n in range(first + 1, min(first + 8, len(rows)) + 1):  # a page keeps every failure it stands for
        assert f"{n}. " in text


@dataclass
class Board:
    """The part of SubscriptionStore /channels reads."""

    subs: list[Subscriber]

    def shared(self) -> list[Subscriber]:
        return self.subs

    def latest_delivery(self, chat_id: int) -> DeliveryRow | None:
        return DeliveryRow(chat_id, "2024-05-20T08:00", "failed", "2024-05-20T01:00:00+00:00", None, 3, "[]", 0, "[]",
                           1, None, None, None, None, 0)


@SOME
@given(rows=st.lists(st.tuples(st.text(_chars, max_size=128), st.text(_chars, max_size=129), nasty,
                               st.lists(st.text(_chars, min_size=1, max_size=60), max_size=5), st.booleans()),
                     min_size=1, max_size=40),
       lang=st.sampled_from(["vi", "en"]))
def test_channel_list_always_fits(rows: list[tuple[str, str, str, list[str], bool]], lang: str) -> None:
    subs = [Subscriber(chat_id=-1000 - n, lang="vi", slot="07:00", topics=tuple(topics), active=active, since=NOW,
                       schedule_from=NOW, last_slot=None, created_at=NOW, stopped_reason=reason or None,
                       kind="channel", title=title or None, username="kenh_" + str(n), header="x" * 500,
                       footer="😀" * 500, added_by=1, added_by_name=name or None)
            for n, (title, name, reason, topics, active) in enumerate(rows)]
    core = type("C", (), {"subs": Board(subs), "clock": staticmethod(lambda: NOW), "renderer": RENDERER})()
    reply_ok(Channels(cast(Any, core)).listing(lang))


@SOME
@given(article=articles, author=nasty, body=st.lists(nasty, max_size=6), lang=st.sampled_from(["vi", "en"]))
def test_articles_read_in_the_chat_always_fit(article: Article, author: str, body: list[str], lang: str) -> None:
    article = Article(id=article.id, title=article.title, paragraphs=tuple(p for p in body if p.strip()),
                      published=article.published, author=author or None)
    core = core_over(Shelf())
    core.read_document_chars = 0  # always messages, however long
    for reply in core.article_messages(article, lang):
        reply_ok(reply)
