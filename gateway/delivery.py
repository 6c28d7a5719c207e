"""One delivery worker per sink: reads its outbox in small batches and retries with backoff.

The store is the queue: a worker keeps at most one batch in memory whatever the
backlog, resumes after a restart from what its sink has not confirmed, and a
sink that is down delays only its own worker.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from gateway import store
from gateway.sinks import Sink, SinkDown

log = logging.getLogger("akker.delivery")

BATCH = 100  # records in memory per sink, at most
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
_IDLE_POLL_S = 1.0  # also look at the outbox this often without a wake-up (records of an earlier run)


class Worker:
    def __init__(self, sink: Sink, db_path: Path, batch: int = BATCH) -> None:
        self.sink = sink
        self.db_path = db_path
        self.batch = batch
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._deadline = float("inf")

    def start(self) -> None:
        self.sink.on_ready = self._sink_ready
        self.sink.start()
        self._thread = threading.Thread(target=self._run, name=f"akker-deliver-{self.sink.name}", daemon=True)
        self._thread.start()

    def _sink_ready(self) -> None:
        self._ready.set()
        self._wake.set()

    def wake(self) -> None:
        """New records are committed: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, drain_s: float = 5.0) -> None:
        """Deliver what is pending for up to drain_s, then stop; the rest stays in the outbox."""
        if self._thread is not None:
            self._deadline = time.monotonic() + drain_s
            self._stopping.set()
            self._wake.set()
            self._thread.join()
            self._thread = None
        self.sink.stop()

    def _run(self) -> None:
        outbox = store.Outbox(store.connect(self.db_path), self.sink.name)
        backoff = BACKOFF_FIRST_S
        down_logged = False
        try:
            while True:
                self._wake.clear()
                if self._stopping.is_set() and time.monotonic() > self._deadline:
                    return  # the rest waits in the outbox for the next run
                records = outbox.pending(0, self.batch)
                if not records:
                    if self._stopping.is_set():
                        return
                    self._wake.wait(_IDLE_POLL_S)
                    continue
                try:
                    confirmed = list(self.sink.deliver(records))
                except SinkDown as err:
                    confirmed = []
                    if not down_logged:
                        log.warning("sink=%s down: %s; records stay in the outbox, retrying", self.sink.name, err)
                        down_logged = True
                except Exception:  # a sink's bug must not end delivery for good
                    confirmed = []
                    log.exception("sink=%s failed", self.sink.name)
                outbox.confirm(confirmed)
                if len(confirmed) == len(records):
                    if down_logged:
                        log.info("sink=%s back: delivering again", self.sink.name)
                        down_logged = False
                    backoff = BACKOFF_FIRST_S
                    continue
                if self._stopping.is_set():
                    return  # the rest waits in the outbox for the next run
                self._wake.wait(backoff)
                if self._ready.is_set():  # the sink said it is back: retry now, from the shortest backoff
                    self._ready.clear()
                    backoff = BACKOFF_FIRST_S
                else:
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
        finally:
            outbox.db.close()
