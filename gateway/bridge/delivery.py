"""One delivery worker per sink: reads its outbox in small batches and retries with backoff.

The store is the queue: a worker keeps at most one batch in memory whatever the
backlog, resumes after a restart from what its sink has not confirmed, and a
sink that is down delays only its own worker.

A sink that is down is told at once (when a delivery fails, or when the sink
itself finds out: a broker that does not answer at start), then reminded of at
most twice per REMIND_S while it lasts, and its return in one line.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from pathlib import Path

from gateway.bridge import store, store_faults
from gateway.bridge.health import Health
from gateway.bridge.log_limit import LogLimit
from gateway.bridge.sinks import Sink, SinkDown

log = logging.getLogger("akker.delivery")

BATCH = 100  # records in memory per sink, at most
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
_IDLE_POLL_S = 1.0  # also look at the outbox this often without a wake-up (records of an earlier run)
# A sink down for hours (a broker switched off) is retried every 30 s: one line per try would bury the rest.
REMIND_S = 300.0


class Worker:
    def __init__(
        self, sink: Sink, db_path: Path, batch: int = BATCH, health: Health | None = None, remind_s: float = REMIND_S
    ) -> None:
        self.sink = sink
        self.health = health
        self.db_path = db_path
        self.batch = batch
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._deadline = float("inf")
        self._stall = _Stall(sink.name, health, remind_s)

    def start(self) -> None:
        self.sink.on_ready = self._sink_ready
        self.sink.on_down = self._stall.sink_down  # may be called on the sink's own thread
        self.sink.start()
        self._thread = threading.Thread(target=self._run, name=f"akker-deliver-{self.sink.name}", daemon=True)
        self._thread.start()

    def _sink_ready(self) -> None:
        self._stall.sink_ok()  # told now, even with nothing waiting to go
        self._ready.set()
        self._wake.set()

    def wake(self) -> None:
        """New records are committed: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, drain_s: float = 5.0) -> None:
        """Deliver what is pending for up to drain_s, then stop; the rest stays in the outbox."""
        self.begin_stop(time.monotonic() + drain_s)
        self.finish_stop(time.monotonic() + drain_s + 1.0)

    def begin_stop(self, drain_until: float) -> None:
        """Deliver until drain_until (time.monotonic()), then end: the bridge tells every worker at once."""
        self._deadline = drain_until
        self._stopping.set()
        self._wake.set()

    def finish_stop(self, until: float) -> None:
        """Wait for the worker until `until` at most, then close the sink.

        A delivery still waiting on its far end then (a broker's PUBACKs) is left to its own timeout
        in a daemon thread: what it did not confirm is in the outbox for the next run.
        """
        if self._thread is not None:
            self._thread.join(max(0.0, until - time.monotonic()))
            self._thread = None
        self.sink.stop()
        self._stall.close()

    def _run(self) -> None:
        outbox: store.Outbox | None = None
        backoff = BACKOFF_FIRST_S
        stall = self._stall
        unmarked: list[int] = []  # delivered, not yet marked in the outbox: marked before anything is offered again
        try:
            while True:
                self._wake.clear()
                if self._stopping.is_set() and time.monotonic() > self._deadline:
                    return  # the rest waits in the outbox for the next run
                try:  # every store error is retried: a worker that dies stops its sink for good
                    if outbox is None:
                        outbox = store.Outbox(store.connect(self.db_path), self.sink.name)
                    outbox.confirm(unmarked)
                    unmarked = []
                    records = outbox.pending(0, self.batch)
                except sqlite3.Error as err:
                    stall.store_failed(err, self.db_path)
                else:
                    stall.store_ok()
                    if not records:
                        if self._stopping.is_set():
                            return
                        self._wake.wait(_IDLE_POLL_S)
                        continue
                    unmarked = self._offer(records, stall)
                    if len(unmarked) == len(records):
                        backoff = BACKOFF_FIRST_S
                        continue  # marked at the top of the loop, with the next batch read
                if self._stopping.is_set():
                    if outbox is not None and unmarked:
                        with contextlib.suppress(sqlite3.Error):  # else they go out again next run
                            outbox.confirm(unmarked)
                    return  # the rest waits in the outbox for the next run
                backoff = self._back_off(backoff)
        finally:
            if outbox is not None:
                outbox.db.close()

    def _offer(self, records: list[store.Record], stall: _Stall) -> list[int]:
        """The ids of the records the sink confirmed (a prefix of them, or all)."""
        try:
            confirmed = list(self.sink.deliver(records))
        except SinkDown as err:
            stall.sink_down(str(err))
            return []
        except Exception:  # a sink's bug must not end delivery for good
            log.exception("sink=%s failed", self.sink.name)
            stall.sink_down("internal error: see the bridge's log")
            return []
        if len(confirmed) == len(records):
            stall.sink_ok()
        return confirmed

    def _back_off(self, backoff: float) -> float:
        """Wait, then the next wait: the shortest again if the sink said it is back, else twice as long."""
        self._wake.wait(backoff)
        if self._ready.is_set():
            self._ready.clear()
            return BACKOFF_FIRST_S
        return min(backoff * 2, BACKOFF_MAX_S)


class _Stall:
    """A worker's trouble: in the log when it starts, reminded while it lasts, all along in the health file.

    Thread-safe: a sink that finds out by itself that it is down tells it on its own thread.
    """

    def __init__(self, sink: str, health: Health | None, remind_s: float = REMIND_S) -> None:
        self.sink = sink
        self.health = health
        self._store: str | None = None  # the store fault's words while the outbox cannot be read
        self._down: str | None = None
        self._down_at = 0.0  # time.monotonic() when the sink went down
        self._since = 0.0
        self._lock = threading.Lock()
        # Every failed try counts; the first of each interval is written in full, the others summed up.
        self._reminders = LogLimit(log, remind_s)

    def store_failed(self, err: sqlite3.Error, db_path: Path) -> None:
        fault = store_faults.classify(err, db_path)
        with self._lock:
            if self._store == fault.words:
                return
            self._store = fault.words
            self._report()
        log.error("sink=%s stalled: %s (%s): %s; retrying", self.sink, fault.words, err, fault.advice)

    def store_ok(self) -> None:
        with self._lock:
            if self._store is None:
                return
            self._store = None
            self._report()
        log.warning("sink=%s outbox readable again: delivering", self.sink)

    def sink_down(self, why: str) -> None:
        with self._lock:
            if self._down is None:
                self._down_at = time.monotonic()
            if self._down != why:
                self._down = why
                self._report()
        self._reminders.warning(f"sink={self.sink} down:", "%s; records are kept and delivered when it is back", why)

    def sink_ok(self) -> None:
        with self._lock:
            if self._down is None:
                return
            self._down = None
            lasted = time.monotonic() - self._down_at
            self._report()
        self._reminders.flush()  # a reminder still due comes before the news that it is over
        log.warning("sink=%s back after %.0f s: delivering what waits in the outbox", self.sink, lasted)

    def close(self) -> None:
        self._reminders.close()

    def _report(self) -> None:
        """With the lock held: the health file says what the state now is."""
        troubled = self._store is not None or self._down is not None
        if troubled and not self._since:
            self._since = time.time()
        elif not troubled:
            self._since = 0.0
        if self.health is None:
            return
        if self._store is not None:
            self.health.set(f"sink:{self.sink}", "stalled", f"outbox: {self._store}", self._since)
        elif self._down is not None:
            self.health.set(f"sink:{self.sink}", "stalled", self._down, self._since)
        else:
            self.health.set(f"sink:{self.sink}", "ok")
