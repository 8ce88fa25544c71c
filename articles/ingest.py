"""Ingest: walk paths, parse every page or JSON Lines record, upsert into the store, report.

One bad file never stops or rolls back the good ones: failures are collected with their reason,
and articles are written in batches, each in its own transaction.
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from articles.jsonl import RecordError, is_jsonl, read_jsonl
from articles.model import Article
from articles.rawpage import MAX_PAGE_BYTES, PageError, parse_page
from articles.store import ArticleStore

PAGE_SUFFIXES = (".txt", ".htm.txt", ".text")
BATCH = 500

Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    """The summary every ingest prints: counts, and each failure with its reason."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def articles(self) -> int:
        return self.added + self.updated + self.unchanged

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        return Counter(reason for _, reason in self.failed).most_common(n)

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": self.skipped,
            "failed": [{"source": where, "reason": reason} for where, reason in self.failed],
            "files": self.files,
            "seconds": round(self.seconds, 3),
        }


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]], int]:
    """Files to ingest (folders walked recursively), unreadable paths, and files skipped as not pages.

    Files named on the command line are always tried; inside folders only page and JSON Lines
    files are, so a stray image or `.DS_Store` is skipped, not reported as a failure.
    """
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    skipped = 0
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path, onerror=lambda e: missing.append((str(e.filename), _oserror(e)))):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    candidate = Path(root, name)
                    if name.startswith("."):
                        skipped += 1
                    elif is_jsonl(candidate) or name.lower().endswith(PAGE_SUFFIXES):
                        files.append(candidate)
                    else:
                        skipped += 1
        elif path.exists():
            files.append(path)
        else:
            missing.append((str(path), "không tìm thấy tệp hoặc thư mục"))
    return files, missing, skipped


def iter_inputs(files: list[Path], on_read: Progress | None = None) -> Iterator[tuple[int, Article | RecordError]]:
    """(file number, article or error) for every page and every JSON Lines record.

    `on_read(bytes read, total bytes)`: input consumed so far, smooth even for one big export."""
    sizes = [_size(path) for path in files] if on_read is not None else []
    total, before = sum(sizes), 0
    for number, path in enumerate(files, 1):
        if is_jsonl(path):
            tell = None if on_read is None else functools.partial(_moved, on_read, before, total)
            for item in read_jsonl(path, on_read=tell):
                yield number, item
        else:
            yield number, read_page(path)
        if on_read is not None:
            before += sizes[number - 1]
            on_read(before, total)


def _moved(on_read: Progress, before: int, total: int, read: int) -> None:
    on_read(before + read, total)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_page(path: Path) -> Article | RecordError:
    source = str(path.resolve())
    try:
        size = path.stat().st_size
        if size > MAX_PAGE_BYTES:
            return RecordError(source, f"tệp quá lớn ({size / 1e6:.1f} MB, tối đa {MAX_PAGE_BYTES // 2**20} MB)")
        data = path.read_bytes()
    except OSError as exc:
        return RecordError(source, _oserror(exc))
    try:
        return parse_page(data, source=source)
    except PageError as exc:
        return RecordError(source, str(exc))


def ingest(
    store: ArticleStore,
    paths: Iterable[Path],
    *,
    prune: bool = False,
    progress: Progress | None = None,
    read_progress: Progress | None = None,
) -> IngestReport:
    """Store every article found under `paths`; with `prune`, drop articles whose source is gone.

    Gone means: a raw page whose file left a scanned folder, a JSON Lines article whose export left
    it, or whose id left an export that was read without a single bad line. Anything that now
    fails to read keeps its last good version (an editor's typo must never delete published
    news), and so does everything under a folder that could not be walked.

    `progress(files done, files)` counts files; `read_progress(bytes, total bytes)` counts input,
    which keeps moving inside one big JSON Lines export (the command line's bar uses it).
    """
    started = time.perf_counter()
    paths = list(paths)
    report = IngestReport()
    files, missing, report.skipped = discover(paths)
    report.failed.extend(missing)
    report.files = len(files)
    batch: list[Article] = []
    done = 0
    ok_sources: list[str] = []
    damaged: set[str] = set()  # exports with an unreadable line or worse: prune none of theirs

    def flush() -> None:
        if not batch:
            return
        unique = list({a.id: a for a in batch}.values())
        for outcome in store.upsert_many(unique):
            setattr(report, outcome, getattr(report, outcome) + 1)
        report.unchanged += len(batch) - len(unique)
        batch.clear()

    for number, item in iter_inputs(files, read_progress):
        if isinstance(item, RecordError):
            report.failed.append((item.where, item.reason))
            store.record_failure(item.where, item.reason)
            if is_jsonl(files[number - 1]):
                damaged.add(str(files[number - 1].resolve()))
        else:
            batch.append(item)
            ok_sources.append(item.source)
            if len(batch) >= BATCH:
                flush()
        if progress and number != done:
            done = number
            progress(done - 1, len(files))
    flush()
    store.clear_failures(ok_sources)
    if progress:
        progress(len(files), len(files))
    if prune:
        alive = {str(f.resolve()) for f in files if not is_jsonl(f)} | set(ok_sources)
        unwalked = [str(Path(where).resolve()) + os.sep for where, _ in missing]
        report.removed = _prune(store, paths, alive, damaged, unwalked)
    report.seconds = time.perf_counter() - started
    return report


def _prune(store: ArticleStore, paths: list[Path], alive: set[str], damaged: set[str], unwalked: list[str]) -> int:
    """Delete the articles under the scanned folders (and named exports) that this run did not see.

    `alive`: raw pages present (even broken) and the `<export>#<id>` read now; an article that
    moved to another export was re-pointed there by the upsert. Nothing of a `damaged` export or
    of an `unwalked` folder (prefixes) is deleted.
    """
    keep = tuple(unwalked) + tuple(export + "#" for export in damaged)
    gone: list[str] = []
    for path in paths:
        if path.is_dir():
            prefix = str(path.resolve()) + os.sep
        elif is_jsonl(path) and path.is_file():
            prefix = str(path.resolve()) + "#"
        else:
            continue
        gone.extend(aid for source, aid in store.ids_by_source_prefix(prefix).items()
                    if source not in alive and not source.startswith(keep))
    return store.delete_many(gone) if gone else 0


def _oserror(exc: OSError) -> str:
    return f"không đọc được: {exc.strerror or exc}"
