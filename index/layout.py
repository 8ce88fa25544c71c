"""Where an index lives on disk, and the pointer that makes a rebuild's swap atomic.

    <index_root>/
        current         "gen-000004": the live generation (replaced with os.replace)
        gen-000004/     a Whoosh index, plus bantin.json (store revision, schema version)
        gen-000003/     the previous generation, kept until the next rebuild for old readers
        .lock           held (flock) by whoever writes, so writers take turns

A rebuild writes a new `gen-N` beside the live one and only then replaces `current`, so a search
never sees a half-built index and a killed rebuild leaves the old one in place.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

POINTER = "current"
META = "bantin.json"
LOCK = ".lock"
_GENERATION = re.compile(r"gen-(\d{6,})")


@dataclass(frozen=True)
class IndexMeta:
    """What an index generation knows about itself, written after each commit."""

    rev: int
    schema_version: int

    def to_json(self) -> dict[str, int]:
        return {"rev": self.rev, "schema_version": self.schema_version}


def generation_name(number: int) -> str:
    return f"gen-{number:06d}"


def generation_number(path: Path) -> int | None:
    match = _GENERATION.fullmatch(path.name)
    return int(match.group(1)) if match else None


def generations(index_root: Path) -> list[Path]:
    """Every generation directory, oldest first."""
    try:
        entries = list(index_root.iterdir())
    except OSError:
        return []
    found = [(n, p) for p in entries if p.is_dir() and (n := generation_number(p)) is not None]
    return [p for _, p in sorted(found)]


def current_generation(index_root: Path) -> Path | None:
    """The live generation directory, or None when there is no (complete) index."""
    try:
        name = (index_root / POINTER).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    path = index_root / name
    if not _GENERATION.fullmatch(name) or not (path / META).is_file():
        return None
    return path


def pointer_stamp(index_root: Path) -> tuple[int, int] | None:
    """Cheap change detector for the pointer: os.replace gives the file a new inode."""
    try:
        st = os.stat(index_root / POINTER)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def set_current(index_root: Path, generation: Path) -> None:
    """Atomically make `generation` the live index (write a temp file, fsync, rename)."""
    tmp = index_root / f".{POINTER}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(generation.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, index_root / POINTER)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. a full disk: the old pointer stays, and no litter
        raise
    _fsync_dir(index_root)


def read_meta(generation: Path) -> IndexMeta | None:
    try:
        data = json.loads((generation / META).read_text(encoding="utf-8"))
        return IndexMeta(rev=int(data["rev"]), schema_version=int(data["schema_version"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_meta(generation: Path, meta: IndexMeta) -> None:
    """Atomically record the store revision the generation has caught up to."""
    tmp = generation / f".{META}.tmp"
    tmp.write_text(json.dumps(meta.to_json()), encoding="utf-8")
    os.replace(tmp, generation / META)


def dir_size(path: Path) -> int:
    total = 0
    for entry in os.scandir(path):
        try:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
