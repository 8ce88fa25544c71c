"""JSON Lines exports (`.jsonl`, `.jsonl.gz`): one article per line."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from articles.model import Article, parse_published
from articles.text import clean_text, split_paragraphs


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
    """
    path = path.resolve()
    try:
        with open(path, "rb") as file:
            raw = cast(BinaryIO, gzip.GzipFile(fileobj=file) if path.name.lower().endswith(".gz") else file)
            stream = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict")
            lineno = 0
            while True:
                lineno += 1
                if on_read is not None and lineno % 256 == 0:
                    on_read(file.tell())
                try:
                    line = stream.readline()
                except (UnicodeDecodeError, OSError, EOFError) as exc:
                    yield RecordError(f"{path}:{lineno}", f"không đọc được tệp: {exc}")
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                yield record_to_article(line, where=f"{path}:{lineno}", source=str(path))
    except OSError as exc:
        yield RecordError(str(path), f"không mở được tệp: {exc.strerror or exc}")


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
