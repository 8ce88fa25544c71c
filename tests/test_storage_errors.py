"""A read-only or full disk under the data dir is a `lỗi:`/`gợi ý:` message and a non-zero exit, never
a traceback, and the store and the live index stay as they were (issue 12, item 7).

Tests run as root, where `chmod` stops nothing, so the faults are made with what binds root too:
`chattr +i` (immutable files and folders; skipped where the file system has no such flag), a data
dir that is a file, and RLIMIT_FSIZE (a write past the limit fails with EFBIG, as a full disk fails
with ENOSPC).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from articles.store import ArticleStore
from tests.conftest import ROOT, SAMPLES

LIMITED = (
    "import resource, runpy, signal, sys;"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"  # else the kernel kills the writer
    "limit = int(sys.argv.pop(1)); resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit));"
    "runpy.run_module('bot.cli', run_name='__main__')"
)


def bantin(data: Path, *args: str, stdin: str = "", fsize: int | None = None,
           **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot.cli"] if fsize is None else [sys.executable, "-c", LIMITED, str(fsize)]
    return subprocess.run([*command, *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BANTIN_DATA_DIR": str(data), "BANTIN_LOG_LEVEL": "INFO", **env})


def assert_clear_failure(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "Error:" not in result.stderr, result.stderr
    assert result.stderr.startswith("lỗi: ") and "\ngợi ý: " in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def store_state(data: Path) -> tuple[int, int, list[str]]:
    with ArticleStore(data / "articles.sqlite") as store:
        assert store._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return store.count(), store.revision(), sorted(a.id for a in store.iter_articles())


def search(data: Path) -> list[str]:
    result = bantin(data, "search", "dang vien", "--json")
    assert result.returncode == 0, result.stderr
    return [hit["id"] for hit in json.loads(result.stdout)["results"]]


@pytest.fixture
def immutable(data: Path) -> Iterator[Path]:
    """The data dir and everything in it immutable (`chattr +i`): not even root may write there."""
    flag = subprocess.run(["chattr", "-R", "+i", str(data)], capture_output=True, text=True)
    try:
        if flag.returncode != 0:
            pytest.skip(f"chattr +i is not available here: {flag.stderr.strip()}")
        yield data
    finally:
        subprocess.run(["chattr", "-R", "-i", str(data)], capture_output=True)


@pytest.mark.parametrize("args", [["ingest", str(SAMPLES)], ["reindex", "--full"], ["digest", "--dry-run"],
                                  ["chat"]], ids=lambda args: args[0])
def test_a_read_only_data_dir_is_a_message(immutable: Path, args: list[str]) -> None:
    before = snapshot(immutable)
    result = bantin(immutable, *args, stdin="dang vien\n")
    assert_clear_failure(result, f"không ghi được dữ liệu vào {immutable}", "cho phép ghi")
    assert snapshot(immutable) == before


@pytest.mark.parametrize("args", [["ingest", str(SAMPLES)], ["reindex", "--full"], ["digest", "--dry-run"],
                                  ["chat"], ["start"], ["run"]], ids=lambda args: args[0])
def test_a_data_dir_that_is_a_file_is_a_message(tmp_path: Path, args: list[str]) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder")
    result = bantin(data, *args, stdin="dang vien\n", BANTIN_TOKEN="1:not-used-here")
    assert_clear_failure(result)
    assert data.read_text() == "not a folder"


def test_a_full_disk_during_ingest_leaves_the_store_as_it_was(data: Path, tmp_path: Path) -> None:
    export = tmp_path / "big.jsonl"
    export.write_text("".join(json.dumps({"id": f"b{n}", "title": f"Bài {n}", "body": "chữ " * 800 + str(n)},
                                         ensure_ascii=False) + "\n" for n in range(400)), encoding="utf-8")
    before, hits = store_state(data), search(data)
    full = bantin(data, "ingest", str(export), fsize=(data / "articles.sqlite").stat().st_size + 50_000)
    assert_clear_failure(full, f"không ghi được dữ liệu vào {data}", "dữ liệu đã lưu trước đó không bị thay đổi")
    assert store_state(data) == before and search(data) == hits
    assert bantin(data, "ingest", str(export)).returncode == 0  # room again: nothing to repair first
    assert store_state(data)[0] == before[0] + 400


def test_a_full_disk_during_a_full_rebuild_keeps_the_live_index(data: Path) -> None:
    current = (data / "index" / "current").read_text()
    before, hits = store_state(data), search(data)
    full = bantin(data, "reindex", "--full", fsize=(data / "articles.sqlite").stat().st_size + 50_000)
    assert_clear_failure(full, "tệp vượt giới hạn kích thước", "giải phóng chỗ trống")
    assert (data / "index" / "current").read_text() == current
    assert store_state(data) == before and search(data) == hits
    assert bantin(data, "reindex", "--full").returncode == 0 and search(data) == hits
