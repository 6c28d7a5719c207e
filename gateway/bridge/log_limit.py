"""Rate-limited warnings: one line per reason per interval, with counts, however fast the reason recurs.

A flood of bad input (frames with a bad MIC, malformed datagrams) must not turn
into a flood of log lines: the log would grow faster than the input and the
disk, not the attacker, would pay. The first event of a reason is logged in
full at once, as before; the others in the next `interval_s` are only counted,
and when the interval ends one summary line says how many there were:

    rejected reason=bad_mic count=460800 in the last 10 s (first: gateway=... detail=...)

Keys must come from a small fixed set (reasons, event names), never from the
input itself (an address, a gateway EUI): each key holds a little state.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass

INTERVAL_S = 10.0


@dataclass
class _Window:
    start: float
    level: int
    fmt: str  # the first event's fields, formatted only when a line is written
    args: tuple[object, ...]
    count: int = 1


class LogLimit:
    """Per-key rate limit for one logger; thread-safe. close() writes what is still pending."""

    def __init__(self, logger: logging.Logger, interval_s: float = INTERVAL_S) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        _live.add(self)

    def warning(self, key: str, fmt: str, *args: object) -> None:
        self.log(logging.WARNING, key, fmt, *args)

    def log(self, level: int, key: str, fmt: str, *args: object) -> None:
        """Write `key fields` now if key is quiet, else count it for the summary; fmt and args are the fields."""
        if not self.logger.isEnabledFor(level):
            return
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.start < self.interval_s:
                window.count += 1
                if window.count == 2:
                    self._arm(now)
                return
            ended = window if window is not None and window.count > 1 else None
            self._windows[key] = _Window(now, level, fmt, args)
        if ended is not None:  # its timer has not fired yet: summarise it before the new window's first line
            self._summarise(key, ended, now)
        self.logger.log(level, "%s " + fmt, key, *args)

    def flush(self) -> None:
        """Write the summary of every interval with counted events, ended or not."""
        self._flush(due_only=False)

    def close(self) -> None:
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join()  # a cancelled timer's thread still has to notice: gone when close() returns
        self.flush()

    def _flush(self, due_only: bool) -> None:
        now = time.monotonic()
        with self._lock:
            ended = {
                key: w
                for key, w in self._windows.items()
                if w.count > 1 and (not due_only or now - w.start >= self.interval_s)
            }
            for key in ended:
                del self._windows[key]  # the next event starts a new interval, logged in full
        for key, window in ended.items():
            self._summarise(key, window, now)

    def _summarise(self, key: str, w: _Window, now: float) -> None:
        # Flushed at stop, an interval may be cut short: say how long it really was.
        seconds = round(max(0.1, min(now - w.start, self.interval_s)), 1)
        self.logger.log(w.level, "%s count=%d in the last %g s (first: " + w.fmt + ")", key, w.count, seconds, *w.args)

    def _arm(self, now: float) -> None:
        """With the lock held: make sure a timer will write the summaries of intervals with counted events."""
        if self._timer is not None:
            return
        due = min(w.start for w in self._windows.values() if w.count > 1) + self.interval_s
        # A daemon timer: a pending summary must never hold up the process at exit (atexit writes it instead).
        self._timer = threading.Timer(max(0.0, due - now), self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
        self._flush(due_only=True)
        with self._lock:
            if self._timer is None and any(w.count > 1 for w in self._windows.values()):
                self._arm(time.monotonic())


# Summaries still pending when the process exits are written then, before logging shuts down
# (logging registered its own atexit handler first, so it runs after this one).
_live: weakref.WeakSet[LogLimit] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for limit in list(_live):
        limit.close()
