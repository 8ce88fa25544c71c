"""`bantin backup DIR`: a consistent copy of the stores while the bot keeps running.

SQLite's online backup API (`sqlite3.Connection.backup`) copies a live WAL database page by page
and restarts when a writer changes a page it already copied, so the copy is one consistent moment
even while a reindex or a broadcast writes. A plain `cp` of a WAL database can miss the `-wal`
file's committed transactions or tear mid-write. The search index is not copied: it is derived
from the article store and `bantin reindex` rebuilds it after a restore.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bantin.bot.settings import Settings

#: The files worth keeping: the articles and the bot's state (subscribers, delivery log, audit).
STORES = ("articles.sqlite", "bot.sqlite")
#: Pages copied per step; between steps a writer may proceed (the bot is never blocked long).
PAGES_PER_STEP = 1024


@dataclass(frozen=True)
class Copied:
    name: str
    path: Path
    size: int
    rows: int


class SameAsSource(ValueError):
    """The backup would replace the live databases it copies (`bantin backup .` in the data dir).

    The copy is renamed over its target, so the bot's open connections (and the `-wal` beside
    the old file) would point at a deleted file: every later write lost at the next restart.
    """


def _same_file(source: Path, target: Path) -> bool:
    return source.exists() and target.exists() and os.path.samefile(source, target)


def backup_store(source: Path, target: Path) -> Copied:
    """Copy one SQLite database into `target` (written beside, then renamed: never half a file)."""
    if _same_file(source, target):
        raise SameAsSource(str(target))
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
            # The copy is standalone: no WAL beside it, so one file is the whole backup.
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
            rows = sum(int(dst.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
                       for (name,) in dst.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        finally:
            dst.close()
    finally:
        src.close()
    partial.replace(target)
    return Copied(source.name, target, target.stat().st_size, rows)


def backup(settings: Settings, folder: Path) -> tuple[list[Copied], list[str]]:
    """Copy every store that exists into `folder`; returns what was copied and what was absent.
    SameAsSource, before anything is written, when `folder` is the data dir or holds a store itself
    (a link to it)."""
    if folder.resolve() == settings.data_dir.resolve() or any(
            _same_file(settings.data_dir / name, folder / name) for name in STORES):
        raise SameAsSource(str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    copied, missing = [], []
    for name in STORES:
        source = settings.data_dir / name
        if source.exists():
            copied.append(backup_store(source, folder / name))
        else:
            missing.append(name)
    return copied, missing
