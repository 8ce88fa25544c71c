"""Searching in worker processes, so a busy bot uses every core.

Why: a search is pure Python and CPU-bound, and the GIL lets one process run one search at a
time. Under load the bot's single process spent two thirds of its time searching and queued
everything else (Telegram I/O, rendering) behind it. Each worker here opens its own
`SearchIndex` on the same files (Whoosh readers never block each other or the writer).

Memory: the index files are memory-mapped and read in place (`index.mapped`), so the workers
share one copy of them in the page cache; what each worker holds for itself is its decoded
postings and recently read articles, both bounded caches (`index.engine.CACHE_BUDGET`,
`STORED_CACHE`). Measured on the 35k archive after 1,000 distinct queries: about 130 MB of its
own per worker, plus the index pages the searches touched, shared (see README, "Memory").
Before, every worker copied the whole terms and postings files at open (360 MB each at 35k).
The number of workers is a setting, and 0 keeps the old in-process search.

`PooledIndex` answers like `SearchIndex` (`search`, `related`, `refresh`, `doc_count`, …);
only the two searching methods leave the process. Results come back as the same plain,
picklable dataclasses. A worker that dies (out of memory, killed) costs one retry in-process,
never a lost reply: the pool is replaced and the search runs locally meanwhile.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from bantin.index.budget import current_deadline
from bantin.index.engine import CACHE_BUDGET
from bantin.index.searcher import Hit, SearchIndex, SearchPage

log = logging.getLogger(__name__)

#: The worker process's own handle on the index, opened on its first task.
_worker_index: SearchIndex | None = None
_worker_root: Path | None = None
_worker_cache = CACHE_BUDGET


def _worker_start(index_root: str, cache: int = CACHE_BUDGET) -> None:
    global _worker_root, _worker_cache
    _worker_root, _worker_cache = Path(index_root), cache
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def _exit_with(sentinel: int) -> None:
    """End this worker when the bot dies, even by SIGKILL.

    Without this, workers outlive a killed bot forever: each holds the write end of the pool's
    task queue itself, so its read never sees end-of-file.
    """
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _worker_open() -> SearchIndex:
    global _worker_index
    if _worker_index is None:
        assert _worker_root is not None, "worker started without an index root"
        _worker_index = SearchIndex.open(_worker_root, cache=_worker_cache)
    return _worker_index


def _worker_warm() -> int:
    """Open the index ahead of the first query, so it does not pay for the open."""
    return os.getpid() if _worker_open() is not None else 0


def _worker_search(query: str, page: int, per_page: int, sort: str, deadline: float | None = None) -> SearchPage:
    return _worker_open().search(query, page=page, per_page=per_page, sort=sort, deadline=deadline)


def _worker_related(article_id: str, limit: int) -> list[Hit]:
    return _worker_open().related(article_id, limit=limit)


def default_workers(cpus: int | None = None) -> int:
    """One worker per core, at most 4.

    Not one fewer for the bot's own process: measured on 2 cores, it spends about a quarter of
    a core on Telegram I/O and rendering, and 2 workers served 20 % more queries than 1.
    """
    count = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, min(4, count))


class PooledIndex:
    """A `SearchIndex` whose searches run in `workers` processes (see the module docstring)."""

    def __init__(self, local: SearchIndex, index_root: Path, workers: int, *, cache: int = CACHE_BUDGET) -> None:
        self._local = local
        self._root = Path(index_root)
        self._workers = max(1, workers)
        self._cache = cache
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = self._start()

    @classmethod
    def open(cls, index_root: Path, workers: int, *, cache: int = CACHE_BUDGET) -> PooledIndex:
        """Open the live generation here (raises `IndexMissing`), then start the workers, each
        keeping up to `cache` decoded postings (this process only answers when they fail)."""
        return cls(SearchIndex.open(index_root, cache=cache), index_root, workers, cache=cache)

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent runs threads (asyncio, PTB), and fork would copy their locks
        pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_start, initargs=(str(self._root), self._cache))
        for _ in range(self._workers):
            pool.submit(_worker_warm)
        return pool

    # -- searching -------------------------------------------------------------------------------

    def search(self, query: str, *, page: int = 1, per_page: int = 5, sort: str = "relevance",
               deadline: float | None = None) -> SearchPage:
        """Like `SearchIndex.search`; the deadline travels with the task, so the worker itself
        stops at it (and skips a task that waited in the queue past it)."""
        if deadline is None:
            deadline = current_deadline()
        result: SearchPage | None = self._call(_worker_search, query, page, per_page, sort, deadline)
        if result is None:
            return self._local.search(query, page=page, per_page=per_page, sort=sort, deadline=deadline)
        return result

    def related(self, article_id: str, *, limit: int = 5) -> list[Hit]:
        result: list[Hit] | None = self._call(_worker_related, article_id, limit)
        if result is None:
            return self._local.related(article_id, limit=limit)
        return result

    def _call(self, func: Any, *args: Any) -> Any:
        """The worker's answer, or None when the pool is broken (the caller then searches here)."""
        with self._lock:
            pool = self._pool
        if pool is None:
            raise ValueError("PooledIndex is closed")
        try:
            future: Future[Any] = pool.submit(func, *args)
            return future.result()
        except BrokenProcessPool:
            log.warning("a search worker died; starting a new pool and searching in-process meanwhile")
            self._replace(pool)
            return None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()

    # -- the rest is answered by the local handle ------------------------------------------------

    def refresh(self) -> None:
        """Workers refresh themselves before every search; this keeps the local facts current."""
        self._local.refresh()

    def doc_count(self) -> int:
        return self._local.doc_count()

    def size_bytes(self) -> int:
        return self._local.size_bytes()

    @property
    def generation(self) -> Path:
        return self._local.generation

    @property
    def workers(self) -> int:
        return self._workers

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._local.close()

    def __enter__(self) -> PooledIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
