"""Start the real `bantin run` process against the fake Bot API, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT, SAMPLES
from tests.fake_botapi import Call, FakeBotAPI, parse_telegram_html


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bantin.bot.cli", *args],
        env={**os.environ, "BANTIN_DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def prepare_data(data_dir: Path, *sources: Path) -> None:
    """A store and an index over the bundled samples (or the given sources)."""
    cli(data_dir, "ingest", *(str(s) for s in (sources or (SAMPLES,))))
    cli(data_dir, "reindex")


@contextmanager
def running_bot(fake: FakeBotAPI, data_dir: Path, *, startup_timeout: float = 30.0,
                environ: dict[str, str] | None = None, **settings: str) -> Iterator[subprocess.Popen[str]]:
    """`bantin run` on `data_dir`, ready (polling) within `startup_timeout` seconds; stopped on exit.

    `environ` replaces the inherited environment (bench/scale.py passes one without BANTIN_*).
    """
    env = {
        **(os.environ if environ is None else environ),
        "BANTIN_TOKEN": fake.token,
        "BANTIN_API_URL": fake.url,
        "BANTIN_DATA_DIR": str(data_dir),
        "BANTIN_LOG_LEVEL": "INFO",
        **settings,
    }
    log = open(data_dir / "bot.log", "w")  # noqa: SIM115 - closed below, after the process ends
    proc = subprocess.Popen([sys.executable, "-m", "bantin.bot.cli", "run"], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    try:
        fake.wait_for("setMyCommands", count=2, timeout=startup_timeout)
        # Ready means polling: post_init (menus, digests, editors) has finished by then.
        deadline = time.monotonic() + startup_timeout
        while fake.poll_count == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.poll_count > 0, (data_dir / "bot.log").read_text()[-2000:]
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def plain(call: Call) -> str:
    """The text a user sees for a sendMessage/editMessageText call."""
    text = call.params.get("text", "")
    if str(call.params.get("parse_mode", "")).upper() == "HTML":
        return parse_telegram_html(text)[0]
    return str(text)


def buttons(call: Call) -> list[dict[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]
