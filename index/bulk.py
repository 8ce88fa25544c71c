"""Full builds on several cores: each worker process writes one segment of the new generation.

Whoosh spends most of a build in pure-Python posting work, so one process is CPU-bound; its own
`MpWriter` parallelises it but pickles every document through job files, and its worker processes
wait on a queue forever if the parent is killed or interrupted. Here each worker reads its share
of the store itself (articles whose id hashes to its number), writes a finished segment, sends
the segment back and exits; it also gives up if its parent disappears. The parent then commits
one table of contents listing every worker's segment, exactly as `MpWriter(multisegment=True)`
does (through the same two private `SegmentWriter` methods; Whoosh is pinned at 2.7.4).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import zlib
from array import array
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from bantin.articles.store import ArticleStore
from bantin.index.codec import BantinCodec
from bantin.index.schema import SCHEMA, article_document

#: Pool size of Whoosh's own writers (catching up) before it spills postings to temporary run
#: files (which roughly doubles commit time); about 150 bytes per posting, 550 per article.
LIMIT_MB = 1024
#: Articles per segment in a full build (`BANTIN_INDEX_BATCH`): each build process writes a
#: segment every this many articles, so its memory is bounded by the batch, not by the archive.
#: Each segment has its own term dictionary, which every query looks up and decodes: the 35k
#: archive in 6 segments of 6,000 took 522 MB on disk, in 2 segments 415 MB. So the batch is as
#: large as 2 build processes allow under 1 GB: a `TermPool` holds about 20 kB per article (45
#: before its typed arrays). Measured, total PSS of a 2-process build: 35k (17,700 articles per
#: process, one segment each) 720 MB; 141k in batches of 20,000 944 MB, too close to 1 GB; of
#: 18,000 835 MB, with the same segment counts (2 and 8; 6 and 24 before, in batches of 6,000).
#: That is per process on 2 cores: more build processes share the same budget (`default_batch`).
BATCH = 18000
#: Build processes `BATCH` is measured for; see `default_batch`.
BATCH_PROCESSES = 2
_REPORT_EVERY = 250


def default_batch(processes: int) -> int:
    """Articles per segment when `BANTIN_INDEX_BATCH` is not set: `BATCH` on 2 processes, and
    the same memory in all on more (4 cores would otherwise need about 1.7 GB), or on one."""
    return max(1, BATCH * BATCH_PROCESSES // max(1, processes))

Progress = Callable[[int, int], None]


def build_parallel(
    store_path: Path, generation: Path, *, workers: int, total: int, progress: Progress | None, batch: int = BATCH
) -> int:
    """Index every stored article into the (empty) index at `generation`; returns the count."""
    # fork is fastest and needs nothing from __main__, but is unsafe once other threads exist (a
    # lock held at fork time stays held in the child): the bot rebuilds from a worker thread.
    context: Any = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
    done = context.Value("q", 0)
    pipes: list[Connection] = []
    processes = []
    try:
        for part in range(workers):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_build_part,
                args=(str(store_path), str(generation), part, workers, done, sender, os.getpid(), batch),
                name=f"bantin-index-{part}",
                daemon=True,
            )
            process.start()
            sender.close()
            pipes.append(receiver)
            processes.append(process)
        by_part: dict[int, list[Any]] = {}
        count = 0
        waiting = list(pipes)
        while waiting:
            for ready in wait(waiting, timeout=0.5):
                assert isinstance(ready, Connection)
                try:
                    message = ready.recv()
                except EOFError as exc:
                    raise RuntimeError("một tiến trình lập chỉ mục đã dừng giữa chừng") from exc
                if isinstance(message, OSError):
                    raise message  # e.g. ENOSPC in a worker: the caller sees the real cause
                part_segments, added = message
                waiting.remove(ready)
                count += added
                by_part[pipes.index(ready)] = part_segments
            if progress is not None:
                progress(min(int(done.value), total), total)
        # in part order, not arrival order: the same store always gets the same document numbers
        # (ties in ranking go to the lower one)
        _commit_segments(generation, [segment for part in sorted(by_part) for segment in by_part[part]])
        return count
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        for pipe in pipes:
            pipe.close()


def _commit_segments(generation: Path, segments: list[Any]) -> None:
    ix = whoosh_index.open_dir(str(generation), schema=SCHEMA)
    writer = SegmentWriter(ix, codec=BantinCodec())
    try:
        writer._close_segment()
        writer._commit_toc(segments)
    finally:
        writer._finish()


def _build_part(
    store_path: str, generation: str, part: int, parts: int, done: Any, pipe: Connection, parent: int, batch: int
) -> None:
    """Worker: index the articles whose id hashes to `part`, one segment per `batch` of them;
    send ([segments], count) and exit."""
    store = ArticleStore(store_path, readonly=True)
    ix = whoosh_index.open_dir(generation, schema=SCHEMA)
    segments: list[Any] = []
    writer = _segment_writer(ix)
    added = pending = in_segment = 0
    try:
        for article in store.iter_articles():
            if zlib.crc32(article.id.encode("utf-8")) % parts != part:
                continue
            if in_segment == batch:
                segments.append(writer._finalize_segment())
                writer, in_segment = _segment_writer(ix), 0
            writer.add_document(**article_document(article))
            added += 1
            pending += 1
            in_segment += 1
            if pending == _REPORT_EVERY:
                with done.get_lock():
                    done.value += pending
                pending = 0
                if os.getppid() != parent:  # the parent was killed: nobody will use this segment
                    return
        # Not cancel(): that would also delete the temporary folder the other workers share.
        if in_segment:
            segments.append(writer._finalize_segment())
        else:
            writer._close_segment()
        pipe.send((segments, added))
    except OSError as exc:  # a full disk, say: tell the parent why, not just that we stopped
        pipe.send(OSError(exc.errno, exc.strerror or str(exc)))
    finally:
        store.close()
        pipe.close()


def _segment_writer(ix: Any) -> SegmentWriter:
    # no lock: the parent holds the index's write lock, and the workers write separate segments
    return with_term_pool(SegmentWriter(ix, _lk=False, codec=BantinCodec(), limitmb=LIMIT_MB))


def with_term_pool(writer: SegmentWriter) -> SegmentWriter:
    """`writer` with its postings kept in a `TermPool`: only for writers that add documents and
    merge nothing in (full builds, whose segments start empty and commit with merge=False)."""
    writer.pool = TermPool()
    return writer


class TermPool:
    """Whoosh's posting pool for a full build: postings in typed arrays, chained by term.

    Whoosh's `PostingPool` keeps every posting as a 5-tuple and sorts them all when the segment
    is written (spilling sorted runs to temporary files past `limitmb`). Documents are added in
    docnum order, so each term's postings arrive sorted: only the terms need sorting. Each field
    keeps its postings in arrival order in flat arrays (docnum, weight, the next posting of the
    same term), values packed in one bytearray (`TermCounts` fields have none), and a term's
    postings are walked through the chain. About 20 bytes a posting instead of 3 list slots
    pointing to an int, a float and a bytes object (~110 bytes): measured on 6,000 articles in
    one process, 264 → 116 MB (45 → 20 kB per article), about 40 % of it the term dictionary.
    It never spills: the build's batches (`BATCH`) bound it instead.
    """

    def __init__(self) -> None:
        self._fields: dict[str, _FieldPostings] = {}

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        try:
            postings = self._fields[fieldname]
        except KeyError:
            postings = self._fields[fieldname] = _FieldPostings()
        postings.add(tbytes, docnum, weight, vbytes)

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes | None]]:
        """(fieldname, term, docnum, weight, value) in field, term and docnum order, as Whoosh's
        segment writer expects them."""
        for fieldname in sorted(self._fields):
            # read once (Whoosh then cleans up): a field written is let go, for the term table
            # Whoosh builds while writing
            postings = self._fields.pop(fieldname)
            terms, first, following = postings.terms, postings.first, postings.next
            docnums, weights, ends, nones = postings.docnums, postings.weights, postings.ends, postings.nones
            values = bytes(postings.values)  # slices of bytes are bytes, as Whoosh asserts
            shared: dict[bytes, bytes] = {}  # see _FieldPostings.values
            for tbytes in sorted(terms):
                posting = first[terms[tbytes]]
                while True:
                    if nones and posting in nones:
                        vbytes: bytes | None = None
                    elif ends is None:
                        vbytes = b""
                    else:
                        vbytes = values[ends[posting - 1] if posting else 0:ends[posting]]
                        if len(vbytes) == 2:
                            vbytes = shared.setdefault(vbytes, vbytes)
                    yield fieldname, tbytes, docnums[posting], weights[posting], vbytes
                    posting = following[posting]
                    if not posting:
                        break

    def cleanup(self) -> None:
        self._fields.clear()


class _FieldPostings:
    """One field's postings in arrival order, each term's linked through `next` (0 ends a chain:
    posting 0 starts its term's, so it is never a next one)."""

    __slots__ = ("docnums", "ends", "first", "last", "next", "nones", "terms", "values", "weights")

    def __init__(self) -> None:
        self.terms: dict[bytes, int] = {}  # term → term number
        self.first = array("I")  # per term number: its first posting
        self.last = array("I")  # per term number: its last posting
        self.next = array("I")
        self.docnums = array("I")
        self.weights = array("f")  # counts times boosts: floats (4 bytes) hold them exactly
        # Values are given back as new bytes objects, except those of 2 bytes: one object for
        # each, as the formats give them (`schema._ONE_POSITION`, a word once, early). Whoosh
        # pickles a block's values, and pickle writes an object it has already written as a
        # reference: without this the files would differ from Whoosh's own pool's (not in content).
        self.values = bytearray()
        self.ends: array[int] | None = None  # where each value ends; None while all are b""
        self.nones: set[int] = set()  # postings added with the value None (Whoosh allows it)

    def add(self, tbytes: bytes, docnum: int, weight: float, vbytes: bytes | None) -> None:
        posting = len(self.docnums)
        self.docnums.append(docnum)
        weights = self.weights
        weights.append(weight)
        if weights[-1] != weight and weights.typecode == "f":  # not a float32: keep doubles
            weights = self.weights = array("d", weights)
            weights[-1] = weight
        self.next.append(0)
        term = self.terms.get(tbytes)
        if term is None:
            self.terms[tbytes] = len(self.first)
            self.first.append(posting)
            self.last.append(posting)
        else:
            self.next[self.last[term]] = posting
            self.last[term] = posting
        if vbytes:
            if self.ends is None:
                self.ends = array("I", bytes(4 * posting))
            self.values += vbytes
            self.ends.append(len(self.values))
        elif self.ends is not None:
            self.ends.append(len(self.values))
        if vbytes is None:
            self.nones.add(posting)
