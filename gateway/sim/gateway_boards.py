"""The simulation's second half: gateway boards hear what the channel let through, and the real bridge stores it.

One VirtualBoard per gateway site runs the gateway firmware under MicroPython
behind a pty (gateway/sim/virtual_board.py). Each board's receptions are
appended to its air file with their virtual times, in the order they end; the
bridge (gateway/bridge/wiring.py) reads every board over serial, with the
board's clock as reception time, and this waits until the bridge has
committed every frame (and, with sinks, delivered every record).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from gateway.bridge import store
from gateway.bridge.sinks import Sink
from gateway.bridge.sources.serial_board import SerialBoardSource
from gateway.bridge.wiring import Bridge
from gateway.sim import channel
from gateway.sim.virtual_board import VirtualBoard

from .errors import SimError
from .farm_nodes import CHANNEL_KHZ


def through_gateways(
    db_path: Path,
    sinks: Sequence[Sink],
    sf: int,
    gws: list[channel.Site],
    heard: list[channel.Reception],
    epoch: datetime,
    work: Path,
    build: Path,
) -> None:
    """Every reception in heard through its gateway board into the bridge's store at db_path; then all stopped."""
    boards = []
    sources = []
    gw_config = {"role": "gateway", "board": "sim", "radio": {"channels_khz": [CHANNEL_KHZ], "sf": sf}}
    for gw in gws:
        vb = VirtualBoard(work / gw.name, build, config=gw_config, lossless=True)
        boards.append(vb)
        sources.append(SerialBoardSource(str(vb.tty), board_epoch=epoch, gateway_id=gw.name))
    bridge = Bridge(db_path, sources, list(sinks))
    try:
        for vb in boards:
            vb.start()
        bridge.start()
        for src in sources:
            _wait(lambda src=src: src.board is not None, 20, "a gateway board did not answer its PING")  # type: ignore[misc]
        for vb, gw in zip(boards, gws, strict=True):
            _put_on_air(vb, [rx for rx in heard if rx.gateway == gw.name])
        _wait_for_frames(bridge, len(heard))
        if sinks:  # every record delivered before the bridge stops (what is not stays in the outbox)
            _wait(lambda: not _backlog(bridge), 120, "the sinks did not take every record within 2 minutes")
    finally:
        bridge.stop()
        for vb in boards:
            vb.stop()


def deliver(db_path: Path, sinks: Sequence[Sink]) -> None:
    """Every record the store holds for the sinks delivered (a bridge with no sources, until its outbox is empty)."""
    bridge = Bridge(db_path, [], list(sinks))
    try:
        bridge.start()
        _wait(lambda: not _backlog(bridge), 120, "the sinks did not take every record within 2 minutes")
    finally:
        bridge.stop()


def _air_line(rx: channel.Reception) -> str:
    tx = rx.tx
    return json.dumps({"t_ms": tx.t_ms + tx.airtime_us // 1000, "freq_khz": tx.freq_khz, "sf": tx.sf,
                       "bw_khz": tx.bw_khz, "rssi_dbm": rx.rssi_dbm, "snr_db": rx.snr_db,
                       "crc_error": rx.crc_error, "phy": tx.phy})  # fmt: skip


def _put_on_air(vb: VirtualBoard, mine: list[channel.Reception]) -> None:
    mine = sorted(mine, key=lambda rx: rx.tx.t_ms + rx.tx.airtime_us // 1000)
    lines = [_air_line(rx) for rx in mine]  # in the order their receptions end
    with vb.air.open("a") as f:
        f.write("".join(line + "\n" for line in lines))


def _wait_for_frames(bridge: Bridge, want: int) -> None:
    """Until the bridge has committed want frames; a SimError once it stops moving for a while."""
    last = -1
    deadline = time.monotonic() + 60 + want / 50
    while True:
        got = _received(bridge)
        if got >= want:
            return
        if got != last:
            last = got
            deadline = max(deadline, time.monotonic() + 30)  # still moving
        if time.monotonic() > deadline:
            raise SimError(f"the bridge got {got} of {want} frames from the gateway boards and stalled")
        time.sleep(0.2)


def _received(bridge: Bridge) -> int:
    """Frames the pipeline has committed (the counter is written with each batch)."""
    db = store.connect_readonly(bridge.db_path)
    try:
        return store.counters(db).get("received", 0)
    finally:
        db.close()


def _backlog(bridge: Bridge) -> int:
    db = store.connect_readonly(bridge.db_path)
    try:
        return sum(store.backlog(db).values())
    finally:
        db.close()


def _wait(predicate: Callable[[], bool], timeout_s: float, why: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SimError(why)
        time.sleep(0.05)
