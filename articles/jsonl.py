"""JSON Lines exports (`.jsonl`, `.jsonl.gz`): one article per line."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from bantin.articles.model import Article, parse_published
from bantin.articles.text import clean_text, split_paragraphs

#: Longest line (one record) read, in bytes: the longest article of the 35k archive is 50 KB,
#: and a raw page may be 5 MB (`MAX_PAGE_BYTES`). A longer line is skipped and reported.
MAX_LINE_BYTES = 4 * 2**20
#: Most bytes read from one export, after decompression (the 35k archive is 125 MB): a gzip
#: bomb stops here, reported, keeping the records read before.
MAX_EXPORT_BYTES = 2 * 2**30


@dataclass(frozen=True)
class RecordError:
    """A line that could not become an article; `where` names it for the summary."""

    where: str
    reason: str


def is_jsonl(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".jsonl") or name.endswith(".jsonl.gz") or name.endswith(".ndjson")


def read_jsonl(path: Path, *, on_read: Callable[[int], None] | None = None) -> Iterator[Article | RecordError]:
    """Yield articles (or per-line errors) lazily, so a huge export never sits in memory.

    Sources are `<absolute path>#<id>` whatever path was given: pruning matches them against
    the scanned folders, which are absolute, and a relative source would never match.
    `on_read(bytes)`: told every few hundred lines how far into the file (compressed bytes) the
    reading is, so one big export can show progress.

    Lines are read as bytes with a cap (`MAX_LINE_BYTES`) and the file as a whole with another
    (`MAX_EXPORT_BYTES`, decompressed): a one-line dump or a gzip bomb is reported, not held
    in memory. Each line is decoded on its own, so bad UTF-8 costs only its line.
    """
    path = path.resolve()
    try:
        with open(path, "rb") as file:
            raw = cast(BinaryIO, gzip.GzipFile(fileobj=file) if path.name.lower().endswith(".gz") else file)
            yield from _records(raw, path, lambda: file.tell(), on_read)
    except OSError as exc:
        yield RecordError(str(path), f"không mở được tệp: {exc.strerror or exc}")


def _records(
    raw: BinaryIO, path: Path, tell: Callable[[], int], on_read: Callable[[int], None] | None
) -> Iterator[Article | RecordError]:
    """The records of one open export; see `read_jsonl`."""
    limit, budget = MAX_LINE_BYTES, MAX_EXPORT_BYTES  # read once: tests lower them
    total = lineno = 0
    while True:
        lineno += 1
        where = f"{path}:{lineno}"
        if on_read is not None and lineno % 256 == 0:
            on_read(tell())
        try:
            line = raw.readline(limit + 1)
            total += len(line)
            too_long = len(line) > limit
            chunk = line
            while too_long and not chunk.endswith(b"\n") and total <= budget:  # skip to the next line
                chunk = raw.readline(limit)
                if not chunk:
                    break
                total += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            yield RecordError(where, f"không đọc được tệp: {exc}")
            return
        if total > budget:
            yield RecordError(where, f"tệp quá lớn khi giải nén (hơn {_mb(budget)}): ngừng đọc tệp từ dòng này")
            return
        if too_long:
            yield RecordError(where, f"dòng quá dài (hơn {_mb(limit)})")
            continue
        if not line:
            return
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError:
            yield RecordError(where, "dòng không phải văn bản UTF-8")
            continue
        if text.strip():
            yield record_to_article(text, where=where, source=str(path))


def _mb(size: int) -> str:
    return f"{size / 2**20:g} MB"


def where_file(where: str) -> str:
    """The file a failure's `where` names: `<path>:<line>` for a JSON Lines record, else the path."""
    head, sep, line = where.rpartition(":")
    return head if sep and line.isdigit() and is_jsonl(Path(head)) else where


def record_to_article(line: str, *, where: str, source: str) -> Article | RecordError:
    """One JSON line → Article; the record's own `id` is the article id."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return RecordError(where, f"JSON không hợp lệ: {exc.msg}")
    except RecursionError:  # thousands of nested brackets: the C parser gives up
        return RecordError(where, "JSON không hợp lệ: lồng nhau quá sâu")
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        return RecordError(where, f"JSON không hợp lệ: {str(exc)[:60]}")
    if not isinstance(record, dict):
        return RecordError(where, "dòng không phải là một đối tượng JSON")
    raw_id = record.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()) or isinstance(raw_id, bool | dict | list):
        return RecordError(where, "thiếu trường id")
    title = clean_text(_text(record.get("title")))
    if not title:
        return RecordError(where, f"bài {raw_id}: thiếu tiêu đề")
    lead = " ".join(split_paragraphs(_text(record.get("sapo") or record.get("summary"))))
    paragraphs = ([lead] if lead else []) + split_paragraphs(_text(record.get("body")))
    if not paragraphs:
        return RecordError(where, f"bài {raw_id}: không có nội dung")
    views = record.get("views")
    return Article(
        id=str(raw_id).strip(),
        title=title,
        paragraphs=tuple(paragraphs),
        published=parse_published(_text(record.get("published")) or None),
        author=clean_text(_text(record.get("author"))) or None,
        views=views if isinstance(views, int) and not isinstance(views, bool) and views >= 0 else None,
        url=_text(record.get("url")).strip() or None,
        source=f"{source}#{str(raw_id).strip()}",
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
