"""Uplinks from The Things Stack and ChirpStack into the store (gateway/bridge/sources/server_messages.py, stages.py).

Messages in The Things Stack's documented uplink format and in ChirpStack v4's JSON, the latter built with
the chirpstack-api package's own message types, go through the real pipeline: the node is found by DevEUI
among that server's nodes, the raw FRMPayload is decoded by our codec (never the server's decoded object),
and a message delivered twice is stored once.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from chirpstack_api import integration  # type: ignore[import-untyped]
from google.protobuf import json_format

from gateway.bridge import store
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from gateway.bridge.sources.server_messages import MessageError, chirpstack_uplink, tts_uplink
from payload_codec import encode_uplink

TTN_EUI = "70B3D57ED0000B01"
CS_EUI = "70b3d57ed0000c01"
REPORT = {"type": "report", "samples": [{"age_s": 0, "soil_moisture_pct": [23.4], "battery_v": 3.87}]}


def tts_message(fcnt: int = 42, payload: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    fport, frm = encode_uplink(payload or REPORT)
    up = {
        "session_key_id": "AXBSH1Pk6Z0G166...",
        "f_port": fport,
        "f_cnt": fcnt,
        "frm_payload": base64.b64encode(frm).decode(),
        "decoded_payload": {"what": "the server's own decoder said"},  # must be ignored
        "rx_metadata": [
            {"gateway_ids": {"gateway_id": "barn", "eui": "AA555A0000000101"}, "time": "2026-06-01T05:59:59.9Z",
             "timestamp": 2463457000, "rssi": -112, "channel_rssi": -112, "snr": -3.25, "channel_index": 2},
            {"gateway_ids": {"gateway_id": "church"}, "rssi": -95, "snr": 7.5},
        ],
        "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9, "coding_rate": "4/5"}},
                     "frequency": "868300000", "timestamp": 2463457000},
        "received_at": "2026-06-01T06:00:00.123456789Z",
        "consumed_airtime": "0.205824s",
    }  # fmt: skip
    up.update(over)
    return {
        "end_device_ids": {"device_id": "ttn-1", "application_ids": {"application_id": "akker-farm"},
                           "dev_eui": TTN_EUI, "join_eui": "0000000000000000", "dev_addr": "260B1234"},
        "correlation_ids": ["as:up:01E0WCTJMTZ9MV6SRBWV1WH5JR"],
        "received_at": "2026-06-01T06:00:00.2Z",
        "uplink_message": up,
    }  # fmt: skip


def chirpstack_message(fcnt: int = 7, dedup: str = "3ac7e3c4-4401-4b8d-9386-a5c902f9202d") -> bytes:
    fport, frm = encode_uplink(REPORT)
    e = integration.UplinkEvent()
    e.deduplication_id = dedup
    e.time.FromJsonString("2026-06-01T06:00:00.5Z")
    e.device_info.dev_eui = CS_EUI
    e.device_info.device_name = "cs-1"
    e.dev_addr, e.f_cnt, e.f_port, e.data = "00189440", fcnt, fport, frm
    rx = e.rx_info.add()
    rx.gateway_id, rx.rssi, rx.snr = "0016c001f153a14c", -57, 10.5
    e.tx_info.frequency = 868100000
    e.tx_info.modulation.lora.bandwidth = 125000
    e.tx_info.modulation.lora.spreading_factor = 7
    return json_format.MessageToJson(e).encode()


def farm(tmp_path: Path) -> Path:
    """A bridge database with one node on each network server: ttn-1 and cs-1."""
    path = tmp_path / "farm.db"
    registry = Registry(open_db(path))
    registry.add_server_device("ttn-1", bytes.fromhex(TTN_EUI), "ttn")
    registry.add_server_device("cs-1", bytes.fromhex(CS_EUI), "chirpstack")
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return farm(tmp_path)


def test_a_tts_uplink_is_stored_from_its_raw_payload_with_every_gateway(db: Path) -> None:
    pipeline = Pipeline(db, ["mqtt"])
    up = tts_uplink(json.dumps(tts_message()).encode())
    assert pipeline.process([up]) == ["accepted"]
    (record,) = store.records(store.connect(db), limit=10)
    assert (record.node, record.dev_addr, record.fcnt, record.fport) == ("ttn-1", 0x260B1234, 42, 1)
    assert record.data == {"type": "report", "samples": [{"age_s": 0, "soil_moisture_pct": [23.4], "battery_v": 3.87}]}
    assert record.received_at == "2026-06-01T06:00:00.123Z"  # the network server's reception
    assert [(r["gateway"], r["snr"], r["frequency"], r["sf"]) for r in record.rx] == [
        ("church", 7.5, 868_300_000, 9), ("aa555a0000000101", -3.25, 868_300_000, 9)]  # fmt: skip
    assert pipeline.process([tts_uplink(json.dumps(tts_message()).encode())]) == ["duplicate"]  # redelivered
    assert len(store.records(store.connect(db), limit=10)) == 1


def test_a_chirpstack_up_event_is_stored_once(db: Path) -> None:
    pipeline = Pipeline(db, [])
    assert pipeline.process([chirpstack_uplink(chirpstack_message())]) == ["accepted"]
    assert pipeline.process([chirpstack_uplink(chirpstack_message())]) == ["duplicate"]
    # Another deduplicationId for a frame already stored (a second integration, a backfill): still once.
    assert pipeline.process([chirpstack_uplink(chirpstack_message(dedup="another"))]) == ["duplicate"]
    assert pipeline.process([chirpstack_uplink(chirpstack_message(fcnt=8, dedup="next"))]) == ["accepted"]
    records = store.records(store.connect(db), limit=10)
    assert [(r.node, r.fcnt, r.rx[0]["gateway"], r.rx[0]["sf"]) for r in records] == [
        ("cs-1", 7, "0016c001f153a14c", 7), ("cs-1", 8, "0016c001f153a14c", 7)]  # fmt: skip


def test_unknown_and_undecodable_uplinks_are_counted_not_delivered(db: Path) -> None:
    pipeline = Pipeline(db, ["mqtt"])
    stranger = tts_message()
    stranger["end_device_ids"]["dev_eui"] = "0102030405060708"
    wrong_server = tts_message()
    wrong_server["end_device_ids"]["dev_eui"] = CS_EUI  # registered, but as ChirpStack's
    garbage = tts_message(fcnt=43, frm_payload=base64.b64encode(b"\xff\xff").decode())
    outcomes = pipeline.process([tts_uplink(json.dumps(m).encode()) for m in (stranger, wrong_server, garbage)])
    assert outcomes == ["rejected_unknown_dev_eui", "rejected_unknown_dev_eui", "rejected_codec_error"]
    (row,) = store.connect(db).execute("SELECT node, fcnt, data, error FROM records").fetchall()
    assert row[:3] == ("ttn-1", 43, None) and "reserved" in row[3]  # the node's frame, kept with its error
    counts = store.counters(store.connect(db))
    assert counts["rejected_unknown_dev_eui"] == 2 and counts.get("accepted", 0) == 0


def test_omitted_zero_fields_mean_zero() -> None:
    # The Things Stack leaves out fields that are 0, "" or false: f_cnt 0 and an FPort-0 uplink look so.
    message = tts_message()
    del message["uplink_message"]["f_cnt"]
    up = tts_uplink(json.dumps(message).encode())
    assert up.fcnt == 0 and up.fport == 1
    del message["uplink_message"]["f_port"], message["uplink_message"]["frm_payload"]
    up = tts_uplink(json.dumps(message).encode())
    assert up.fport is None and up.payload == b""


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"\xff not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"end_device_ids": {}, "join_accept": {}}).encode(), "not an uplink"),
        (json.dumps(tts_message(frm_payload="***")).encode(), "frm_payload is not base64"),
        (json.dumps(tts_message(f_cnt="many")).encode(), "f_cnt is not a whole number"),
        (json.dumps(tts_message(received_at="yesterday")).encode(), "received_at is not an ISO 8601 time"),
        (b" " * 70_000, "more than 65536"),
    ],
)
def test_a_message_that_is_not_an_uplink_of_ours_says_why(raw: bytes, says: str) -> None:
    with pytest.raises(MessageError, match=says):
        tts_uplink(raw)


def test_a_bad_eui_is_named() -> None:
    message = tts_message()
    message["end_device_ids"]["dev_eui"] = "70B3"
    with pytest.raises(MessageError, match=r"end_device_ids\.dev_eui is not 16 hex digits"):
        tts_uplink(json.dumps(message).encode())
    with pytest.raises(MessageError, match="not an up event"):
        chirpstack_uplink(b'{"time": "2026-06-01T06:00:00Z"}')
