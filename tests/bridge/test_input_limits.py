"""Bad input that costs too much: the bridge under oversized and flooding Semtech UDP input.

Each case is one an audit saw (issue 11, item 8): a datagram of 21,000 empty
rxpk items, floods of frames with a bad MIC, a 64 KB `time` string, one frame
heard under dozens of made-up gateway EUIs. The bridge is `akker gateway run` in
its own process on a loopback UDP port, its log a real file; the gateway is a
UDP socket here. Memory (RSS) is measured by `make bench`, not here.
"""

from __future__ import annotations

import base64
import json
import logging
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.bridge.frame import MAX_RECEPTIONS, Reception, UplinkFrame, add_reception
from gateway.bridge.log_limit import LogLimit
from gateway.bridge.pipeline import Pipeline
from payload_codec.lorawan import build_uplink
from tests.bridge.fieldkit import NODES, T0, register, report_phy, sample
from tests.processes import wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")
EUI = "aa555a0000000001"
REAL_TIME = "2026-06-01T06:00:00.123456Z"


def rxpk(phy: bytes, **fields: object) -> dict[str, object]:
    """The fields lora_pkt_fwd (sx1302_hal) writes for a LoRa packet, fields replaced as given."""
    item: dict[str, object] = {
        "jver": 1, "tmst": 3512348611, "time": REAL_TIME, "tmms": 1464458418123, "chan": 2, "rfch": 0,
        "freq": 868.1, "mid": 8, "stat": 1, "modu": "LORA", "datr": "SF9BW125", "codr": "4/5",
        "rssis": -98, "lsnr": 7.5, "foff": -211, "rssi": -97, "size": len(phy),
        "data": base64.b64encode(phy).decode(),
    }  # fmt: skip
    item.update(fields)
    return item


def lean_rxpk(phy: bytes) -> dict[str, object]:
    """The fewest fields the bridge takes: what a flood costs the sender least to send."""
    data = base64.b64encode(phy).decode()
    return {"freq": 868.1, "stat": 1, "modu": "LORA", "datr": "SF7BW125", "rssi": -90, "lsnr": 5, "data": data}


def push(token: int, items: list[object], eui: str = EUI) -> bytes:
    body = json.dumps({"rxpk": items}, separators=(",", ":")).encode()
    return bytes([2, token >> 8, token & 0xFF, 0]) + bytes.fromhex(eui) + body


def bad_mic_phy(fcnt: int) -> bytes:
    """A frame from a registered DevAddr, signed with the wrong key."""
    dev_addr = NODES["north-1"][0]
    return build_uplink(dev_addr, fcnt, 1, b"\x01" * 12, bytes(16), bytes(16))


class BridgeProcess:
    """`akker gateway run --udp` on a free loopback port, its log (stdout and stderr) in a file."""

    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "farm.db"
        self.log = tmp / "bridge.log"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.acked: set[int] = set()

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [AKKER, "gateway", "run", "--db", str(self.db), "--udp", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=log,
            )  # fmt: skip
        wait_for_log(self.log, " running ", self.proc)

    def log_size(self) -> int:
        return self.log.stat().st_size

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, ("127.0.0.1", self.port))

    def collect(self, timeout_s: float) -> None:
        """Read PUSH_ACKs for up to timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(64)
            except TimeoutError:
                return
            if len(data) == 4 and data[3] == 0x01:
                self.acked.add(data[1] << 8 | data[2])
            if time.monotonic() >= deadline:
                return

    def wait_ack(self, token: int, timeout_s: float = 10.0) -> float:
        """Seconds until the PUSH_ACK for token came; AssertionError if it did not."""
        started = time.monotonic()
        while token not in self.acked:
            assert time.monotonic() - started < timeout_s, f"no PUSH_ACK for token {token} within {timeout_s} s"
            self.collect(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(30) == 0, self.log.read_text()[-2000:]
            self.proc = None

    def status(self) -> dict[str, object]:
        out = subprocess.run([AKKER, "gateway", "status", "--db", str(self.db), "--json"],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout))

    def records(self) -> list[tuple[str, list[dict[str, object]]]]:
        """(node, receptions) of every stored record."""
        db = sqlite3.connect(self.db)
        try:
            return [(str(node), json.loads(rx)) for node, rx in db.execute("SELECT node, rx FROM records ORDER BY id")]
        finally:
            db.close()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        self.sock.close()


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[BridgeProcess]:
    b = BridgeProcess(tmp_path)
    register(b.db)
    b.start()
    try:
        yield b
    finally:
        b.close()


def lines_with(log: str, text: str) -> list[str]:
    return [line for line in log.splitlines() if text in line]


def test_a_real_forwarders_datagram_is_accepted_unchanged(bridge: BridgeProcess) -> None:
    phys = [report_phy("north-1", 1, [sample([4])]), report_phy("south-2", 7), report_phy("north-1", 2)]
    items = [
        rxpk(phys[0]),
        rxpk(phys[1], rssis=-110, lsnr=-3.25, datr="SF12BW125", freq=867.9, time="2026-06-01T06:00:00.999999Z"),
        # An SX1301 packet_forwarder's item: no rssis, jver, mid or foff.
        {k: v for k, v in rxpk(phys[2], tmst=7).items() if k not in ("rssis", "jver", "mid", "foff", "tmms")},
    ]
    bridge.send(push(0x0101, items))
    bridge.wait_ack(0x0101)
    bridge.stop()
    records = bridge.records()
    assert [node for node, _ in records] == ["north-1", "south-2", "north-1"]
    assert [rx for _, rx in records] == [
        [{"gateway": EUI, "rssi": -98.0, "snr": 7.5, "frequency": 868_100_000, "sf": 9, "bw": 125,
          "gateway_time": REAL_TIME, "counter_us": 3512348611}],
        [{"gateway": EUI, "rssi": -110.0, "snr": -3.25, "frequency": 867_900_000, "sf": 12, "bw": 125,
          "gateway_time": "2026-06-01T06:00:00.999999Z", "counter_us": 3512348611}],
        [{"gateway": EUI, "rssi": -97.0, "snr": 7.5, "frequency": 868_100_000, "sf": 9, "bw": 125,
          "gateway_time": REAL_TIME, "counter_us": 7}],
    ]  # fmt: skip
    log = bridge.log.read_text()
    assert lines_with(log, " warning ") == [], log
    sources = bridge.status()["sources"]
    assert isinstance(sources, dict)
    assert sources.get("udp_datagrams") == 1
    assert not {k for k in sources if "oversize" in k or "invalid" in k or "malformed" in k}


def test_a_datagram_of_21000_empty_rxpk_is_refused_in_one_line(bridge: BridgeProcess) -> None:
    flood = push(0x0202, [{}] * 21_000)
    assert 60_000 < len(flood) < 65_000
    before = bridge.log_size()
    bridge.send(flood)
    bridge.send(push(0x0203, [rxpk(report_phy("north-1", 1))]))
    took = bridge.wait_ack(0x0203)  # the datagram after it is not held up
    bridge.collect(0.2)
    bridge.stop()
    grown = bridge.log_size() - before
    log = bridge.log.read_text()
    assert grown < len(flood) // 10, f"{grown} bytes of log for a {len(flood)}-byte datagram"
    assert 0x0202 not in bridge.acked  # no real forwarder sends this: refused as a whole, never acknowledged
    refused = lines_with(log, "datagram_refused")
    assert len(refused) == 1 and "21000 rxpk items" in refused[0] and "at most 255" in refused[0]
    assert took < 1.0
    sources = bridge.status()["sources"]
    assert isinstance(sources, dict)
    assert sources.get("udp_oversize") == 1
    assert sources.get("udp_rxpk_invalid", 0) == 0
    assert [node for node, _ in bridge.records()] == ["north-1"]


def test_a_bad_mic_flood_is_counted_in_full_and_logged_in_summary(bridge: BridgeProcess) -> None:
    per_datagram, datagrams, window = 200, 30, 4
    sent_bytes = 0
    before = bridge.log_size()
    for d in range(datagrams):
        if d >= window:
            bridge.wait_ack(d - window)  # as a forwarder waits for its PUSH_ACK: nothing is dropped
        datagram = push(d, [lean_rxpk(bad_mic_phy(d * per_datagram + i)) for i in range(per_datagram)])
        sent_bytes += len(datagram)
        bridge.send(datagram)
    bridge.wait_ack(datagrams - 1)
    bridge.stop()
    grown = bridge.log_size() - before
    log = bridge.log.read_text()
    assert grown < sent_bytes // 100, f"{grown} bytes of log for {sent_bytes} bytes sent"
    bad_mic = lines_with(log, "reason=bad_mic")
    assert 1 <= len(bad_mic) <= 3, log[-3000:]
    summaries = lines_with(log, "rejected reason=bad_mic count=")
    assert summaries and "(first: gateway=aa555a0000000001 source=udp detail='MIC mismatch" in summaries[0]
    status = bridge.status()
    rejected = status["rejected"]
    assert isinstance(rejected, dict)
    assert rejected["bad_mic"] == per_datagram * datagrams  # every one counted, however few are logged


def test_a_64_kb_time_string_is_neither_stored_nor_forwarded(bridge: BridgeProcess) -> None:
    huge = REAL_TIME + "x" * 60_000
    before = bridge.log_size()
    bridge.send(push(0x0404, [rxpk(report_phy("north-1", 1), time=huge)]))
    bridge.wait_ack(0x0404)  # the datagram arrived whole; its one packet is refused
    bridge.stop()
    stored = [len(str(rx[0].get("gateway_time"))) for _, rx in bridge.records()]
    assert stored == [], f"stored with a gateway_time of {stored} characters"
    grown = bridge.log_size() - before
    log = bridge.log.read_text()
    assert grown < 2_000, f"{grown} bytes of log for one rxpk"
    (line,) = lines_with(log, "rxpk_invalid")
    assert "time is 60027 characters, at most 64" in line
    sources = bridge.status()["sources"]
    assert isinstance(sources, dict)
    assert sources.get("udp_rxpk_oversize") == 1


@pytest.mark.parametrize(
    "time_field",
    [
        REAL_TIME,
        REAL_TIME + "x" * 1_500,
    ],
)
def test_one_frame_under_35_made_up_gateways_keeps_a_bounded_reception_list(
    bridge: BridgeProcess, time_field: str
) -> None:
    phy = report_phy("north-1", 1)
    euis = [f"{0xAA555A0000001000 + i:016x}" for i in range(35)]
    for i, eui in enumerate(euis):  # well within the deduplication window
        bridge.send(push(i, [rxpk(phy, time=time_field)], eui=eui))
    bridge.wait_ack(len(euis) - 1)
    bridge.stop()
    records = bridge.records()
    if time_field != REAL_TIME:
        assert records == []  # the over-long time refuses every one of them
        return
    ((_, receptions),) = records
    assert len(receptions) == 16
    assert [r["gateway"] for r in receptions] == euis[:16]  # the first gateways to hear it, one entry each
    assert len(json.dumps(receptions)) < 16 * 200


def test_add_reception_keeps_one_entry_per_gateway_and_at_most_max_receptions() -> None:
    def rx(i: int) -> Reception:
        return Reception(f"{i:016x}", -97.0, 7.5, 868_100_000, 9, 125, gateway_time=REAL_TIME)

    receptions = [rx(0).as_json()]
    assert not add_reception(receptions, rx(0))  # the same gateway again: one entry per gateway
    added = [add_reception(receptions, rx(i)) for i in range(1, 35)]
    assert added == [True] * (MAX_RECEPTIONS - 1) + [False] * (35 - MAX_RECEPTIONS)
    assert [r["gateway"] for r in receptions] == [f"{i:016x}" for i in range(MAX_RECEPTIONS)]


def test_the_submit_queue_is_bounded_in_bytes(tmp_path: Path) -> None:
    """A source blocks in submit once the queue holds its byte limit; nothing waits in memory beyond it."""
    frames = [
        UplinkFrame(
            phy=report_phy("north-1", i),
            rx=Reception(EUI, -97.0, 7.5, 868_100_000, 9, 125, crc_ok=False, gateway_time=REAL_TIME, counter_us=i),
            source="udp",
            received_at=T0,
        )
        for i in range(255)
    ]
    pipeline = Pipeline(tmp_path / "farm.db", [])
    submitted = 0
    done = threading.Event()

    def source() -> None:
        nonlocal submitted
        for _ in range(100):  # 25,500 frames, as from a flood of full datagrams
            pipeline.submit(frames)
            submitted += 1
        done.set()

    threading.Thread(target=source, daemon=True).start()
    time.sleep(0.5)  # the pipeline is not started: nothing leaves the queue
    assert not done.is_set(), "submit never blocked: the queue grows with whatever is sent"
    # ~700 bytes of Python objects per frame: the queue holds a few MB, not tens of them.
    assert submitted * len(frames) * 700 < 16 << 20
    pipeline.start()  # the pipeline drains the queue and the source goes on
    try:
        assert done.wait(30)
    finally:
        pipeline.stop()
    assert submitted == 100


# ------------------------------------------------------------------ the rate limit itself


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def limited() -> Iterator[tuple[LogLimit, list[str]]]:
    logger = logging.getLogger("akker.test_log_limit")
    logger.setLevel(logging.INFO)
    limit = LogLimit(logger, interval_s=0.3)
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Lines()
    logger.addHandler(handler)
    try:
        yield limit, lines
    finally:
        limit.close()
        logger.removeHandler(handler)


def test_one_line_at_once_then_one_summary_per_interval(limited: tuple[LogLimit, list[str]]) -> None:
    limit, lines = limited
    for i in range(1000):
        limit.warning("rejected reason=bad_mic", "gateway=%s detail=%r", "gw-1", f"frame {i}")
    assert lines == ["rejected reason=bad_mic gateway=gw-1 detail='frame 0'"]  # the first, in full, at once
    assert wait_for(lambda: len(lines) == 2)  # when the interval ends, without waiting for another event
    assert lines[1:] == ["rejected reason=bad_mic count=1000 in the last 0.3 s (first: gateway=gw-1 detail='frame 0')"]
    limit.warning("rejected reason=bad_mic", "gateway=%s detail=%r", "gw-2", "later")
    assert lines[2:] == ["rejected reason=bad_mic gateway=gw-2 detail='later'"]  # a new interval starts in full
    time.sleep(0.45)
    assert len(lines) == 3  # one event in an interval needs no summary


def test_reasons_are_limited_apart(limited: tuple[LogLimit, list[str]]) -> None:
    limit, lines = limited
    for _ in range(3):
        limit.warning("rejected reason=bad_mic", "n=%d", 1)
        limit.warning("rejected reason=replay", "n=%d", 2)
    assert lines == ["rejected reason=bad_mic n=1", "rejected reason=replay n=2"]
    limit.close()  # at stop: what is pending is written, not lost
    assert sorted(lines[2:]) == [
        "rejected reason=bad_mic count=3 in the last 0.1 s (first: n=1)",
        "rejected reason=replay count=3 in the last 0.1 s (first: n=2)",
    ]
    time.sleep(0.45)
    assert len(lines) == 4  # and never twice


def test_a_level_nobody_logs_costs_nothing(limited: tuple[LogLimit, list[str]]) -> None:
    limit, lines = limited
    for _ in range(5):
        limit.log(logging.DEBUG, "rejected reason=bad_crc", "x=%d", 1)
    limit.close()
    assert lines == []
