"""decode(encode(m)) equals m rounded to the steps, over the whole ranges."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.messages import STANDARD as STANDARD_SAMPLE
from payload_codec import decode_downlink, decode_uplink, encode_downlink, encode_uplink
from tests import strategies as ms

STANDARD = {"type": "report", "samples": [dict(STANDARD_SAMPLE)]}


@settings(max_examples=1500)
@given(ms.reports())
def test_report_round_trip(message: dict[str, Any]) -> None:
    fport, payload = encode_uplink(message)
    assert fport == 1
    assert isinstance(payload, bytes)
    assert decode_uplink(fport, payload) == ms.quantised(message)


@settings(max_examples=300)
@given(ms.reports())
def test_encoding_is_stable(message: dict[str, Any]) -> None:
    """Re-encoding a decoded report gives the same bytes: one canonical encoding."""
    fport, payload = encode_uplink(message)
    assert encode_uplink(decode_uplink(fport, payload)) == (fport, payload)


@settings(max_examples=500)
@given(ms.statuses())
def test_status_round_trip(message: dict[str, Any]) -> None:
    fport, payload = encode_uplink(message)
    assert fport == 2
    assert decode_uplink(fport, payload) == message


@given(ms.commands())
def test_command_round_trip(command: dict[str, Any]) -> None:
    fport, payload = encode_downlink(command)
    assert 20 <= fport <= 25
    assert decode_downlink(fport, payload) == command


def test_standard_report_fits_in_12_bytes() -> None:
    assert len(encode_uplink(STANDARD)[1]) <= 12
    aged = {"type": "report", "samples": [dict(STANDARD["samples"][0], age_s=63)]}
    assert len(encode_uplink(aged)[1]) <= 12


@given(st.sampled_from((4, 8)), st.randoms(use_true_random=False))
def test_slow_batches_cost_fewer_bytes_per_sample(n: int, rnd: Any) -> None:
    """Soil-like series, 15 minutes apart, cost clearly less per sample than single reports."""
    single = len(encode_uplink(STANDARD)[1])
    reading = dict(STANDARD["samples"][0])
    batch = []
    for k in range(n):
        batch.append(dict(reading, age_s=900 * (n - 1 - k)))
        reading = {
            "soil_moisture_pct": [round(x + rnd.choice((-0.1, 0.0, 0.1)), 1) for x in reading["soil_moisture_pct"]],
            "soil_temp_c": [round(reading["soil_temp_c"][0] + rnd.choice((-0.1, 0.0, 0.1)), 1)],
            "air_temp_c": round(reading["air_temp_c"] + rnd.uniform(-1.0, 1.0), 1),
            "air_rh_pct": reading["air_rh_pct"] + rnd.choice((-2.0, -1.0, 0.0, 1.0, 2.0)),
            "insect_count": [reading["insect_count"][0] + rnd.randint(0, 3)],
            "battery_v": reading["battery_v"],
        }
    size = len(encode_uplink({"type": "report", "samples": batch})[1])
    assert size / n <= single * 0.6


def test_decoded_types() -> None:
    sample = decode_uplink(*encode_uplink(STANDARD))["samples"][0]
    assert type(sample["age_s"]) is int
    assert type(sample["insect_count"][0]) is int
    assert type(sample["air_rh_pct"]) is float
    assert sample["battery_v"] == 3.87


def test_failed_readings_decode_as_none() -> None:
    message = {
        "type": "report",
        "samples": [
            {"age_s": 5, "soil_moisture_pct": [None, 40.0], "soil_temp_c": None, "air_temp_c": None},
            {"age_s": 0, "soil_moisture_pct": [12.5, None], "soil_temp_c": [4.0], "insect_count": None},
        ],
    }
    assert decode_uplink(*encode_uplink(message)) == message
