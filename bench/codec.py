"""The three encodings compared: ours, Cayenne LPP (pycayennelpp) and compact JSON.

Cayenne has neither batches nor timestamps, so a batch of n samples is n
frames, each sent when its sample was taken. JSON is the very message dict
that encode_uplink takes, "type" key included, as one object.
"""

from __future__ import annotations

import json
import math

from cayennelpp import LppFrame

from bench.messages import Message, Sample
from payload_codec import encode_uplink

# Cayenne LPP type codes (IPSO object id - 3200) used for each field; the channel
# is the field's slot number in our layout (docs/payload-format.md, 3.1) + 1, so
# a receiver can tell the probes apart.
_ANALOG_INPUT = 2  # 2 bytes signed, 0.01
_GENERIC = 100  # 4 bytes unsigned, 1: the only integer type wide enough for a 16-bit trap count
_TEMPERATURE = 103  # 2 bytes signed, 0.1 C
_HUMIDITY = 104  # 1 byte unsigned, 0.5 %

# key, LPP type, first channel
_CAYENNE_FIELDS = (
    ("soil_moisture_pct", _ANALOG_INPUT, 1),
    ("soil_temp_c", _TEMPERATURE, 5),
    ("air_temp_c", _TEMPERATURE, 9),
    ("air_rh_pct", _HUMIDITY, 10),
    ("insect_count", _GENERIC, 11),
    ("battery_v", _ANALOG_INPUT, 13),  # LPP "voltage" (116) is not in the Cayenne spec; analog input is
)


def ours(message: Message) -> bytes:
    return encode_uplink(message)[1]


def cayenne_frame(sample: Sample) -> bytes:
    """One sample as a Cayenne LPP frame, built by pycayennelpp."""
    frame = LppFrame()
    for key, lpp_type, channel in _CAYENNE_FIELDS:
        value = sample[key]
        for i, v in enumerate(value if isinstance(value, list) else [value]):
            frame.add_by_type(lpp_type, channel + i, (v,))
    return bytes(frame)


def cayenne(message: Message) -> list[bytes]:
    """One frame per sample: LPP cannot batch."""
    return [cayenne_frame(s) for s in message["samples"]]


def _cayenne_round_trip(lpp_type: int, value: float) -> float:
    frame = LppFrame()
    frame.add_by_type(lpp_type, 1, (value,))
    return LppFrame.from_bytes(bytes(frame)).data[0].value[0]


# Every value our codec can carry, per field that Cayenne scales: key, LPP type, lowest code, highest code, scale.
_SWEEPS = (
    ("soil_moisture_pct", _ANALOG_INPUT, 0, 1000, 10),
    ("soil_temp_c, air_temp_c", _TEMPERATURE, -400, 850, 10),
    ("air_rh_pct", _HUMIDITY, 0, 200, 2),
    ("battery_v", _ANALOG_INPUT, 200, 455, 100),
)


def cayenne_lossy() -> list[tuple[str, int, int, str]]:
    """Per field: (key, values that do not survive pycayennelpp, values tried, first example).

    pycayennelpp encodes int(value * scale), which truncates: 2.3 * 100 is
    229.99999999999997 as a double, so 2.3 goes out as 2.29.
    """
    out = []
    for key, lpp_type, lo, hi, scale in _SWEEPS:
        bad = []
        for code in range(lo, hi + 1):
            value = code / scale
            got = _cayenne_round_trip(lpp_type, value)
            if not math.isclose(got, value, abs_tol=1e-9):
                bad.append(f"{value:g} -> {got:g}")
        out.append((key, len(bad), hi - lo + 1, bad[0] if bad else ""))
    return out


def compact_json(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def standard_information_bits() -> float:
    """Information content of the standard report, age excluded: log2 of the number of codes per value.

    2 soil-moisture probes (0..1000), soil and air temperature (0..1250),
    humidity (0..200), a 16-bit trap counter and an 8-bit battery code.
    """
    return 2 * math.log2(1001) + 2 * math.log2(1251) + math.log2(201) + 16 + 8
