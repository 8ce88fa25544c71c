"""The editors' reindex: scan the sources into the store and bring the search index up to date,
in the background, one run at a time, with a throttled progress report.

Split in two on purpose:

* `reindex_now` is the blocking work (ingest + index), run in a worker thread so the event loop
  keeps answering searches. It is the only code path: `/reindex`, its button and the periodic scan
  (`BANTIN_SCAN_MINUTES`) all end up here.
* `ReindexRunner` owns the "one run at a time" rule and who started the run, polls the worker's
  progress at a fixed pace and shows it through a `Reporter` (the Telegram status message, or
  nothing for the scheduled scan), then the summary, and writes the audit log.

A run is safe to kill at any point: the store writes in transactions and the index package swaps
generations atomically, so the worst case is a run that must be repeated. At shutdown the runner
asks the worker to stop at the next file instead of holding the process hostage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bantin.articles.ingest import IngestReport, ingest
from bantin.articles.jsonl import where_file
from bantin.articles.store import ArticleStore
from bantin.articles.web.fetch import FetchReport
from bantin.bot.clock import utcnow
from bantin.bot.newsroom import audit as au
from bantin.bot.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

SCAN, FULL, SCHEDULED = "reindex", "reindex full", "scan"
#: Runs the bot starts by itself (bot.newsroom.upkeep): bring a missing or stale index up to date from
#: the store, or rebuild a damaged one. Neither scans the sources.
BUILD, REPAIR = "index build", "index repair"
AUTOMATIC = (BUILD, REPAIR)
#: The poll of the newspaper's website every BANTIN_FEED_MINUTES (a scan fetches the feeds too).
FETCH = "fetch"
#: Seconds between two edits of the status message: lively enough for a person watching, far
#: below Telegram's per-chat limit (about one message a second), and one edit per tick at most.
EDIT_INTERVAL = 2.5
#: How many failures the audit log keeps per run (the store keeps them all for /failed).
AUDIT_FAILURES = 20


class Interrupted(Exception):
    """The bot is stopping: the worker gives up at the next file (nothing half-written)."""


@dataclass(frozen=True)
class Step:
    """Where a run is: `phase` is 'start', 'scan' (files), 'index' or 'rebuild' (articles)."""

    phase: str = "start"
    done: int = 0
    total: int = 0


class Progress:
    """Shared between the worker thread (writes) and the event loop (reads); also the stop flag."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._step = Step()
        self.stop = threading.Event()

    def report(self, phase: str, done: int = 0, total: int = 0) -> None:
        if self.stop.is_set():
            raise Interrupted
        with self._lock:
            self._step = Step(phase, max(0, done), max(0, total))

    @property
    def step(self) -> Step:
        with self._lock:
            return self._step


@dataclass
class Outcome:
    """What a run did, for the summary message, the audit log and /stats."""

    kind: str
    result: str = au.OK  # ok | failed | interrupted
    report: IngestReport | None = None
    index: dict[str, Any] | None = None
    index_busy: bool = False
    error: str | None = None
    seconds: float = 0.0
    fetch: FetchReport | None = None  # what the website poll did (also counted in `report`)

    @property
    def failed(self) -> int:
        return len(self.report.failed) if self.report else 0

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        return self.report.top_reasons(n) if self.report else []

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "result": self.result, "seconds": round(self.seconds, 1)}
        if self.report is not None:
            report = self.report
            data.update(added=report.added, updated=report.updated, unchanged=report.unchanged,
                        removed=report.removed, failed=len(report.failed), files=report.files,
                        top_reasons=[[reason, n] for reason, n in report.top_reasons(5)],
                        failures=[[where, reason] for where, reason in report.failed[:AUDIT_FAILURES]])
        if self.index is not None:
            data["index"] = self.index
        if self.fetch is not None:
            data["fetch"] = {key: value for key, value in self.fetch.to_json().items()
                             if key in ("feeds", "pages", "not_modified", "duplicates", "old", "left", "requests")}
        if self.index_busy:
            data["index_busy"] = True
        if self.error:
            data["error"] = self.error
        return data


def reindex_now(settings: Settings, kind: str, progress: Progress) -> Outcome:
    """The blocking work of one run; called in a worker thread.

    `reindex`/`scan`: ingest `BANTIN_SOURCES` with pruning (new, changed and deleted pages) and
    poll `BANTIN_FEEDS`, then the incremental index update. `fetch`: only the feeds, then the
    index. `reindex full` and `index repair`: rebuild the index from the store in a fresh
    generation and swap it in. `index build`: only the index update (which builds a missing or
    damaged index). When another process holds the index (a cron'd `bantin reindex`),
    the store is still updated and the outcome says the index must catch up later.
    """
    from bantin.index.maintenance import IndexBusy, rebuild_index, update_index

    started = time.perf_counter()
    outcome = Outcome(kind)
    with ArticleStore(settings.store_path) as store:
        rebuild = kind in (FULL, REPAIR)
        if kind in (SCAN, SCHEDULED):  # a fetch, a build or a repair does not scan
            progress.report("scan")
            outcome.report = scan_sources(store, settings.sources, prune=True,
                                          progress=lambda done, total: progress.report("scan", done, total))
        if kind in (SCAN, SCHEDULED, FETCH) and settings.feeds:
            from bantin.bot.newsroom.feeds import fetch_feeds

            progress.report("fetch")
            outcome.fetch = fetch_feeds(settings, store, lambda done, total: progress.report("fetch", done, total))
            outcome.report = _merged(outcome.report, outcome.fetch)
        phase = "rebuild" if rebuild else "index"
        progress.report(phase)
        action = rebuild_index if rebuild else update_index
        try:
            update = action(store, settings.index_root, progress=_index_progress(progress, phase),
                            batch=settings.index_batch)
        except IndexBusy as exc:
            log.warning("index busy, store updated but index not: %s", exc)
            outcome.index_busy = True
            outcome.result = au.FAILED
        else:
            outcome.index = update.to_json()
    outcome.seconds = time.perf_counter() - started
    return outcome


def _merged(report: IngestReport | None, fetched: FetchReport) -> IngestReport:
    """The scan's counts and the website's together: one summary, one failure list."""
    if report is None:
        return fetched
    report.added += fetched.added
    report.updated += fetched.updated
    report.unchanged += fetched.unchanged
    report.failed.extend(fetched.failed)
    report.files += fetched.files
    return report


def _index_progress(progress: Progress, phase: str) -> Callable[[int, int], None]:
    """Progress of the index phase (articles). A stop request raised from here is safe too: the
    index package cancels its writer, and a half-built generation is never swapped in."""
    return lambda done, total: progress.report(phase, done, total)


def scan_sources(store: ArticleStore, sources: Sequence[Path], *, prune: bool, progress: Callable[[int, int], None]
                 | None = None, read_progress: Callable[[int, int], None] | None = None) -> IngestReport:
    """The ingest step of every path that fills the store (`bantin ingest`/`start`, /reindex, the
    scheduled scan): with `prune`, pages deleted since are forgotten, their failures too."""
    report = ingest(store, sources, prune=prune, progress=progress, read_progress=read_progress)
    if prune:
        forget_gone_failures(store, tuple(sources))
    return report


def forget_gone_failures(store: ArticleStore, sources: tuple[Path, ...], limit: int = 100_000) -> int:
    """Drop failures of pages that no longer exist under a scanned folder.

    The newsroom fixes a broken page by deleting it as often as by repairing it; without this,
    /failed would list deleted files forever. A bad JSON Lines line (`<export>:<line>`) stays
    while its export does.
    """
    folders = [str(p.resolve()) + os.sep for p in sources if p.is_dir()]
    gone = [
        source for source, _reason, _seen in store.failures(limit)
        if any(source.startswith(f) for f in folders) and not os.path.lexists(where_file(source))
    ]
    if gone:
        store.clear_failures(gone)
    return len(gone)


# -- the background runner ------------------------------------------------------------------------


def in_daemon_thread(func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Like `asyncio.to_thread`, but in a thread of its own that does not hold the process open.

    A scan can sit for minutes in one read (a stalled network share). The default executor would
    leave fewer workers for searches meanwhile, and its threads are joined at exit, so a stuck run
    would keep a stopping bot alive; a daemon thread dies with the process, which is as safe as
    SIGKILL here (SQLite transactions, atomic index swaps).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def target() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = func(*args)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name="bantin-reindex", daemon=True).start()
    return future


class Reporter(Protocol):
    """Where a run shows itself. `show` is called with the initial status, throttled progress and
    the final summary; it must not raise (a failed edit must never fail the run)."""

    async def show(self, run: Run, *, final: bool) -> None: ...


class Silent:
    """The scheduled scan's reporter: the audit log and /stats are its report."""

    async def show(self, run: Run, *, final: bool) -> None:
        return None


@dataclass
class Run:
    kind: str
    user_id: int | None  # None: the scheduled scan
    user_name: str
    lang: str
    started_at: datetime
    progress: Progress = field(default_factory=Progress)
    outcome: Outcome | None = None
    audit_id: int | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def step(self) -> Step:
        return self.progress.step


Work = Callable[[Settings, str, Progress], Outcome]


class ReindexRunner:
    """At most one run at a time per bot process; the claim happens without awaiting anything,
    so two editors pressing at the same instant cannot both start one."""

    def __init__(self, settings: Settings, audit: au.AuditLog, *, on_done: Callable[[Outcome], None] | None = None,
                 work: Work = reindex_now, interval: float = EDIT_INTERVAL) -> None:
        self.settings = settings
        self.audit = audit
        self.on_done = on_done
        self.work = work
        self.interval = interval
        self.current: Run | None = None
        self._ending: Run | None = None

    def start(self, kind: str, reporter: Reporter, *, user_id: int | None = None, user_name: str = "",
              lang: str = "vi") -> tuple[Run, bool]:
        """(the new run, True), or (the run already under way, False)."""
        if self.current is not None:
            return self.current, False
        run = Run(kind, user_id, user_name, lang, utcnow())
        self.current = run
        run.task = asyncio.get_running_loop().create_task(self._run(run, reporter), name=f"bantin {kind}")
        return run, True

    async def _run(self, run: Run, reporter: Reporter) -> None:
        try:
            try:
                run.audit_id = await asyncio.to_thread(self.audit.begin, run.user_id, run.user_name, run.kind)
            except sqlite3.Error:  # the audit log must never stop the work it records
                log.exception("could not write the audit log")
            await self._show(reporter, run, final=False)
            run.outcome = await self._watch(run, reporter)
            log.info("%s by %s: %s", run.kind, run.user_name or "schedule", run.outcome.to_json())
            if self.on_done is not None:
                try:
                    await asyncio.to_thread(self.on_done, run.outcome)
                except Exception:  # the run itself succeeded; a stale searcher refreshes later
                    log.exception("could not refresh the search index after %s", run.kind)
            if run.audit_id is not None:
                try:
                    await asyncio.to_thread(self.audit.finish, run.audit_id, run.outcome.result,
                                            run.outcome.to_json())
                except sqlite3.Error:
                    log.exception("could not write the audit log")
            # Over before it is said to be: a /stats or /reindex sent on seeing the summary must
            # not find the run still going. `shutdown` still waits for the summary via `_ending`.
            self._ending, self.current = run, None
            await self._show(reporter, run, final=True)
        finally:
            self.current = self._ending = None

    @staticmethod
    async def _show(reporter: Reporter, run: Run, *, final: bool) -> None:
        try:
            await reporter.show(run, final=final)
        except Exception:  # showing progress is a courtesy; the run goes on regardless
            log.exception("could not show the %s status", run.kind)

    async def _watch(self, run: Run, reporter: Reporter) -> Outcome:
        """Wait for the worker, showing progress every `interval` seconds when it changed."""
        shown = run.step  # before the worker starts: its first step may come at once and then last
        worker = in_daemon_thread(self.work, self.settings, run.kind, run.progress)
        while not worker.done():
            await asyncio.wait({worker}, timeout=self.interval)
            if not worker.done() and run.step != shown:
                shown = run.step
                await self._show(reporter, run, final=False)
        try:
            return worker.result()
        except Interrupted:
            return Outcome(run.kind, result=au.INTERRUPTED, error="bot stopped")
        except Exception as exc:
            log.exception("%s failed", run.kind)
            return Outcome(run.kind, result=au.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])

    async def shutdown(self, timeout: float = 20.0) -> None:
        """Ask a running worker to stop at the next file and wait for the summary to be shown."""
        run = self.current or self._ending
        if run is None or run.task is None:
            return
        log.info("stopping: asking the running %s to stop at the next file", run.kind)
        run.progress.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(run.task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            log.warning("%s still running at shutdown; the next start marks it interrupted", run.kind)
        except Exception:
            log.exception("%s failed while stopping", run.kind)
