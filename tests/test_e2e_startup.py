"""`bantin run` at start-up: a rejected token or an unreachable Bot API is one clear line and exit 1,
with the token nowhere in the output, at DEBUG too (issue 12, item 5); one bot per data dir (item 9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e import running_bot
from tests.fake_botapi import FakeBotAPI

pytestmark = pytest.mark.e2e
WRONG = "654321:WRONG-secret-token-value"


def bantin(data: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "BANTIN_DATA_DIR": str(data), **env})


def assert_no_secret(output: str, token: str) -> None:
    assert token not in output and token.split(":")[1] not in output


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_rejected_token_is_one_line_and_exit_1(fake: FakeBotAPI, data: Path, level: str) -> None:
    result = bantin(data, "run", BANTIN_TOKEN=WRONG, BANTIN_API_URL=fake.url, BANTIN_LOG_LEVEL=level)
    assert result.returncode == 1
    assert "lỗi: Telegram từ chối BANTIN_TOKEN" in result.stderr and "gợi ý:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if level == "INFO":
        assert len(result.stderr.strip().splitlines()) == 2, result.stderr
    assert_no_secret(result.stdout + result.stderr, WRONG)


def test_an_unreachable_api_is_one_line_and_exit_1(data: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = bantin(data, "run", BANTIN_TOKEN=WRONG, BANTIN_API_URL=f"http://127.0.0.1:{port}",
                    BANTIN_LOG_LEVEL="DEBUG")
    assert result.returncode == 1
    assert f"lỗi: không kết nối được Bot API tại http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout + result.stderr, WRONG)


def test_a_running_bot_at_debug_never_logs_its_token_and_holds_the_data_dir(fake: FakeBotAPI, data: Path) -> None:
    with running_bot(fake, data, BANTIN_LOG_LEVEL="DEBUG", BANTIN_SEARCH_WORKERS="0") as first:
        fake.send_text(4242, "dang vien")
        fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == 4242)
        env = {"BANTIN_TOKEN": fake.token, "BANTIN_API_URL": fake.url}
        second = bantin(data, "run", **env)
        assert second.returncode == 1, second.stderr
        assert f"lỗi: một bot khác đang chạy trên thư mục dữ liệu {data} (pid {first.pid}" in second.stderr
        assert "gợi ý:" in second.stderr and "Traceback" not in second.stderr
        started = bantin(data, "start", **env)  # `start` with a token is refused before it scans anything
        assert started.returncode == 1 and "một bot khác đang chạy" in started.stderr
        assert "thêm mới" not in started.stderr
        assert first.poll() is None  # the first bot is unaffected
        first.send_signal(signal.SIGKILL)  # the OS drops the lock of a dead bot: no stale lock
        first.wait(timeout=15)
    log = (data / "bot.log").read_text()
    assert "Set Bot API URL" in log and "/bot123456:***" in log
    assert_no_secret(log, fake.token)
    with FakeBotAPI() as own, running_bot(own, data, BANTIN_SEARCH_WORKERS="0") as again:
        assert again.poll() is None  # ready: polling, so the lock was free
    assert again.returncode == 0


def test_two_bots_started_together_one_runs(fake: FakeBotAPI, data: Path) -> None:
    env = {**os.environ, "BANTIN_DATA_DIR": str(data), "BANTIN_TOKEN": fake.token, "BANTIN_API_URL": fake.url,
           "BANTIN_SEARCH_WORKERS": "0"}
    procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = [p for p in procs if p.poll() is not None]
        assert len(refused) == 1 and refused[0].returncode == 1
        assert "một bot khác đang chạy" in refused[0].communicate()[1]
        while fake.poll_count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.poll_count > 0 and [p.poll() for p in procs].count(None) == 1  # the other one polls
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=15)
