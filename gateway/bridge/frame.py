"""The frame passed between the bridge's parts: a PHYPayload as one gateway heard it.

Sources (serial board, Semtech UDP, simulator) turn what they receive into
UplinkFrame objects, a network server's integration into ServerUplink ones (an
uplink the server already checked and decrypted); the pipeline checks,
deduplicates and stores them; sinks
never see these, only stored records. Also here: what frames may cost, whoever
sends them (receptions kept per frame, the bytes the pipeline's queue holds).
Nothing here does I/O.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

# One entry per gateway, and no more than this many: a farm has one or a few gateways, and a frame heard
# by more than 16 is rare even on a city network. Without a cap, made-up gateway EUIs replaying one frame
# grow a single record (and every message about it) without end.
MAX_RECEPTIONS = 16

# What the pipeline's queue may hold, as frames_cost counts it. A few seconds of the bridge's
# 1000 frames/s; beyond it a source waits in submit, and datagrams wait in (or are dropped from) the
# kernel's socket buffer instead of in our memory.
QUEUE_BYTES = 4 << 20
_FRAME_OBJECTS = 800  # bytes of Python objects an UplinkFrame with its Reception takes besides its strings
_ITEM_OBJECTS = 200  # a submit's own list, tuple and callback


@dataclass(frozen=True)
class Reception:
    """How one gateway heard a frame."""

    gateway: str  # gateway id: the EUI in hex for Semtech UDP, "board:<board id>" for the serial board
    rssi_dbm: float
    snr_db: float
    freq_hz: int
    sf: int
    bw_khz: int
    crc_ok: bool = True  # False: the radio's CRC failed; the pipeline counts and drops the frame
    gateway_time: str | None = None  # the gateway's own ISO 8601 time of reception, when it sends one
    counter_us: int | None = None  # the gateway's free-running receive counter (tmst, or board ticks x 1000)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "gateway": self.gateway,
            "rssi": self.rssi_dbm,
            "snr": self.snr_db,
            "frequency": self.freq_hz,
            "sf": self.sf,
            "bw": self.bw_khz,
        }
        if self.gateway_time is not None:
            out["gateway_time"] = self.gateway_time
        if self.counter_us is not None:
            out["counter_us"] = self.counter_us
        return out

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Reception:
        return cls(
            gateway=str(d["gateway"]),
            rssi_dbm=float(d["rssi"]),  # type: ignore[arg-type]
            snr_db=float(d["snr"]),  # type: ignore[arg-type]
            freq_hz=int(d["frequency"]),  # type: ignore[call-overload]
            sf=int(d["sf"]),  # type: ignore[call-overload]
            bw_khz=int(d["bw"]),  # type: ignore[call-overload]
            gateway_time=d.get("gateway_time"),  # type: ignore[arg-type]
            counter_us=d.get("counter_us"),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class UplinkFrame:
    phy: bytes  # the LoRaWAN PHYPayload, exactly as received
    rx: Reception
    source: str  # "serial", "udp" or "sim": which kind of source delivered it
    received_at: datetime  # when the bridge got it, UTC

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ServerUplink(UplinkFrame):
    """An uplink a network server (The Things Stack, ChirpStack) received, authenticated and decrypted.

    source names the server ("ttn", "chirpstack"); phy holds no PHYPayload (the server keeps it) but the
    message's identity, b"<source>:<id>", by which a message delivered twice is stored once; rx is the
    best gateway's reception, receptions all of them.
    """

    dev_eui: bytes
    dev_addr: int
    fcnt: int
    fport: int | None
    payload: bytes  # the FRMPayload, decrypted: the bridge decodes it itself, never trusting the server's
    receptions: tuple[Reception, ...]


def iso_utc(t: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a Z, as every record and message carries it."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def add_reception(receptions: list[dict[str, object]], rx: Reception) -> bool:
    """Add rx (as_json) to a record's receptions unless its gateway is there or the list is full; True if added."""
    if len(receptions) >= MAX_RECEPTIONS or any(r.get("gateway") == rx.gateway for r in receptions):
        return False
    receptions.append(rx.as_json())
    return True


QueueItem = tuple[Sequence[UplinkFrame], Callable[[], None] | None] | None  # None: the pipeline's stop mark


def frames_cost(item: QueueItem) -> int:
    """Roughly the bytes of memory a queued item keeps alive."""
    if item is None:
        return 1
    return _ITEM_OBJECTS + sum(
        _FRAME_OBJECTS + len(f.phy) + len(f.rx.gateway) + len(f.rx.gateway_time or "") for f in item[0]
    )


class FrameQueue(queue.Queue[QueueItem]):
    """A queue.Queue of (frames, on_done) bounded by the memory its frames take, not by how many items it holds.

    A count alone bounds nothing: one item can be one frame or a datagram's hundreds. put() waits while
    the queue holds max_bytes (as frames_cost counts them) or max_items; an item larger than max_bytes
    still goes into an empty queue, so nothing can wait forever. qsize() is still the number of items.
    """

    def __init__(self, max_bytes: int = QUEUE_BYTES, max_items: int = 0) -> None:
        super().__init__(max_items)
        self.max_bytes = max_bytes
        self.bytes = 0  # what the items now queued cost; read it under self.mutex
        self._costs: deque[int] = deque()

    def put(self, item: QueueItem, block: bool = True, timeout: float | None = None) -> None:
        cost = frames_cost(item)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.not_full:
            while self._over(cost):
                if not block:
                    raise queue.Full
                if deadline is None:
                    self.not_full.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise queue.Full
                    self.not_full.wait(left)
            self._put(item)
            self._costs.append(cost)
            self.bytes += cost
            self.unfinished_tasks += 1
            self.not_empty.notify()

    def _over(self, cost: int) -> bool:
        if not self.queue:
            return False
        return self.bytes + cost > self.max_bytes or 0 < self.maxsize <= len(self.queue)

    def _get(self) -> QueueItem:
        item = self.queue.popleft()
        self.bytes -= self._costs.popleft()
        # Queue.get wakes one waiting put; a big item leaving may make room for several.
        self.not_full.notify_all()
        return item
