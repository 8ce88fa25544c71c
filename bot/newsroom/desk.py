"""Newsroom controls: who is an editor, their buttons, and the data behind /reindex, /failed, /stats.

Like `bot.search.replies`, the `Desk` turns plain values into rendered `Reply`s so it can be tested without
Telegram; `bot.telegram.newsroom` adapts updates to it. The editor check lives in the handlers and runs on
every command *and* every button press, because callback data is chosen by the client and can be
forged: a button is never proof that its presser was shown it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from bantin.articles.model import VIETNAM_TZ
from bantin.bot.digests.store import subscriber_counts
from bantin.bot.editor import Editor
from bantin.bot.newsroom import audit as au
from bantin.bot.newsroom.reindex import AUTOMATIC, FETCH, FULL, SCAN, SCHEDULED, ReindexRunner, Reporter, Run, Silent
from bantin.bot.newsroom.usage import QueryCounter
from bantin.bot.render import Renderer, fits, number, shorten, utf16_len
from bantin.bot.reply import Button, CallbackResult, Reply
from bantin.bot.search import buttons as cb
from bantin.bot.services import Services
from bantin.bot.settings import Settings

log = logging.getLogger(__name__)

#: Callback data of every editor button starts with this; see `encode_button`.
BUTTON_PREFIX = "e|"
BUTTON_PATTERN = r"^e\|"
FAILED_PER_PAGE = 8
#: /failed pages through at most this many failures (newest first); the total is still shown.
FAILED_LISTED = 800
#: (path, reason) lengths in UTF-16 units for /failed, tried in turn until a page fits a message.
FAILED_CUTS = ((90, 160), (60, 100), (30, 40))
FULL_WORDS = frozenset({"full", "all", "đầy đủ", "day du"})


def is_editor(settings: Settings, user_id: int | None) -> bool:
    return user_id is not None and user_id in settings.editors


# -- buttons --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditorButton:
    """`reindex` (start a scan), `stats` (new message), `failed` (the list, page `page`; `edit`
    pages in place, otherwise it opens as a new message)."""

    action: str
    page: int = 1
    edit: bool = False


_CODES = {"reindex": "r", "stats": "s"}
_ACTIONS = {v: k for k, v in _CODES.items()}


def encode_button(button: EditorButton) -> str:
    if button.action == "failed":
        return f"{BUTTON_PREFIX}{'p' if button.edit else 'f'}|{button.page}"
    return BUTTON_PREFIX + _CODES[button.action]


def decode_button(data: str | None) -> EditorButton:
    """Editor button data back to a button; anything else is a BadCallback."""
    if not data or not data.startswith(BUTTON_PREFIX) or len(data.encode("utf-8", "surrogatepass")) > cb.MAX_BYTES:
        raise cb.BadCallback("not an editor button")
    body = data[len(BUTTON_PREFIX):]
    if body in _ACTIONS:
        return EditorButton(_ACTIONS[body])
    code, _, rest = body.partition("|")
    if code in ("f", "p") and rest.isdigit() and rest.isascii() and 1 <= int(rest) <= 1000:
        return EditorButton("failed", int(rest), edit=code == "p")
    raise cb.BadCallback(f"unknown editor button {data!r}")


# -- formatting helpers passed to the templates -------------------------------------------------


def size(value: int | None, lang: str) -> str:
    if value is None:
        return "—"
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if value >= scale:
            return f"{number(value / scale, lang, 1)} {unit}"
    return f"{number(value, lang)} B"


def local(moment: datetime | None) -> datetime | None:
    """Times are stored in UTC and shown in Vietnam time."""
    return moment.astimezone(VIETNAM_TZ) if moment is not None else None


def short_path(source: str, folders: tuple[Path, ...], limit: int = 90) -> str:
    """A failed page's path relative to its source folder (what the newsroom recognises), cut in
    the middle when long so both the folder and the file name stay visible."""
    for folder in folders:
        prefix = str(folder.resolve()) + os.sep
        if source.startswith(prefix):
            source = source[len(prefix):]
            break
    if utf16_len(source) > limit:
        keep = (limit - 1) // 2
        head = shorten(source, keep + 1)[:-1]  # "…" counted in, then dropped
        tail = shorten(source[::-1], keep + 1)[:-1][::-1]
        source = head + "…" + tail
    return source


def cut(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units (what Telegram counts), with an ellipsis when cut."""
    return shorten(text, limit)


# -- the desk -------------------------------------------------------------------------------------


@dataclass
class Stats:
    articles: int
    newest: date | datetime | None
    last_arrival: datetime | None
    subscribers_active: int
    subscribers_inactive: int
    last_run: au.Entry | None
    running: Run | None
    index_bytes: int | None
    index_docs: int | None
    queries_today: int
    failures: int


class Desk:
    """Everything editors can ask for, as rendered replies. Blocking reads go to worker threads."""

    def __init__(self, settings: Settings, core: Services, audit: au.AuditLog, queries: QueryCounter,
                 runner: ReindexRunner) -> None:
        self.settings = settings
        self.core = core
        self.audit = audit
        self.queries = queries
        self.runner = runner

    @property
    def renderer(self) -> Renderer:
        return self.core.renderer

    def is_editor(self, user: Editor | None) -> bool:
        return is_editor(self.settings, user.id if user else None)

    def label(self, lang: str, name: str, *args: Any) -> str:
        return self.renderer.label(lang, name, *args)

    def render(self, lang: str, template: str, **context: Any) -> str:
        return self.renderer.render(lang, template, num=lambda v, d=0: number(v, lang, d),
                                    size=lambda v: size(v, lang), **context)

    async def log(self, user: Editor | None, action: str, result: str, detail: dict[str, Any] | None = None) -> None:
        try:
            await asyncio.to_thread(self.audit.record, user.id if user else None, user.name if user else "", action,
                                    result, detail)
        except sqlite3.Error:  # the audit log must never stop the action it records
            log.exception("could not write the audit log")

    # -- refusals -----------------------------------------------------------------------------

    def refusal(self, lang: str) -> Reply:
        return Reply(self.render(lang, "editor_refused"))

    # -- reindex --------------------------------------------------------------------------------

    def reindex_kind(self, args: str) -> str | None:
        """`/reindex` → scan, `/reindex full` → rebuild; None for anything else (usage hint)."""
        words = " ".join(args.lower().split())
        if not words:
            return SCAN
        return FULL if words in FULL_WORDS else None

    def usage(self, lang: str) -> Reply:
        return Reply(self.render(lang, "editor_usage"))

    def start(self, kind: str, user: Editor | None, lang: str, status: Reporter) -> Reply | None:
        """Start a run reporting through `status`; None when started, else the polite 'busy'."""
        run, started = self.runner.start(kind, status, user_id=user.id if user else None,
                                         user_name=user.name if user else "", lang=lang)
        if started:
            return None
        return Reply(self.render(lang, "editor_busy", **self._run_context(run), mine=bool(
            user and run.user_id == user.id)))

    def busy_toast(self, lang: str, run: Run) -> str:
        return self.label(lang, "editor_busy", run.user_name)

    def run_reply(self, run: Run, final: bool) -> Reply:
        """The status message of a run: progress while it runs, then its summary."""
        lang = run.lang
        if not final or run.outcome is None:
            return Reply(self.render(lang, "editor_status", **self._run_context(run)))
        outcome = run.outcome
        top_reasons = [(cut(reason, 160), n) for reason, n in outcome.top_reasons(3)]
        html = self.render(lang, "editor_summary", **self._run_context(run), outcome=outcome,
                           report=outcome.report, index=outcome.index or {}, top_reasons=top_reasons,
                           error=cut(outcome.error, 500) if outcome.error else None,
                           seconds=number(max(outcome.seconds, 0.1), lang, 0 if outcome.seconds >= 10 else 1))
        buttons: list[Button] = []
        if outcome.failed:
            buttons.append(Button(self.label(lang, "editor_failed_button", outcome.failed),
                                  encode_button(EditorButton("failed"))))
        buttons.append(Button(self.label(lang, "editor_stats_button"), encode_button(EditorButton("stats"))))
        return Reply(html, (tuple(buttons),))

    def _run_context(self, run: Run) -> dict[str, Any]:
        step = run.step
        percent = min(100, math.floor(100 * step.done / step.total)) if step.total else 0
        return {"run": run, "step": step, "percent": percent, "started": local(run.started_at),
                "who": run.user_name, "scheduled": run.kind in (SCHEDULED, FETCH), "automatic": run.kind in AUTOMATIC}

    # -- buttons --------------------------------------------------------------------------------

    async def press(self, data: str | None, lang: str, user: Editor | None,
                    status: Callable[[], Reporter]) -> CallbackResult:
        """An editor's button (the handler has already checked that the presser is an editor)."""
        try:
            button = decode_button(data)
        except cb.BadCallback:
            return CallbackResult(answer=self.label(lang, "stale_button"), alert=True)
        if button.action == "reindex":
            run, started = self.runner.start(SCAN, status(), user_id=user.id if user else None,
                                             user_name=user.name if user else "", lang=lang)
            if not started:
                await self.log(user, SCAN, au.BUSY, {"via": "button"})
                return CallbackResult(answer=self.busy_toast(lang, run), alert=True)
            return CallbackResult(answer=self.label(lang, "editor_started"))
        if button.action == "stats":
            return CallbackResult(send=(await self.stats(lang, user),))
        reply = await self.failed(lang, user, button.page)
        return CallbackResult(edit=reply) if button.edit else CallbackResult(send=(reply,))

    # -- /failed --------------------------------------------------------------------------------

    async def failed(self, lang: str, user: Editor | None, page: int = 1) -> Reply:
        reply = await asyncio.to_thread(self.failed_page, lang, page)
        await self.log(user, "failed", au.OK, {"page": page})
        return reply

    def failed_page(self, lang: str, page: int = 1) -> Reply:
        """One page of the pages that failed to parse, newest first, with the common reasons."""
        store = self.core.store
        total = store.failure_count()
        listed = store.failures(min(total, FAILED_LISTED)) if total else []
        pages = max(1, math.ceil(len(listed) / FAILED_PER_PAGE))
        page = min(max(page, 1), pages)
        first = (page - 1) * FAILED_PER_PAGE
        shown = listed[first : first + FAILED_PER_PAGE]
        common = Counter(r for _, r, _ in listed).most_common(3)
        html = ""
        # Paths and reasons are cut shorter until the page fits; never fewer failures, or the
        # page buttons would skip some.
        for path_units, reason_units in FAILED_CUTS:
            items = [{"number": n, "path": short_path(source, self.settings.sources, path_units),
                      "reason": cut(reason, reason_units), "seen": local(datetime.fromisoformat(seen))}
                     for n, (source, reason, seen) in enumerate(shown, first + 1)]
            reasons = [(cut(reason, reason_units // 2), n) for reason, n in common]
            html = self.render(lang, "editor_failed", total=total, listed=len(listed), items=items,
                               reasons=reasons, page=page, pages=pages)
            if fits(html):
                break
        nav: list[Button] = []
        if page > 1:
            nav.append(Button(self.label(lang, "prev_page"), encode_button(EditorButton("failed", page - 1, True))))
        if page < pages:
            nav.append(Button(self.label(lang, "next_page"), encode_button(EditorButton("failed", page + 1, True))))
        return Reply(html, (tuple(nav),) if nav else ())

    # -- /stats ---------------------------------------------------------------------------------

    async def stats(self, lang: str, user: Editor | None) -> Reply:
        data = await asyncio.to_thread(self.collect_stats)
        await self.log(user, "stats", au.OK)
        return self.stats_reply(lang, data)

    def collect_stats(self) -> Stats:
        store = self.core.store
        _first, newest = store.date_range()
        active, inactive = subscriber_counts(self.settings.state_path)
        index = self.core.index
        index_bytes = index_docs = None
        if index is not None:
            try:
                index_bytes, index_docs = index.size_bytes(), index.doc_count()
            except Exception:  # a swap under way; the next /stats will have it
                log.exception("could not read the index size")
        return Stats(
            articles=store.count(), newest=newest, last_arrival=store.first_seen_newest(),
            subscribers_active=active, subscribers_inactive=inactive, last_run=self.audit.last_reindex(),
            running=self.runner.current, index_bytes=index_bytes, index_docs=index_docs,
            queries_today=self.queries.today(), failures=store.failure_count(),
        )

    def stats_reply(self, lang: str, stats: Stats) -> Reply:
        last = stats.last_run
        running = stats.running
        html = self.render(
            lang, "editor_stats", stats=stats, last=last, last_at=local(last.started_at) if last else None,
            last_detail=last.detail if last else {}, last_arrival=local(stats.last_arrival),
            running=self._run_context(running) if running else None,
        )
        buttons = [Button(self.label(lang, "editor_reindex_button"), encode_button(EditorButton("reindex")))]
        if stats.failures:
            buttons.append(Button(self.label(lang, "editor_failed_button", stats.failures),
                                  encode_button(EditorButton("failed"))))
        return Reply(html, (tuple(buttons),))


def scheduled_reporter() -> Silent:
    return Silent()


# -- wiring (called from bot.telegram.app) -------------------------------------------------------------------


def open_desk(settings: Settings, core: Services) -> Desk:
    """Open the audit log and query counter in the state file and build the runner.

    Runs left `running` by a killed process are marked interrupted first, so /stats never shows
    a ghost run as still under way.
    """
    audit = au.AuditLog(settings.state_path)
    stale = audit.interrupt_stale()
    if stale:
        log.warning("%d reindex run(s) were cut short by the last stop; marked interrupted", stale)

    def refresh(_outcome: Any) -> None:
        index = core.index  # opens it if the run just created the first index
        if index is not None:
            index.refresh()

    runner = ReindexRunner(settings, audit, on_done=refresh)
    return Desk(settings, core, audit, QueryCounter(settings.state_path), runner)


async def close_desk(desk: Desk | None) -> None:
    """At shutdown: stop a running reindex at the next file, keep today's count, close the log."""
    if desk is None:
        return
    await desk.runner.shutdown()
    try:
        await asyncio.to_thread(desk.queries.flush)
    except sqlite3.Error:
        log.exception("could not save the query count")
    desk.audit.close()


class _BotData(Protocol):
    desk: Desk | None


class JobContext(Protocol):
    """What the JobQueue callbacks below read of PTB's context (bot.telegram.context.BotData)."""

    @property
    def bot_data(self) -> _BotData: ...


async def scan_job(context: JobContext) -> None:
    """JobQueue callback for BANTIN_SCAN_MINUTES: the same run as /reindex, reported nowhere but
    the audit log and /stats; skipped (not queued) while another run is under way."""
    await _scheduled_run(context, SCHEDULED, "scheduled scan")


async def _scheduled_run(context: JobContext, kind: str, what: str) -> None:
    """Start a run nobody asked for in chat: skipped (not queued) while another one is going."""
    desk = context.bot_data.desk
    if desk is None:
        return
    run, started = desk.runner.start(kind, scheduled_reporter())
    if not started:
        log.info("%s skipped: a %s started by %s is still running", what, run.kind, run.user_name or "schedule")


async def fetch_job(context: JobContext) -> None:
    """JobQueue callback for BANTIN_FEED_MINUTES: poll the newspaper's website in the reindex
    worker (one run at a time, audit log and /stats like the scheduled scan), so new articles
    are searchable and in the next digests without anyone acting."""
    await _scheduled_run(context, FETCH, "feed poll")


async def flush_job(context: JobContext) -> None:
    """JobQueue callback: write the in-memory query count to the state file."""
    desk = context.bot_data.desk
    if desk is not None:
        try:
            await asyncio.to_thread(desk.queries.flush)
        except sqlite3.Error:
            log.exception("could not save the query count")
