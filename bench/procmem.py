"""Memory and CPU of a process tree, read from /proc (Linux), for the benchmarks.

PSS, not RSS: RSS counts a shared page once per process that maps it, so a bot with search
workers (or a build with forked workers) would look several times its real footprint.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def parse_rollup_kb(smaps_rollup: str) -> dict[str, int]:
    """Every `Name: N kB` figure of a /proc/<pid>/smaps_rollup text (Rss, Pss, Pss_Anon, Pss_File…)."""
    return {name: int(kb) for name, kb in re.findall(r"^(\w+):\s+(\d+)\s+kB", smaps_rollup, re.MULTILINE)}


def parse_pss_kb(smaps_rollup: str) -> int:
    """The `Pss:` figure (KiB) of a /proc/<pid>/smaps_rollup text; 0 when absent."""
    return parse_rollup_kb(smaps_rollup).get("Pss", 0)


def breakdown(pids: Iterable[int]) -> list[dict[str, Any]]:
    """Per process: its command line (shortened) and PSS split into anonymous memory (decoded
    Python objects) and file pages (the index's files mapped or read), in MB: where memory goes."""
    out: list[dict[str, Any]] = []
    for pid in pids:
        try:
            figures = parse_rollup_kb(Path(f"/proc/{pid}/smaps_rollup").read_text())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append({"pid": pid, "command": command.strip()[:100], "pss_mb": figures.get("Pss", 0) / 1024,
                    "anon_mb": figures.get("Pss_Anon", 0) / 1024, "file_mb": figures.get("Pss_File", 0) / 1024})
    return out


def descendants(root: int, parents: dict[int, int]) -> list[int]:
    """Every process below `root` in a pid → parent pid map (not `root` itself)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def _parent_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields after the last ')' are fixed
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def tree(root: int, *, include_root: bool = True) -> list[int]:
    return ([root] if include_root else []) + descendants(root, _parent_map())


def pss_mb(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):  # ended between the listing and the read
            total += parse_pss_kb(Path(f"/proc/{pid}/smaps_rollup").read_text())
    return total / 1024


def cpu_seconds(pids: Iterable[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class PeakPss:
    """Samples the total PSS of this process's descendants in a thread; `peak` is the largest."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, pss_mb(tree(os.getpid(), include_root=False)))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
