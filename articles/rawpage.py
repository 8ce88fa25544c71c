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
from dataclasses import dataclass, field
from datetime import date, datetime

from articles.bylines import Byline, is_name, parse_byline
from articles.dates import DateLine, parse_counter_line, parse_date_line
from articles.markers import (
    CAPTION,
    GLUED_TITLE_PREFIX,
    IMAGE_LINE,
    MAX_CAPTION_WORDS,
    SCRAPER_ERROR_RE,
    is_chrome,
    is_header_chrome,
    is_punctuation_only,
)
from articles.model import Article
from articles.text import UndecodableError, clean_line, decode

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
    kinds = {i: _kind(lines[i]) for i in order}
    title_at = _pick_title(order, kinds, lines)
    if title_at is None:
        if all(kinds[i] == "date" or kinds[i] == "counter" for i in order):
            raise PageError("không có tiêu đề (dòng đầu là ngày đăng)")
        raise PageError("chỉ có phần giao diện trang, không có bài")
    title = GLUED_TITLE_PREFIX.sub("", lines[title_at])
    head = _Head(title=title, body_start=title_at + 1)
    before = [i for i in order if i < title_at]
    for distance, i in enumerate(reversed(before), start=1):
        found = parse_date_line(lines[i]) if kinds[i] == "date" else None
        if found:
            head.dates.append((-distance, found))
        elif kinds[i] == "counter":
            head.views = head.views if head.views is not None else _counter_views(lines[i])
    _skip_meta(lines, head)
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


def _kind(line: str) -> str:
    if parse_date_line(line):
        return "date"
    if parse_counter_line(line):
        return "counter"
    if is_header_chrome(line) or is_chrome(line):
        return "chrome"
    if line.isupper() and len(line.split()) <= 4:
        return "caps"  # "TIN TỨC", a site name; a byline when it stands under the title
    return "text"


def _pick_title(order: list[int], kinds: dict[int, str], lines: list[str]) -> int | None:
    meaningful = [i for i in order if kinds[i] != "counter"]
    for pos, i in enumerate(meaningful):
        if kinds[i] != "text":
            continue
        after = meaningful[pos + 1] if pos + 1 < len(meaningful) else None
        if after is not None and kinds[after] == "date":
            if _label_like(lines[i]):
                later = next((j for j in meaningful[pos + 2 :] if kinds[j] not in ("date", "chrome", "caps")), None)
                if later is not None and kinds[later] == "text" and _title_like(lines[later]):
                    return later
            return i
        if pos and kinds[meaningful[pos - 1]] == "date" and not _title_like(lines[i]) \
                and not any(kinds[j] == "text" for j in meaningful[:pos]):
            # A paragraph under a date: the title is a short line in capitals above, or missing.
            caps = next((j for j in meaningful[:pos] if kinds[j] == "caps"), None)
            if caps is None:
                raise PageError("không có tiêu đề (dòng đầu là ngày đăng)")
            return caps
        upcoming = meaningful[pos + 1 : pos + 4]
        if after is not None and kinds[after] == "text" and any(kinds[j] == "date" for j in upcoming):
            continue  # a breadcrumb or site name above "title / date"
        return i
    # No other candidate: a short title in capitals ("MÙA VÀNG") rather than no article at all.
    return next((i for i in meaningful if kinds[i] == "caps"), None)


def _label_like(line: str) -> bool:
    """A breadcrumb or section name: a few words, no sentence punctuation, no digits."""
    return len(line.split()) <= 4 and not line.endswith(_SENTENCE_END) and not any(c.isdigit() for c in line)


def _title_like(line: str) -> bool:
    return len(line.split()) <= 40 and not (line.endswith(".") and not line.endswith(".."))


def _skip_meta(lines: list[str], head: _Head) -> None:
    """Date lines, counters, reading tools and a byline between the title and the first paragraph."""
    j = head.body_start
    after = 0
    while j < len(lines):
        line = lines[j]
        if not line:
            j += 1
            continue
        found = parse_date_line(line)
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
        short = len(line.split()) <= MAX_CAPTION_WORDS
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


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    odd = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r") or 0xFFF0 <= ord(ch) <= 0xFFFF)
    return odd / len(sample) > 0.05
