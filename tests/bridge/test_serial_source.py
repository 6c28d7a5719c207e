"""The bridge's serial source against the real gateway firmware on a virtual board.

The board is gateway.sim.virtual_board.VirtualBoard (MicroPython behind a pty, on
ROOT/tty); the source is built as the bridge builds it and hands its frames to
a small recording intake.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from firmware.version import VERSION
from gateway.bridge import gateways, store
from gateway.bridge.frame import UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.sources.serial_board import SerialBoardSource
from gateway.sim.virtual_board import VirtualBoard
from payload_codec.lorawan import build_uplink
from tests.firmware.sim_node import APP, DEV_ADDR, NWK

DEADLINE_S = 5.0


class RecordingIntake:
    def __init__(self) -> None:
        self.frames: list[UplinkFrame] = []
        self.counters: dict[str, int] = {}
        self.boards: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def submit(self, frames: Sequence[UplinkFrame], on_done: Callable[[], None] | None = None) -> None:
        with self._lock:
            self.frames.extend(frames)
        if on_done is not None:
            on_done()

    def count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            self.counters[counter] = self.counters.get(counter, 0) + n

    def note_board(self, gateway: str, freq_khz: int, sf: int) -> None:
        with self._lock:
            self.boards[gateway] = (freq_khz, sf)

    def phys(self) -> list[bytes]:
        with self._lock:
            return [f.phy for f in self.frames]

    def counter(self, name: str) -> int:
        with self._lock:
            return self.counters.get(name, 0)


def wait(pred: Callable[[], Any], what: str) -> Any:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def phy(fcnt: int) -> bytes:
    return build_uplink(DEV_ADDR, fcnt, 1, bytes([fcnt & 0xFF, 0x07, 0x11]), NWK, APP)


def air(payload: bytes, **changes: Any) -> dict[str, Any]:
    return {"freq_khz": 868100, "sf": 9, "bw_khz": 125, "rssi_dbm": -97, "snr_db": 6.5, "phy": payload, **changes}


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


@pytest.fixture
def source(board: VirtualBoard, intake: RecordingIntake) -> Iterator[SerialBoardSource]:
    src = SerialBoardSource(str(board.tty))
    src.start(intake)
    try:
        wait(lambda: src.board == "sim", "the board's PONG")  # from here on the board's radio listens
        yield src
    finally:
        src.stop()


def test_packets_arrive_as_uplink_frames(
    board: VirtualBoard, source: SerialBoardSource, intake: RecordingIntake
) -> None:
    board.inject(air(phy(1), rssi_dbm=-118, snr_db=-12.75))
    board.inject(air(phy(2), crc_error=True))
    wait(lambda: len(intake.phys()) == 2, "two frames")
    first, second = intake.frames
    assert first.phy == phy(1) and first.source == "serial"
    rx = first.rx
    assert (rx.gateway, rx.freq_hz, rx.sf, rx.bw_khz) == ("board:sim", 868100000, 9, 125)
    assert (rx.rssi_dbm, rx.snr_db, rx.crc_ok) == (-118.0, -12.75, True)
    assert rx.counter_us is not None and rx.counter_us % 1000 == 0
    assert second.rx.crc_ok is False
    assert source.ping() == {"firmware": list(VERSION), "board": "sim"}
    assert intake.counter("serial_frames") >= 4  # a LOG, the PONGs, two RX
    assert intake.counter("serial_damaged") == intake.counter("serial_lost") == 0


def test_commands_for_tools(board: VirtualBoard, source: SerialBoardSource, intake: RecordingIntake) -> None:
    assert source.configure(869525, 12, 125, 0x34, 14) is True
    assert source.configure(869525, 5, 125, 0x34, 14) is False
    board.inject(air(phy(1)))  # the old channel: not heard
    board.inject(air(phy(2), freq_khz=869525, sf=12))
    wait(intake.phys, "a frame")
    assert intake.phys() == [phy(2)] and intake.frames[0].rx.freq_hz == 869525000


def test_unplug_and_replug_in_the_middle_of_a_stream(
    board: VirtualBoard, source: SerialBoardSource, intake: RecordingIntake
) -> None:
    for n in range(3):
        board.inject(air(phy(n)))
    wait(lambda: len(intake.phys()) == 3, "the first frames")
    board.unplug()
    board.inject(air(phy(10)))  # heard while the cable is out: lost, as with a real board
    time.sleep(0.3)
    board.replug()
    wait(lambda: intake.counter("serial_reconnects") == 1, "the source to reconnect")
    for n in range(20, 23):
        board.inject(air(phy(n)))
    wait(lambda: len(intake.phys()) >= 6, "the frames after the replug")
    assert intake.phys()[:3] == [phy(0), phy(1), phy(2)]
    assert intake.phys()[-3:] == [phy(20), phy(21), phy(22)]
    assert source.ping()["board"] == "sim"


def test_garbage_and_bit_flips_cost_only_the_damaged_frames(
    board: VirtualBoard, source: SerialBoardSource, intake: RecordingIntake
) -> None:
    rnd = random.Random(5)
    intact: list[bytes] = []
    flips = 0
    for n in range(30):
        # Each step waits for its frame, so the board is quiet when the next step puts noise on the line.
        damaged_before = intake.counter("serial_damaged")
        flip = rnd.random() < 0.25
        if flip:
            board.damage_next()
            flips += 1
        elif rnd.random() < 0.4:
            board.write_garbage(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 60))))
        board.inject(air(phy(n)))
        if flip:
            wait(lambda: intake.counter("serial_damaged") > damaged_before, f"frame {n} to be refused")  # noqa: B023
        else:
            intact.append(phy(n))
            wait(lambda: intake.phys()[-1:] == [phy(n)], f"frame {n}")  # noqa: B023
    assert flips >= 3
    assert intake.phys() == intact  # every intact frame, in order, and nothing made up
    assert intake.counter("serial_damaged") >= flips
    assert intake.counter("serial_lost") >= flips - 1  # each refused RX is a gap before the next frame
    assert source.ping()["board"] == "sim"


def test_a_port_that_cannot_be_opened_fails_at_start(tmp_path: Path) -> None:
    src = SerialBoardSource(str(tmp_path / "no-such-tty"))
    with pytest.raises(OSError):
        src.start(RecordingIntake())
    with pytest.raises(OSError):
        SerialBoardSource("nonsense://x").start(RecordingIntake())


def test_the_network_answers_a_join_through_the_gateway_board_at_its_tick(board: VirtualBoard, tmp_path: Path) -> None:
    # Issue 14: the bridge as a network for a farm whose only gateway is an Akker gateway board.
    import logging

    from gateway.bridge.registry import Registry, open_db
    from gateway.network.service import NetworkService
    from gateway.sim.nodes import APP_KEY, DEV_EUI, JOIN_EUI
    from payload_codec.lorawan_join import build_join_request

    db = tmp_path / "farm.db"
    Registry(open_db(db)).add_otaa("east-1", DEV_EUI, JOIN_EUI, APP_KEY, "sim")
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("akker.serial")
    logger.addHandler(handler)
    saved = logger.level
    logger.setLevel(logging.INFO)
    pipeline = Pipeline(db, [])
    src = SerialBoardSource(str(board.tty))
    service = NetworkService(db, None, pipeline.count, registry_changed=pipeline.registry_changed)
    service.board = src
    pipeline.on_batch = service.on_batch
    pipeline.start()
    src.start(pipeline)
    try:
        wait(lambda: src.board == "sim", "the board's PONG")
        board.inject(air(build_join_request(JOIN_EUI, DEV_EUI, 0, APP_KEY)))
        # The JoinAccept goes at the request's end on the board's clock plus 5 s: the board queues it, then sends
        # it on its tick, and says so in its log.
        end = time.monotonic() + 15
        while time.monotonic() < end and not any("downlink of 17 bytes sent at its tick" in x for x in lines):
            time.sleep(0.05)
        assert any("downlink of 17 bytes sent at its tick" in line for line in lines), lines
        assert Registry(open_db(db)).by_name("east-1") is not None  # the session the accept carries
    finally:
        src.stop()
        pipeline.stop()
        service.stop()
        logger.removeHandler(handler)
        logger.setLevel(saved)


def test_the_board_says_what_it_listens_on_before_it_hears_anything(
    source: SerialBoardSource, intake: RecordingIntake, tmp_path: Path
) -> None:
    wait(lambda: intake.boards, "the board's radio from its PONG")
    assert intake.boards == {"board:sim": (868100, 9)} and source.radio == {"freq_khz": 868100, "sf": 9, "bw_khz": 125}
    assert source.configure(868300, 10, 125, 0x34, 14)  # the host moves it: the farm's record follows
    assert intake.boards == {"board:sim": (868300, 10)}
    # The pipeline keeps it with the farm's gateways, for the network and `akker provision`.
    pipeline = Pipeline(tmp_path / "farm.db", [])
    pipeline.note_board("board:sim", 868300, 10)
    pipeline.process([])
    (gw,) = gateways.known(store.connect(tmp_path / "farm.db"))
    assert (gw.id, gw.kind, gw.freq_khz, gw.sf) == ("board:sim", "board", 868300, 10)
