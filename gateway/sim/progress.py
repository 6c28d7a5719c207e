"""The progress line of a long simulation (`akker sim`): simulated days done, frames, and the wall time left.

It goes to stderr, so stdout keeps only what a script reads (the summary table). On a terminal one line
is rewritten in place (\\r) at most every `every_s`; anywhere else (a log, CI, `make demo | tee`) it
prints whole lines, one as each tenth of the run is passed and otherwise at most one per
`plain_every_s`, so that a long log stays short. A run that reaches its end always gets a last line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

DAY_S = 86_400


class Progress:
    """Fed (simulated seconds reached, frames so far) by the run; prints when a line is due."""

    def __init__(
        self,
        total_s: float,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
        every_s: float = 2.0,
        plain_every_s: float = 30.0,
    ) -> None:
        self.total_s = total_s
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s
        self.plain_every_s = plain_every_s
        self._start: tuple[float, float] | None = None  # (wall, simulated) seconds at the first update
        self._sim_s = 0.0
        self._last_wall = 0.0  # when the last line was printed
        self._last_tenth = 0
        self._width = 0  # of the line on the terminal now, so a shorter one covers it
        self._open = False  # a terminal line without its newline yet
        self._finished = False

    def __call__(self, sim_s: float, frames: int) -> None:
        self.update(sim_s, frames)

    def update(self, sim_s: float, frames: int) -> None:
        if self._finished:
            return
        now = self.clock()
        # Never backwards: the lockstep's floors can step back a little, rarely (docs/simulator.md).
        self._sim_s = sim_s = min(max(sim_s, self._sim_s), self.total_s)
        if self._start is None:  # the baseline: from here on, lines and estimates
            self._start = (now, sim_s)
            self._last_wall, self._last_tenth = now, int(10 * sim_s / self.total_s)
        if sim_s >= self.total_s * (1 - 1e-9):  # the run's own end, give or take a float's rounding
            self._finished = True
            self._write(self.line(sim_s, frames, now), end="\n")
            return
        tenth = int(10 * sim_s / self.total_s)
        if self.tty:
            due = now - self._last_wall >= self.every_s
        else:
            due = tenth > self._last_tenth or now - self._last_wall >= self.plain_every_s
        if due:
            self._last_wall, self._last_tenth = now, tenth
            self._write(self.line(sim_s, frames, now), end="" if self.tty else "\n")

    def line(self, sim_s: float, frames: int, now: float) -> str:
        total_d = self.total_s / DAY_S
        if sim_s >= self.total_s * (1 - 1e-9):
            day, pct = f"{total_d:g}", 100
        else:
            day, pct = f"{sim_s / DAY_S:.{1 if total_d >= 1 else 2}f}", int(100 * sim_s / self.total_s)
        count = f"{frames:,}".replace(",", " ")  # 1 234: grouped by a space (SI), which reads the same in any locale
        text = f"sim: day {day} of {total_d:g} ({pct} %), {count} frame{'' if frames == 1 else 's'}"
        w0, s0 = self._start or (now, sim_s)
        if pct == 100:
            return f"{text}, done in {duration(now - w0)}"
        if sim_s > s0:
            return f"{text}, {duration((now - w0) / (sim_s - s0) * (self.total_s - sim_s))} left"
        return text

    def close(self) -> None:
        """End a terminal line left open (the run failed midway), so what is printed next starts on its own."""
        if self._open:
            self._emit("\n")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _write(self, text: str, end: str) -> None:
        if self.tty:
            pad = " " * max(0, self._width - len(text))
            self._width = 0 if end else len(text)
            self._open = not end
            self._emit(f"\r{text}{pad}{end}")
        else:
            self._emit(text + end)

    def _emit(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: a progress line must not stop the run
            self._finished = True
            self._open = False


def duration(seconds: float) -> str:
    """12 s, 1 min 10 s, 2 h 5 min: as exact as a person reading an estimate needs."""
    s = round(seconds)
    if s < 1:
        return "under 1 s"
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s} s"
    h, m = divmod(m, 60)
    return f"{h} h {m} min"
