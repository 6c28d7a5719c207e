"""The bridge's pipeline: every frame a source submits, stored before it is acknowledged.

Sources submit UplinkFrames; one thread takes them in batches and runs each
batch through the stages (gateway/bridge/stages.py: check, deduplicate,
decrypt, decode, derive, store) inside one SQLite transaction, commits, and
only then tells the sources (so a gateway's PUSH_ACK means "stored") and wakes
the delivery workers. A batch the store refuses (disk full, read-only, locked)
is retried, never acknowledged, until it is stored or the bridge stops.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.bridge import store, store_faults, uplink
from gateway.bridge.frame import FrameQueue, UplinkFrame
from gateway.bridge.health import Health
from gateway.bridge.stages import DEDUP_WINDOW_S, Stages

log = logging.getLogger("akker.pipeline")


class _Episode:
    """One stretch of the store refusing batches: logged when it starts, reminded, and when it ends."""

    REMIND_S = 60.0

    def __init__(self, fault: store_faults.StoreFault) -> None:
        self.fault = fault
        self.since = time.monotonic()
        self.since_wall = time.time()
        self._reminded = self.since

    def remind_due(self) -> bool:
        if time.monotonic() - self._reminded < self.REMIND_S:
            return False
        self._reminded = time.monotonic()
        return True


def _nothing() -> None:
    """The on_done of an empty batch: it only carries what is written with every batch."""


@dataclass
class _Batch:
    frames: list[UplinkFrame] = field(default_factory=list)
    done: list[Callable[[], None]] = field(default_factory=list)


class Pipeline:
    """The Intake every source submits to."""

    def __init__(
        self,
        db_path: Path,
        sinks: Sequence[str],
        dedup_window_s: float = DEDUP_WINDOW_S,
        queue_size: int = 1024,
        batch_size: int = 256,
        on_commit: Callable[[], None] | None = None,
        on_fatal: Callable[[str], None] | None = None,
        health: Health | None = None,
    ) -> None:
        self.db_path = db_path
        self.sinks = list(sinks)
        self.stages = Stages(sinks, dedup_window_s)
        self.batch_size = batch_size
        self.on_commit = on_commit
        # Bounded in bytes: a full queue makes submit wait, so a flood backs up into the kernel's socket
        # buffer (and is dropped there, unacknowledged) instead of into our memory.
        self._queue = FrameQueue(max_items=queue_size)
        self._counts: dict[str, int] = {}
        self._boards: dict[str, tuple[int, int]] = {}  # gateway boards' radios from their PONGs, not yet written
        self._counts_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._writer: store.Writer | None = None
        self._stopping = threading.Event()
        self.given_up = 0  # frames the store refused while stopping: not stored, not acknowledged
        self.on_fatal = on_fatal
        self.health = health
        # Told every committed batch and its outcomes, on this thread: the network answers from it
        # (gateway/network/service.py). Whatever it raises is logged; it never costs the batch.
        self.on_batch: Callable[[Sequence[UplinkFrame], Sequence[str]], None] | None = None

    def registry_changed(self) -> None:
        """Call on the pipeline's thread (from on_batch): a session the registry just got is used at once."""
        self.stages.registry_changed()

    # -------------------------------------------------------------- Intake

    def submit(self, frames: Sequence[UplinkFrame], on_done: Callable[[], None] | None = None) -> None:
        self._queue.put((frames, on_done))

    def count(self, counter: str, n: int = 1) -> None:
        with self._counts_lock:
            self._counts[counter] = self._counts.get(counter, 0) + n

    def note_board(self, gateway: str, freq_khz: int, sf: int) -> None:
        """Written with the next batch; an empty one is queued so that it is written now."""
        with self._counts_lock:
            self._boards[gateway] = (freq_khz, sf)
        self.submit([], _nothing)

    # -------------------------------------------------------------- running

    def open(self) -> None:
        """Connect to the store; start() does it too. Separate so that tests can run process() directly."""
        if self._writer is None:
            self._writer = store.Writer(store.connect(self.db_path))
            self.stages.load_nodes(self._writer)

    def start(self) -> None:
        self.open()
        self._thread = threading.Thread(target=self._run, name="akker-pipeline", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """From now on a batch the store refuses is given up (not acknowledged) instead of retried."""
        self._stopping.set()

    def stop(self) -> None:
        """Process everything already submitted, then stop. Sources must be stopped first."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.stages.rejections.close()  # pending summaries come out before the bridge's last line
        self.flush_counts()
        if self._writer is not None:
            self._writer.db.close()
            self._writer = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch = _Batch()
            while item is not None:
                frames, done = item
                batch.frames.extend(frames)
                if done is not None:
                    batch.done.append(done)
                if len(batch.frames) >= self.batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            else:
                stopping = True
            if batch.frames or batch.done:
                if not self._process_until_stored(batch.frames):
                    continue  # given up: never acknowledged
                for done in batch.done:
                    try:
                        done()
                    except Exception:  # a source's acknowledgement failing must not stop the pipeline
                        log.exception("source acknowledgement failed")

    def _process_until_stored(self, frames: Sequence[UplinkFrame]) -> bool:
        """Retry a batch the store refused (disk full, a lock held too long) until it is stored or we stop.

        True once stored; False when given up (stopping, or a damaged store): those frames are never
        acknowledged. One error line per episode, a reminder a minute, one line when the store is back.
        """
        delay = 0.1
        episode: _Episode | None = None
        while True:
            if self.given_up and self._stopping.is_set():
                self.given_up += len(frames)  # the store already failed during this stop: try no more
                return False
            try:
                self.process(frames)
            except sqlite3.Error as err:
                fault = store_faults.classify(err, self.db_path)
                if episode is None or episode.fault.kind != fault.kind or episode.remind_due():
                    episode = episode or _Episode(fault)
                    episode.fault = fault
                    log.error(
                        "store_failed %s: %d frames waiting, nothing acknowledged: %s (detail=%r)",
                        fault.words, self._waiting(frames), fault.advice, str(err),
                    )  # fmt: skip
                    if self.health is not None:
                        self.health.set("store", "failing", fault.words, since=episode.since_wall)
                if fault.lasting or self._stopping.is_set():
                    log.error("store_gave_up %s: %d frames not stored and not acknowledged", fault.words, len(frames))
                    self.given_up += len(frames)
                    if fault.lasting and self.on_fatal is not None:
                        self.on_fatal(f"{fault.words}: {fault.advice}")
                    return False
                self._stopping.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if episode is not None:
                log.warning(
                    "store back after %.0f s: %d frames stored and acknowledged",
                    time.monotonic() - episode.since, len(frames),
                )  # fmt: skip
                if self.health is not None:
                    self.health.set("store", "ok")
            return True

    def _waiting(self, frames: Sequence[UplinkFrame]) -> int:
        return len(frames) + sum(len(item[0]) for item in list(self._queue.queue) if item is not None)

    def flush_counts(self) -> None:
        if self._writer is None:
            return
        with self._counts_lock:
            counts, self._counts = self._counts, {}
        if counts:
            w = self._writer
            try:
                w.begin()
                w.add_counters(counts)
                w.commit()
            except sqlite3.Error as err:  # counters only: never worth failing a stop for
                if w.db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        w.rollback()
                log.warning("counters_not_saved detail=%r", str(err))

    def process(self, frames: Sequence[UplinkFrame]) -> list[str]:
        """Run frames through every stage in one transaction; return each one's outcome (a counter name)."""
        self.open()
        w = self._writer
        assert w is not None
        counts: dict[str, int] = {}
        with self._counts_lock:
            sources, self._counts = self._counts, {}
            boards, self._boards = self._boards, {}
        try:
            w.begin()
            for gateway, (freq_khz, sf) in boards.items():
                self.stages.gateways.note_board(w.db, gateway, freq_khz, sf, UplinkFrame.now())
            outcomes = self.stages.run(w, frames)
            for outcome in outcomes:
                counts["received"] = counts.get("received", 0) + 1
                counts[outcome] = counts.get(outcome, 0) + 1
            for k, v in sources.items():
                counts[k] = counts.get(k, 0) + v
            w.add_counters(counts)
            w.commit()
        except BaseException:
            # SQLite may have rolled back already (a full disk does): a second ROLLBACK would raise
            # and hide the error that matters. Nothing of this batch may stay in memory.
            if w.db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    w.rollback()
            self.stages.aborted()
            self.count_all(sources)
            with self._counts_lock:
                self._boards = {**boards, **self._boards}
            raise
        self.stages.committed()
        if self.on_commit is not None and uplink.ACCEPTED in outcomes:
            self.on_commit()
        if self.on_batch is not None:
            try:
                self.on_batch(frames, outcomes)
            except Exception:  # a downlink is worth less than the bridge
                log.exception("on_batch_failed frames=%d", len(frames))
        return outcomes

    def count_all(self, counts: dict[str, int]) -> None:
        with self._counts_lock:
            for k, v in counts.items():
                self._counts[k] = self._counts.get(k, 0) + v
