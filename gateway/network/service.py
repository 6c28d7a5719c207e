"""The network beside the running bridge: it answers what the pipeline has just stored, through Semtech UDP.

`akker gateway run --network` hands every committed batch to on_batch(),
on the pipeline's thread: a JoinRequest gets a JoinAccept (join_server.py) in
RX1 five seconds after it, else RX2; an accepted data uplink gets its downlink
(downlinks.py), if it has one, in the node's RX1, else RX2 (windows.py). It
goes back through what heard the uplink: a Semtech UDP gateway (a PULL_RESP;
one that refuses RX1 in its TX_ACK for timing or a collision is asked again
for RX2 while that is still ahead) or the gateway board (a TRANSMIT at its
own clock's tick). Nothing here may stop the bridge: a failure costs the
downlink, is logged and counted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.bridge import uplink
from gateway.bridge.frame import Reception, ServerUplink, UplinkFrame
from gateway.bridge.gateways import partial
from gateway.bridge.registry import open_db
from gateway.bridge.sources.semtech_udp import SemtechUdpSource
from gateway.bridge.sources.serial_board import SerialBoardSource

from . import answer
from .adr import MARGIN_DB
from .commands import Command
from .downlinks import DAILY_LIMIT
from .join_server import JoinRefused, JoinSettings
from .semtech_txpk import RETRY_IN_RX2, txpk
from .windows import GatewayDuty, RxSettings, Window, choose, windows

log = logging.getLogger("akker.network")


def _receptions(db: sqlite3.Connection, frame: UplinkFrame) -> list[Reception]:
    """Every gateway's reception of the stored frame (merged within the dedup window), else the first one."""
    row = db.execute("SELECT rx FROM records WHERE phy = ?", (frame.phy,)).fetchone()
    if row is None:
        return [frame.rx]
    try:
        return [Reception.from_json(d) for d in json.loads(row[0])] or [frame.rx]
    except (ValueError, KeyError, TypeError):
        return [frame.rx]


# A data uplink is answered this long after it is stored: other gateways' receptions of it have merged into
# its record by then, and the one that heard it best sends. RX1 is a second away at the earliest.
GATHER_S = 0.2


class NetworkService:
    def __init__(
        self,
        db_path: Path,
        semtech: SemtechUdpSource | None,
        count: Callable[[str], None],
        settings: JoinSettings | None = None,
        clock_ms: Callable[[], int] | None = None,
        registry_changed: Callable[[], None] | None = None,
        gather_s: float = GATHER_S,
        daily_limit: int = DAILY_LIMIT,
        margin_db: float = MARGIN_DB,
    ) -> None:
        self.db_path = db_path
        self.semtech = semtech
        self.count = count
        self.settings = settings or JoinSettings()
        self.daily_limit, self.margin_db = daily_limit, margin_db
        self.duty = GatewayDuty()
        self._clock_ms = clock_ms
        self.gather_s = gather_s
        self._stopped = False
        self._registry_changed = registry_changed  # the pipeline must open the new session's frames at once
        self.on_command_changed: Callable[[Command], None] | None = None  # MQTT publishes each new state
        self.board: SerialBoardSource | None = None  # the gateway board, when the bridge has one
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the pipeline's thread answers; a TX_ACK's retry comes from the UDP thread

    def start(self) -> None:
        # The database is opened on the pipeline's thread, where on_batch runs.
        through = ["Semtech UDP" if self.semtech is not None else "", "the gateway board" if self.board else ""]
        log.info("network on: answering joins, MAC commands, ADR and commands through %s (--no-network: only"
                 " listen)", " and ".join(t for t in through if t) or "no gateway that can transmit")  # fmt: skip

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._db is not None:
                self._db.close()
                self._db = None

    def on_batch(self, frames: Sequence[UplinkFrame], outcomes: Sequence[str]) -> None:
        for frame, outcome in zip(frames, outcomes, strict=True):
            if isinstance(frame, ServerUplink):
                continue  # its network server answers it
            try:
                if frame.phy[:1] == b"\x00":
                    self._join(frame)
                elif outcome in (uplink.ACCEPTED, uplink.MAC_ONLY) and self.gather_s > 0:
                    timer = threading.Timer(self.gather_s, self._answer_later, args=(frame,))
                    timer.daemon = True
                    timer.start()
                elif outcome in (uplink.ACCEPTED, uplink.MAC_ONLY):
                    self._answer(frame)
            except (sqlite3.Error, OSError, ValueError) as err:
                self.count("network_errors")
                log.warning("downlink_failed detail=%r", str(err))

    def _answer_later(self, frame: UplinkFrame) -> None:
        try:
            self._answer(frame)
        except (sqlite3.Error, OSError, ValueError) as err:
            self.count("network_errors")
            log.warning("downlink_failed detail=%r", str(err))

    # -------------------------------------------------------------- answers

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = open_db(self.db_path, check_same_thread=False)
        return self._db

    def _partial(self, db: sqlite3.Connection) -> dict[str, frozenset[int] | None]:
        """The gateways that hear part of the plan: this bridge's own board, and those in gateway/bridge/gateways.py."""
        out = partial(db)
        if self.board is not None:
            out[self.board.gateway] = None
        return out

    def _now_ms(self) -> int:
        return self._clock_ms() if self._clock_ms is not None else int(time.time() * 1000)

    def _join(self, frame: UplinkFrame) -> None:
        with self._lock:
            try:
                db = self._connect()
                joined = answer.join(db, frame, self.settings, self._partial(db))
            except JoinRefused as err:
                self.count(f"join_refused_{err.reason}")
                log.info("join_refused reason=%s detail=%r", err.reason, str(err))
                return
        self.count("joins")
        if self._registry_changed is not None:
            self._registry_changed()
        log.info("joined node=%s dev_addr=%08x", joined.node, joined.dev_addr)
        self._send(frame, joined.accept, answer.join_windows(), kind="join_accept")

    def _answer(self, frame: UplinkFrame) -> None:
        with self._lock:
            if self._stopped:
                return
            db = self._connect()
            receptions = _receptions(db, frame)
            got = answer.data(db, frame, receptions, self._partial(db), self.daily_limit, self.margin_db)
        if got is None:
            return
        for command in got.changed:
            if self.on_command_changed is not None:
                self.on_command_changed(command)
        if got.downlink is None:
            return
        self.count("downlinks")
        self._send(frame, got.downlink.phy, answer.data_windows(self.settings), receptions)

    def _send(
        self,
        frame: UplinkFrame,
        phy: bytes,
        rx: RxSettings,
        receptions: Sequence[Reception] = (),
        kind: str = "downlink",
    ) -> None:
        # Only gateways this bridge can send through: the board on its serial port, Semtech ones by UDP.
        usable = [
            r for r in (receptions or [frame.rx])
            if (self.board is not None and r.gateway == self.board.gateway)
            or (self.semtech is not None and not r.gateway.startswith("board:"))
        ]  # fmt: skip
        if not usable:
            self.count("network_no_downlink_path")
            return
        # The bridge's reception time stands for the end of the uplink on its clock; the gateway's counter,
        # which the txpk uses, is exact.
        board = self.board.gateway if self.board is not None else None
        candidates = windows(usable, int(frame.received_at.timestamp() * 1000), rx, board)
        self._try(candidates, phy, kind)

    def _try(self, candidates: list[Window], phy: bytes, kind: str) -> None:
        """kind: "join_accept" or "downlink", the first part of the counter for one that finds no window."""
        w = choose(candidates, self.duty, self._now_ms(), len(phy))
        if w is None:
            self.count(f"{kind}_no_window")  # dropped, never sent late: a join storm shows here
            return
        later = [c for c in candidates if c.due_ms > w.due_ms]

        def verdict(error: str | None) -> None:
            if error in RETRY_IN_RX2 and later:
                self.count("downlink_rx2_retry")
                self._try(later, phy, kind)

        if self.board is not None and w.gateway == self.board.gateway:
            # The board's own clock: the window's counter is its ticks x 1000. It says nothing after its ACK,
            # so there is no RX2 retry through it.
            self.board.send_downlink(w.counter_us // 1000, w.freq_hz // 1000, w.sf, w.bw_khz, 14, phy)
            return
        if self.semtech is None or self.semtech.send_downlink(w.gateway, txpk(w, phy), verdict) is None:
            self.count("network_no_downlink_path")
