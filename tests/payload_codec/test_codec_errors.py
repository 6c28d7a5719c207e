"""Bad input gets a CodecError that says what and where, and nothing else escapes."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payload_codec import CodecError, decode_downlink, decode_uplink, encode_downlink, encode_uplink
from tests import strategies as ms
from tests.payload_codec.test_codec_roundtrip import STANDARD


def report(**changes: Any) -> dict[str, Any]:
    sample = dict(STANDARD["samples"][0])
    sample.update(changes)
    return {"type": "report", "samples": [sample]}


def without(key: str) -> dict[str, Any]:
    message = report()
    del message["samples"][0][key]
    return message


STATUS = {
    "type": "status",
    "firmware": [1, 0, 0],
    "board": "heltec_v3",
    "reset_cause": "power_on",
    "uptime_s": 0,
    "config_crc": 0,
    "tx_frames": 0,
    "sensor_errors": 0,
    "radio_errors": 0,
}

BAD_UPLINKS: list[tuple[Any, str]] = [
    ([], "must be a dict"),
    ({"type": "weather"}, "unknown message type"),
    ({"samples": []}, "unknown message type"),
    ({"type": "report", "samples": []}, "0 samples"),
    ({"type": "report", "samples": [{"age_s": 0}] * 9}, "9 samples"),
    ({"type": "report", "samples": "x"}, "samples must be a list"),
    ({"type": "report", "samples": [{"age_s": 0}], "extra": 1}, "unknown key"),
    ({"type": "report", "samples": [5]}, "sample 0 must be a dict"),
    (without("age_s"), "age_s is required"),
    (report(age_s=-1), "age_s = -1 is out of range"),
    (report(age_s=86400), "out of range"),
    (report(age_s=1.0), "age_s must be an int"),
    (report(age_s=True), "age_s must be an int"),
    (report(wind_ms=3.0), "unknown key 'wind_ms'"),
    (report(soil_moisture_pct=[]), "must have 1..4"),
    (report(soil_moisture_pct=[1.0] * 5), "has 5 entries"),
    (report(soil_moisture_pct=12.0), "must be a list"),
    (report(soil_moisture_pct=[100.05]), "soil_moisture_pct[0] = 100.05 is out of range"),
    (report(soil_moisture_pct=[-0.01]), "out of range"),
    (report(soil_temp_c=[20.0, 85.1]), "soil_temp_c[1] = 85.1 is out of range"),
    (report(air_temp_c=-40.01), "air_temp_c = -40.01 is out of range"),
    (report(air_temp_c=float("nan")), "out of range"),
    (report(air_temp_c=float("inf")), "out of range"),
    (report(air_temp_c="17.8"), "must be a number"),
    (report(air_rh_pct=100.5), "out of range"),
    (report(insect_count=[65536]), "out of range"),
    (report(insect_count=[-1]), "out of range"),
    (report(insect_count=[1.0]), "must be a number"),
    (report(insect_count=[1, 2, 3]), "has 3 entries"),
    (report(battery_v=1.99), "out of range"),
    (report(battery_v=4.56), "out of range"),
    (report(battery_v=[3.7]), "must be a number"),
    ({**STATUS, "reset_cause": "lightning"}, "reset_cause"),
    ({**STATUS, "firmware": [1, 2]}, "three ints"),
    ({**STATUS, "firmware": [1, 2, 256]}, "out of range"),
    ({**STATUS, "board": ""}, "1..16"),
    ({**STATUS, "board": "x" * 17}, "1..16"),
    ({**STATUS, "board": "heltec v3"}, "printable ASCII"),
    ({**STATUS, "board": "héltec"}, "ASCII"),
    ({**STATUS, "board": 3}, "must be a string"),
    ({**STATUS, "uptime_s": 2**32}, "out of range"),
    ({**STATUS, "tx_frames": -1}, "out of range"),
    ({**STATUS, "config_crc": 1.5}, "must be an int"),
    ({k: v for k, v in STATUS.items() if k != "radio_errors"}, "radio_errors is required"),
    ({**STATUS, "colour": "red"}, "unknown key"),
]

BAD_DOWNLINKS: list[tuple[Any, str]] = [
    ("reboot", "must be a dict"),
    ({}, "cmd is required"),
    ({"cmd": "self_destruct"}, "unknown cmd"),
    ({"cmd": "set_interval"}, "seconds is required"),
    ({"cmd": "set_interval", "seconds": 59}, "out of range"),
    ({"cmd": "set_interval", "seconds": 86401}, "out of range"),
    ({"cmd": "set_interval", "seconds": 900.0}, "must be an int"),
    ({"cmd": "set_interval", "seconds": 900, "minutes": 15}, "unknown key"),
    ({"cmd": "set_batch", "samples": 0}, "out of range"),
    ({"cmd": "set_calibration", "probe": 4, "dry": 1, "wet": 2}, "out of range"),
    ({"cmd": "set_calibration", "probe": 0, "dry": 65536, "wet": 2}, "out of range"),
    ({"cmd": "reset_trap", "trap": 2}, "out of range"),
    ({"cmd": "reboot", "now": True}, "unknown key"),
]


@pytest.mark.parametrize(("message", "phrase"), BAD_UPLINKS)
def test_bad_uplink_messages(message: Any, phrase: str) -> None:
    with pytest.raises(CodecError) as info:
        encode_uplink(message)
    assert phrase in str(info.value)


@pytest.mark.parametrize(("command", "phrase"), BAD_DOWNLINKS)
def test_bad_downlink_commands(command: Any, phrase: str) -> None:
    with pytest.raises(CodecError) as info:
        encode_downlink(command)
    assert phrase in str(info.value)


@pytest.mark.parametrize(
    ("fport", "payload", "phrase"),
    [
        (0, b"", "unknown fport 0"),
        (3, b"\x00", "unknown fport 3"),
        (256, b"", "out of range"),
        ("1", b"", "fport must be an int"),
        (1, "0476", "payload must be bytes"),
        (1, b"", "truncated"),
        (1, bytes.fromhex("04767527082d214180155d"), "truncated"),
        (1, bytes.fromhex("04767527082d214180155d8000"), "trailing bytes"),
        (1, bytes.fromhex("04767527082d214180155d81"), "reserved bits set"),
        (2, b"\x08" + bytes(8), "reserved bits set"),
        (2, b"\x07" + bytes(8), "out of range"),
    ],
)
def test_bad_uplink_payloads(fport: Any, payload: Any, phrase: str) -> None:
    with pytest.raises(CodecError) as info:
        decode_uplink(fport, payload)
    assert phrase in str(info.value)


def test_codec_error_is_a_value_error() -> None:
    assert issubclass(CodecError, ValueError)


def decode_anything(fport: int, payload: bytes) -> None:
    """Decode both ways; only CodecError may escape."""
    for decode in (decode_uplink, decode_downlink):
        with contextlib.suppress(CodecError):
            decode(fport, payload)


@settings(max_examples=2000)
@given(st.integers(0, 255), st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_codec_error(fport: int, payload: bytes) -> None:
    decode_anything(fport, payload)


@settings(max_examples=500)
@given(ms.reports(), st.data())
def test_mutated_reports_raise_only_codec_error(message: dict[str, Any], data: st.DataObject) -> None:
    payload = bytearray(encode_uplink(message)[1])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] ^= 1 << data.draw(st.integers(0, 7))
    cut = data.draw(st.integers(0, len(payload)))
    decode_anything(1, bytes(payload[:cut]))
    decode_anything(1, bytes(payload))


def test_bounded_fuzz_run() -> None:
    """100,000 random inputs (half of them mutations of valid reports) decode or raise CodecError."""
    rnd = random.Random(int(os.environ.get("AKKER_FUZZ_SEED", "20261128")))
    seeds = [encode_uplink(STANDARD)[1], bytes.fromhex("a0c7088ec80100407527082d214180155ddd5d5d00")]
    decoded = 0
    for i in range(100_000):
        if i % 2:
            payload = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 3)):
                payload[rnd.randrange(len(payload))] = rnd.randrange(256)
            payload = payload[: rnd.randint(0, len(payload) + 1)]
            fport = 1
        else:
            payload = bytearray(rnd.randbytes(rnd.randint(0, 40)))
            fport = rnd.choice((1, 2, 1, 2, 20, 21, 22, 23, 24, 25, rnd.randrange(256)))
        try:
            decode_uplink(fport, bytes(payload))
            decoded += 1
        except CodecError:
            pass
        with contextlib.suppress(CodecError):
            decode_downlink(fport, bytes(payload))
    assert decoded > 1000  # the fuzz reaches past the first checks, not only into them
