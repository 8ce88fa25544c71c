"""One bot per data dir: an exclusive `flock` on `<data dir>/bot.lock`, held while `bantin run` lives.

Two bots on one data dir poll the same token (Telegram answers one of them 409 Conflict every few
seconds) and would both send each digest. The kernel drops a flock when its process dies, however
it dies, so a crashed bot never leaves a stale lock; the pid written in the file only names the
holder in the refusal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "bot.lock"


class DataDirBusy(Exception):
    """Another live process holds the data dir; `holder` is what it wrote (pid and host)."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path = path
        self.holder = holder


@contextlib.contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[Path]:
    """Hold the data dir's lock for the `with` block; DataDirBusy at once if someone else does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by spawned search workers
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirBusy(path, os.pread(fd, 200, 0).decode("utf-8", "replace").strip()) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} trên {socket.gethostname()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a newcomer)
