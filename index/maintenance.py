"""Keeping the index in step with the article store.

- `update_index`: applies what changed in the store since the revision the index last caught up
  to (the store numbers every change; deletions leave tombstones). Nothing changed → returns at
  once without taking any lock. No index yet, a damaged one (files that cannot be read), or more
  changes than indexed articles → a full build: the store is the source of truth.
- `rebuild_index`: builds a complete new generation beside the live one, catches it up with
  changes made meanwhile, then swaps the `current` pointer atomically (see `index.layout`).
  Searches keep using the old generation until they notice the swap; a killed rebuild leaves
  only an unfinished directory that the next writer removes; one that fails (a full disk)
  removes its own.
- `index_pending`: how far the index is behind the store, without writing anything.

Writers take turns through an exclusive lock on `<index_root>/.lock` (flock, so a killed writer
never leaves it held); one that cannot get it within `lock_timeout` raises `IndexBusy`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec.base import Segment
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

from bantin.articles.model import Article
from bantin.articles.store import ArticleStore
from bantin.index.bulk import LIMIT_MB, build_parallel, default_batch, with_term_pool
from bantin.index.codec import BantinCodec
from bantin.index.layout import (
    LOCK,
    IndexMeta,
    current_generation,
    generation_name,
    generation_number,
    generations,
    read_meta,
    set_current,
    write_meta,
)
from bantin.index.schema import SCHEMA, SCHEMA_VERSION, article_document
from bantin.index.searcher import IndexDamaged, _open_searcher

Progress = Callable[[int, int], None]

#: Articles read from the store per step while catching up (bounds memory, not commits).
BATCH = 1000
#: Below this many articles a full build is faster in one process than in several.
PARALLEL_MIN = 5000
MAX_WORKERS = 4
#: Segments written by catching up are merged while under this many documents, once there are
#: `MERGE_FANOUT` of them (see `merge_small`).
SMALL_SEGMENT = 2000
MERGE_FANOUT = 6
LOCK_TIMEOUT = 60.0


class IndexBusy(Exception):
    """Another process (or thread) kept the index's write lock longer than we were willing to wait."""

    def __init__(self, index_root: Path, waited: float) -> None:
        super().__init__(f"chỉ mục tìm kiếm đang được một tiến trình khác ghi (đã chờ {waited:.0f} giây)")
        self.index_root = index_root


@dataclass(frozen=True)
class IndexUpdate:
    """What one update or rebuild did; `rev` is the store revision the index now reflects."""

    added: int
    updated: int
    deleted: int
    rev: int
    seconds: float
    full: bool
    docs: int
    #: the live index could not be read, so this full build replaced it
    repaired: bool = False

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "rev": self.rev,
            "seconds": round(self.seconds, 3),
            "full": self.full,
            "docs": self.docs,
        }
        if self.repaired:
            data["repaired"] = True
        return data


def update_index(
    store: ArticleStore,
    index_root: Path,
    *,
    progress: Progress | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
    batch: int | None = None,
) -> IndexUpdate:
    """Apply the store's changes since the last update; build the index if there is none.

    `batch`: articles per segment when this turns into a full build (default: `index.bulk.default_batch`).
    """
    started = time.perf_counter()
    index_root = Path(index_root)
    live = _usable_generation(index_root)
    if live is not None:
        meta = read_meta(live)
        if meta is not None and meta.rev == store.revision():
            docs = _readable_docs(live)
            if docs is not None:
                return IndexUpdate(0, 0, 0, meta.rev, time.perf_counter() - started, False, docs)
    with _writer_lock(index_root, lock_timeout):
        live = _usable_generation(index_root)
        docs = _readable_docs(live) if live is not None else None
        if live is None or docs is None:
            update = _rebuild_locked(store, index_root, progress, started, workers=None, batch=batch)
            return dataclasses.replace(update, repaired=live is not None)
        meta = read_meta(live)
        assert meta is not None
        pending = store.revision() - meta.rev  # at least the number of changed articles
        if pending >= PARALLEL_MIN and pending > docs:
            # mostly new (a first big ingest): a parallel full build is far quicker
            return _rebuild_locked(store, index_root, progress, started, workers=None, batch=batch)
        added, updated, deleted, rev = _catch_up(store, live, meta.rev, progress)
        _remove_stale(index_root)
        return IndexUpdate(added, updated, deleted, rev, time.perf_counter() - started, False, _doc_count(live))


def index_pending(store: ArticleStore, index_root: Path) -> int | None:
    """Store changes the index has not applied yet (0: current); None when there is no index
    that can be caught up (missing, another schema version, or damaged): it needs a full build."""
    live = _usable_generation(Path(index_root))
    meta = read_meta(live) if live is not None else None
    if live is None or meta is None or _readable_docs(live) is None:
        return None
    return max(0, store.revision() - meta.rev)


def rebuild_index(
    store: ArticleStore,
    index_root: Path,
    *,
    progress: Progress | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
    workers: int | None = None,
    batch: int | None = None,
) -> IndexUpdate:
    """Build a fresh generation from the whole store and swap it in atomically.

    `workers` processes share the build (default: one per core, up to 4, for large stores); each
    writes a segment every `batch` articles, which bounds its memory (default: `index.bulk.default_batch`).
    """
    started = time.perf_counter()
    index_root = Path(index_root)
    with _writer_lock(index_root, lock_timeout):
        return _rebuild_locked(store, index_root, progress, started, workers=workers, batch=batch)


# -- building ----------------------------------------------------------------------------------


def _rebuild_locked(
    store: ArticleStore,
    index_root: Path,
    progress: Progress | None,
    started: float,
    *,
    workers: int | None,
    batch: int | None = None,
) -> IndexUpdate:
    _remove_stale(index_root)
    existing = [generation_number(g) or 0 for g in generations(index_root)]
    generation = index_root / generation_name(max(existing, default=0) + 1)
    shutil.rmtree(generation, ignore_errors=True)
    generation.mkdir(parents=True)
    try:
        rev, docs = _build(store, generation, progress, workers, batch)
        set_current(index_root, generation)
    except BaseException:
        # A full disk, a crash in a worker, a stop request: the live index stays, and so that
        # the disk is not left fuller still, this generation goes now, not at the next write.
        shutil.rmtree(generation, ignore_errors=True)
        raise
    _remove_stale(index_root)
    return IndexUpdate(docs, 0, 0, rev, time.perf_counter() - started, True, docs)


def _build(
    store: ArticleStore, generation: Path, progress: Progress | None, workers: int | None, batch: int | None
) -> tuple[int, int]:
    """Index the whole store into the empty `generation`; returns (store revision, documents)."""
    ix = whoosh_index.create_in(str(generation), SCHEMA)
    rev = store.revision()  # read before the articles: later changes are caught up below
    total = store.count()
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if total >= PARALLEL_MIN else 1
    batch = max(1, batch or default_batch(workers))
    if workers > 1:
        added = build_parallel(store.path, generation, workers=workers, total=total, progress=progress, batch=batch)
    else:
        added = 0
        writer = with_term_pool(ix.writer(codec=BantinCodec(), limitmb=LIMIT_MB))
        try:
            for article in store.iter_articles():
                if added and added % batch == 0:  # a segment per batch, as in a parallel build
                    writer.commit(merge=False)
                    writer = with_term_pool(ix.writer(codec=BantinCodec(), limitmb=LIMIT_MB))
                writer.add_document(**article_document(article))
                added += 1
                if progress is not None and added % 500 == 0:
                    progress(added, total)
        except BaseException:
            writer.cancel()
            raise
        writer.commit(merge=False)
    if progress is not None:
        progress(added, total)
    rev = _catch_up(store, generation, rev, None)[3]
    return rev, _doc_count(generation)


def _catch_up(store: ArticleStore, generation: Path, rev: int, progress: Progress | None) -> tuple[int, int, int, int]:
    """Apply changes after `rev`; returns (added, updated, deleted, new rev).

    Usually one commit. Whoosh cannot delete a document added by the same, uncommitted writer,
    so if an id comes back while catching up (edited or deleted again meanwhile) the writer
    commits first and continues with a fresh one.
    """
    start, target = rev, store.revision()
    if target != rev:
        ix = whoosh_index.open_dir(str(generation), schema=SCHEMA)
        session = _Session(ix)
        try:
            while True:
                change = store.changes_since(rev, limit=BATCH)
                for article in change.upserted:
                    session.upsert(article)
                for article_id in change.deleted:
                    session.delete(article_id)
                if progress is not None:
                    progress(min(change.rev, target) - start, max(1, target - start))
                done = change.rev <= rev or len(change.upserted) < BATCH
                rev = max(rev, change.rev)
                if done:
                    break
        except BaseException:
            session.cancel()
            raise
        session.commit()
        write_meta(generation, IndexMeta(rev, SCHEMA_VERSION))
        return session.added, session.updated, session.deleted, rev
    write_meta(generation, IndexMeta(rev, SCHEMA_VERSION))
    return 0, 0, 0, rev


class _Session:
    """One writer (and a searcher of the committed state) applying upserts and deletions."""

    def __init__(self, ix: whoosh_index.Index) -> None:
        self.ix = ix
        self.added = self.updated = self.deleted = 0
        self._open()

    def _open(self) -> None:
        self.writer = self.ix.writer(codec=BantinCodec(), limitmb=LIMIT_MB)
        self.searcher = self.writer.searcher()
        self.written: set[str] = set()

    def _flush_if_written(self, article_id: str) -> None:
        if article_id in self.written:
            self.commit()
            self._open()

    def upsert(self, article: Article) -> None:
        self._flush_if_written(article.id)
        docnum = self.searcher.document_number(id=article.id)
        if docnum is None:
            self.added += 1
        else:
            self.writer.delete_document(docnum)
            self.updated += 1
        self.writer.add_document(**article_document(article))
        self.written.add(article.id)

    def delete(self, article_id: str) -> None:
        self._flush_if_written(article_id)
        docnum = self.searcher.document_number(id=article_id)
        if docnum is not None:
            self.writer.delete_document(docnum)
            self.deleted += 1

    def commit(self) -> None:
        self.searcher.close()
        self.writer.commit(mergetype=merge_small)

    def cancel(self) -> None:
        self.searcher.close()
        self.writer.cancel()


def merge_small(writer: SegmentWriter, segments: list[Segment]) -> list[Segment]:
    """Whoosh merge policy for catching up: merge the small segments, never the big ones.

    Each catch-up writes a segment of its own (often a handful of articles), so small ones must be
    merged or searches would look into ever more of them. Whoosh's default policy (MERGE_SMALL)
    is no good here: its Fibonacci rule, given the ~25 batch-sized segments of a 141k full build,
    would merge nearly all of them into the new one, rewriting the whole index to add 500
    articles. This merges the segments under `SMALL_SEGMENT` documents together once there are
    `MERGE_FANOUT` of them (so the cost of a merge stays under that size); bigger segments are
    left as they are until the next full build.
    """
    small = [s for s in segments if s.doc_count_all() < SMALL_SEGMENT]
    if len(small) < MERGE_FANOUT:
        return segments
    for segment in small:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    return [s for s in segments if s not in small]


# -- housekeeping ------------------------------------------------------------------------------


def _usable_generation(index_root: Path) -> Path | None:
    """The live generation, unless it was built with another schema version (then: rebuild)."""
    live = current_generation(index_root)
    if live is None:
        return None
    meta = read_meta(live)
    return live if meta is not None and meta.schema_version == SCHEMA_VERSION else None


def _remove_stale(index_root: Path) -> None:
    """Delete generations other than the live one and the one before it (old readers may still
    be on that). Called with the lock held, so an unfinished newer generation is a dead rebuild."""
    live = current_generation(index_root)
    if live is None:
        keep: set[Path] = set()
    else:
        number = generation_number(live) or 0
        older = [g for g in generations(index_root) if (generation_number(g) or 0) < number]
        keep = {live, *older[-1:]}
    for generation in generations(index_root):
        if generation not in keep:
            shutil.rmtree(generation, ignore_errors=True)


def _readable_docs(generation: Path) -> int | None:
    """The generation's document count, or None when its files cannot be read (damaged)."""
    try:
        searcher = _open_searcher(generation)
    except IndexDamaged:
        return None
    try:
        return int(searcher.doc_count())
    finally:
        searcher.close()


def _doc_count(generation: Path) -> int:
    try:
        return int(whoosh_index.open_dir(str(generation), schema=SCHEMA).doc_count())
    except (OSError, whoosh_index.EmptyIndexError):
        return 0


@contextlib.contextmanager
def _writer_lock(index_root: Path, timeout: float) -> Iterator[None]:
    index_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise IndexBusy(index_root, waited) from None
                time.sleep(min(0.1, max(0.01, timeout - waited)))
        yield
    finally:
        os.close(fd)
