"""The bridge's pipeline: check, deduplicate, decrypt, decode, derive and store every frame.

Sources submit UplinkFrames; one thread takes them in batches and runs each
through the stages below inside one SQLite transaction, commits, and only then
tells the sources (so a gateway's PUSH_ACK means "stored") and wakes the
delivery workers. Stages, in order, each a counted rejection when it fails:

1. the radio's CRC (bad_crc)
2. deduplication: the same PHYPayload within the window merges its reception
   into the stored record; outside it, it is an old frame sent again (replay)
3. LoRaWAN data-frame syntax (malformed)
4. the node, by DevAddr, in the registry (unknown_dev_addr)
5. the MIC and the 32-bit frame counter (bad_mic, replay)
6. decryption and payload_codec.decode_uplink (codec_error: the authentic
   frame is stored with its error, never delivered)
7. derived values (catches since the previous report), then the record and an
   outbox row per sink.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gateway.bridge import derive, store, store_faults, uplink
from gateway.bridge.frame import FrameQueue, UplinkFrame, add_reception, iso_utc
from gateway.bridge.health import Health
from gateway.bridge.log_limit import LogLimit
from gateway.bridge.registry import Node, Registry
from gateway.bridge.uplink import Refused

log = logging.getLogger("akker.pipeline")

DEDUP_WINDOW_S = 2.0  # receptions of one frame by several gateways arrive within this of each other
_RECENT = 4096  # PHYPayloads remembered in memory for deduplication (the store answers beyond)
_NODE_RELOAD_S = 1.0  # at most this often, an unknown DevAddr reloads the registry (nodes added while running)


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


@dataclass
class _Batch:
    frames: list[UplinkFrame] = field(default_factory=list)
    done: list[Callable[[], None]] = field(default_factory=list)


class Pipeline:
    """The Intake every source submits to; see the module docstring for the stages."""

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
        self.dedup_window_s = dedup_window_s
        self.batch_size = batch_size
        self.on_commit = on_commit
        # Bounded in bytes: a full queue makes submit wait, so a flood backs up into the kernel's socket
        # buffer (and is dropped there, unacknowledged) instead of into our memory.
        self._queue = FrameQueue(max_items=queue_size)
        self._rejections = LogLimit(log)  # a flood of bad frames is one line per reason per interval
        self._counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._writer: store.Writer | None = None
        self._nodes: dict[int, Node] = {}
        self._nodes_loaded = float("-inf")
        self._recent: OrderedDict[bytes, tuple[int, datetime]] = OrderedDict()  # committed frames only
        self._uncommitted: dict[bytes, tuple[int, datetime]] = {}  # this transaction's, until it commits
        self._stopping = threading.Event()
        self.given_up = 0  # frames the store refused while stopping: not stored, not acknowledged
        self.on_fatal = on_fatal
        self.health = health

    # -------------------------------------------------------------- Intake

    def submit(self, frames: Sequence[UplinkFrame], on_done: Callable[[], None] | None = None) -> None:
        self._queue.put((frames, on_done))

    def count(self, counter: str, n: int = 1) -> None:
        with self._counts_lock:
            self._counts[counter] = self._counts.get(counter, 0) + n

    # -------------------------------------------------------------- running

    def open(self) -> None:
        """Connect to the store; start() does it too. Separate so that tests can run process() directly."""
        if self._writer is None:
            self._writer = store.Writer(store.connect(self.db_path))
            self._reload_nodes(force=True)

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
        self._rejections.close()  # pending summaries come out before the bridge's last line
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
        outcomes: list[str] = []
        counts: dict[str, int] = {}
        with self._counts_lock:
            sources, self._counts = self._counts, {}
        self._uncommitted = {}
        try:
            w.begin()
            for frame in frames:
                outcome = self._one_in_savepoint(w, frame)
                outcomes.append(outcome)
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
            self._uncommitted = {}
            self.count_all(sources)
            raise
        self._recent.update(self._uncommitted)
        self._uncommitted = {}
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        if self.on_commit is not None and uplink.ACCEPTED in outcomes:
            self.on_commit()
        return outcomes

    def _one_in_savepoint(self, w: store.Writer, frame: UplinkFrame) -> str:
        w.db.execute("SAVEPOINT frame")
        try:
            outcome = self._one(w, frame)
        except sqlite3.Error:
            raise  # the store, not the frame: the whole batch fails and is retried
        except Exception:  # a bug must cost one frame, counted and logged, not the bridge
            w.db.execute("ROLLBACK TO frame")
            w.db.execute("RELEASE frame")
            log.exception("internal error on a frame from %s", frame.rx.gateway)
            return uplink.INTERNAL_ERROR
        w.db.execute("RELEASE frame")
        return outcome

    def count_all(self, counts: dict[str, int]) -> None:
        with self._counts_lock:
            for k, v in counts.items():
                self._counts[k] = self._counts.get(k, 0) + v

    # -------------------------------------------------------------- stages

    def _reject(self, reason: str, frame: UplinkFrame, detail: str) -> str:
        # A radio hears damaged packets all day (collisions, noise): counted, logged only when debugging.
        if reason == uplink.BAD_CRC:
            log.debug("rejected reason=bad_crc gateway=%s source=%s detail=%r", frame.rx.gateway, frame.source, detail)
        else:
            self._rejections.warning(
                f"rejected reason={reason}", "gateway=%s source=%s detail=%r", frame.rx.gateway, frame.source, detail
            )
        return "rejected_" + reason

    def _reload_nodes(self, force: bool = False) -> None:
        now = datetime.now().timestamp()
        if not force and now - self._nodes_loaded < _NODE_RELOAD_S:
            return
        assert self._writer is not None
        self._nodes = {n.dev_addr: n for n in Registry(self._writer.db).all()}
        self._nodes_loaded = now

    def _node(self, dev_addr: int) -> Node | None:
        node = self._nodes.get(dev_addr)
        if node is None:
            self._reload_nodes()
            node = self._nodes.get(dev_addr)
        return node

    def _merge_duplicate(self, w: store.Writer, frame: UplinkFrame) -> bool:
        """True if the frame is stored already: its reception joins the record. Refused(REPLAY) after the window."""
        hit = self._uncommitted.get(frame.phy) or self._recent.get(frame.phy)
        if hit is not None:
            record_id, first = hit
            row = w.find_phy(frame.phy)
            rx = row[2] if row else "[]"
        else:
            row = w.find_phy(frame.phy)
            if row is None:
                return False
            record_id, first = row[0], datetime.fromisoformat(row[1].replace("Z", "+00:00"))
            rx = row[2]
        if (frame.received_at - first).total_seconds() > self.dedup_window_s:
            raise Refused(uplink.REPLAY, "the same frame again, after the deduplication window")
        receptions = json.loads(rx)
        if add_reception(receptions, frame.rx):  # one per gateway EUI, at most MAX_RECEPTIONS
            w.set_rx(record_id, receptions)
        return True

    def _one(self, w: store.Writer, frame: UplinkFrame) -> str:
        """The stages of the module docstring, in order; a refusal is counted under its outcome."""
        try:
            if not frame.rx.crc_ok:
                raise Refused(uplink.BAD_CRC, "the radio's CRC failed")
            if self._merge_duplicate(w, frame):
                return uplink.DUPLICATE
            node = self._identify(frame)
            opened = uplink.open_and_decode(frame.phy, node, Registry(w.db).last_fcnt(node.dev_addr))
        except Refused as refused:
            return self._reject(refused.reason, frame, refused.detail)
        derived = self._derive(w, opened)
        self._store(w, frame, opened, derived)
        if opened.error is not None:
            return self._reject(uplink.CODEC_ERROR, frame, opened.error)
        log.debug("accepted node=%s fcnt=%d fport=%s", node.name, opened.fcnt, opened.fport)
        return uplink.ACCEPTED

    def _identify(self, frame: UplinkFrame) -> Node:
        """The registered node the frame's DevAddr names; its syntax is checked on the way."""
        dev_addr = uplink.header(frame.phy).dev_addr
        node = self._node(dev_addr)
        if node is None:
            raise Refused(uplink.UNKNOWN_DEV_ADDR, f"DevAddr {dev_addr:08x} is not registered")
        return node

    def _derive(self, w: store.Writer, opened: uplink.Opened) -> dict[str, object]:
        """Catches since the previous report, from each trap's cumulative count (gateway/bridge/derive.py)."""
        if opened.data is None or opened.data.get("type") != "report":
            return {}
        samples = opened.data["samples"]
        assert isinstance(samples, list)
        dev_addr = opened.node.dev_addr
        per_sample, counts = derive.report_catches(samples, w.trap_counts(dev_addr))
        if counts is not None:
            w.set_trap_counts(dev_addr, counts)
        return {"catches": per_sample}

    def _store(self, w: store.Writer, frame: UplinkFrame, opened: uplink.Opened, derived: dict[str, object]) -> None:
        """The record, an outbox row per sink (none for a frame that did not decode) and the node's counter."""
        node = opened.node
        record_id = w.insert(
            dev_addr=node.dev_addr,
            fcnt=opened.fcnt,
            node=node.name,
            fport=opened.fport,
            phy=frame.phy,
            received_at=iso_utc(frame.received_at),
            data=opened.data,
            derived=derived,
            error=opened.error,
            rx=[frame.rx.as_json()],
            sinks=self.sinks,
        )
        Registry(w.db).record_fcnt(node.dev_addr, opened.fcnt)
        self._uncommitted[frame.phy] = (record_id, frame.received_at)
