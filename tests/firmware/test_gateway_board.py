"""The gateway board's receive loop: the real firmware under MicroPython, behind a virtual serial port.

Packets are put on the simulated air (gateway.sim.virtual_board.VirtualBoard.inject);
the test plays the bridge on the serial device with pyserial, frame by frame.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from firmware import config
from firmware.version import VERSION
from gateway.sim.virtual_board import VirtualBoard
from payload_codec import serial_link
from payload_codec.lorawan import build_uplink
from tests.firmware.sim_node import APP, DEV_ADDR, NWK

DEADLINE_S = 5.0


def phy(fcnt: int) -> bytes:
    return build_uplink(DEV_ADDR, fcnt, 1, bytes([fcnt & 0xFF, 0x2A]), NWK, APP)


def air(payload: bytes, **changes: Any) -> dict[str, Any]:
    packet: dict[str, Any] = {
        "freq_khz": 868100,
        "sf": 9,
        "bw_khz": 125,
        "rssi_dbm": -97,
        "snr_db": 6.5,
        "crc_error": False,
        "phy": payload,
    }
    packet.update(changes)
    return packet


class Host:
    """The bridge's side of the line, kept simple: frames in, commands out."""

    def __init__(self, port: str) -> None:
        self.serial = serial.serial_for_url(port, timeout=0.02)
        self.reader = serial_link.FrameReader()
        self.frames: list[tuple[int, int, bytes]] = []
        self.text = bytearray()  # every byte received, for the REPL's text
        self.seq = 100

    def close(self) -> None:
        self.serial.close()

    def send(self, ftype: int, body: bytes = b"") -> int:
        self.seq += 1
        self.serial.write(serial_link.encode_frame(ftype, self.seq, body))
        return self.seq

    def poll(self) -> None:
        data = self.serial.read(self.serial.in_waiting or 1)
        self.text += data
        self.frames.extend(self.reader.feed(data))

    def wait(self, pred: Callable[[], Any], what: str) -> Any:
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            got = pred()
            if got:
                return got
            self.poll()
        tail = bytes(self.text[-300:])
        raise AssertionError(f"timed out waiting for {what}; frames: {self.frames[-5:]}, text: {tail!r}")

    def of_type(self, ftype: int) -> list[bytes]:
        return [body for t, _, body in self.frames if t == ftype]

    def rx(self) -> list[dict[str, Any]]:
        return [serial_link.decode_rx(body) for body in self.of_type(serial_link.RX)]

    def ack(self, seq: int) -> bool:
        def answer() -> list[dict[str, Any]]:
            return [a for a in map(serial_link.decode_ack, self.of_type(serial_link.ACK)) if a["seq"] == seq]

        return bool(self.wait(answer, f"the ACK of command {seq}")[0]["ok"])

    def logs(self) -> list[str]:
        return [body.decode() for body in self.of_type(serial_link.LOG)]

    def ready(self) -> None:
        """PING until the loop answers: from then on the radio listens."""
        seq_seen = len(self.of_type(serial_link.PONG))
        self.send(serial_link.PING)
        self.wait(lambda: len(self.of_type(serial_link.PONG)) > seq_seen, "a PONG")


@pytest.fixture
def board(tmp_path: Path, mpy_build: Path) -> Iterator[VirtualBoard]:
    vb = VirtualBoard(tmp_path / "board", mpy_build)
    vb.start()
    try:
        yield vb
    finally:
        vb.stop()
    assert not vb.tty.exists()


@pytest.fixture
def host(board: VirtualBoard) -> Iterator[Host]:
    h = Host(str(board.tty))
    try:
        h.ready()
        yield h
    finally:
        h.close()


def test_packets_heard_go_to_the_host_with_their_reception(board: VirtualBoard, host: Host) -> None:
    board.inject(air(phy(1), rssi_dbm=-117, snr_db=-7.25))
    board.inject(air(phy(2), rssi_dbm=-45, snr_db=9.5, crc_error=True))  # forwarded, flagged
    got = host.wait(lambda: len(host.rx()) >= 2 and host.rx(), "two RX frames")
    first, second = got
    assert first["phy"] == phy(1) and second["phy"] == phy(2)
    assert (first["freq_khz"], first["sf"], first["bw_khz"]) == (868100, 9, 125)
    assert (first["rssi_dbm"], first["snr_db"], first["crc_error"]) == (-117, -7.25, False)
    assert (second["rssi_dbm"], second["snr_db"], second["crc_error"]) == (-45, 9.5, True)
    assert 0 <= second["ticks_ms"] - first["ticks_ms"] < 5000  # the board's clock, in order
    assert board.running


def test_only_the_configured_channel_is_heard(board: VirtualBoard, host: Host) -> None:
    board.inject(air(phy(1), freq_khz=868300))
    board.inject(air(phy(2), sf=10))
    board.inject(air(phy(3), bw_khz=250))
    board.inject(air(phy(4)))  # the air file is read in order: once this one is heard, the others were not
    got = host.wait(host.rx, "an RX frame")
    assert [p["phy"] for p in got] == [phy(4)]


def test_ping_answers_the_firmware_version_and_board_id(host: Host) -> None:
    pong = serial_link.decode_pong(host.of_type(serial_link.PONG)[-1])
    # What it listens on too, so the bridge knows its channel before it hears anything.
    assert pong == {"firmware": list(VERSION), "board": "sim", "radio": {"freq_khz": 868100, "sf": 9, "bw_khz": 125}}
    # The loop's first log line may be gone (a port opened later starts empty, as pyserial flushes it):
    # a CONFIGURE with the same settings makes the board say again what it listens on.
    assert host.ack(host.send(serial_link.CONFIGURE, serial_link.encode_configure(868100, 9, 125, 0x34, 14)))
    host.wait(lambda: any("listening on 868100 kHz SF9 125 kHz" in line for line in host.logs()), "the log line")


def test_configure_changes_what_is_heard_and_refuses_invalid_settings(board: VirtualBoard, host: Host) -> None:
    assert host.ack(host.send(serial_link.CONFIGURE, serial_link.encode_configure(869525, 12, 125, 0x34, 14)))
    board.inject(air(phy(1)))  # the old channel
    board.inject(air(phy(2), freq_khz=869525, sf=12))
    got = host.wait(host.rx, "an RX frame on the new channel")
    assert [(p["phy"], p["freq_khz"], p["sf"]) for p in got] == [(phy(2), 869525, 12)]
    for bad in (
        serial_link.encode_configure(869525, 13, 125, 0x34, 14),  # no SF13
        serial_link.encode_configure(869525, 12, 200, 0x34, 14),  # no 200 kHz
        serial_link.encode_configure(915000, 12, 125, 0x34, 14),  # not EU868
        serial_link.encode_configure(869525, 12, 125, 0x34, 14)[:-1],  # a short body
    ):
        assert host.ack(host.send(serial_link.CONFIGURE, bad)) is False
    board.inject(air(phy(3), freq_khz=869525, sf=12))  # still listening where it was
    got = host.wait(lambda: len(host.rx()) >= 2 and host.rx(), "a second RX frame")
    assert got[1]["phy"] == phy(3)
    assert any("CONFIGURE refused" in line for line in host.logs())


def test_a_downlink_is_sent_at_its_tick_with_inverted_iq_and_the_board_listens_again(
    board: VirtualBoard, host: Host
) -> None:
    board.inject(air(phy(1)))
    ticks = host.wait(host.rx, "an RX frame")[0]["ticks_ms"]  # the board's clock, as the bridge learns it
    down = bytes.fromhex("600102030400000001a1b2c3d4")
    for bad, why in (
        (serial_link.encode_transmit(ticks - 1000, 868100, 9, 125, 14, down), "in the past"),
        (serial_link.encode_transmit(ticks + 60_000, 868100, 9, 125, 14, down), "a minute ahead"),
        (serial_link.encode_transmit(ticks + 3000, 915000, 9, 125, 14, down), "not EU868"),
    ):
        assert host.ack(host.send(serial_link.TRANSMIT, bad)) is False, why
    # RX1 of an uplink that ended at `ticks`, one second later, is still ahead: queued, then sent.
    rx1 = serial_link.encode_transmit(ticks + 2000, 868100, 9, 125, 14, down)
    assert host.ack(host.send(serial_link.TRANSMIT, rx1))
    host.wait(lambda: any("downlink of 13 bytes sent at its tick" in line for line in host.logs()), "the send")
    board.inject(air(phy(2)))  # and it hears uplinks again, on its own channel
    got = host.wait(lambda: len(host.rx()) >= 2 and host.rx(), "an RX frame after the downlink")
    assert got[1]["phy"] == phy(2)
    assert sum("TRANSMIT refused" in line for line in host.logs()) == 3


def test_to_repl_acknowledges_and_leaves_the_loop_for_the_repl(board: VirtualBoard, host: Host) -> None:
    assert host.ack(host.send(serial_link.TO_REPL))
    host.wait(lambda: b">>> " in host.text, "the REPL prompt")
    assert any("left the receive loop (TO_REPL)" in line for line in host.logs())
    host.serial.write(b"print(6 * 7)\r")  # the REPL has the line now, not the loop
    host.wait(lambda: b"42" in host.text, "the REPL's answer")
    board.inject(air(phy(1)))
    time.sleep(0.2)
    host.poll()
    assert host.rx() == []


def test_ctrl_c_from_a_terminal_leaves_the_loop(host: Host) -> None:
    host.serial.write(b"\r\x03")  # what mpremote and terminals send; the loop waits ~300 ms for more
    host.wait(lambda: b">>> " in host.text, "the REPL prompt")
    assert any("left the receive loop (Ctrl-C)" in line for line in host.logs())


def test_a_damaged_host_frame_is_ignored_and_counted(board: VirtualBoard, host: Host) -> None:
    damaged = bytearray(serial_link.encode_frame(serial_link.TO_REPL, 7))
    damaged[3] ^= 0x04  # a flipped bit: the CRC fails and the board must not obey it
    host.serial.write(bytes(damaged) + b"\x00noise\xff\xfe\x00")
    host.wait(lambda: any("damaged host frames" in line for line in host.logs()), "the board's count")
    host.ready()  # the loop goes on
    board.inject(air(phy(5)))
    assert host.wait(host.rx, "an RX frame")[0]["phy"] == phy(5)


def test_the_same_loop_runs_on_cpython(tmp_path: Path) -> None:
    """firmware/ is shared code: the loop runs in-process on CPython too, on two pipes."""
    from firmware.gateway_board import run
    from firmware.ringlog import RingLog
    from firmware.sim.board import SimBoard
    from firmware.sim.gateway_run import WallClock

    board = SimBoard(str(tmp_path), WallClock())
    cfg = config.validate({"role": "gateway", "board": "sim", "radio": {"channels_khz": [868500], "sf": 7}})
    to_board_r, to_board_w = os.pipe()
    to_host_r, to_host_w = os.pipe()
    result: list[str] = []
    with open(to_board_r, "rb", buffering=0) as stream_in, open(to_host_w, "wb", buffering=0) as stream_out:
        log = RingLog(str(tmp_path), clock=board.clock)
        loop = threading.Thread(target=lambda: result.append(run(board, cfg, log, stream_in, stream_out)))
        loop.start()
        packet = air(phy(9), freq_khz=868500, sf=7, rssi_dbm=-80, snr_db=-0.25)
        (tmp_path / "air.jsonl").write_text(json.dumps({**packet, "phy": phy(9).hex()}) + "\n")
        reader = serial_link.FrameReader()
        frames: list[tuple[int, int, bytes]] = []
        os.set_blocking(to_host_r, False)
        end = time.monotonic() + DEADLINE_S
        while not any(f[0] == serial_link.RX for f in frames) and time.monotonic() < end:
            try:
                frames.extend(reader.feed(os.read(to_host_r, 4096)))
            except BlockingIOError:
                time.sleep(0.01)
        os.write(to_board_w, serial_link.encode_frame(serial_link.TO_REPL, 1))
        loop.join(DEADLINE_S)
    os.close(to_board_w)
    os.close(to_host_r)
    assert result == ["TO_REPL"]
    rx = [serial_link.decode_rx(body) for t, _, body in frames if t == serial_link.RX]
    assert [(p["phy"], p["freq_khz"], p["sf"], p["snr_db"]) for p in rx] == [(phy(9), 868500, 7, -0.25)]
    assert "gateway: left the receive loop (TO_REPL)" in "\n".join(log.lines())
