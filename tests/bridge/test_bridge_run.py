"""`akker gateway run` as a person starts it: Semtech UDP in, SQLite store, real Mosquitto and a file out.

The gateway is played the way a packet forwarder plays it (PUSH_DATA over a
real UDP socket); the bridge is the installed `akker` command in its own
process, stopped with SIGTERM or killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bridge import store
from gateway.sim.forwarder import Forwarder, push_data, udp_free_port
from payload_codec.lorawan import build_uplink
from tests.bridge.broker import Mosquitto, Subscriber, free_port
from tests.bridge.fieldkit import NODES, report_phy, sample
from tests.processes import wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")


class Bridge:
    def __init__(self, tmp: Path, broker: Mosquitto) -> None:
        self.db = tmp / "farm.db"
        self.jsonl = tmp / "records.jsonl"
        self.udp_port = udp_free_port()
        self.broker = broker
        self.log = tmp / "bridge.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [AKKER, "gateway", "run", "--db", str(self.db), "--udp", f"127.0.0.1:{self.udp_port}",
                 "--mqtt", self.broker.url, "--jsonl", str(self.jsonl), "--gateway-id", "barn"],
                stdout=log, stderr=log,
            )  # fmt: skip
        wait_for_log(self.log, "running", self.proc)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(30)
        self.proc = None
        return code

    def status(self) -> dict[str, object]:
        out = subprocess.run([AKKER, "gateway", "status", "--db", str(self.db), "--json"],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return dict(json.loads(out.stdout))


def register(db: Path) -> None:
    for name, (dev_addr, nwk, app) in NODES.items():
        args = ["nodes", "add", "--db", str(db), "--name", name, "--dev-addr", f"{dev_addr:08x}", "--keys-file", "-"]
        keys = json.dumps({"nwk_skey": nwk.hex(), "app_skey": app.hex()})
        out = subprocess.run([AKKER, *args], input=keys, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and out.stderr == "", out.stderr


@pytest.fixture
def bridge(tmp_path: Path, broker: Mosquitto) -> Iterator[Bridge]:
    b = Bridge(tmp_path, broker)
    register(b.db)
    try:
        yield b
    finally:
        if b.proc is not None:
            b.proc.kill()
            b.proc.wait()


def fcnts_on_mqtt(sub: Subscriber, node: str = "north-1") -> list[int]:
    return [json.loads(m)["fcnt"] for m in sub.on(f"akker/{node}/up")]


def test_udp_frames_are_stored_published_written_and_counted(bridge: Bridge, broker: Mosquitto) -> None:
    sub = Subscriber(broker)
    bridge.start()
    gw = Forwarder(bridge.udp_port)
    try:
        for fcnt in range(10):
            phy = report_phy("north-1", fcnt, [sample([fcnt * 2])])
            gw.send(push_data(fcnt, phy, "aa555a0000000001"))
            gw.send(push_data(1000 + fcnt, phy, "aa555a0000000002", rssi=-110))  # a second gateway hears it
        _dev_addr, nwk, _app = NODES["north-1"]
        forged = bytearray(report_phy("north-1", 10))
        forged[-2] ^= 0xFF
        gw.send(push_data(2000, bytes(forged)))  # bad MIC
        gw.send(push_data(2001, report_phy("north-1", 3)))  # a counter already used, other bytes: replay
        gw.send(push_data(2002, build_uplink(0x26FFFF01, 0, 1, b"\x00\x00", nwk, _app)))  # unknown DevAddr
        gw.send(b"\x02\x00\x01\x00garbage")  # malformed datagram: counted, not acknowledged
        gw.collect(3.0)
        assert set(range(10)) | set(range(1000, 1010)) | {2000, 2001, 2002} <= gw.acked
        assert sub.wait(lambda: sorted(set(fcnts_on_mqtt(sub))) == list(range(10)))
        assert bridge.stop() == 0
    finally:
        gw.close()
        sub.close()
    up = [json.loads(m) for m in sub.on("akker/north-1/up")]
    assert all(m["fcnt"] < 10 for m in up)  # nothing rejected was ever published
    catches = {m["fcnt"]: m["derived"]["catches"] for m in up}
    assert catches[0] == [[0]] and all(catches[f] == [[2]] for f in range(1, 10))
    status = bridge.status()
    assert status["records"] == 10 and status["accepted"] == 10
    assert status["rejected"] == {  # type: ignore[comparison-overlap]
        "bad_crc": 0, "malformed": 0, "unknown_dev_addr": 1, "unknown_dev_eui": 0, "bad_mic": 1, "replay": 1,
        "codec_error": 0,
    }  # fmt: skip
    assert status["sinks"] == {
        "jsonl": {"delivered": 10, "backlog": 0, "state": "ok"},
        "mqtt": {"delivered": 10, "backlog": 0, "state": "ok"},
    }
    sources = status["sources"]
    assert isinstance(sources, dict) and sources["udp_malformed"] == 1
    lines = [json.loads(line) for line in bridge.jsonl.read_text().splitlines()]
    assert sorted(m["fcnt"] for m in lines) == list(range(10))
    db = sqlite3.connect(bridge.db)
    receptions = [len(r.rx) for r in store.records(db)]
    assert sum(receptions) >= 10 and max(receptions) == 2  # both gateways merged into one record
    assert json.loads(sub.on("akker/gateway/barn/status")[-1])["state"] == "offline"
    text = bridge.log.read_text()
    assert nwk.hex() not in text and "Traceback" not in text


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(bridge: Bridge, broker: Mosquitto) -> None:
    """Frames stream in; the bridge is killed; what was not acknowledged is sent again after the restart."""
    sub = Subscriber(broker)
    total = 300
    phys = [report_phy("south-2", f, [sample([f])]) for f in range(total)]
    bridge.start()
    gw = Forwarder(bridge.udp_port)
    try:
        for f in range(total):
            gw.send(push_data(f, phys[f], "aa555a0000000003"))
            if f % 20 == 0:
                gw.collect()
            if f == total // 2:
                bridge.stop(signal.SIGKILL)  # mid-stream: the rest goes nowhere, as to a dead bridge
            time.sleep(0.002)
        gw.collect(0.5)
        bridge.start()
        for _ in range(3):  # a careful forwarder: resend what was never acknowledged
            for f in sorted(set(range(total)) - gw.acked):
                gw.send(push_data(f, phys[f], "aa555a0000000003"))
            gw.collect(1.5)
        assert gw.acked == set(range(total))
        assert sub.wait(lambda: set(fcnts_on_mqtt(sub, "south-2")) == set(range(total)), 40)
        assert bridge.stop() == 0
    finally:
        gw.close()
        sub.close()
    db = sqlite3.connect(bridge.db)
    fcnts = [row[0] for row in db.execute("SELECT fcnt FROM records WHERE node = 'south-2' ORDER BY fcnt")]
    assert fcnts == list(range(total))  # complete, and exactly once each
    assert store.backlog(db) == {}


def test_a_broker_outage_mid_stream_delays_but_loses_nothing(bridge: Bridge, broker: Mosquitto) -> None:
    sub = Subscriber(broker)
    bridge.start()
    gw = Forwarder(bridge.udp_port)
    try:
        for f in range(60):
            if f == 20:
                broker.stop()
            if f == 40:
                broker.start()
            gw.send(push_data(f, report_phy("north-1", f)))
            gw.collect(0.02)
        gw.collect(1.0)
        assert gw.acked == set(range(60))  # the store acknowledges, whatever the broker does
        assert sub.wait(lambda: set(fcnts_on_mqtt(sub)) == set(range(60)), 60)
    finally:
        gw.close()
        sub.close()
        bridge.stop()


def test_bad_settings_are_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    cases = [
        (["--db", str(tmp_path / "x.db")], "no source"),
        (["--db", str(tmp_path / "x.db"), "--udp", "1700"], "HOST:PORT"),
        (["--db", str(tmp_path / "x.db"), "--udp", "127.0.0.1:0", "--mqtt", "tcp://x"], "mqtt://"),
    ]
    for args, message in cases:
        out = subprocess.run([AKKER, "gateway", "run", *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
        assert out.stderr.startswith("akker: ")
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        out = subprocess.run([AKKER, "gateway", "run", "--db", str(tmp_path / "x.db"), "--udp", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--udp" in out.stderr
    out = subprocess.run([AKKER, "gateway", "run", "--db", str(tmp_path / "x.db"), "--serial", "/dev/ttyUSB97"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    last = out.stderr.strip().splitlines()[-1]  # after the bridge's own log lines
    assert out.returncode == 2 and last.startswith("akker: --serial: no port /dev/ttyUSB97: is the board plugged")
    missing = subprocess.run([AKKER, "gateway", "status", "--db", str(tmp_path / "none.db")],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_no_key_in_any_output(tmp_path: Path) -> None:
    _dev_addr, nwk, app = NODES["north-1"]
    db = tmp_path / "farm.db"
    register(db)
    out = subprocess.run([AKKER, "gateway", "status", "--db", str(db)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and nwk.hex() not in out.stdout and app.hex() not in out.stdout
    assert oct(os.stat(db).st_mode & 0o777) == "0o600"


def test_the_bridge_serves_the_dashboard_and_publishes_alerts(tmp_path: Path, broker: Mosquitto) -> None:
    import urllib.request

    db = tmp_path / "farm.db"
    register(db)
    port, http = udp_free_port(), free_port()
    sub = Subscriber(broker)
    log = open(tmp_path / "bridge.log", "wb")  # noqa: SIM115 - held for the bridge's life
    proc = subprocess.Popen(
        [AKKER, "gateway", "run", "--db", str(db), "--udp", f"127.0.0.1:{port}", "--mqtt", broker.url,
         "--http", f"127.0.0.1:{http}", "--alerts-every-s", "1"], stdout=log, stderr=log,
    )  # fmt: skip
    gw = Forwarder(port)
    try:
        wait_for_log(tmp_path / "bridge.log", "running", proc)
        gw.send(push_data(1, report_phy("north-1", 0, [sample(moisture=4.0)])))  # bone dry: below 15 %
        gw.send(push_data(2, report_phy("south-2", 0, [sample(moisture=30.0)])))
        gw.collect(1.0)
        assert sub.wait(lambda: any(json.loads(m) for m in sub.on("akker/north-1/alerts")), 20)
        alert = json.loads(sub.on("akker/north-1/alerts")[-1])[0]
        assert alert["kind"] == "soil_moisture_low" and alert["node"] == "north-1"
        assert sub.wait(lambda: sub.on("akker/south-2/alerts") == [b"[]"])  # nothing wrong there
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/api/nodes", timeout=10) as answer:
            overview = json.loads(answer.read())
        names = [n["name"] for f in overview["fields"] for n in f["nodes"]]
        assert sorted(names) == ["north-1", "south-2"]
    finally:
        gw.close()
        sub.close()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        log.close()
    assert code == 0
