"""The whole receive chain with real parts: gateway firmware under MicroPython behind a pty, `akker gateway run
--serial` on the other side, Mosquitto behind it. Noise on the line and a replugged cable lose no intact frame."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bridge import store
from gateway.sim.virtual_board import VirtualBoard
from tests.bridge.broker import Mosquitto, Subscriber
from tests.bridge.fieldkit import report_phy, sample
from tests.bridge.test_bridge_run import register
from tests.processes import wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")


def air(phy: bytes, **changes: object) -> dict[str, object]:
    return {"freq_khz": 868100, "sf": 9, "bw_khz": 125, "rssi_dbm": -101, "snr_db": 4.25, "phy": phy, **changes}


@pytest.fixture
def bridge(tmp_path: Path, board: VirtualBoard, broker: Mosquitto) -> Iterator[subprocess.Popen[bytes]]:
    db = tmp_path / "farm.db"
    register(db)
    log = open(tmp_path / "bridge.log", "wb")  # noqa: SIM115 - held for the bridge's life
    proc = subprocess.Popen(
        [AKKER, "gateway", "run", "--db", str(db), "--serial", str(board.tty), "--mqtt", broker.url,
         "--gateway-id", "barn"], stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_for_log(tmp_path / "bridge.log", "running", proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()  # a test that failed must not leave a bridge running
                proc.wait()
        log.close()


def fcnts(sub: Subscriber) -> set[int]:
    return {json.loads(m)["fcnt"] for m in sub.on("akker/north-1/up")}


def test_frames_heard_by_the_board_reach_mqtt_through_noise_and_a_replug(
    tmp_path: Path, board: VirtualBoard, bridge: subprocess.Popen[bytes], broker: Mosquitto
) -> None:
    sub = Subscriber(broker)
    rng = random.Random(5)
    try:
        time.sleep(0.5)  # the source's PING and the board's PONG
        for f in range(10):
            board.inject(air(report_phy("north-1", f, [sample([f])])))
        board.inject(air(report_phy("north-1", 99), crc_error=True))  # heard with a bad CRC: counted, dropped
        assert sub.wait(lambda: fcnts(sub) == set(range(10)))
        for f in range(10, 30):  # a noisy line: random bytes between frames, and frames with a flipped bit
            if f % 3 == 0:
                board.write_garbage(rng.randbytes(rng.randint(1, 40)))
            if f % 7 == 0:
                board.damage_next(1)
            board.inject(air(report_phy("north-1", f, [sample([f])])))
            time.sleep(0.02)
        time.sleep(1.0)
        board.unplug()
        time.sleep(0.3)
        board.replug()
        time.sleep(1.5)  # the source reopens the port every 0.5 s
        for f in range(30, 40):
            board.inject(air(report_phy("north-1", f, [sample([f])])))
        assert sub.wait(lambda: set(range(30, 40)) <= fcnts(sub))
    finally:
        sub.close()
    bridge.send_signal(signal.SIGTERM)
    assert bridge.wait(30) == 0
    db = sqlite3.connect(tmp_path / "farm.db")
    stored = {r.fcnt for r in store.records(db)}
    damaged = set(range(10, 30)) - stored  # frames whose bytes the line damaged never got in
    assert stored == set(range(40)) - damaged and len(damaged) <= 3
    assert fcnts(sub) == stored  # everything stored was published, nothing else was
    counters = store.counters(db)
    assert counters["rejected_bad_crc"] == 1
    assert counters.get("serial_damaged", 0) >= len(damaged)
    assert counters.get("serial_reconnects", 0) >= 1
    up = json.loads(sub.on("akker/north-1/up")[0])
    assert up["rx"][0] == {"gateway": "board:sim", "rssi": -101.0, "snr": 4.25, "frequency": 868100000, "sf": 9,
                           "bw": 125, "counter_us": up["rx"][0]["counter_us"]}  # fmt: skip
    assert "Traceback" not in (tmp_path / "bridge.log").read_text()
