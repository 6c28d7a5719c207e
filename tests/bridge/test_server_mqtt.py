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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.bridge import store
from gateway.bridge.registry import open_db
from gateway.dashboard import api
from gateway.farm.alert_config import default_config
from tests.bridge.broker import Mosquitto, Subscriber
from tests.bridge.test_server_uplinks import CS_EUI, TTN_EUI, chirpstack_message, farm, tts_message
from tests.processes import wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")
CS_APP = "0b2ed4de-0ef4-4b4f-8c8e-0b3d2c1f5a77"


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


def trap(count: int) -> dict[str, Any]:
    return {"type": "report", "samples": [{"age_s": 0, "soil_moisture_pct": [8.5], "insect_count": [count],
                                           "battery_v": 3.9}]}  # fmt: skip


def test_uplinks_from_the_things_stack_are_stored_and_published(tmp_path: Path, broker: Mosquitto) -> None:
    db = farm(tmp_path)
    key = tmp_path / "ttn.key"
    key.write_text("NNSXS.ABCDEF\n")
    key.chmod(0o600)
    proc, log = bridge(tmp_path, db, "--ttn", broker.url, "--ttn-app", "akker-farm", "--ttn-key-file", str(key),
                       "--mqtt", broker.url, "--alerts-every-s", "1")  # fmt: skip
    sub = Subscriber(broker, "akker/#")
    pub = publisher(broker)
    try:
        wait_for_log(log, "connected network=ttn", proc)
        topic = "v3/akker-farm@ttn/devices/ttn-1/up"
        first, second = (json.dumps(tts_message(fcnt=f, payload=trap(n))) for f, n in ((42, 40), (43, 45)))
        pub.publish(topic, first, qos=1).wait_for_publish(5)
        pub.publish(topic, b"{not json", qos=1).wait_for_publish(5)
        pub.publish(topic, first, qos=1).wait_for_publish(5)  # again
        pub.publish(topic, second, qos=1).wait_for_publish(5)
        wait(lambda: stored(db) == [("ttn-1", 42), ("ttn-1", 43)] and counter(db, "duplicate") == 1)
        assert sub.wait(lambda: len(sub.on("akker/ttn-1/up")) == 2, 10)
        up = [json.loads(m) for m in sub.on("akker/ttn-1/up")]
        assert up[0]["fcnt"] == 42 and up[0]["data"]["samples"][0]["soil_moisture_pct"] == [8.5]
        assert up[1]["derived"]["catches"] == [[5]]  # catches since the last report, as for any node
        # Alerts (a dry field: 8.5 % is below the default 15 %) and the dashboard know the node too.
        assert sub.wait(lambda: any("soil_moisture_low" in m.decode() for m in sub.on("akker/ttn-1/alerts")), 15)
        then = datetime(2026, 6, 1, 7, 0, tzinfo=timezone.utc)  # the messages' reception, the server's time
        detail: Any = api.node_detail(store.connect_readonly(db), default_config(), "ttn-1", then)
        assert detail["series"]["soil_moisture_pct"][0][-1] == 8.5
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


def subscribed(broker: Mosquitto, topic: str) -> Subscriber:
    return Subscriber(broker, topic)


def command_state(db: Path, node: str) -> str:
    from gateway.network.commands import CommandQueue

    (command,) = CommandQueue(open_db(db)).for_node(node)
    return command.state


def test_a_command_for_a_ttn_node_goes_through_the_things_stack_and_follows_its_events(
    tmp_path: Path, broker: Mosquitto
) -> None:
    db = farm(tmp_path)
    key = tmp_path / "ttn.key"
    key.write_text("NNSXS.ABCDEF\n")
    proc, log = bridge(tmp_path, db, "--ttn", broker.url, "--ttn-app", "akker-farm", "--ttn-key-file", str(key))
    server = subscribed(broker, "v3/akker-farm@ttn/devices/+/down/push")
    pub = publisher(broker)
    base = "v3/akker-farm@ttn/devices/ttn-1"
    try:
        wait_for_log(log, "connected network=ttn", proc)
        # Its downlink topic names the device by The Things Stack's id, which the bridge learns from an uplink.
        pub.publish(f"{base}/up", json.dumps(tts_message(fcnt=1)), qos=1).wait_for_publish(5)
        wait(lambda: stored(db) == [("ttn-1", 1)])
        command = '{"cmd": "set_interval", "seconds": 600}'
        send = subprocess.run([AKKER, "nodes", "send", "--db", str(db), "ttn-1", command, "--confirmed"],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert send.returncode == 0, send.stderr
        assert server.wait(lambda: server.on(f"{base}/down/push"), 15)
        assert json.loads(server.on(f"{base}/down/push")[0]) == {"downlinks": [
            {"f_port": 20, "frm_payload": "AAJY", "priority": "NORMAL", "confirmed": True,
             "correlation_ids": ["akker:cmd:1"]}]}  # fmt: skip
        time.sleep(2.5)  # a poll later: handed over once, not again
        assert len(server.on(f"{base}/down/push")) == 1 and command_state(db, "ttn-1") == "queued"
        ids = {"device_id": "ttn-1", "dev_eui": TTN_EUI, "application_ids": {"application_id": "akker-farm"}}
        sent = {"end_device_ids": ids, "correlation_ids": ["as:downlink:01H", "akker:cmd:1"],
                "downlink_sent": {"f_port": 20, "frm_payload": "AAJY", "confirmed": True,
                                  "correlation_ids": ["akker:cmd:1"]}}  # fmt: skip
        pub.publish(f"{base}/down/sent", json.dumps(sent), qos=1).wait_for_publish(5)
        wait(lambda: command_state(db, "ttn-1") == "sent")
        ack = {"end_device_ids": ids, "downlink_ack": {"f_port": 20, "correlation_ids": ["akker:cmd:1"]}}
        pub.publish(f"{base}/down/ack", json.dumps(ack), qos=1).wait_for_publish(5)
        wait(lambda: command_state(db, "ttn-1") == "acknowledged")
    finally:
        pub.loop_stop()
        server.close()
        proc.terminate()
        proc.wait(30)


def test_a_command_for_a_chirpstack_node_goes_through_chirpstack_and_follows_its_events(
    tmp_path: Path, broker: Mosquitto
) -> None:
    from chirpstack_api import integration  # type: ignore[import-untyped]
    from google.protobuf import json_format

    db = farm(tmp_path)
    proc, log = bridge(tmp_path, db, "--chirpstack", broker.url, "--chirpstack-app", CS_APP)
    base = f"application/{CS_APP}/device/{CS_EUI}"
    server = subscribed(broker, f"application/{CS_APP}/device/+/command/down")
    pub = publisher(broker)
    try:
        wait_for_log(log, "connected network=chirpstack", proc)
        send = subprocess.run([AKKER, "nodes", "send", "--db", str(db), "cs-1", '{"cmd": "set_batch", "samples": 2}'],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert send.returncode == 0, send.stderr
        assert server.wait(lambda: server.on(f"{base}/command/down"), 15)
        item = "00000000-0000-4000-8000-000000000001"
        assert json.loads(server.on(f"{base}/command/down")[0]) == {
            "devEui": CS_EUI, "confirmed": False, "fPort": 21, "data": "Ag==", "id": item}  # fmt: skip
        txack = integration.TxAckEvent(downlink_id=77, queue_item_id=item, f_cnt_down=3, gateway_id="0016c001f153a14c")
        pub.publish(f"{base}/event/txack", json_format.MessageToJson(txack), qos=1).wait_for_publish(5)
        wait(lambda: command_state(db, "cs-1") == "sent")
        ack = integration.AckEvent(queue_item_id=item, acknowledged=False, f_cnt_down=3)
        pub.publish(f"{base}/event/ack", json_format.MessageToJson(ack), qos=1).wait_for_publish(5)
        wait(lambda: command_state(db, "cs-1") == "expired")  # not acknowledged: the office should send it again
        join = integration.JoinEvent(deduplication_id="j-1", dev_addr="00189441")
        join.device_info.dev_eui = CS_EUI
        pub.publish(f"{base}/event/join", json_format.MessageToJson(join), qos=1).wait_for_publish(5)
        wait_for_log(log, f"joined network=chirpstack device={CS_EUI}", proc)  # ChirpStack answers it
        proc.terminate()
        proc.wait(30)
        assert counter(db, "chirpstack_joins") == 1  # counters are saved with the next batch, or at stop
        assert counter(db, "chirpstack_malformed") == 0  # no event was taken for an uplink
    finally:
        pub.loop_stop()
        server.close()
        proc.terminate()
        proc.wait(30)
