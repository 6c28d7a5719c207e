"""`akker gateway run --ttn / --chirpstack`: a network server's MQTT integration feeding the bridge, against Mosquitto.

The real CLI in its own process, a real broker on a free loopback port, messages published as the servers
publish them. What the broker keeps for the bridge's persistent session survives the bridge being killed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.bridge.registry import Registry, open_db
from tests.bridge.broker import Mosquitto, Subscriber
from tests.bridge.test_server_uplinks import CS_EUI, TTN_EUI, chirpstack_message, tts_message
from tests.processes import wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")
CS_APP = "0b2ed4de-0ef4-4b4f-8c8e-0b3d2c1f5a77"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


def farm(tmp_path: Path) -> Path:
    db = tmp_path / "farm.db"
    registry = Registry(open_db(db))
    registry.add_server_device("ttn-1", bytes.fromhex(TTN_EUI), "ttn")
    registry.add_server_device("cs-1", bytes.fromhex(CS_EUI), "chirpstack")
    return db


def bridge(tmp_path: Path, db: Path, *args: str, log_name: str = "bridge.log") -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / log_name
    with open(log, "wb") as out:
        proc = subprocess.Popen([AKKER, "gateway", "run", "--db", str(db), "--gateway-id", "farm", "--no-network",
                                 *args], stdout=out, stderr=out)  # fmt: skip
    return proc, log


def publisher(broker: Mosquitto) -> paho.Client:
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="server-stand-in")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def stored(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as c:
        return [(str(n), int(f)) for n, f in c.execute("SELECT node, fcnt FROM records ORDER BY node, fcnt")]


def counter(db: Path, name: str) -> int:
    with sqlite3.connect(db) as c:
        row = c.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def wait(predicate: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_uplinks_from_the_things_stack_are_stored_and_published(tmp_path: Path, broker: Mosquitto) -> None:
    db = farm(tmp_path)
    key = tmp_path / "ttn.key"
    key.write_text("NNSXS.ABCDEF\n")
    key.chmod(0o600)
    proc, log = bridge(tmp_path, db, "--ttn", broker.url, "--ttn-app", "akker-farm", "--ttn-key-file", str(key),
                       "--mqtt", broker.url)  # fmt: skip
    sub = Subscriber(broker, "akker/#")
    pub = publisher(broker)
    try:
        wait_for_log(log, "connected network=ttn", proc)
        topic = "v3/akker-farm@ttn/devices/ttn-1/up"
        pub.publish(topic, json.dumps(tts_message(fcnt=42)), qos=1).wait_for_publish(5)
        pub.publish(topic, b"{not json", qos=1).wait_for_publish(5)
        pub.publish(topic, json.dumps(tts_message(fcnt=42)), qos=1).wait_for_publish(5)  # again
        pub.publish(topic, json.dumps(tts_message(fcnt=43)), qos=1).wait_for_publish(5)
        wait(lambda: stored(db) == [("ttn-1", 42), ("ttn-1", 43)] and counter(db, "duplicate") == 1)
        assert sub.wait(lambda: len(sub.on("akker/ttn-1/up")) == 2, 10)
        up = json.loads(sub.on("akker/ttn-1/up")[0])
        assert up["fcnt"] == 42 and up["data"]["samples"][0]["soil_moisture_pct"] == [23.4]
        assert counter(db, "ttn_malformed") == 1 and counter(db, "ttn_uplinks") == 3
        assert "NNSXS" not in log.read_text()  # the API key never in the log
    finally:
        pub.loop_stop()
        sub.close()
        proc.terminate()
        proc.wait(30)


def test_a_bridge_killed_mid_stream_loses_nothing_the_broker_kept(tmp_path: Path, broker: Mosquitto) -> None:
    # ChirpStack publishing at QoS 1 to Mosquitto: the bridge's session (fixed client id, clean_session
    # false, QoS 1) keeps what arrives while it is down, and what it had not acknowledged comes again.
    db = farm(tmp_path)
    args = ("--chirpstack", broker.url, "--chirpstack-app", CS_APP)
    proc, log = bridge(tmp_path, db, *args)
    pub = publisher(broker)
    topic = f"application/{CS_APP}/device/{CS_EUI}/event/up"
    try:
        wait_for_log(log, "connected network=chirpstack", proc)
        time.sleep(0.3)  # the SUBACK: the session now holds the subscription
        for fcnt in range(1, 41):
            pub.publish(topic, chirpstack_message(fcnt=fcnt, dedup=f"d-{fcnt}"), qos=1)
            if fcnt == 15:
                os.kill(proc.pid, signal.SIGKILL)  # mid-stream, no goodbye
                proc.wait(10)
        time.sleep(0.5)
        proc, log = bridge(tmp_path, db, *args, log_name="again.log")
        wait(lambda: len(stored(db)) == 40, 30)
        assert " nodes=2" in log.read_text()  # a network server's nodes count as registered
        assert stored(db) == [("cs-1", f) for f in range(1, 41)]  # each once
    finally:
        pub.loop_stop()
        proc.terminate()
        proc.wait(30)


def test_a_source_needs_its_application(tmp_path: Path) -> None:
    out = subprocess.run([AKKER, "gateway", "run", "--db", str(tmp_path / "f.db"), "--ttn", "mqtt://127.0.0.1:1"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.returncode == 2 and "--ttn needs --ttn-app and --ttn-key-file" in out.stderr, out.stderr
