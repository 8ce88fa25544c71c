"""One poll of the newspaper's website: feeds and sitemaps → new article URLs → pages → the store.

Every feed, sitemap and page fails on its own: the reason goes to the store's failure list (what
editors see in /failed) and the poll goes on. Each new article is stored as soon as it is read,
and only then remembered as fetched, so a poll killed half-way loses nothing and the next one
picks up the rest.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bantin.articles.ingest import IngestReport
from bantin.articles.model import Article
from bantin.articles.rawpage import PageError
from bantin.articles.store import ArticleStore
from bantin.articles.web.client import FetchError, Forbidden, PoliteClient
from bantin.articles.web.feeds import Entry, FeedError, Listing, parse_listing
from bantin.articles.web.scope import Scope
from bantin.articles.web.state import FetchState
from bantin.articles.webpage import looks_like_html, normalize_url, parse_webpage

#: Pages fetched per poll at most: at one request a second a first poll of a big sitemap would
#: otherwise run for hours; the rest waits for the next poll.
MAX_PAGES_PER_POLL = 300
#: Listed URLs whose lastmod is older than this are not fetched: an archive is not news, and a
#: sitemap of a whole paper lists hundreds of thousands of them.
HORIZON = timedelta(days=30)
#: Sitemap indexes nest; we follow at most this many levels, and this many sitemaps per poll.
MAX_SITEMAP_DEPTH = 2
MAX_SITEMAPS = 50
HTML_TYPES = ("text/html", "application/xhtml+xml", "")

Progress = Callable[[int, int], None]
Validators = tuple[str, str | None, str | None] | None  # (url, etag, last-modified) to save


@dataclass
class FetchReport(IngestReport):
    """An ingest report (added / updated / unchanged / failed) plus what the web poll did."""

    feeds: int = 0
    pages: int = 0  # page bodies downloaded
    not_modified: int = 0  # feeds and pages that answered 304
    duplicates: int = 0  # same content under another URL, or the same canonical URL twice
    old: int = 0  # listed with a lastmod older than the horizon
    left: int = 0  # over this poll's page budget: next poll
    refused: int = 0  # outside the feeds' sites or on an internal address: never requested
    requests: int = 0

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "feeds": self.feeds, "pages": self.pages, "not_modified": self.not_modified,
                "duplicates": self.duplicates, "old": self.old, "left": self.left, "refused": self.refused,
                "requests": self.requests}


def poll(
    store: ArticleStore,
    state: FetchState,
    client: PoliteClient,
    feeds: Sequence[str],
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    max_pages: int = MAX_PAGES_PER_POLL,
    horizon: timedelta = HORIZON,
) -> FetchReport:
    """Fetch every feed and sitemap, then the articles they list that we have not stored yet."""
    started = datetime.now(UTC)
    now = now or started
    report = FetchReport()
    poller = _Poller(store, state, client, report, now - horizon, max_pages, Scope.of_feeds(feeds))
    for number, feed in enumerate(feeds):
        tick = functools.partial(progress, number, len(feeds)) if progress else None
        if tick:
            tick()
        poller.feed(feed, tick)
    if progress:
        progress(len(feeds), len(feeds))
    report.requests = client.requests
    report.files = report.feeds + report.pages
    report.seconds = (datetime.now(UTC) - started).total_seconds()
    return report


class _Poller:
    def __init__(self, store: ArticleStore, state: FetchState, client: PoliteClient, report: FetchReport,
                 oldest: datetime, max_pages: int, scope: Scope) -> None:
        self.store, self.state, self.client, self.report = store, state, client, report
        self.scope = scope
        self.refused: list[tuple[str, str]] = []  # (url, reason) refused while reading one feed
        self.oldest = oldest
        self.max_pages = max_pages
        self.listed: set[str] = set()  # article URLs already handled in this poll
        self.stored: set[str] = set()  # article ids stored in this poll
        self.sitemaps = 0

    def feed(self, url: str, tick: Callable[[], None] | None) -> None:
        """One configured feed or sitemap: its validators are saved only once every page it
        listed was stored, so a 304 never hides a page that failed."""
        self.report.feeds += 1
        retry_later = False
        try:
            listings = self._listings(url, depth=0)
        except (FetchError, FeedError) as exc:
            self._fail(url, str(exc))
            return
        self.store.clear_failures([url])
        entries = [e for listing, _ in listings for e in listing.entries]
        self.refused = []
        for done, entry in enumerate(entries):
            retry_later |= not self.page(entry)
            if tick and done % 10 == 0:
                tick()  # progress, and where a stopping bot interrupts the poll
        self._report_refused()
        if not retry_later:
            for _listing, validators in listings:
                if validators is not None:
                    self.state.save_validators(*validators)

    def _listings(self, url: str, depth: int) -> list[tuple[Listing, Validators]]:
        """The listing at `url` and, for a sitemap index, its sitemaps (bounded); with the
        validators to save afterwards. A 304 lists nothing."""
        etag, modified = self.state.validators(url)
        response = self.client.get(url, etag=etag, last_modified=modified, scope=self.scope)
        if response.status == 304:
            self.report.not_modified += 1
            return []
        listing = parse_listing(response.body, response.url)
        validators = (url, response.headers.get("etag"), response.headers.get("last-modified"))
        found: list[tuple[Listing, Validators]] = [(listing, validators)]
        if listing.kind == "sitemapindex":
            if depth >= MAX_SITEMAP_DEPTH:
                raise FeedError(f"sitemap lồng quá {MAX_SITEMAP_DEPTH} cấp")
            for child in sorted(listing.sitemaps, key=_newest_first):
                if self.sitemaps >= MAX_SITEMAPS or self._too_old(child):
                    continue
                self.sitemaps += 1
                try:
                    found.extend(self._listings(child.url, depth + 1))
                except (FetchError, FeedError) as exc:
                    self._fail(child.url, str(exc))
                else:
                    self.store.clear_failures([child.url])
        return found

    def page(self, entry: Entry) -> bool:
        """Fetch and store one listed article if it is new; False when it failed. Then the feed is
        read in full again next time and the page tried again: a feed often lists an article a
        little before its page works, and an editor may fix a broken one."""
        url = normalize_url(entry.url)
        if url in self.listed:
            return True
        self.listed.add(url)
        if self._too_old(entry):
            self.report.old += 1
            return True
        seen = self.state.seen(url)
        if seen is not None and (entry.modified is None or entry.modified <= seen.fetched_at):
            return True
        if self.report.pages >= self.max_pages:
            self.report.left += 1
            return False
        etag, modified = self.state.validators(url) if seen is not None else (None, None)
        try:
            response = self.client.get(url, etag=etag, last_modified=modified, scope=self.scope)
            if response.status == 304:
                self.report.not_modified += 1
                self.state.remember(url, canonical=seen.canonical if seen else None,
                                    content_hash=seen.content_hash if seen else None,
                                    article_id=seen.article_id if seen else None)
                return True
            self.report.pages += 1
            if response.content_type not in HTML_TYPES and not looks_like_html(response.body):
                raise PageError(f"không phải trang HTML ({response.content_type})")
            article = parse_webpage(response.body, url=response.url, charset=response.charset)
        except Forbidden as exc:
            # Not a failure of the page (nothing to retry) but the feed's: reported once per feed.
            self.report.refused += 1
            self.refused.append((url, str(exc)))
            return True
        except (FetchError, PageError) as exc:
            self._fail(url, str(exc))
            return False
        self._store(url, article, response.headers)
        return True

    def _store(self, url: str, article: Article, headers: dict[str, str]) -> None:
        digest = _content_hash(article)
        owner = self.state.owner_of_content(digest, article.url or url)
        if article.id in self.stored:
            owner = article.id  # the same canonical URL listed under two addresses
        if owner is not None and (owner != article.id or article.id in self.stored):
            self.report.duplicates += 1
            self.state.remember(url, canonical=article.url, content_hash=digest, article_id=owner)
            self.store.clear_failures([url])
            return
        if article.url and article.url != url and self.state.seen(article.url) is None:
            self.listed.add(article.url)  # listed under another URL: do not fetch the canonical one too
        self.stored.add(article.id)
        outcome = self.store.upsert_many([article])[0]
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)
        self.state.remember(url, canonical=article.url, content_hash=digest, article_id=article.id)
        self.state.save_validators(url, headers.get("etag"), headers.get("last-modified"))
        self.store.clear_failures([url])

    def _report_refused(self) -> None:
        """One /failed line for all the URLs a feed listed that were refused: a feed listing
        thousands of internal addresses must not flood the editors' list."""
        if not self.refused:
            return
        url, reason = self.refused[0]
        others = len(self.refused) - 1
        self._fail(url, reason + (f" (và {others} địa chỉ khác bị từ chối)" if others else ""))

    def _too_old(self, entry: Entry) -> bool:
        return entry.modified is not None and entry.modified < self.oldest

    def _fail(self, url: str, reason: str) -> None:
        self.report.failed.append((url, reason))
        self.store.record_failure(url, reason)


def _newest_first(entry: Entry) -> float:
    return -(entry.modified.timestamp() if entry.modified else 0.0)


def _content_hash(article: Article) -> str:
    """What a reader sees, without the URL: the same article under two addresses hashes alike."""
    payload = json.dumps([article.title, list(article.paragraphs)], ensure_ascii=False)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()
