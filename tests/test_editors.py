"""The editors' core without Telegram: buttons, the reindex runner, /failed and /stats replies.

Real SQLite stores and real search indexes in temporary folders; the only stand-ins are a
reporter that records what a status message would show and, for the "one at a time" rules, a
work function held by an event (so "while a run is going" is a fact, not a race).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bantin.articles.ingest import IngestReport, ingest
from bantin.articles.store import ArticleStore
from bantin.bot.chat import Core
from bantin.bot.newsroom import audit as au
from bantin.bot.newsroom import desk as editors
from bantin.bot.newsroom.reindex import (
    FULL,
    SCAN,
    SCHEDULED,
    Interrupted,
    Outcome,
    Progress,
    ReindexRunner,
    Run,
    reindex_now,
)
from bantin.bot.render import Renderer, fits
from bantin.bot.reply import Reply
from bantin.bot.search import buttons as cb
from bantin.bot.settings import Settings, SettingsError, load_settings
from bantin.bot.telegram.context import BotData
from bantin.bot.telegram.status import ChatStatus
from bantin.index.maintenance import update_index
from tests.conftest import SAMPLES
from tests.fake_botapi import parse_telegram_html


def valid(reply: Reply) -> str:
    text, entities = parse_telegram_html(reply.html)
    assert text.strip() and fits(reply.html) and len(entities) <= 100
    assert all(len((b.data or "").encode()) <= 64 for row in reply.buttons for b in row)
    return text


def new_page(folder: Path, name: str, word: str) -> Path:
    path = folder / name
    path.write_text(f"Tin {word}\n20/11/2026 08:00\n\nBà con vui mừng đón tin {word} được công nhận.\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    sources = tmp_path / "pages"
    sources.mkdir()
    for sample in sorted(SAMPLES.glob("*.txt"))[:5]:
        shutil.copy(sample, sources / sample.name)
    return Settings(data_dir=tmp_path / "data", sources=(sources,), editors=frozenset({7}))


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    store = ArticleStore(settings.store_path)
    ingest(store, settings.sources)
    update_index(store, settings.index_root)
    c = Core(store, settings.index_root, Renderer())
    yield c
    c.close()
    store.close()


@pytest.fixture
def desk(settings: Settings, core: Core) -> Iterator[editors.Desk]:
    d = editors.open_desk(settings, core)
    yield d
    d.audit.close()


class Recorder:
    """A reporter that keeps what the status message would have shown."""

    def __init__(self, render: Any = None) -> None:
        self.shown: list[tuple[str, bool]] = []
        self.render = render

    async def show(self, run: Run, *, final: bool) -> None:
        text = self.render(run, final).html if self.render else f"{run.step}"
        self.shown.append((text, final))


# -- who is an editor, buttons, settings ---------------------------------------------------------


def test_only_listed_users_are_editors(settings: Settings) -> None:
    assert editors.is_editor(settings, 7)
    assert not editors.is_editor(settings, 8) and not editors.is_editor(settings, None)
    assert not editors.is_editor(Settings(), 7)  # nobody by default


def test_editor_settings() -> None:
    loaded = load_settings({"BANTIN_EDITORS": " 123, 456 ;789", "BANTIN_SCAN_MINUTES": "30"})
    assert loaded.editors == {123, 456, 789} and loaded.scan_minutes == 30
    assert load_settings({}).editors == frozenset() and load_settings({}).scan_minutes == 0
    for value, hint in [("@lan", "không phải @tên"), ("12,abc", "số nguyên dương"), ("-1001234", "số nguyên dương")]:
        with pytest.raises(SettingsError, match="BANTIN_EDITORS") as err:
            load_settings({"BANTIN_EDITORS": value})
        assert hint in str(err.value)
    for value in ("-5", "10081", "soon"):
        with pytest.raises(SettingsError, match="BANTIN_SCAN_MINUTES"):
            load_settings({"BANTIN_SCAN_MINUTES": value})


def test_editor_settings_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "bantin.toml"
    config.write_text("editors = [11, 22]\nscan_minutes = 15\n", encoding="utf-8")
    loaded = load_settings({}, config=config)
    assert loaded.editors == {11, 22} and loaded.scan_minutes == 15


def test_editor_buttons_round_trip() -> None:
    for button in [editors.EditorButton("reindex"), editors.EditorButton("stats"),
                   editors.EditorButton("failed", 1), editors.EditorButton("failed", 1000, edit=True)]:
        data = editors.encode_button(button)
        assert len(data.encode()) <= cb.MAX_BYTES and data.startswith(editors.BUTTON_PREFIX)
        assert editors.decode_button(data) == button


@given(st.text(max_size=80))
def test_any_button_data_is_an_editor_button_or_a_bad_callback(data: str) -> None:
    try:
        button = editors.decode_button(data)
    except cb.BadCallback:
        return
    assert editors.encode_button(button) == data


@pytest.mark.parametrize("data", ["", "e|", "e|x", "e|r|1", "e|f", "e|f|0", "e|f|1001", "e|f|-1", "e|f|٣", "e|s|",
                                  "r|abc", "e|p|1|2", "e|" + "f" * 70])
def test_forged_editor_buttons_are_refused(data: str) -> None:
    with pytest.raises(cb.BadCallback):
        editors.decode_button(data)


def test_number_and_size_formats() -> None:
    assert editors.number(1234567, "vi") == "1.234.567" and editors.number(1234567, "en") == "1,234,567"
    assert editors.number(2.5, "vi", 1) == "2,5"
    assert editors.size(3 * 2**20 + 2**19, "vi") == "3,5 MB" and editors.size(512, "en") == "512 B"


# -- the blocking work: one code path for /reindex, the button and the schedule -------------------


def test_reindex_scans_new_changed_deleted_and_failed_pages(settings: Settings, core: Core) -> None:
    folder = settings.sources[0]
    new_page(folder, "90_moi.txt", "zetaqua")
    bad = folder / "91_hong.txt"
    bad.write_bytes(b"\x00\x01binary")
    gone = sorted(folder.glob("0*.txt"))[0]
    gone.unlink()
    outcome = reindex_now(settings, SCAN, Progress())
    assert outcome.result == au.OK and outcome.report is not None
    report = outcome.report
    assert (report.added, report.removed, report.unchanged, len(report.failed)) == (1, 1, 4, 1)
    assert outcome.top_reasons() and outcome.index is not None
    assert outcome.to_json()["failures"][0][0].endswith("91_hong.txt")

    index = core.index
    assert index is not None
    index.refresh()
    assert index.search("zetaqua").total == 1
    assert [s for s, _r, _t in core.store.failures()] == [str(bad.resolve())]

    bad.unlink()  # the newsroom fixed the page by deleting it: it leaves /failed
    again = reindex_now(settings, SCAN, Progress())
    assert again.report is not None and again.report.failed == []
    assert core.store.failures() == []


def test_full_rebuild_reads_the_store_not_the_sources(settings: Settings, core: Core) -> None:
    new_page(settings.sources[0], "92_chua-quet.txt", "velimor")
    outcome = reindex_now(settings, FULL, Progress())
    assert outcome.result == au.OK and outcome.report is None and outcome.index is not None
    index = core.index
    assert index is not None
    index.refresh()
    assert index.search("velimor").total == 0 and index.doc_count() == core.store.count() == 5


def test_a_stop_request_ends_the_scan_at_the_next_file_with_nothing_half_written(settings: Settings) -> None:
    progress = Progress()
    progress.stop.set()
    with ArticleStore(settings.store_path) as store:
        before = store.count()
    with pytest.raises(Interrupted):
        reindex_now(settings, SCAN, progress)
    with ArticleStore(settings.store_path) as store:
        assert store.count() == before


# -- the runner: background, one at a time, throttled, audited -----------------------------------


class Held:
    """A work function that reports progress and then waits until the test lets it finish."""

    def __init__(self, steps: int = 3) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.steps = steps

    def __call__(self, settings: Settings, kind: str, progress: Progress) -> Outcome:
        for n in range(1, self.steps + 1):
            progress.report("scan", n, self.steps)
        self.started.set()
        assert self.release.wait(10)
        return Outcome(kind, report=IngestReport(added=2, failed=[("a.txt", "tệp rỗng")]), seconds=0.5)


async def test_one_run_at_a_time_and_who_runs_it(settings: Settings, desk: editors.Desk) -> None:
    held = Held()
    refreshed: list[Outcome] = []
    runner = ReindexRunner(settings, desk.audit, work=held, interval=0.01, on_done=refreshed.append)
    first_status = Recorder()
    run, started = runner.start(SCAN, first_status, user_id=7, user_name="Hoa")
    assert started
    again, started_again = runner.start(FULL, Recorder(), user_id=8, user_name="Minh")
    assert not started_again and again is run and again.user_name == "Hoa"
    skipped, scheduled = runner.start(SCHEDULED, Recorder())
    assert not scheduled and skipped is run
    await asyncio.to_thread(held.started.wait, 5)
    await asyncio.sleep(0.05)
    assert desk.audit.recent(1)[0].result == au.RUNNING
    held.release.set()
    assert run.task is not None
    await run.task
    assert runner.current is None and run.outcome is not None and refreshed == [run.outcome]
    assert first_status.shown[-1][1] is True and not any(final for _, final in first_status.shown[:-1])
    entry = desk.audit.last_reindex()
    assert entry is not None and (entry.user_id, entry.action, entry.result) == (7, SCAN, au.OK)
    assert entry.detail["added"] == 2 and entry.detail["top_reasons"] == [["tệp rỗng", 1]]
    _, started = runner.start(SCAN, Recorder(), user_id=8, user_name="Minh")
    assert started  # free again
    held.release.set()
    assert runner.current is not None and runner.current.task is not None
    await runner.current.task


async def test_progress_is_shown_at_a_steady_pace(settings: Settings, desk: editors.Desk) -> None:
    def busy(settings: Settings, kind: str, progress: Progress) -> Outcome:
        deadline = time.monotonic() + 0.6
        n = 0
        while time.monotonic() < deadline:
            n += 1
            progress.report("scan", n, 10**9)  # thousands of updates…
        return Outcome(kind)

    runner = ReindexRunner(settings, desk.audit, work=busy, interval=0.1)
    status = Recorder()
    run, _ = runner.start(SCAN, status, user_id=7, user_name="Hoa")
    assert run.task is not None
    await run.task
    assert 2 <= len(status.shown) <= 10  # …become one edit per interval, plus the first and the last


async def test_a_failing_run_is_reported_and_frees_the_runner(settings: Settings, desk: editors.Desk) -> None:
    def broken(settings: Settings, kind: str, progress: Progress) -> Outcome:
        raise OSError("disk on fire")

    runner = ReindexRunner(settings, desk.audit, work=broken, interval=0.01)
    status = Recorder(desk.run_reply)
    run, _ = runner.start(SCAN, status, user_id=7, user_name="Hoa", lang="en")
    assert run.task is not None
    await run.task
    assert runner.current is None and run.outcome is not None and run.outcome.result == au.FAILED
    assert "disk on fire" in status.shown[-1][0] and "did not finish" in status.shown[-1][0]
    entry = desk.audit.last_reindex()
    assert entry is not None and entry.result == au.FAILED and "disk on fire" in entry.detail["error"]


async def test_progress_made_before_the_first_look_is_still_shown(settings: Settings, desk: editors.Desk) -> None:
    """Bug (a flaky e2e test): the runner noted "what was shown" after starting the worker, so a
    scan that reached its next step at once and then sat there (a slow file) never had its
    progress shown: the status said "starting…" until the end."""
    release = threading.Event()

    def stuck_at_once(settings: Settings, kind: str, progress: Progress) -> Outcome:
        progress.report("scan", 11, 15)
        release.wait(10)
        return Outcome(kind)

    runner = ReindexRunner(settings, desk.audit, work=stuck_at_once, interval=0.01)
    status = Recorder()
    run, _ = runner.start(SCAN, status, user_id=7, user_name="Hoa")
    assert run.task is not None
    for _ in range(200):
        if any("11" in text and not final for text, final in status.shown):
            break
        await asyncio.sleep(0.01)
    release.set()
    await run.task
    assert any("11" in text and not final for text, final in status.shown), status.shown


async def test_the_summary_shows_a_run_that_has_ended(settings: Settings, desk: editors.Desk) -> None:
    """Bug (a flaky e2e test): the summary was shown while the runner still held the run, so a
    /stats or /reindex right after it could still see "running now"."""

    def quick(settings: Settings, kind: str, progress: Progress) -> Outcome:
        return Outcome(kind)

    runner = ReindexRunner(settings, desk.audit, work=quick, interval=0.01)
    seen: list[object] = []

    class Watching(Recorder):
        async def show(self, run: Run, *, final: bool) -> None:
            if final:
                seen.append(runner.current)
            await super().show(run, final=final)

    run, _ = runner.start(SCAN, Watching(), user_id=7, user_name="Hoa")
    assert run.task is not None
    await run.task
    assert seen == [None]


async def test_shutdown_stops_a_real_scan_and_marks_it_interrupted(settings: Settings, desk: editors.Desk) -> None:
    gate = threading.Event()
    stopping = threading.Event()

    def slow_scan(settings: Settings, kind: str, progress: Progress) -> Outcome:
        original = progress.report

        def report(phase: str, done: int = 0, total: int = 0) -> None:
            if phase == "scan" and done >= 2:
                stopping.set()
                gate.wait(5)  # a slow file
            original(phase, done, total)

        progress.report = report  # type: ignore[method-assign]
        return reindex_now(settings, kind, progress)

    runner = ReindexRunner(settings, desk.audit, work=slow_scan, interval=0.01)
    status = Recorder(desk.run_reply)
    run, _ = runner.start(SCAN, status, user_id=7, user_name="Hoa")
    await asyncio.to_thread(stopping.wait, 5)
    stop = asyncio.create_task(runner.shutdown())
    await asyncio.sleep(0.05)
    gate.set()
    await stop
    assert run.outcome is not None and run.outcome.result == au.INTERRUPTED
    assert "dừng giữa chừng" in status.shown[-1][0]
    entry = desk.audit.last_reindex()
    assert entry is not None and entry.result == au.INTERRUPTED


async def test_status_message_never_repeats_itself(settings: Settings, desk: editors.Desk) -> None:
    class Bot:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []

        async def send_message(self, chat_id: int, text: str, **kw: Any) -> Any:
            self.calls.append(("send", text))
            return type("M", (), {"message_id": 99})()

        async def edit_message_text(self, text: str, **kw: Any) -> Any:
            assert kw["message_id"] == 99
            self.calls.append(("edit", text))

    bot = Bot()
    status = ChatStatus(bot, 7, desk.run_reply)  # type: ignore[arg-type]
    run = Run(SCAN, 7, "Hoa", "vi", datetime.now(UTC))
    await status.show(run, final=False)
    await status.show(run, final=False)
    run.progress.report("scan", 1, 4)
    await status.show(run, final=False)
    await status.show(run, final=False)
    run.outcome = Outcome(SCAN, report=IngestReport(added=1))
    await status.show(run, final=True)
    assert [kind for kind, _ in bot.calls] == ["send", "edit", "edit"]
    assert "1/4 tệp (25%)" in bot.calls[1][1] and "Đã quét lại kho tin" in bot.calls[2][1]


# -- replies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_run_replies_are_valid_in_every_state(desk: editors.Desk, lang: str) -> None:
    run = Run(SCAN, 7, "Hoa <b>&", lang, datetime(2026, 11, 20, 1, 2, tzinfo=UTC))
    assert "Hoa <b>&" in valid(desk.run_reply(run, False)) and "08:02" in valid(desk.run_reply(run, False))
    for phase, done, total in [("scan", 0, 0), ("scan", 500, 2400), ("index", 0, 0), ("rebuild", 10, 20)]:
        run.progress.report(phase, done, total)
        valid(desk.run_reply(run, False))
    failures = [(f"/srv/pages/{n}.txt", f"lý do {n % 4} " + "x" * 300) for n in range(500)]
    outcomes = [
        Outcome(SCAN, report=IngestReport(added=1234, updated=2, unchanged=9, removed=1, failed=failures, files=99),
                index={"docs": 1245}, seconds=12.5),
        Outcome(SCAN, result=au.FAILED, report=IngestReport(added=1), index_busy=True),
        Outcome(SCAN, result=au.INTERRUPTED, error="bot stopped"),
        Outcome(SCAN, result=au.FAILED, error="OSError: <disk> & on fire"),
        Outcome(FULL, index={"docs": 10}),
    ]
    for outcome in outcomes:
        run.outcome = outcome
        reply = desk.run_reply(run, True)
        text = valid(reply)
        assert reply.buttons and any(b.data == "e|s" for b in reply.buttons[0])
    run.outcome = outcomes[0]
    text = valid(desk.run_reply(run, True))
    assert ("1.234" if lang == "vi" else "1,234") in text and "500" in text
    assert any(b.data == "e|f|1" for b in desk.run_reply(run, True).buttons[0])


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_failed_pages_are_listed_within_telegram_limits(desk: editors.Desk, settings: Settings, lang: str) -> None:
    store = desk.core.store
    assert "✅" in valid(desk.failed_page(lang))
    folder = settings.sources[0].resolve()
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    for n in range(20):
        deep = "thư-mục-rất-dài/" * (n % 3 * 10)
        store.record_failure(f"{folder}/{deep}trang-{n:02d}.txt", f"lý do {n % 3} <khó> & " + "dài " * 200,
                             now=t0 + timedelta(minutes=n))
    first = desk.failed_page(lang)
    text = valid(first)
    assert "20" in text and "trang-19.txt" in text and str(folder) not in text  # newest first, relative paths
    assert [b.data for row in first.buttons for b in row] == ["e|p|2"]
    last = desk.failed_page(lang, 3)
    assert "trang-00.txt" in valid(last) and [b.data for row in last.buttons for b in row] == ["e|p|2"]
    assert valid(desk.failed_page(lang, 999)) == valid(last)  # clamped, not an error


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_failed_page_with_emoji_paths_and_reasons_keeps_all_eight(desk: editors.Desk, settings: Settings,
                                                                  lang: str) -> None:
    """An emoji is two UTF-16 units: cuts counted in characters overflowed, and failures were
    dropped from the page, so the page buttons never reached them (issue 12, item 6)."""
    folder = settings.sources[0].resolve()
    for n in range(8):
        desk.core.store.record_failure(f"{folder}/{'📁' * 120}/trang-{n}.txt", "<lỗi> &" + "😀" * 400,
                                       now=datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=n))
    text = valid(desk.failed_page(lang))
    assert all(f"{n}. " in text for n in range(1, 9)) and "…" in text


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_stats_cover_the_archive_subscribers_runs_index_and_queries(desk: editors.Desk, settings: Settings,
                                                                     lang: str) -> None:
    stats = desk.collect_stats()
    assert (stats.articles, stats.subscribers_active, stats.subscribers_inactive) == (5, 0, 0)
    assert stats.last_run is None and stats.index_bytes and stats.index_docs == 5
    text = valid(desk.stats_reply(lang, stats))
    assert "0" in text and "5" in text

    db = sqlite3.connect(settings.state_path)  # the digest feature's table, as it creates it
    db.execute("CREATE TABLE digest_subscribers (chat_id INTEGER PRIMARY KEY, active INTEGER NOT NULL)")
    db.executemany("INSERT INTO digest_subscribers VALUES (?, ?)", [(0, 1), (1, 1), (2, 1), (3, 0)])
    db.commit()
    db.close()
    for _ in range(3):
        desk.queries.add()
    run = desk.audit.begin(7, "Hoa", SCAN)
    desk.audit.finish(run, au.OK, Outcome(SCAN, report=IngestReport(added=4, failed=[("x", "y")])).to_json())
    stats = desk.collect_stats()
    assert (stats.subscribers_active, stats.subscribers_inactive, stats.queries_today) == (2, 1, 3)
    text = valid(desk.stats_reply(lang, stats))
    assert "Hoa" in text and "4" in text
    for result in (au.INTERRUPTED, au.FAILED):
        run = desk.audit.begin(None, "", SCHEDULED)
        desk.audit.finish(run, result, {"index_busy": True})
        valid(desk.stats_reply(lang, desk.collect_stats()))
    running = Run(FULL, 8, "Minh", lang, datetime.now(UTC))
    running.progress.report("scan", 3, 9)
    assert "Minh" in valid(desk.stats_reply(lang, replace(stats, running=running)))


def test_stats_without_an_index_or_state_file(settings: Settings, tmp_path: Path) -> None:
    assert editors.subscriber_counts(tmp_path / "nothing.sqlite") == (0, 0)
    empty = Settings(data_dir=tmp_path / "empty", sources=settings.sources)
    store = ArticleStore(empty.store_path)
    core = Core(store, empty.index_root, Renderer())
    desk = editors.open_desk(empty, core)
    try:
        stats = desk.collect_stats()
        assert stats.index_bytes is None and stats.articles == 0
        assert "chưa có" in valid(desk.stats_reply("vi", stats))
    finally:
        desk.audit.close()
        store.close()


async def test_buttons_of_an_editor(desk: editors.Desk) -> None:
    status = Recorder(desk.run_reply)
    result = await desk.press("e|zzz", "vi", None, lambda: status)
    assert result.alert and result.answer == desk.label("vi", "stale_button")
    result = await desk.press("e|s", "vi", None, lambda: status)
    assert result.send and "Thống kê" in valid(result.send[0])
    result = await desk.press("e|f|1", "vi", None, lambda: status)
    assert result.send and result.edit is None
    result = await desk.press("e|p|1", "vi", None, lambda: status)
    assert result.edit is not None and not result.send
    result = await desk.press("e|r", "vi", None, lambda: status)
    assert result.answer == desk.label("vi", "editor_started") and desk.runner.current is not None
    busy = await desk.press("e|r", "en", None, lambda: Recorder())
    assert busy.alert and busy.answer and "running" in busy.answer
    task = desk.runner.current.task
    assert task is not None
    await task
    assert status.shown[-1][1] and "Đã quét lại" in status.shown[-1][0]


def test_reindex_arguments(desk: editors.Desk) -> None:
    assert desk.reindex_kind("") == SCAN and desk.reindex_kind(" FULL ") == FULL
    assert desk.reindex_kind("đầy đủ") == FULL and desk.reindex_kind("now please") is None
    assert "/reindex full" in valid(desk.usage("vi"))
    assert "editors" in valid(desk.refusal("en"))


async def test_the_scheduled_scan_takes_the_same_path_and_never_piles_up(desk: editors.Desk,
                                                                         settings: Settings) -> None:
    new_page(settings.sources[0], "93_lich.txt", "orvanta")
    context = type("Context", (), {"bot_data": BotData(desk=desk)})()
    await editors.scan_job(context)
    run = desk.runner.current
    assert run is not None and run.kind == SCHEDULED and run.user_id is None
    await editors.scan_job(context)  # still running: skipped, not queued
    assert desk.runner.current is run
    assert run.task is not None
    await run.task
    entry = desk.audit.last_reindex()
    assert entry is not None and (entry.action, entry.user_id, entry.result) == (SCHEDULED, None, au.OK)
    assert entry.detail["added"] == 1
    index = desk.core.index
    assert index is not None and index.search("orvanta").total == 1  # refreshed for the bot's searches
    assert len(desk.audit.recent(actions=[SCHEDULED])) == 1
