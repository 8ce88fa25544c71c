"""End to end: newsroom editors drive /reindex, /failed and /stats from Telegram.

The real `bantin run` process talks to the local Bot API test server. A reindex is held half-way
deterministically by a named pipe among the source pages: the scan blocks reading it (as it
would on a stalled network share) until the test writes a page into it, so "during a run" needs
no sleeps or timing guesses.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bantin.articles.store import ArticleStore
from tests.conftest import SAMPLES
from tests.e2e import buttons, plain, prepare_data, running_bot
from tests.fake_botapi import Call, FakeBotAPI

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")]

HOA, MINH = 5501, 5502  # editors (private chats: chat id = user id)
NAMES = {HOA: "Hoa", MINH: "Minh"}
_users = itertools.count(7000)


def page(title: str, word: str) -> str:
    """A raw page as the newsroom's scraper saves it, with a made-up word to search for."""
    return (f"{title}\n20/11/2026 08:00\n\nSáng 20-11, bà con thôn Tân Lập vui mừng đón tin {word} được công nhận.\n\n"
            f"Theo lãnh đạo xã, công trình {word} góp phần nâng cao đời sống tinh thần của nhân dân.\n")


class Gate:
    """A named pipe among the source pages: the scan blocks on it until `release` writes a page."""

    def __init__(self, folder: Path, name: str = "12z_gate.txt") -> None:
        self.path = folder / name
        os.mkfifo(self.path)

    def release(self, text: str, timeout: float = 30, *, reader_expected: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:  # ENXIO: the bot is not reading it (yet)
                if exc.errno != errno.ENXIO:
                    raise
                if time.monotonic() > deadline:
                    assert not reader_expected, "the scan never reached the gate"
                    return
                time.sleep(0.05)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(text.encode("utf-8"))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def copy_samples(folder: Path, count: int | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for sample in sorted(SAMPLES.glob("*.txt"))[:count]:
        shutil.copy(sample, folder / sample.name)


def store_count(data: Path) -> int:
    with ArticleStore(data / "articles.sqlite", readonly=True) as store:
        return store.count()


def audit_rows(data: Path) -> list[tuple[int | None, str, str]]:
    db = sqlite3.connect(data / "bot.sqlite")
    try:
        return list(db.execute("SELECT user_id, action, result FROM editor_audit ORDER BY id"))
    finally:
        db.close()


def wait_log(data: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in (data / "bot.log").read_text():
        assert time.monotonic() < deadline, (data / "bot.log").read_text()[-2000:]
        time.sleep(0.05)


def ask(fake: FakeBotAPI, chat: int, text: str, **kw: object) -> str:
    """Send `text` as the user of `chat`; the plain text of the bot's next message there."""
    since = len(fake.requests)
    kw.setdefault("first_name", NAMES.get(chat, "Lan"))
    fake.send_text(chat, text, **kw)  # type: ignore[arg-type]
    return plain(fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=since)[0])


def start_reindex(fake: FakeBotAPI, editor: int, text: str = "/reindex", **kw: object) -> int:
    """An editor sends /reindex; returns where to look for the run's calls from."""
    since = len(fake.requests)
    fake.send_text(editor, text, first_name=NAMES[editor], **kw)  # type: ignore[arg-type]
    fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == editor and "Đang" in plain(c), since=since)
    return since


def files_done(call: Call) -> int:
    """N of "Đã đọc N/M tệp" in a status message (0 when it shows something else)."""
    found = re.search(r"Đã đọc ([\d.]+)/", plain(call))
    return int(found.group(1).replace(".", "")) if found else 0


def wait_summary(fake: FakeBotAPI, editor: int, since: int, timeout: float = 60) -> str:
    done = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == editor
                         and ("Đã quét lại" in plain(c) or "Đã dựng lại" in plain(c) or "chưa xong" in plain(c)
                              or "dừng giữa chừng" in plain(c)),
                         since=since, timeout=timeout)
    return plain(done[0])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sources") / "pages"
    copy_samples(folder, 12)
    return folder


@pytest.fixture(scope="module")
def data(fake: FakeBotAPI, sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("data")
    prepare_data(data, sources)
    with running_bot(fake, data, BANTIN_SOURCES=str(sources), BANTIN_EDITORS=f"{HOA},{MINH}",
                     BANTIN_SCAN_MINUTES="600"):
        fake.wait_for("setMyCommands", lambda c: (c.params.get("scope") or {}).get("chat_id") == MINH, count=2)
        yield data


def test_only_editors_see_the_editor_commands(fake: FakeBotAPI, data: Path) -> None:
    for lang in ("", "en"):
        public = {c["command"] for c in fake.commands(language_code=lang) or []}
        mine = {c["command"] for c in fake.commands({"type": "chat", "chat_id": HOA}, language_code=lang) or []}
        assert {"reindex", "failed", "stats"} <= mine and public < mine
        assert not {"reindex", "failed", "stats", "broadcast"} & public
    assert fake.violations == []
    wait_log(data, "scanning the sources every 600 min")  # BANTIN_SCAN_MINUTES took effect


def test_non_editor_is_refused_and_nothing_changes(fake: FakeBotAPI, data: Path, sources: Path) -> None:
    user = next(_users)
    (sources / "50_tram-y-te-zetaqua.txt").write_text(page("Khánh thành trạm y tế Zetaqua", "zetaqua"))
    before = store_count(data)
    for command in ("/reindex", "/reindex full", "/failed", "/stats"):
        assert "chỉ dành cho biên tập viên" in ask(fake, user, command)
    assert "Không tìm thấy" in ask(fake, user, "zetaqua")

    # Forged editor buttons on one of the bot's messages in the user's own chat.
    message_id = fake.messages_in(user)[-1]["message_id"]
    sent_before = len(fake.calls("sendMessage", chat_id=user))
    for data_ in ("e|r", "e|s", "e|f|1", "e|p|2", "e|zzz"):
        query = fake.press_button(user, message_id, data_, check=False)
        answer = fake.wait_for("answerCallbackQuery", lambda c, q=query: c.params.get("callback_query_id") == q)[0]
        assert "biên tập viên" in answer.params["text"] and answer.params.get("show_alert")
    assert len(fake.calls("sendMessage", chat_id=user)) == sent_before
    assert store_count(data) == before
    rows = [r for r in audit_rows(data) if r[0] == user]
    assert len(rows) == 9 and {r[2] for r in rows} == {"refused"}
    assert not [r for r in audit_rows(data) if r[2] == "running"]
    assert fake.violations == []


def test_editor_reindex_shows_progress_then_summary_and_users_find_the_news(
        fake: FakeBotAPI, data: Path, sources: Path) -> None:
    (sources / "51_nha-van-hoa-quyxanh.txt").write_text(page("Khánh thành nhà văn hoá Quyxanh", "quyxanh"))
    gate = Gate(sources)
    try:
        since = start_reindex(fake, HOA)
        progress = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == HOA and "tệp (" in plain(c),
                                 since=since, timeout=20)[0]
        assert "/" in plain(progress) and "Hoa" in plain(progress)

        # A second request while it runs, from the other editor: refused, naming who runs it.
        busy = ask(fake, MINH, "/reindex")
        assert "Hoa" in busy and "đang quét lại" in busy and "thử lại" in busy
        gate.release(page("Đường giao thông nông thôn Velimor", "velimor"))
        summary = wait_summary(fake, HOA, since)
    finally:
        gate.remove()
    assert "Thêm mới: 3" in summary and "Lỗi: 0" in summary  # zetaqua (earlier test), quyxanh, velimor
    edits = fake.calls("editMessageText", chat_id=HOA)[-50:]
    texts = [plain(c) for c in edits]
    assert all(a != b for a, b in itertools.pairwise(texts))  # never the same text twice in a row
    assert all(c.status == 200 for c in edits)

    user = next(_users)
    for word in ("quyxanh", "velimor", "zetaqua"):
        assert "Không tìm thấy" not in ask(fake, user, word)
    assert fake.violations == []


def test_second_reindex_by_button_is_refused_too(fake: FakeBotAPI, data: Path, sources: Path) -> None:
    since = len(fake.requests)
    stats = ask(fake, MINH, "/stats")
    assert "Thống kê" in stats
    stats_call = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == MINH, since=since)[0]
    reindex_button = next(b for b in buttons(stats_call) if b["callback_data"] == "e|r")
    message_id = fake.messages_in(MINH)[-1]["message_id"]
    gate = Gate(sources, "12y_gate.txt")
    try:
        run_since = start_reindex(fake, HOA)
        query = fake.press_button(MINH, message_id, reindex_button["callback_data"], user_id=MINH)
        answer = fake.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)[0]
        assert "đang quét lại" in answer.params["text"] and answer.params.get("show_alert")
        gate.release(page("Cầu dân sinh Orvanta", "orvanta"))
        summary = wait_summary(fake, HOA, run_since)
    finally:
        gate.remove()
    assert "Thêm mới: 1" in summary
    assert fake.violations == []


def test_failed_pages_and_stats(fake: FakeBotAPI, data: Path, sources: Path) -> None:
    for n in range(10):
        (sources / f"80_hong-{n:02d}.txt").write_bytes(b"\x00\x01\x02binary" * 10)
    (sources / "81_rong.txt").write_text("   \n")
    since = start_reindex(fake, HOA)
    summary = wait_summary(fake, HOA, since)
    assert "Lỗi: 11" in summary and "Lý do lỗi thường gặp" in summary

    failed = ask(fake, HOA, "/failed")
    assert "11 trang không đọc được" in failed and "80_hong-0" in failed and "trang 1/2" in failed
    call = fake.calls("sendMessage", chat_id=HOA)[-1]
    nxt = next(b for b in buttons(call) if b["text"].startswith("Sau"))
    since = len(fake.requests)
    fake.press_button(HOA, fake.messages_in(HOA)[-1]["message_id"], nxt["callback_data"])
    page_two = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == HOA, since=since)[0]
    assert "trang 2/2" in plain(page_two)

    for word in ("dang vien", "chi bo", "nong thon moi"):
        ask(fake, next(_users), word)
    stats = ask(fake, HOA, "/stats", language_code="en")
    assert "Articles:" in stats and "Digest subscribers: 0 active, 0 stopped" in stats
    assert "Last run:" in stats and "11 failed" in stats and "Index:" in stats
    searches = int(stats.split("Searches today: ")[1].split()[0].replace(",", ""))
    assert searches >= 3

    for bad in ("e|zzz", "e|f|0", "e|f|99999", "e|p|x"):
        query = fake.press_button(HOA, fake.messages_in(HOA)[-1]["message_id"], bad, check=False, user_id=HOA)
        answer = fake.wait_for("answerCallbackQuery", lambda c, q=query: c.params.get("callback_query_id") == q)[0]
        assert answer.params.get("text")
    for path in sources.glob("8[01]_*.txt"):
        path.unlink()
    assert fake.violations == []


def test_full_rebuild_swaps_in_a_new_index_while_search_goes_on(fake: FakeBotAPI, data: Path) -> None:
    assert "/reindex full" in ask(fake, HOA, "/reindex now please")  # unknown argument: how to use it
    since = start_reindex(fake, HOA, "/reindex full")
    summary = wait_summary(fake, HOA, since)
    assert "Đã dựng lại chỉ mục" in summary and "Chỉ mục hiện có" in summary
    assert "Thêm mới" not in summary  # a rebuild reads the store; it does not scan the sources
    assert "kết quả" in ask(fake, next(_users), "dang vien")
    assert fake.violations == []


def test_editing_a_reindex_message_does_not_start_another_run(fake: FakeBotAPI, data: Path) -> None:
    since = start_reindex(fake, HOA)
    wait_summary(fake, HOA, since)
    runs = len([r for r in audit_rows(data) if r[1] == "reindex"])
    edited = len(fake.requests)
    fake.send_edited_text(HOA, "/reindex ")
    stats = ask(fake, HOA, "/stats")  # the edit came first; a run it started would show here
    assert "Đang quét:" not in stats
    assert not [c for c in fake.calls("sendMessage", chat_id=HOA)
                if "Đang quét" in plain(c) and c in fake.requests[edited:]]
    assert len([r for r in audit_rows(data) if r[1] == "reindex"]) == runs


def test_reindex_racing_with_20_searching_users_loses_no_query(fake: FakeBotAPI, data: Path, sources: Path) -> None:
    batch = sources / "race"
    batch.mkdir()
    for n, sample in enumerate(itertools.islice(itertools.cycle(sorted(SAMPLES.glob("*.txt"))), 480)):
        shutil.copy(sample, batch / f"{n:04d}.txt")  # a copy elsewhere is another article (id = path)
    gate = Gate(sources, "00_gate.txt")  # the first file: everything else is scanned after the release
    users = [next(_users) for _ in range(20)]
    words = ["dang vien", "chi bo", "nong thon moi", "ca phe", "hoa giai", "cau treo", "cong chieng", "ho tieu"]

    def replies(user: int, count: int, since: int) -> list[str]:
        calls = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == user, count=count, since=since,
                              timeout=60)
        return [plain(c) for c in calls]

    try:
        since = start_reindex(fake, HOA)
        for n, user in enumerate(users):  # while the run is held mid-scan…
            fake.send_text(user, words[n % len(words)])
        for user in users:
            assert "kết quả" in replies(user, 1, since)[0]
        gate.release(page("Trường học Lumarick", "lumarick"))
        for n, user in enumerate(users):  # …and while it scans and indexes 480 pages
            fake.send_text(user, words[(n + 3) % len(words)])
        summary = wait_summary(fake, HOA, since, timeout=90)
        for user in users:
            answers = replies(user, 2, since)
            assert len(answers) == 2 and all("kết quả" in a for a in answers), answers
    finally:
        gate.remove()
        shutil.rmtree(batch)
    assert "Thêm mới: 481" in summary
    assert "Không tìm thấy" not in ask(fake, users[0], "lumarick")
    assert fake.violations == []


def test_reindex_killed_half_way_leaves_search_working(tmp_path: Path) -> None:
    sources = tmp_path / "pages"
    copy_samples(sources)
    data = tmp_path / "data"
    data.mkdir()
    prepare_data(data, sources)
    for n in range(520):  # more than one store batch (500) before the gate: the kill lands mid-write
        (sources / f"00_{n:04d}.txt").write_text(page(f"Tin ngắn số {n}", f"Mãsố{n}"))
    env = {"BANTIN_SOURCES": str(sources), "BANTIN_EDITORS": str(HOA)}
    with FakeBotAPI() as fake:
        gate = Gate(sources, "01_gate.txt")
        with running_bot(fake, data, **env) as proc:
            since = start_reindex(fake, HOA)
            fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == HOA and files_done(c) >= 520,
                          since=since, timeout=30)  # held at the gate, 520 pages read
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        gate.remove()
    assert 24 < store_count(data) < 24 + 520  # killed half-way: part of the scan was already committed

    with FakeBotAPI() as fake, running_bot(fake, data, **env):
        user = next(_users)
        assert "kết quả" in ask(fake, user, "dang vien")
        stats = ask(fake, HOA, "/stats")
        assert "bị dừng giữa chừng" in stats
        since = start_reindex(fake, HOA)
        summary = wait_summary(fake, HOA, since)
        assert "Lỗi: 0" in summary
        assert "kết quả" in ask(fake, user, "Mãsố519")
        assert store_count(data) == 24 + 520
        assert fake.violations == []
    log = (data / "bot.log").read_text()
    assert "Traceback" not in log, log[-3000:]


def test_sigterm_during_a_run_stops_it_at_the_next_file_and_says_so(tmp_path: Path) -> None:
    sources = tmp_path / "pages"
    copy_samples(sources, 6)
    data = tmp_path / "data"
    data.mkdir()
    prepare_data(data, sources)
    gate = Gate(sources, "03_gate.txt")
    with FakeBotAPI() as fake, running_bot(fake, data, BANTIN_SOURCES=str(sources), BANTIN_EDITORS=str(HOA)) as proc:
        since = start_reindex(fake, HOA)
        proc.send_signal(signal.SIGTERM)
        wait_log(data, "asking the running reindex to stop")
        # The blocked read returns and the next file stops the scan (or, on a slow machine, the
        # stop came before the scan reached the gate and nobody is reading it).
        gate.release(page("Tin cuối", "cuoicung"), timeout=3, reader_expected=False)
        proc.wait(timeout=20)
        assert proc.returncode == 0
        final = wait_summary(fake, HOA, since)
    gate.remove()
    assert "dừng giữa chừng" in final and "Gửi /reindex" in final
    assert audit_rows(data)[-1] == (HOA, "reindex", "interrupted")
    assert store_count(data) == 6  # the held-back batch was never written: nothing half-done
    assert "Traceback" not in (data / "bot.log").read_text()


def test_a_stale_editor_button_is_answered_exactly_once(fake: FakeBotAPI, data: Path) -> None:
    ask(fake, HOA, "/stats")
    deleted = fake.messages_in(HOA)[-1]["message_id"]
    fake.delete_by_user(HOA, deleted)
    ask(fake, HOA, "/stats")
    shown = fake.messages_in(HOA)[-1]["message_id"]
    for message_id in (deleted, 999999, shown):
        since = len(fake.requests)
        query = fake.press_button(HOA, message_id, "e|p|1000", user_id=HOA, check=False)
        fake.wait_for("answerCallbackQuery", lambda c, q=query: c.params.get("callback_query_id") == q, since=since)
        time.sleep(1.0)  # room for a second answer, were there one
        answers = fake.calls("answerCallbackQuery", callback_query_id=query)
        assert [c.status for c in answers] == [200], message_id
    assert "Traceback" not in (data / "bot.log").read_text()
    assert fake.violations == []
