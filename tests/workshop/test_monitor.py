"""`akker monitor`: a node's log lines after a reset, a gateway board's frames decoded, noise survived, Ctrl-C clean.

Node mode runs against a bare virtual board after provision and deploy
(test_check.py's helpers); gateway mode against the gateway firmware on a
virtual board with packets put on its simulated air, and a registry holding
the senders' keys (tests/bridge/fieldkit.py). The stream splitter itself is
tested on bytes: frames and text in every kind of piece.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import serial

from gateway.sim.virtual_board import VirtualBoard
from gateway.workshop.monitor import Damaged, Frame, Line, StreamSplitter
from payload_codec import serial_link
from tests.bridge.fieldkit import register, report_phy, sample
from tests.processes import first_line, running
from tests.workshop.deployed import AKKER, Deployed, akker, booted_copy

STAMP = re.compile(r"^\d\d:\d\d:\d\d  ")


@contextmanager
def monitor(port: Path, *extra: str, ignore: tuple[int, ...] = ()) -> Iterator[subprocess.Popen[str]]:
    """akker monitor in the background, given once it has the port open; killed at the end if still running."""
    with running([AKKER, "monitor", "--port", str(port), *extra], ignore=ignore, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        first = first_line(proc.stdout, 30)
        assert first.startswith(f"monitoring {port} since "), first + (proc.stderr.read() if not first else "")
        yield proc


def finish(proc: subprocess.Popen[str]) -> tuple[int, list[str], str]:
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out.splitlines(), err


# ---------------------------------------------------------------- a node


@pytest.fixture
def node(deployed: Deployed, tmp_path: Path, mpy_build: Path) -> Iterator[VirtualBoard]:
    with booted_copy(deployed, tmp_path, mpy_build) as vb:
        yield vb


def type_on(port: Path, data: bytes) -> None:
    """Bytes typed on the port from a second terminal (the monitor only reads)."""
    fd = os.open(port, os.O_WRONLY | os.O_NOCTTY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_a_node_log_after_a_soft_reset_each_line_with_its_time(node: VirtualBoard) -> None:
    with monitor(node.tty, "--seconds", "4") as proc:
        type_on(node.tty, b"\x04")  # Ctrl-D at the REPL: a soft reset, boot.py and main.py run again
        code, out, err = finish(proc)
    assert code == 0 and err == "", err
    body = out[:-1]
    assert body and all(STAMP.match(line) for line in body), out
    text = [line[10:] for line in body]
    assert any(re.fullmatch(r"\d+ boot 3 \(power_on\), next frame counter \d+", t) for t in text), text
    sent = [json.loads(t) for t in text if t.startswith("{")]
    assert sent and sent[0]["freq_khz"] in (868100, 868300, 868500)  # the frame the node sent after the boot
    assert re.fullmatch(r"monitor: 4 s, \d+ lines, 0 frames", out[-1]), out[-1]


@pytest.mark.parametrize(
    ("sig", "ignore"),
    [
        (signal.SIGINT, ()),
        # Started from a script's `akker monitor ... &`, which ignores SIGINT: Ctrl-C must still end it.
        (signal.SIGINT, (signal.SIGINT,)),
        (signal.SIGTERM, ()),  # kill, systemd
    ],
    ids=["ctrl-c", "ctrl-c-started-with-sigint-ignored", "sigterm"],
)
def test_ctrl_c_or_sigterm_ends_the_monitor_cleanly(
    node: VirtualBoard, sig: signal.Signals, ignore: tuple[int, ...]
) -> None:
    with monitor(node.tty, ignore=ignore) as proc:
        time.sleep(0.5)
        proc.send_signal(sig)
        code, out, err = finish(proc)
    assert code == 0 and err == "", err
    assert out[-1].startswith("monitor: ")


def test_port_errors_are_one_line(node: VirtualBoard, tmp_path: Path) -> None:
    out = akker("monitor", "--port", "/dev/ttyUSB97", "--seconds", "1")
    assert out.returncode == 2 and out.stderr.startswith("akker: no port /dev/ttyUSB97: is the board plugged in?")
    with serial.Serial(str(node.tty), exclusive=True):
        out = akker("monitor", "--port", str(node.tty), "--seconds", "1")
    assert out.returncode == 2 and "is busy: another program holds it" in out.stderr
    out = akker("monitor", "--port", str(node.tty), "--db", str(tmp_path / "none.db"), "--seconds", "1")
    assert out.returncode == 2 and f"no database at {tmp_path / 'none.db'}" in out.stderr
    assert not (tmp_path / "none.db").exists()


# ---------------------------------------------------------------- a gateway board


AIR = {"freq_khz": 868100, "sf": 9, "bw_khz": 125, "rssi_dbm": -97, "snr_db": 6.5}


@pytest.fixture
def gateway(tmp_path: Path, mpy_build: Path) -> Iterator[VirtualBoard]:
    vb = VirtualBoard(tmp_path / "gateway", mpy_build)
    vb.start()
    try:
        time.sleep(0.5)  # its receive loop starts listening
        yield vb
    finally:
        vb.stop()


def rx_lines(out: list[str]) -> list[str]:
    return [line[10:] for line in out if line[10:].startswith("RX ")]


def test_gateway_frames_decoded_with_the_node_name_through_noise_and_a_replug(
    gateway: VirtualBoard, tmp_path: Path
) -> None:
    db = tmp_path / "farm.db"
    register(db)
    first = [sample(traps=[3, 1], moisture=31.2)]
    with monitor(gateway.tty, "--db", str(db), "--seconds", "5") as proc:
        gateway.inject({**AIR, "phy": report_phy("north-1", 7, first), "rssi_dbm": -118, "snr_db": -7.25})
        time.sleep(0.3)
        gateway.write_garbage(bytes(random.Random(3).randrange(256) for _ in range(300)))
        gateway.write_garbage(b"\x00\x05\x01\x02\x03\x04\x00")  # looks like a frame, is not one
        gateway.inject({**AIR, "phy": report_phy("south-2", 70001)})  # its 16-bit FCnt: 4465
        gateway.inject({**AIR, "phy": report_phy("north-1", 8), "crc_error": True})
        time.sleep(0.3)
        gateway.unplug()
        time.sleep(0.3)
        gateway.replug()
        time.sleep(1.0)  # the monitor finds the port again
        gateway.inject({**AIR, "phy": report_phy("north-1", 9)})
        code, out, err = finish(proc)
    assert code == 0 and err == "", err
    assert all(STAMP.match(line) for line in out[:-1]), out
    rx = rx_lines(out)
    assert len(rx) == 4, out
    head = "RX 868.100 MHz SF9 125 kHz RSSI -118 dBm SNR -7.25 dB CRC ok | DevAddr 26011b01 FCnt 7 FPort 1 | north-1 "
    assert rx[0].startswith(head), rx[0]
    assert json.loads(rx[0][len(head) :]) == {"type": "report", "samples": first}
    assert rx[1].endswith(
        "DevAddr 26011b02 FCnt 4465 FPort 1 | south-2: not decoded: MIC mismatch (other keys than the registered "
        "ones, or a frame counter above 65535)"
    )
    assert "CRC bad | DevAddr 26011b01 FCnt 8 FPort 1 | north-1: not decoded: the radio's CRC failed" in rx[2]
    assert "FCnt 9 FPort 1 | north-1 {" in rx[3]
    text = "\n".join(out)
    assert "! damaged frame skipped" in text and "went away" in text and "is back" in text
    assert "damaged frames and" in out[-1] and "bytes of noise skipped" in out[-1]


def test_gateway_frames_without_a_database_show_the_header_only(gateway: VirtualBoard) -> None:
    with monitor(gateway.tty, "--seconds", "2") as proc:
        gateway.inject({**AIR, "phy": report_phy("north-1", 1)})
        gateway.inject({**AIR, "phy": b"\x00" + bytes(22)})  # a join request: not a data frame
        code, out, err = finish(proc)
    assert code == 0 and err == ""
    rx = rx_lines(out)
    assert rx[0].endswith("CRC ok | DevAddr 26011b01 FCnt 1 FPort 1"), rx
    assert rx[1].endswith("| 23 bytes, not a LoRaWAN data frame: not a data frame: MType 0 (join_request)"), rx


# ---------------------------------------------------------------- the splitter, on bytes


def events(pieces: list[bytes]) -> list[Any]:
    s = StreamSplitter()
    out: list[Any] = []
    for piece in pieces:
        out.extend(s.feed(piece))
    return out + s.flush()


STREAM = [
    b"MicroPython v1.28 on 2026-07-05\r\n",
    b">>> ",
    serial_link.encode_frame(serial_link.LOG, 1, b"gateway: listening\n"),
    b"0 boot 1 (power_on)\n",
    serial_link.encode_frame(serial_link.RX, 2, bytes(range(40)) + b"\n\r\n"),
    serial_link.encode_frame(serial_link.LOG, 0x0101, b"12345\x00"),  # its COBS code byte is 0x0A, a newline
    b"half a line ",
    b"and the rest\n",
]


def expected() -> list[Any]:
    return [
        Line("MicroPython v1.28 on 2026-07-05"),
        Line(">>> "),
        Frame(serial_link.LOG, 1, b"gateway: listening\n"),
        Line("0 boot 1 (power_on)"),
        Frame(serial_link.RX, 2, bytes(range(40)) + b"\n\r\n"),
        Frame(serial_link.LOG, 0x0101, b"12345\x00"),
        Line("half a line and the rest"),
    ]


def test_text_and_frames_in_one_piece_byte_by_byte_and_in_random_pieces() -> None:
    whole = b"".join(STREAM)
    assert events([whole]) == expected()
    assert events([bytes([b]) for b in whole]) == expected()
    rnd = random.Random(7)
    for _ in range(50):
        cuts = sorted(rnd.sample(range(1, len(whole)), 8))
        pieces = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
        assert events(pieces) == expected()


def test_noise_costs_only_what_it_hits() -> None:
    rnd = random.Random(11)
    for _ in range(200):
        noise = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
        got = events([noise, b"\x00", *STREAM])  # the next frame's leading 0x00: where a reader resynchronises
        assert [e for e in got if not isinstance(e, Damaged)][-len(expected()) :] == expected()
    s = StreamSplitter()
    got = s.feed(b"\x00\x05\x01\x02\x03\x04\x00" + b"\xff\xfe\x01\x80\n" + b"x" * 2000 + b"\n")
    assert isinstance(got[0], Damaged) and s.damaged == 1 and s.noise == 4
    assert [len(e.text) for e in got[1:]] == [1024, 976]  # a long line comes in pieces
    s = StreamSplitter()
    assert s.feed(b"\x00\x07\x01" + b"\x11" * 400 + b"\x00" + b"ok\n") == [Line("ok")]
    assert s.noise == 402  # a run longer than any frame, and binary: dropped


def test_a_node_log_after_noise_that_looked_like_a_frame_comes_back() -> None:
    log = b"".join(b"%d sensor air: reading outside -40.0..85.0\n" % t for t in range(12))
    s = StreamSplitter()
    got = s.feed(b"\x00\x07\x01" + log)  # a node never sends 0x00: nothing ends the would-be frame
    assert len(got) == 11 and got[0] == Line("1 sensor air: reading outside -40.0..85.0"), got
    s = StreamSplitter()
    assert s.feed(b"\x00\x07\x01" + log[:100]) == []  # short of any frame's length: still a frame, maybe
    parts = log[:100].decode().split("\n")  # the first line shares its bytes with the noise: lost with it
    assert s.flush() == [Line(parts[1]), Line(parts[2])]
