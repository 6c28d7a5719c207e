"""The messages the bench encodes: the standard report and batches of a realistic series.

The series starts at the standard report (docs/payload-format.md, 3.6) at 09:00
and takes a sample every 15 minutes. Readings are kept as integer codes at the
codec's resolution (tenths, halves, hundredths) so that every value is exactly
representable in every format and JSON prints it without float noise.
"""

from __future__ import annotations

import random
from typing import Any

Sample = dict[str, Any]
Message = dict[str, Any]

INTERVAL_S = 900
SEED = 20240901  # fixed: every run prints the same sizes
_START_HOUR = 9.0

STANDARD: Sample = {
    "age_s": 0,
    "soil_moisture_pct": [23.4, 31.2],
    "soil_temp_c": [12.3],
    "air_temp_c": 17.8,
    "air_rh_pct": 65.5,
    "insect_count": [42],
    "battery_v": 3.87,
}


def report(samples: list[Sample]) -> Message:
    return {"type": "report", "samples": samples}


def _air_warming(hour: float) -> bool:
    # The daily curve: air warms from about sunrise to mid-afternoon and cools the rest of the day.
    return 6.0 <= hour % 24 < 15.0


def series(n: int, seed: int = SEED) -> list[Sample]:
    """n samples 900 s apart, oldest first, the first one being the standard report (age_s left 0)."""
    rnd = random.Random(seed)
    moisture = [234, 312]  # tenths of a percent
    soil_temp = [123]  # tenths of a degree
    air_temp = 178  # tenths of a degree
    rh = 131  # half percents
    count = 42
    battery = 387  # hundredths of a volt
    out: list[Sample] = []
    for k in range(n):
        if k:
            hour = _START_HOUR + k * INTERVAL_S / 3600
            warming = _air_warming(hour)
            moisture = [m - rnd.randint(0, 2) for m in moisture]  # drying by 0..0.2 % per step
            soil_temp = [t + rnd.randint(-1, 1) for t in soil_temp]
            step = rnd.randint(5, 10)  # 0.5..1 degree per 15 minutes
            air_temp += step if warming else -step
            # Relative humidity falls as the same air warms: 1..3 % against the temperature.
            rh_step = rnd.randint(2, 6)
            rh = max(0, min(200, rh - rh_step if warming else rh + rh_step))
            count += rnd.randint(0, 3)
            battery -= 1 if rnd.random() < 0.2 else 0
        out.append(
            {
                "age_s": 0,
                "soil_moisture_pct": [m / 10 for m in moisture],
                "soil_temp_c": [t / 10 for t in soil_temp],
                "air_temp_c": air_temp / 10,
                "air_rh_pct": rh / 2,
                "insect_count": [count],
                "battery_v": battery / 100,
            }
        )
    return out


def batch(samples: list[Sample]) -> Message:
    """The report a node sends with these samples, the newest taken now (age 0)."""
    n = len(samples)
    return report([{**s, "age_s": (n - 1 - k) * INTERVAL_S} for k, s in enumerate(samples)])


def messages(batch_sizes: tuple[int, ...] = (1, 4, 8)) -> dict[str, Message]:
    """Name -> message: the standard report, then batches of the latest n samples of one series."""
    samples = series(max(batch_sizes))
    out = {"standard report": report([dict(STANDARD)])}
    for n in batch_sizes:
        out[f"batch of {n}"] = batch(samples[-n:])
    return out
