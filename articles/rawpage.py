"""Parse one page saved by a newsroom's scraper into an `Article`.

Layout family (everything but the title and one paragraph is optional):

    [scraper error(s)] [header chrome: banner, menus, breadcrumbs] [date line] title
    [date lines, counters, reading tools, a byline such as `N.Đ |`]
    paragraphs (photo captions and image paths between them)
    [author] [source credit] [related-article teasers with no label] [site chrome]

The title is the first text line of the head that is not chrome; when a short label-like line stands
before a date line and a title-like line follows it, the date stood *before* the title. A page with
several dates gets, in this order: a date labelled as publication (`Ngày đăng`, `Đăng ngày`, `Gửi lúc`,
`Ngày xuất bản`); the first unlabelled date after the title; an unlabelled date right above the title;
an update (`Cập nhật`); any other date above the title (a site's "today" banner). Everything here is a
pure function of the bytes, so it can be property-tested.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from bantin.articles.bylines import Byline, is_name, parse_byline
from bantin.articles.dates import DateLine, parse_counter_line, parse_date_line
from bantin.articles.markers import (
    CAPTION,
    GLUED_TITLE_PREFIX,
    IMAGE_LINE,
    MAX_CAPTION_WORDS,
    SCRAPER_ERROR_RE,
    is_chrome,
    is_header_chrome,
    is_punctuation_only,
)
from bantin.articles.model import Article
from bantin.articles.text import UndecodableError, clean_line, decode

#: Real pages are a few tens of kB; anything this big is not a page and would only waste memory.
MAX_PAGE_BYTES = 5 * 1024 * 1024

_AUTHOR_WORD = re.compile(r"^(?:[(\[]?[A-ZĐÀ-Ỹ][\w.'’]*[)\]]?|[A-ZĐ][\w]*\.[\w.]*|-|–|&|và)$")
_SENTENCE_END = (".", "!", "?", ":", ";", ",", "…")


class PageError(ValueError):
    """A page that cannot become an article; the message is the reason shown to editors."""


class NotAPage(PageError):
    """A readable text file that is plainly something else (a README, notes in Markdown)."""


#: Markdown's unmistakable lines: an ATX heading (`# Title`) or a code fence. A scraped news page
#: has neither (a hashtag is `#word`, without the space), and it has a date line.
_MARKDOWN = re.compile(r"^(#{1,6}\s+\S|```|~~~)")


def page_id(source: str) -> str:
    """Stable id of a raw page: a hash of where it lives, so re-scrapes update in place."""
    return "p" + hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def parse_page(data: bytes, *, source: str = "") -> Article:
    """Bytes of a saved page → Article, or PageError with a reason fit for the ingest summary."""
    if not data.strip():
        raise PageError("tệp rỗng")
    if len(data) > MAX_PAGE_BYTES:
        raise PageError(f"tệp quá lớn ({len(data) / 1e6:.1f} MB, tối đa {MAX_PAGE_BYTES // 2**20} MB)")
    try:
        text = decode(data)
    except UndecodableError as exc:
        raise PageError(str(exc)) from exc
    if _looks_binary(text):
        raise PageError("tệp nhị phân, không phải trang văn bản")
    lines = [clean_line(raw) for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _parse_lines(lines, source)


#: Nonblank lines at the top of a page searched for the title (header chrome is rarely longer).
HEAD_LINES = 20
_SENTENCE_END = (".", "!", "?", ":", ";", ",", "…")
_BYLINE_BAR = re.compile(r"^(?P<name>[^|]{1,40}?)\s*\|\s*(?P<rest>.*)$")
_DATED_TEASER = re.compile(r"\(\s*\d{1,2}/\d{1,2}(?:/\d{2,4})?\s*\)$")


@dataclass
class _Head:
    """What stands before the first paragraph."""

    title: str
    body_start: int
    dates: list[tuple[int, DateLine]] = field(default_factory=list)  # (position vs the title, line)
    views: int | None = None
    byline: Byline | None = None


def _parse_lines(lines: list[str], source: str) -> Article:
    head = _head(lines)
    published, views = _choose_date(head)
    if published is None and any(_MARKDOWN.match(line) for line in lines):
        raise NotAPage("trông như tài liệu Markdown (có dòng tiêu đề # hoặc khối ```), không có dòng ngày đăng")
    groups, captions = _blocks(lines[head.body_start :], head.title)
    blocks, byline = _tail(groups)
    if not blocks:
        raise PageError("không có nội dung bài (chỉ có tiêu đề)")
    author = byline.author if byline and byline.author else (head.byline.author if head.byline else None)
    credit = byline.source_credit if byline and byline.source_credit else None
    return Article(
        id=page_id(source) if source else "",
        title=head.title,
        paragraphs=tuple(blocks),
        published=published,
        author=author,
        views=views,
        source=source,
        source_credit=credit,
        captions=tuple(captions),
    )


def _head(lines: list[str]) -> _Head:
    """Find the title among header chrome and date lines, then skip the meta lines under it."""
    errors = _strip_errors(lines)
    order = [i for i, line in enumerate(lines) if line][:HEAD_LINES]
    if not order:
        if errors:
            raise PageError("chỉ có thông báo lỗi của trình tải trang, không có bài")
        raise PageError("không tìm thấy tiêu đề")
    top = _Top(lines, order)
    title_at = _pick_title(top)
    if title_at is None:
        if all(top.kind(i) in ("date", "counter") for i in order):
            raise PageError("không có tiêu đề (dòng đầu là ngày đăng)")
        raise PageError("chỉ có phần giao diện trang, không có bài")
    title = GLUED_TITLE_PREFIX.sub("", lines[title_at])
    head = _Head(title=title, body_start=title_at + 1)
    before = [i for i in order if i < title_at]
    for distance, i in enumerate(reversed(before), start=1):
        found = top.date(i)
        if found:
            head.dates.append((-distance, found))
        elif top.kind(i) == "counter":
            head.views = head.views if head.views is not None else _counter_views(lines[i])
    _skip_meta(top, head)
    return head


def _strip_errors(lines: list[str]) -> list[str]:
    """Scraper error messages, alone on lines or glued before the first real line (removed in place)."""
    errors: list[str] = []
    for index, line in enumerate(lines):
        while line:
            match = SCRAPER_ERROR_RE.match(line)
            if not match or not match.group(0).strip():
                break
            errors.append(match.group(0).strip())
            line = line[match.end() :].strip()
        lines[index] = line
        if line:
            break
    return errors


def _kind(line: str) -> tuple[str, DateLine | None]:
    if len(line) > 160:
        return "text", None  # longer than any date line, counter or chrome: a paragraph
    found = parse_date_line(line)
    if found:
        return "date", found
    if parse_counter_line(line):
        return "counter", None
    if is_header_chrome(line) or is_chrome(line):
        return "chrome", None
    if line.isupper() and len(line.split()) <= 4:
        return "caps", None  # "TIN TỨC", a site name; a byline when it stands under the title
    return "text", None


class _Top:
    """The head's nonblank lines other than counters, classified on demand: most pages need two."""

    def __init__(self, lines: list[str], order: list[int]) -> None:
        self.lines = lines
        self._order = iter(order)
        self._kinds: dict[int, tuple[str, DateLine | None]] = {}
        self.items: list[int] = []

    def kind(self, i: int) -> str:
        found = self._kinds.get(i)
        if found is None:
            found = self._kinds[i] = _kind(self.lines[i])
        return found[0]

    def date(self, i: int) -> DateLine | None:
        """The date line at `i`, parsed once (the title search has often read it already)."""
        found = self._kinds.get(i)
        return found[1] if found is not None else parse_date_line(self.lines[i])

    def get(self, pos: int) -> int | None:
        while len(self.items) <= pos:
            i = next(self._order, None)
            if i is None:
                return None
            if self.kind(i) != "counter":
                self.items.append(i)
        return self.items[pos]

    def run(self, start: int, stop: int = HEAD_LINES) -> Iterator[int]:
        for pos in range(start, stop):
            i = self.get(pos)
            if i is None:
                return
            yield i


def _pick_title(top: _Top) -> int | None:
    lines = top.lines
    pos = 0
    while (i := top.get(pos)) is not None:
        pos += 1
        if top.kind(i) != "text":
            continue
        after = top.get(pos)
        if after is not None and top.kind(after) == "date":
            if _label_like(lines[i]):
                later = next((j for j in top.run(pos + 1) if top.kind(j) not in ("date", "chrome", "caps")), None)
                if later is not None and top.kind(later) == "text" and _title_like(lines[later]):
                    return later
            return i
        earlier = top.items[: pos - 1]
        if earlier and top.kind(earlier[-1]) == "date" and not _title_like(lines[i]) \
                and not any(top.kind(j) == "text" for j in earlier):
            # A paragraph under a date: the title is a short line in capitals above, or missing.
            caps = next((j for j in earlier if top.kind(j) == "caps"), None)
            if caps is None:
                raise PageError("không có tiêu đề (dòng đầu là ngày đăng)")
            return caps
        if after is not None and top.kind(after) == "text" \
                and any(top.kind(j) == "date" for j in top.run(pos, pos + 3)):
            continue  # a breadcrumb or site name above "title / date"
        return i
    # No other candidate: a short title in capitals ("MÙA VÀNG") rather than no article at all.
    return next((i for i in top.run(0) if top.kind(i) == "caps"), None)


def _label_like(line: str) -> bool:
    """A breadcrumb or section name: a few words, no sentence punctuation, no digits."""
    return line.count(" ") <= 3 and not line.endswith(_SENTENCE_END) and not any(c.isdigit() for c in line)


def _title_like(line: str) -> bool:
    return len(line.split()) <= 40 and not (line.endswith(".") and not line.endswith(".."))


def _skip_meta(top: _Top, head: _Head) -> None:
    """Date lines, counters, reading tools and a byline between the title and the first paragraph."""
    lines = top.lines
    j = head.body_start
    after = 0
    while j < len(lines):
        line = lines[j]
        if not line:
            j += 1
            continue
        found = top.date(j)
        if found:
            after += 1
            head.dates.append((after, found))
        elif parse_counter_line(line):
            head.views = head.views if head.views is not None else _counter_views(line)
        elif is_header_chrome(line):
            pass
        elif head.byline is None and (bar := _BYLINE_BAR.match(line)) and (by := parse_byline(bar["name"])):
            head.byline = by
            rest = bar["rest"].strip()
            found = parse_date_line(rest) if rest else None
            if found:
                after += 1
                head.dates.append((after, found))
            elif rest:
                lines[j] = rest  # "N.Đ | Sáng 12/3, …": the lead follows the byline on its line
                break
        elif head.byline is None and line.isupper() and is_name(line) and _next_text(lines, j + 1):
            head.byline = Byline(author=line)
        else:
            break
        j += 1
    head.body_start = j


def _next_text(lines: list[str], start: int) -> bool:
    return any(lines[k] for k in range(start, min(len(lines), start + 4)))


def _counter_views(line: str) -> int | None:
    counter = parse_counter_line(line)
    return counter.views if counter else None


def _choose_date(head: _Head) -> tuple[date | datetime | None, int | None]:
    """Pick the publication date among the head's date lines (rule in the module docstring)."""
    dates = head.dates
    ranked = (
        [d for _, d in dates if d.kind == "published" and d.published is not None],
        [d for at, d in dates if at > 0 and d.kind is None],
        [d for at, d in dates if at == -1 and d.kind is None],
        [d for _, d in dates if d.kind == "updated" and d.published is not None],
        [d for at, d in sorted(dates, key=lambda item: -item[0]) if at < 0],
        [d for _, d in dates],
    )
    chosen = next((group[0] for group in ranked if group), None)
    views = chosen.views if chosen and chosen.views is not None else None
    if views is None:
        views = next((d.views for _, d in dates if d.views is not None), head.views)
    return (chosen.published if chosen else None), views


def _blocks(lines: list[str], title: str) -> tuple[list[list[str]], list[str]]:
    """Paragraphs up to the first chrome line (lines inside a block are joined), and photo captions.

    A caption is a short line shaped like one (`Ảnh: …`, `… (Ảnh minh họa)`), or a short line right
    under an image path; image paths and punctuation-only lines are dropped. The title coming back
    after the body starts a list of teasers: chrome.
    """
    blocks: list[list[str]] = []
    captions: list[str] = []
    current: list[str] = []
    after_image = False

    def flush() -> None:
        if current:
            blocks.append(current.copy())
            current.clear()

    for line in lines:
        if not line:
            flush()
            after_image = False
            continue
        if is_chrome(line) or (blocks and line == title):
            break
        if IMAGE_LINE.match(line):
            flush()
            after_image = True
            continue
        if is_punctuation_only(line):
            flush()
            continue
        short = len(line) <= 8 * MAX_CAPTION_WORDS and len(line.split()) <= MAX_CAPTION_WORDS
        if short and (after_image or CAPTION.search(line)):
            flush()
            captions.append(line)
            after_image = False
            continue
        current.append(line)
    flush()
    return blocks, captions


def _tail(groups: list[list[str]]) -> tuple[list[str], Byline | None]:
    """Paragraphs, then the author and source credit at their end, and unlabelled teasers after them.

    Teasers are blocks whose every line looks like a title; a byline above them ends the article.
    """
    blocks = [" ".join(group) for group in groups]
    j = len(blocks) - 1
    teasers = 0
    byline = None
    while j >= 1:
        byline = parse_byline(blocks[j])
        if byline or not all(_teaser_like(line) for line in groups[j]) or teasers >= 12:
            break
        teasers += 1
        j -= 1
    if j >= 1 and byline:
        end = j
        above = parse_byline(blocks[j - 1]) if j >= 2 else None
        if above and ((above.author and not byline.author) or (above.source_credit and not byline.source_credit)):
            byline = Byline(author=byline.author or above.author,
                            source_credit=byline.source_credit or above.source_credit)
            end = j - 1
        return blocks[:end], byline
    if teasers >= 2 and j >= 0 and blocks[j].endswith(_SENTENCE_END):
        return blocks[: j + 1], None  # a finished article, then a list of titles: teasers
    return blocks, None


def _teaser_like(block: str) -> bool:
    """A related article's title: a capitalised line without a sentence's end (or ending in its date)."""
    words = block.split()
    if not 3 <= len(words) <= 30 or not block[0].isupper():
        return False
    return bool(_DATED_TEASER.search(block)) or not block.endswith(_SENTENCE_END)


#: Control characters other than tab and line breaks, and the U+FFF0–U+FFFF specials.
_ODD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufff0-\uffff]")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    return len(_ODD_CHARS.findall(sample)) / len(sample) > 0.05
