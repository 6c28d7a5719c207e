"""A network server's reception numbers that are not numbers (gateway/bridge/sources/server_messages.py).

Seen: an uplink whose rx_metadata had "rssi": "abc" raised a bare ValueError, which the source does not
catch as a bad message: it was neither counted as malformed nor acknowledged, and the exception left
paho's network thread, so the source heard nothing more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.sources.server_messages import MessageError, chirpstack_uplink, tts_uplink
from tests.bridge.broker import Mosquitto
from tests.bridge.test_server_mqtt import bridge, counter, publisher, stored, wait
from tests.bridge.test_server_uplinks import chirpstack_message, farm, tts_message
from tests.processes import wait_for_log


def tts_with(field: str, value: object) -> bytes:
    message = tts_message()
    message["uplink_message"]["rx_metadata"][0][field] = value
    return json.dumps(message).encode()


def chirpstack_with(field: str, value: object) -> bytes:
    message: dict[str, Any] = json.loads(chirpstack_message())
    message["rxInfo"][0][field] = value
    return json.dumps(message).encode()


@pytest.mark.parametrize("value", ["abc", "", [1], {"dBm": -97}, "nan", "inf"])
@pytest.mark.parametrize("field", ["rssi", "snr"])
def test_a_reception_number_that_is_not_a_number_is_a_bad_message_that_names_it(field: str, value: object) -> None:
    with pytest.raises(MessageError, match=rf"rx_metadata {field} is not a number"):
        tts_uplink(tts_with(field, value))
    with pytest.raises(MessageError, match=rf"rxInfo {field} is not a number"):
        chirpstack_uplink(chirpstack_with(field, value))


def test_numbers_written_as_strings_are_still_read() -> None:
    # The Things Stack writes some numbers as strings; a reception's must not be refused for that.
    up = tts_uplink(tts_with("rssi", "-101.5"))
    assert sorted(r.rssi_dbm for r in up.receptions) == [-101.5, -95.0]


def test_the_source_counts_it_acknowledges_it_and_goes_on(tmp_path: Path, broker: Mosquitto) -> None:
    db = farm(tmp_path)
    key = tmp_path / "ttn.key"
    key.write_text("NNSXS.ABCDEF\n")
    key.chmod(0o600)
    proc, log = bridge(tmp_path, db, "--ttn", broker.url, "--ttn-app", "akker-farm", "--ttn-key-file", str(key))
    pub = publisher(broker)
    try:
        wait_for_log(log, "connected network=ttn", proc)
        topic = "v3/akker-farm@ttn/devices/ttn-1/up"
        bad = tts_message(fcnt=42)
        bad["uplink_message"]["rx_metadata"][0]["rssi"] = "abc"
        pub.publish(topic, json.dumps(bad), qos=1).wait_for_publish(5)
        pub.publish(topic, json.dumps(tts_message(fcnt=43)), qos=1).wait_for_publish(5)
        wait(lambda: stored(db) == [("ttn-1", 43)] and counter(db, "ttn_malformed") == 1, 15)
        assert "rx_metadata rssi is not a number: 'abc'" in log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        pub.loop_stop()
        proc.terminate()
        proc.wait(30)
