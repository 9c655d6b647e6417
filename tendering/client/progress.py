"""A minimal progress bar on stderr.

On a terminal: one line redrawn at most ten times a second (bar, percentage,
MiB (or items) done of total, speed, time left). Elsewhere (a pipe, a log file, a CI
job): nothing until the end, then one line with the size, time and speed.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

MiB = 1024 * 1024


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """``update(done)`` as work advances, ``finish()`` at the end; ``start`` counts work done before.

    Work is bytes, shown in MiB, unless ``unit`` names what is counted (e.g. ``"bids"``).
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        start: int = 0,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        unit: str | None = None,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = max(total, 0)
        self.start = start
        self.done = start
        self.stream = stream if stream is not None else sys.stderr
        self.bar = self.stream.isatty() if enabled is None else enabled
        self.clock = clock
        self.began = clock()
        self._drawn = 0.0
        self._finished = False

    def update(self, done: int) -> None:
        self.done = done
        if not self.bar:
            return
        now = self.clock()
        if now - self._drawn < 0.1 and done < self.total:
            return
        self._drawn = now
        self.stream.write("\r" + self.line(now))
        self.stream.flush()

    def advance(self, count: int) -> None:
        self.update(self.done + count)

    def rate(self, now: float) -> float:
        elapsed = now - self.began
        return (self.done - self.start) / elapsed if elapsed > 0 else 0.0

    def line(self, now: float) -> str:
        fraction = self.done / self.total if self.total else 1.0
        rate = self.rate(now)
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        if self.unit:
            amount = f"{self.done:,}/{self.total:,} {self.unit} {rate:,.1f} {self.unit}/s"
        else:
            amount = f"{self.done / MiB:,.1f}/{self.total / MiB:,.1f} MiB {rate / MiB:,.1f} MiB/s"
        text = f" {fraction * 100:5.1f}% {amount} {_duration(left)} left"
        columns = shutil.get_terminal_size((80, 24)).columns
        width = max(10, min(40, columns - len(self.label) - len(text) - 4))
        filled = int(width * min(fraction, 1.0))
        return f"{self.label} [{'#' * filled}{'.' * (width - filled)}]{text}"[: columns - 1]

    def finish(self, message: str = "") -> None:
        if self._finished:
            return
        self._finished = True
        now = self.clock()
        elapsed = now - self.began
        if self.unit:
            summary = (
                f"{self.label}: {self.done - self.start:,} {self.unit} in {elapsed:.1f} s "
                f"({self.rate(now):,.1f} {self.unit}/s)"
            )
        else:
            summary = (
                f"{self.label}: {(self.done - self.start) / MiB:,.1f} MiB in {elapsed:.1f} s "
                f"({self.rate(now) / MiB:,.1f} MiB/s)"
            )
        if message:
            summary += f"; {message}"
        if self.bar:
            self.stream.write("\r\033[K")
        self.stream.write(summary + "\n")
        self.stream.flush()

    def abandon(self) -> None:
        """End the bar's line without a summary (an error follows)."""
        if self.bar and not self._finished:
            self.stream.write("\n")
            self.stream.flush()
        self._finished = True
