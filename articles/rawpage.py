"""Parse one page saved by the newsroom's scraper into an `Article`.

Layout: [scraper error(s)] title / date line / paragraphs / [author] / [site chrome].
Everything here is a pure function of the bytes, so it can be property-tested.
"""

from __future__ import annotations

import hashlib
import re

from articles.dates import parse_date_line
from articles.markers import SCRAPER_ERROR_RE, is_chrome
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


def _parse_lines(lines: list[str], source: str) -> Article:
    position, title, errors = _title(lines)
    if title is None:
        if errors:
            raise PageError("chỉ có thông báo lỗi của trình tải trang, không có bài")
        raise PageError("không tìm thấy tiêu đề")
    if is_chrome(title):
        raise PageError("chỉ có phần giao diện trang, không có bài")
    if parse_date_line(title):
        raise PageError("không có tiêu đề (dòng đầu là ngày đăng)")

    published = views = None
    rest = lines[position + 1 :]
    first = next((i for i, line in enumerate(rest) if line), None)
    if first is not None:
        date_line = parse_date_line(rest[first])
        if date_line is not None:
            published, views = date_line.published, date_line.views
            rest = rest[first + 1 :]

    if published is None and any(_MARKDOWN.match(line) for line in lines):
        raise NotAPage("trông như tài liệu Markdown (có dòng tiêu đề # hoặc khối ```), không có dòng ngày đăng")
    blocks = _blocks(rest)
    author = None
    if len(blocks) >= 2 and _is_author(blocks[-1]):
        author = blocks.pop()
    if not blocks:
        raise PageError("không có nội dung bài (chỉ có tiêu đề)")
    return Article(
        id=page_id(source) if source else "",
        title=title,
        paragraphs=tuple(blocks),
        published=published,
        author=author,
        views=views,
        source=source,
    )


def _title(lines: list[str]) -> tuple[int, str | None, list[str]]:
    """Skip scraper error messages (alone on lines or glued before the title)."""
    errors: list[str] = []
    for index, line in enumerate(lines):
        while line:
            match = SCRAPER_ERROR_RE.match(line)
            if not match or not match.group(0).strip():
                break
            errors.append(match.group(0).strip())
            line = line[match.end() :].strip()
        if line:
            return index, line, errors
    return len(lines), None, errors


def _blocks(lines: list[str]) -> list[str]:
    """Paragraphs up to the first chrome line; lines inside a block are joined."""
    blocks: list[str] = []
    current: list[str] = []
    for line in lines:
        if line and is_chrome(line):
            break
        if line:
            current.append(line)
        elif current:
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    return blocks


def _is_author(block: str) -> bool:
    """A byline: a short run of capitalised names or initials, no sentence punctuation."""
    if len(block) > 48 or (block.endswith(_SENTENCE_END) and not re.search(r"\b\w\.$", block)):
        return False
    words = block.split()
    if not 1 <= len(words) <= 6 or any(ch.isdigit() for ch in block):
        return False
    return all(_AUTHOR_WORD.match(word) for word in words)


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    odd = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r") or 0xFFF0 <= ord(ch) <= 0xFFFF)
    return odd / len(sample) > 0.05
