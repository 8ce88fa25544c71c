"""End to end: the index follows the store and a damaged index never stops the bot (issues 12, 13).

The real `bantin run` process against the local Bot API server. "While the index is being built"
is held deterministically: the test takes the index's writer lock (`index/.lock`, flock) before
the bot starts, so the bot's build waits for it; releasing the lock lets the build finish. A build
that fails at once is a `.lock` that is a folder (opening it fails, as a full or read-only disk
would).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bantin.articles.store import ArticleStore
from tests.conftest import SAMPLES
from tests.damage import KINDS, damage
from tests.e2e import cli, plain, prepare_data, running_bot
from tests.fake_botapi import FakeBotAPI
from tests.test_index_helpers import article

pytestmark = pytest.mark.e2e
EDITOR = 5601
_chats = itertools.count(8100)
FAST = {"BANTIN_SEARCH_WORKERS": "0", "BANTIN_RATE_BURST": "50", "BANTIN_EDITORS": str(EDITOR)}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


class WriterLock:
    """Hold the index's write lock, as a long `bantin reindex` in another process would."""

    def __init__(self, index_root: Path) -> None:
        index_root.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(index_root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@pytest.fixture
def hold() -> Iterator[Callable[[Path], WriterLock]]:
    held: list[WriterLock] = []

    def take(index_root: Path) -> WriterLock:
        held.append(WriterLock(index_root))
        return held[-1]

    yield take
    for lock in held:
        lock.release()


def ask(fake: FakeBotAPI, text: str, chat: int | None = None) -> str:
    chat = next(_chats) if chat is None else chat
    since = len(fake.requests)
    fake.send_text(chat, text)
    return plain(fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == chat, since=since)[0])


def wait_log(data: Path, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while text not in (log := (data / "bot.log").read_text()):
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.05)
    return log


def errors(data: Path) -> list[str]:
    return [line for line in (data / "bot.log").read_text().splitlines() if " ERROR " in line]


def editor_messages(fake: FakeBotAPI, since: int) -> list[str]:
    return [plain(c) for c in fake.calls("sendMessage", chat_id=EDITOR)[since:]]


def test_fresh_data_dir_ingest_then_run_first_query_finds(fake: FakeBotAPI, tmp_path: Path) -> None:
    cli(tmp_path, "ingest", str(SAMPLES))  # no `bantin reindex`
    with running_bot(fake, tmp_path, **FAST):
        assert "hòa giải" in ask(fake, "hoa giai").lower()
    assert errors(tmp_path) == []


def test_run_builds_a_missing_index_in_the_background(fake: FakeBotAPI, tmp_path: Path,
                                                      hold: Callable[[Path], WriterLock]) -> None:
    prepare_data(tmp_path)
    shutil.rmtree(tmp_path / "index")
    lock = hold(tmp_path / "index")
    with running_bot(fake, tmp_path, **FAST):
        chat = next(_chats)
        assert "đang được chuẩn bị" in ask(fake, "hoa giai", chat)
        wait_log(tmp_path, "no search index yet: building it")
        lock.release()
        wait_log(tmp_path, "index build by")
        assert "hòa giải" in ask(fake, "hoa giai", chat).lower()  # searching as soon as it is done
    assert errors(tmp_path) == []


def test_run_with_a_stale_index_catches_up(fake: FakeBotAPI, tmp_path: Path) -> None:
    prepare_data(tmp_path)
    with ArticleStore(tmp_path / "articles.sqlite") as store:  # changed behind the index's back
        store.upsert_many([article("zq1", "Khánh thành cầu Quoxavan", "Cầu Quoxavan nối hai xã.")])
    with running_bot(fake, tmp_path, **FAST):
        wait_log(tmp_path, "1 change(s) behind the article store")
        wait_log(tmp_path, "search index caught up with the store")
        assert "Quoxavan" in ask(fake, "quoxavan")
    assert errors(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_index_does_not_stop_the_bot_and_repairs_itself(
        fake: FakeBotAPI, tmp_path: Path, hold: Callable[[Path], WriterLock], kind: str) -> None:
    prepare_data(tmp_path)
    damage(tmp_path / "index", kind)
    since = len(fake.calls("sendMessage", chat_id=EDITOR))
    lock = hold(tmp_path / "index")  # the repair waits for it
    with running_bot(fake, tmp_path, **FAST):
        chat = next(_chats)
        for _ in range(3):
            assert "đang được sửa chữa" in ask(fake, "hoa giai", chat)
        assert "Không tìm thấy" not in ask(fake, "/latest", chat)  # the rest of the bot works
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == EDITOR, count=since + 1)
        lock.release()
        wait_log(tmp_path, "index repair by")
        assert "hòa giải" in ask(fake, "hoa giai", chat).lower()
    alerts = editor_messages(fake, since)
    assert len(alerts) == 1 and "bị hỏng" in alerts[0]  # told once, with the fix
    assert "/reindex full" in alerts[0] and "bantin reindex --full" in alerts[0]
    found = errors(tmp_path)
    assert len(found) == 1 and "damaged" in found[0] and "reindex --full" in found[0]
    assert fake.violations == []


def test_when_the_repair_fails_an_editor_rebuilds_from_chat(fake: FakeBotAPI, tmp_path: Path) -> None:
    prepare_data(tmp_path)
    damage(tmp_path / "index", "segment-deleted")
    (tmp_path / "index" / ".lock").unlink()
    (tmp_path / "index" / ".lock").mkdir()  # the automatic rebuild cannot write: it fails
    since = len(fake.calls("sendMessage", chat_id=EDITOR))
    with running_bot(fake, tmp_path, **FAST):
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == EDITOR, count=since + 2)
        damaged, failed = editor_messages(fake, since)
        assert "bị hỏng" in damaged and "Chưa dựng lại được" in failed and "/reindex full" in failed
        assert "đang được sửa chữa" in ask(fake, "hoa giai")
        (tmp_path / "index" / ".lock").rmdir()  # the operator freed the disk
        mark = len(fake.requests)
        fake.send_text(EDITOR, "/reindex full")
        fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == EDITOR
                      and "Đã dựng lại" in plain(c), since=mark, timeout=60)
        assert "hòa giải" in ask(fake, "hoa giai").lower()


def test_editor_reindex_builds_a_missing_index(fake: FakeBotAPI, tmp_path: Path) -> None:
    prepare_data(tmp_path)
    shutil.rmtree(tmp_path / "index")
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / ".lock").mkdir()  # the start-up build fails
    since = len(fake.calls("sendMessage", chat_id=EDITOR))
    with running_bot(fake, tmp_path, BANTIN_SOURCES=str(SAMPLES), **FAST):
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == EDITOR, count=since + 1)
        assert "Chưa dựng lại được" in editor_messages(fake, since)[0]
        assert "đang được sửa chữa" in ask(fake, "hoa giai")  # not "being prepared": nothing is
        (tmp_path / "index" / ".lock").rmdir()
        mark = len(fake.requests)
        fake.send_text(EDITOR, "/reindex")
        fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == EDITOR
                      and "Đã quét lại" in plain(c), since=mark, timeout=60)
        assert "hòa giải" in ask(fake, "hoa giai").lower()
