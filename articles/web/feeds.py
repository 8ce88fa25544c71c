"""RSS/Atom feeds and XML sitemaps → the article URLs they list (pure: bytes in, entries out).

feedparser reads RSS and Atom (and survives most broken XML); sitemaps are plain XML read with
lxml, without entities or network access (a sitemap is untrusted input).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

from bantin.articles.model import VIETNAM_TZ, parse_published


class FeedError(ValueError):
    """A feed or sitemap we cannot read; the message is the reason shown in /failed."""


@dataclass(frozen=True)
class Entry:
    """One listed URL and when the listing says it last changed (None: it does not say)."""

    url: str
    modified: datetime | None = None


@dataclass
class Listing:
    """What one feed or sitemap lists: articles, and (a sitemap index) more sitemaps."""

    kind: str  # rss | atom | urlset | sitemapindex
    entries: list[Entry] = field(default_factory=list)
    sitemaps: list[Entry] = field(default_factory=list)


_ROOT = re.compile(rb"<(?:[\w-]+:)?(urlset|sitemapindex|rss|feed|rdf:RDF)\b", re.IGNORECASE)


def parse_listing(data: bytes, url: str) -> Listing:
    """A feed or a sitemap, told apart by its root element."""
    if not data.strip():
        raise FeedError("nguồn tin rỗng")
    match = _ROOT.search(data[:4096])
    root = match.group(1).decode().lower() if match else ""
    if root in ("urlset", "sitemapindex"):
        return _sitemap(data, url)
    return _feed(data, url)


def _feed(data: bytes, url: str) -> Listing:
    import feedparser

    parsed = feedparser.parse(data, response_headers={"content-location": url})
    version = str(parsed.get("version") or "")
    entries = []
    for item in parsed.entries:
        link = item.get("link") or next((lk.get("href") for lk in item.get("links", []) if lk.get("href")), None)
        if not link:
            continue
        # published first: asking feedparser for a missing `updated_parsed` warns on every item
        moment = item.get("published_parsed") or item.get("updated_parsed")
        modified = datetime.fromtimestamp(calendar.timegm(moment), UTC) if moment else None  # feedparser: UTC
        entries.append(Entry(urljoin(url, link.strip()), modified))
    if not entries and (parsed.get("bozo") or not version):
        reason = parsed.get("bozo_exception")
        raise FeedError(f"không đọc được RSS/Atom ({_short(reason) if reason else 'không phải nguồn tin'})")
    return Listing("atom" if version.startswith("atom") else "rss", entries)


def _sitemap(data: bytes, url: str) -> Listing:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"sitemap hỏng ({_short(exc)})") from exc
    kind = etree.QName(root).localname
    listing = Listing(kind)
    target = listing.sitemaps if kind == "sitemapindex" else listing.entries
    for node in root:
        if not isinstance(node.tag, str):
            continue
        values = {etree.QName(child).localname: (child.text or "").strip()
                  for child in node if isinstance(child.tag, str)}
        if values.get("loc"):
            target.append(Entry(urljoin(url, values["loc"]), _lastmod(values.get("lastmod"))))
    return listing


def _lastmod(value: str | None) -> datetime | None:
    moment = parse_published(value) if value else None
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=VIETNAM_TZ)
    return moment


def _short(exc: object) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
