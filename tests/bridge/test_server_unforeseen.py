"""A server message of a shape the parser does not foresee (gateway/bridge/sources/server_mqtt.py).

`"rx_metadata": 5` makes the parser iterate a number: a TypeError, not the MessageError it raises for what it
knows to be wrong. Escaping the message callback, it ended paho's network thread and the source heard nothing
more. It is a bad message like any other: counted, acknowledged (not redelivered when the bridge comes back),
one warning that names no key and no payload, and the next message is stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.bridge.sources.server_messages import tts_uplink
from tests.bridge.broker import Mosquitto
from tests.bridge.test_server_mqtt import bridge, counter, publisher, stored, wait
from tests.bridge.test_server_uplinks import farm, tts_message
from tests.processes import wait_for_log

TOPIC = "v3/akker-farm@ttn/devices/ttn-1/up"


def test_the_shape_is_one_the_parser_does_not_foresee() -> None:
    # The premise of the test below: if the parser learns to refuse this as a MessageError, pick another shape.
    with pytest.raises(TypeError):
        tts_uplink(json.dumps(tts_message(rx_metadata=5)).encode())


def test_the_source_counts_it_acknowledges_it_and_hears_the_next(tmp_path: Path, broker: Mosquitto) -> None:
    db = farm(tmp_path)
    key = tmp_path / "ttn.key"
    key.write_text("NNSXS.ABCDEF\n")
    key.chmod(0o600)
    args = ("--ttn", broker.url, "--ttn-app", "akker-farm", "--ttn-key-file", str(key))
    proc, log = bridge(tmp_path, db, *args)
    pub = publisher(broker)
    try:
        wait_for_log(log, "connected network=ttn", proc)
        pub.publish(TOPIC, json.dumps(tts_message(fcnt=42, rx_metadata=5)), qos=1).wait_for_publish(5)
        pub.publish(TOPIC, json.dumps(tts_message(fcnt=43)), qos=1).wait_for_publish(5)
        wait(lambda: stored(db) == [("ttn-1", 43)] and counter(db, "ttn_malformed") == 1, 15)
        proc.terminate()
        assert proc.wait(30) == 0
        text = log.read_text()
        assert "ttn_unforeseen topic=v3/akker-farm@ttn/devices/ttn-1/up error=TypeError" in text
        assert "Traceback" not in text and "NNSXS" not in text and "AXBSH1Pk6Z0G166" not in text

        # Back with the same session: had the bad message not been acknowledged, the broker would hand it over
        # again before the new one, and it would be counted a second time.
        proc, log = bridge(tmp_path, db, *args, log_name="again.log")
        wait_for_log(log, "connected network=ttn", proc)
        pub.publish(TOPIC, json.dumps(tts_message(fcnt=44)), qos=1).wait_for_publish(5)
        wait(lambda: stored(db) == [("ttn-1", 43), ("ttn-1", 44)], 15)
        assert counter(db, "ttn_malformed") == 1
        assert "ttn_unforeseen" not in log.read_text()
    finally:
        pub.loop_stop()
        proc.terminate()
        proc.wait(30)
