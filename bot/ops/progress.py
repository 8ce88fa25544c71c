"""Progress of long command-line work (`ingest`, `reindex`, `start`, `digest`).

Library code (articles.ingest, index.maintenance, index.bulk, bot.digests.broadcast) only calls an optional
`progress(done, total)` callback; this module turns those calls into what the operator sees:

- on a terminal, a tqdm bar with counts, rate and ETA;
- elsewhere (CI, cron, systemd's journal) a plain line at every 10 % and at least every
  `every` seconds while something moves, so a log shows the work is alive without flooding it;
- with `--quiet`, nothing.

Output goes to stderr, so `--json` on stdout stays machine-readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from bantin.bot.ops.messages import Messages

Progress = Callable[[int, int], None]

#: Plain mode: a line at each of these fractions of the work …
STEP_PERCENT = 10
#: … and at least this often (seconds) while the count moves …
EVERY_SECONDS = 30.0
#: … but nothing for work that is over this quickly: the summary says it all.
QUIET_SECONDS = 2.0


class Reporter:
    """One phase's progress callback. Use as a context manager so the bar is closed (and the
    plain mode's final line printed) even when the work fails."""

    def __init__(self, label: str, messages: Messages, *, unit: str, quiet: bool = False,
                 out: TextIO | None = None, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, every: float = EVERY_SECONDS) -> None:
        self.label = label
        self.messages = messages
        self.unit = unit
        self.quiet = quiet
        self.out = out if out is not None else sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.clock = clock
        self.every = every
        self.started = clock()
        self.done = 0
        self.total = 0
        self._bar: Any = None
        self._last_step = 0
        self._last_line = self.started
        self._printed = False

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        self.done, self.total = done, total
        if self.tty:
            self._draw(done, total)
        else:
            self._line(done, total)

    def _draw(self, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            bytes_unit = self.unit == "B"
            self._bar = tqdm(total=total or None, desc=self.label, unit=self.unit, file=self.out,
                             unit_scale=bytes_unit, unit_divisor=1024 if bytes_unit else 1000,
                             dynamic_ncols=True, leave=True)
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(max(0, done - self._bar.n))

    def _line(self, done: int, total: int) -> None:
        if total <= 0:
            return
        step = min(100, done * 100 // total) // STEP_PERCENT
        now = self.clock()
        due = now - self._last_line >= self.every
        if (step <= self._last_step and not due) or now - self.started < QUIET_SECONDS:
            return
        self._last_step = max(self._last_step, step)
        self._last_line = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 and done else 0.0
        eta = round((total - done) / rate) if rate and done < total else None
        percent = min(100, done * 100 // total)
        print(self.messages.say("progress_line", self.label, done, total, percent, rate, eta, self.unit),
              file=self.out, flush=True)
        self._printed = True

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._printed and self._last_step < 100 // STEP_PERCENT:
            print(self.messages.say("progress_done", self.label, self.clock() - self.started),
                  file=self.out, flush=True)
            self._last_step = 100 // STEP_PERCENT

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
