"""A saved or fetched web page (HTML) → `Article`: the newsroom's own site, or any Vietnamese CMS.

trafilatura finds the main text (it knows navigation, share bars, comment boxes, related links and
footers far better than rules we could grow), htmldate is the last resort for the date. Vietnamese
CMSs differ in a few predictable ways that we handle around them:

* metadata is trusted in a fixed order: JSON-LD `NewsArticle` → `og:`/`article:` meta → the page's
  own headline, date line and byline → the libraries' guesses (which read `<title>` and the site's
  "today is …" clock as readily as the article's date);
* the lead (`sapo`) often sits outside the content container, and gets put back first;
* the title, a date line, a byline and a source credit ("Theo Báo …") are taken out of the body;
* legacy sites write windows-1258, often undeclared or declared as UTF-8.

Pure: bytes (+ URL, + the HTTP charset) in, Article or PageError out, so it can be tested on files.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml.etree import LxmlError

from bantin.articles.dates import parse_date_line
from bantin.articles.model import VIETNAM_TZ, Article, parse_published
from bantin.articles.rawpage import MAX_PAGE_BYTES, PageError
from bantin.articles.text import clean_text

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm")
#: Lines after the headline searched for the page's own date line (the site clock comes before).
DATE_LINE_WINDOW = 6
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_LEAD_CLASS = re.compile(r"sapo|summary|chapeau|lead|tomtat|tom-tat|description|excerpt|intro", re.IGNORECASE)
_TITLE_CLASS = re.compile(r"title|tieude|tieu-de|headline", re.IGNORECASE)
_BYLINE_CLASS = re.compile(r"author|byline|tacgia|tac-gia|writer", re.IGNORECASE)
_CHROME_TAGS = ("header", "nav", "footer", "aside")
_BYLINE_PREFIX = re.compile(r"^(?:bởi|by|tác giả|tin, ảnh|bài, ảnh|bài và ảnh|ảnh)\s*:?\s*", re.IGNORECASE)
_CREDIT = re.compile(r"^\(?\s*(?:theo|nguồn)\s*:?\s+(?P<who>[^.!?]{2,80}?)\s*\)?$", re.IGNORECASE)
_LOOSE_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
_LOOSE_HM = re.compile(r"(?<![\d/])(\d{1,2})\s*[:h]\s*(\d{2})(?::(\d{2}))?(?![\d/])")
_NAME_WORD = re.compile(r"^(?:[A-ZĐÀ-Ỹ][\w'’]*\.?|[A-ZĐ]\.(?:[A-ZĐ]\.?)*|-|&|và)$")
_SENTENCE_END = (".", "!", "?", ":", ";", ",", "…", "”", '"')


def page_url_id(url: str) -> str:
    """Stable id of a web article: a hash of its canonical URL, so every listing of it (feed,
    sitemap, a saved copy) updates the same article."""
    return "w" + hashlib.blake2b(normalize_url(url).encode("utf-8"), digest_size=8).hexdigest()


def normalize_url(url: str) -> str:
    """The form URLs are compared in: no fragment, lower-case scheme and host, no default port."""
    url, _fragment = urldefrag(url.strip())
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{host}{port}{path}{query}"


def is_html_file(name: str) -> bool:
    return name.lower().endswith(HTML_SUFFIXES)


def decode_html(data: bytes, charset: str | None = None) -> str:
    """The page's text, NFC. A BOM wins; then valid UTF-8 (whatever the page declares: a
    windows-1258 page is practically never valid UTF-8, while "declared cp1258, really UTF-8"
    happens); then the HTTP or `<meta>` charset; then windows-1258, the legacy Vietnamese one."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return unicodedata.normalize("NFC", data.decode(encoding, errors="replace"))
    declared = [charset] if charset else []
    match = _META_CHARSET.search(data[:8192])
    if match:
        declared.append(match.group(1).decode("ascii", "replace"))
    for encoding in ("utf-8", *declared, "windows-1258"):
        try:
            name = codecs.lookup(encoding).name
            text = data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
        return unicodedata.normalize("NFC", text)
    return unicodedata.normalize("NFC", data.decode("windows-1258", errors="replace"))


def parse_webpage(data: bytes, *, url: str | None = None, source: str = "", charset: str | None = None) -> Article:
    """Bytes of an HTML page → Article, or PageError with a reason fit for /failed.

    `url`: where it was fetched (resolves relative links; the id when the page names no canonical
    URL). `source`: where it is stored from (a file path or the URL). `charset`: the HTTP header's.
    """
    if not data.strip():
        raise PageError("trang rỗng")
    if len(data) > MAX_PAGE_BYTES:
        raise PageError(f"trang quá lớn ({len(data) / 1e6:.1f} MB, tối đa {MAX_PAGE_BYTES // 2**20} MB)")
    if b"\x00" in data[:65536] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise PageError("tệp nhị phân, không phải trang HTML")
    text = decode_html(data, charset)
    try:
        tree = _tree(text)
    except (ValueError, LxmlError) as exc:
        raise PageError(f"không đọc được HTML ({exc})") from exc
    meta = _Metadata(tree, url)
    body = _main_text(text, url)
    title = meta.title() or clean_text(body.title or "")
    if not title:
        raise PageError("không tìm thấy tiêu đề bài")
    paragraphs = [clean_text(line) for line in body.lines]
    paragraphs = [p for p in paragraphs if p]
    paragraphs, line_date = _strip_head(paragraphs, title)
    lead = meta.lead()
    if lead and not any(lead[:60] in p or p[:60] in lead for p in paragraphs[:3]):
        paragraphs.insert(0, lead)
    published = meta.published()
    if published is None:
        published = line_date or meta.date_line_after_title() or _htmldate(text, url)
    author = meta.author()
    paragraphs, tail_author, credit = _strip_tail(paragraphs, author)
    author = author or tail_author
    if not paragraphs:
        raise PageError("không có nội dung bài (trang không có đoạn văn nào)")
    canonical = meta.canonical() or (normalize_url(url) if url else None)
    extra = {"source_credit": credit} if credit else {}
    return Article(
        id=page_url_id(canonical) if canonical else _path_id(source),
        title=title,
        paragraphs=tuple(paragraphs),
        published=published,
        author=author,
        url=canonical,
        source=source or canonical or "",
        extra=extra,
    )


def _path_id(source: str) -> str:
    from bantin.articles.rawpage import page_id

    return page_id(source) if source else ""


# -- the main text ---------------------------------------------------------------------------------


class _Body:
    def __init__(self, title: str | None, lines: list[str]) -> None:
        self.title = title
        self.lines = lines


def _main_text(html: str, url: str | None) -> _Body:
    import trafilatura

    try:
        document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                               include_tables=False, include_images=False, deduplicate=False)
    except Exception as exc:  # a library bug on odd markup must be a failed page, not a failed run
        log.debug("trafilatura failed", exc_info=True)
        raise PageError(f"không trích được nội dung trang ({type(exc).__name__})") from exc
    if document is None:
        return _Body(None, [])
    text = getattr(document, "text", None) or ""
    return _Body(getattr(document, "title", None), text.split("\n"))


def _htmldate(html: str, url: str | None) -> date | datetime | None:
    """htmldate's verdict, as a day only: it cannot tell a publication time from a render time."""
    from htmldate import find_date

    try:
        found = find_date(html, url=url, original_date=True, extensive_search=True, outputformat="%Y-%m-%d")
    except Exception:  # same as above: a guess we can live without
        log.debug("htmldate failed", exc_info=True)
        return None
    return parse_published(found) if found else None


# -- metadata --------------------------------------------------------------------------------------


def _tree(html: str) -> Any:
    import lxml.html

    # lxml refuses str input that carries an XML encoding declaration.
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    return lxml.html.document_fromstring(html)


class _Metadata:
    """What the page says about itself, most trustworthy first."""

    def __init__(self, tree: Any, url: str | None) -> None:
        self.tree = tree
        self.url = url
        self.ld = list(_news_articles(tree))
        self.heading = self._heading()

    def _meta(self, *names: str) -> str | None:
        for name in names:
            for attr in ("property", "name", "itemprop"):
                for node in self.tree.xpath(f"//meta[@{attr}=$n]", n=name):
                    content = clean_text(node.get("content") or "")
                    if content:
                        return content
        return None

    def title(self) -> str | None:
        for item in self.ld:
            headline = _ld_text(item.get("headline") or item.get("name"))
            if headline:
                return headline
        if self.heading is not None:
            return clean_text(self.heading.text_content())
        og = self._meta("og:title", "twitter:title")
        if og:
            return _strip_site_name(og, self._meta("og:site_name"))
        return None

    def _heading(self) -> Any:
        """The article's headline element: an `h1` outside the site chrome, else an element whose
        class says title (`ArticleTitle`, `tieude`)."""
        for node in self.tree.iter("h1"):
            if not _in_chrome(node) and len(clean_text(node.text_content()).split()) >= 3:
                return node
        # Boxes are titled too ("LIÊN KẾT WEBSITE", "Để lại bình luận"): the headline is the one
        # that shares the most words with the page's <title>.
        page_title = set(clean_text(" ".join(self.tree.xpath("//title//text()"))).lower().split())
        best, best_score = None, 0
        for node in self.tree.xpath("//body//*[@class or @id]"):
            marks = f"{node.get('class', '')} {node.get('id', '')}"
            if node.tag in ("div", "h2", "h3", "p", "span", "td") and _TITLE_CLASS.search(marks) \
                    and not _in_chrome(node):
                words = clean_text(node.text_content()).lower().split()
                score = len(set(words) & page_title)
                if 3 <= len(words) <= 60 and not node.xpath(".//a") and score > best_score:
                    best, best_score = node, score
        return best

    def published(self) -> date | datetime | None:
        for item in self.ld:
            moment = _moment(_ld_text(item.get("datePublished") or item.get("dateCreated")))
            if moment is not None:
                return moment
        moment = _moment(self._meta("article:published_time", "datePublished", "og:published_time",
                                    "pubdate", "publishdate", "dc.date.issued"))
        if moment is not None:
            return moment
        for node in self.tree.xpath("//article//time[@datetime] | //time[contains(@class, 'published')]"):
            moment = _moment(node.get("datetime"))
            if moment is not None:
                return moment
        return None

    def date_line_after_title(self) -> date | datetime | None:
        """The first date line among the few text lines after the headline (the site's clock and
        'today is …' banner come before it, so they are never taken)."""
        if self.heading is None:
            return None
        for seen, text in enumerate(_texts_after(self.heading), 1):
            moment = _date_in_line(text)
            if moment is not None or seen >= DATE_LINE_WINDOW:
                return moment
        return None

    def author(self) -> str | None:
        for item in self.ld:
            found = [_ld_text(a.get("name") if isinstance(a, dict) else a) for a in _as_list(item.get("author"))]
            names = [n for n in found if n and not n.startswith("http")]
            if names:
                return ", ".join(names)
        named = self._meta("author", "article:author", "dc.creator")
        if named and not named.startswith("http"):
            return named
        for node in self.tree.xpath("//body//*[@class or @rel]"):
            marks = f"{node.get('class', '')} {node.get('rel', '')}"
            if _BYLINE_CLASS.search(marks) and not _in_chrome(node):
                text = _byline(clean_text(node.text_content()))
                if text and _is_name(text):
                    return text
        return None

    def lead(self) -> str | None:
        """The sapo, when the CMS keeps it in its own box beside the content."""
        for node in self.tree.xpath("//body//*[@class or @id]"):
            marks = f"{node.get('class', '')} {node.get('id', '')}"
            if node.tag in ("div", "p", "h2", "section") and _LEAD_CLASS.search(marks) and not _in_chrome(node):
                text = clean_text(node.text_content())
                if len(text) >= 40:
                    return text
        return None

    def canonical(self) -> str | None:
        candidates = [n.get("href") for n in self.tree.xpath("//link[@rel='canonical'][@href]")]
        candidates.append(self._meta("og:url"))
        for item in self.ld:
            entity = item.get("mainEntityOfPage")
            candidates.append(_ld_text(entity.get("@id") if isinstance(entity, dict) else entity))
            candidates.append(_ld_text(item.get("url")))
        for candidate in candidates:
            if not candidate:
                continue
            absolute = urljoin(self.url or "", candidate.strip())
            # A canonical URL on another host would let any page choose another article's id
            # (and overwrite it) while showing that article's link: only the page's host counts.
            if self.url and host_of(absolute) != host_of(self.url):
                continue
            if absolute.startswith(("http://", "https://")):
                return normalize_url(absolute)
        return None


def _news_articles(tree: Any) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object of an article type, `@graph`s included; broken JSON is skipped."""
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content() or "")
        except ValueError:
            continue
        stack = _as_list(data)
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            stack.extend(_as_list(item.get("@graph")))
            kinds = {str(k) for k in _as_list(item.get("@type"))}
            if kinds & {"NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle"}:
                yield item


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _ld_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return clean_text(str(value)) if isinstance(value, str | int | float) and str(value).strip() else None


def _in_chrome(node: Any) -> bool:
    """Inside the site's navigation, footer or sidebar (an `<article>`'s own header is not)."""
    ancestors = [parent.tag for parent in node.iterancestors()]
    if "header" in ancestors and "article" in ancestors[ancestors.index("header"):]:
        ancestors.remove("header")
    return any(tag in _CHROME_TAGS for tag in ancestors)


def _texts_after(node: Any) -> Iterator[str]:
    """Non-empty text lines that follow `node` in document order (its own text excluded)."""
    inside = set(node.iter())
    started = False
    for element in node.getroottree().iter():
        if element is node:
            started = True
            continue
        if not started or element in inside or not isinstance(element.tag, str):
            continue
        if element.tag in ("script", "style"):
            continue
        for piece in (element.text, element.tail):
            text = clean_text(piece or "")
            if text:
                yield text


def _strip_site_name(title: str, site: str | None) -> str:
    for sep in (" - ", " | ", " – "):
        head, _, tail = title.rpartition(sep)
        if head and site and tail.strip().lower() == site.lower():
            return head.strip()
    return title


def _moment(value: str | None) -> date | datetime | None:
    """An ISO 8601 value from metadata, in Vietnam time."""
    moment = parse_published(value.strip()) if value else None
    if isinstance(moment, datetime):
        return moment.astimezone(VIETNAM_TZ)
    return moment


def _date_in_line(text: str) -> date | datetime | None:
    """A short line that carries a date: the project's date-line grammar first, then a looser
    search for `dd/mm/yyyy` with an optional `hh:mm[:ss]` anywhere around it
    (`Lượt xem: 7370 | Gửi lúc: 05/12/2013 15:42:27`, `Ngày đăng : 08:50, 30/03/2021`)."""
    if len(text) > 100:
        return None
    line = parse_date_line(text)
    if line is not None and line.published is not None:
        return line.published
    day_match = _LOOSE_DMY.search(text)
    if day_match is None:
        return None
    day_, month, year = (int(g) for g in day_match.groups())
    try:
        day = date(year, month, day_)
    except ValueError:
        return None
    rest = text[: day_match.start()] + " " + text[day_match.end():]
    time_match = _LOOSE_HM.search(rest)
    if time_match is None:
        return day
    try:
        return datetime(year, month, day_, int(time_match[1]), int(time_match[2]), int(time_match[3] or 0),
                        tzinfo=VIETNAM_TZ)
    except ValueError:
        return day


# -- body clean-up ---------------------------------------------------------------------------------


def _strip_head(paragraphs: list[str], title: str) -> tuple[list[str], date | datetime | None]:
    """Drop the headline and a date line that trafilatura kept at the top of the text."""
    found: date | datetime | None = None
    out = list(paragraphs)
    for _ in range(3):
        if not out:
            break
        first = out[0]
        if first == title or (title.startswith(first) and len(first) > 20):
            out.pop(0)
            continue
        moment = _date_in_line(first) if len(first) <= 60 else None
        if moment is not None:
            found = found or moment
            out.pop(0)
            continue
        break
    return out, found


def _strip_tail(paragraphs: list[str], author: str | None) -> tuple[list[str], str | None, str | None]:
    """Take a byline and a source credit off the end of the body: (body, byline, credit)."""
    out = list(paragraphs)
    byline = credit = None
    for _ in range(2):
        if len(out) < 2:
            break
        last = out[-1]
        credit_match = _CREDIT.match(last)
        if credit_match and credit is None and len(last) <= 90:
            credit = clean_text(credit_match["who"])
            out.pop()
            continue
        name = _byline(last)
        if name and (name == author or _is_name(name)) and byline is None:
            byline = name
            out.pop()
            continue
        break
    return out, byline, credit


def _byline(text: str) -> str | None:
    text = _BYLINE_PREFIX.sub("", text).strip(" |-–—/")
    return text or None


def _is_name(text: str) -> bool:
    """A byline: one to six capitalised words or initials (`Hữu Phước`, `NGUYÊN ĐOAN`, `N.Đ`),
    no digits, no sentence punctuation."""
    if len(text) > 48 or any(ch.isdigit() for ch in text) or text.endswith(_SENTENCE_END):
        return False
    words = text.replace(",", " ").split()
    return 1 <= len(words) <= 6 and all(_NAME_WORD.match(word) for word in words)


def looks_like_html(data: bytes) -> bool:
    """A fetched body that is an HTML page (servers do not always say so in Content-Type)."""
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in head or b"<body" in head


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
