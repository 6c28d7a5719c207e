"""Pure functions from a node's stored records to what the dashboard shows: timed samples, catches, trends.

A report carries 1..8 samples (docs/payload-format.md section 3); a sample was
measured at its record's received_at minus its age_s. derived.catches has one
entry per sample (docs/gateway.md, "What a sink receives"): each trap's catches
since the previous count, or null where nothing is known.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from itertools import pairwise

from gateway.bridge.store import Record

from .queries import parse_iso

BATTERY_EMPTY_V = 3.3  # firmware/config.py low_battery_v: below it a node stops transmitting
BATTERY_TREND = timedelta(days=7)  # the battery trend is fitted over this much of the newest samples
_BATTERY_MIN_SPAN = timedelta(days=1)  # a shorter trend is noise at the codec's 0.01 V resolution
_BATTERY_MIN_SAMPLES = 6
INTERVAL_RECORDS = 64  # a node's interval is the median gap between (at most) this many newest records

# The values of a sample the dashboard shows; lists have one entry per probe.
READING_KEYS = ("soil_moisture_pct", "soil_temp_c", "air_temp_c", "air_rh_pct", "insect_count", "battery_v")
PROBE_KEYS = ("soil_moisture_pct", "soil_temp_c")
SINGLE_KEYS = ("air_temp_c", "air_rh_pct", "battery_v")


@dataclass(frozen=True)
class Sample:
    t: datetime  # when it was measured: received_at - age_s
    values: dict[str, object]  # the decoded sample, as payload_codec gives it
    catches: list[int | None] | None  # each trap's catches since its previous count; None: no trap data


def samples(records: Iterable[Record]) -> list[Sample]:
    """Every sample of these records' reports, oldest first."""
    out: list[Sample] = []
    for rec in records:
        if rec.data.get("type") != "report":
            continue
        received = parse_iso(rec.received_at)
        raw = rec.data.get("samples")
        per_sample = rec.derived.get("catches")
        for i, s in enumerate(raw if isinstance(raw, list) else []):
            age_s = s.get("age_s", 0)
            caught = per_sample[i] if isinstance(per_sample, list) and i < len(per_sample) else None
            out.append(Sample(received - timedelta(seconds=age_s), s, caught if isinstance(caught, list) else None))
    out.sort(key=lambda s: s.t)
    return out


def _present(value: object) -> bool:
    if isinstance(value, list):
        return any(v is not None for v in value)
    return value is not None


def latest_readings(samples: Sequence[Sample]) -> dict[str, tuple[datetime, object]]:
    """For each reading: (when, value) of the newest sample in which it did not fail entirely."""
    out: dict[str, tuple[datetime, object]] = {}
    for s in reversed(samples):
        for key in READING_KEYS:
            if key not in out and _present(s.values.get(key)):
                out[key] = (s.t, s.values[key])
        if len(out) == len(READING_KEYS):
            break
    return out


def probe_count(samples: Sequence[Sample], key: str) -> int:
    return max((len(v) for s in samples if isinstance(v := s.values.get(key), list)), default=0)


def columns(samples: Sequence[Sample]) -> dict[str, object]:
    """Columnar series for charts: t in Unix seconds, one list per single value, a list per probe."""
    out: dict[str, object] = {"t": [round(s.t.timestamp(), 3) for s in samples]}
    for key in PROBE_KEYS:
        probes = []
        for p in range(probe_count(samples, key)):
            col = []
            for s in samples:
                v = s.values.get(key)
                col.append(v[p] if isinstance(v, list) and p < len(v) else None)
            probes.append(col)
        out[key] = probes
    for key in SINGLE_KEYS:
        out[key] = [s.values.get(key) for s in samples]
    return out


def catches_between(samples: Sequence[Sample], start: datetime, end: datetime) -> list[int] | None:
    """Each trap's catches in samples measured in [start, end]; None when no sample there has trap data."""
    total: list[int] | None = None
    for s in samples:
        if s.catches is None or not start <= s.t <= end:
            continue
        total = total if total is not None else []
        total.extend([0] * max(0, len(s.catches) - len(total)))
        for trap, n in enumerate(s.catches):
            total[trap] += n or 0
    return total


def catches_per_day(samples: Sequence[Sample], tz: tzinfo) -> list[tuple[date, list[int]]]:
    """Each trap's catches per calendar day (in tz), for the days that have trap data, oldest first."""
    days: dict[date, list[int]] = {}
    for s in samples:
        if s.catches is None:
            continue
        row = days.setdefault(s.t.astimezone(tz).date(), [])
        row.extend([0] * max(0, len(s.catches) - len(row)))
        for trap, n in enumerate(s.catches):
            row[trap] += n or 0
    return sorted(days.items())


def start_of_day(t: datetime, tz: tzinfo) -> datetime:
    local = t.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def battery_days_left(samples: Sequence[Sample], now: datetime, empty_v: float = BATTERY_EMPTY_V) -> float | None:
    """Days until the battery trend reaches empty_v, from a least-squares line over the last week of samples.

    None when the trend is too short or too sparse, or not falling (a solar panel, a fresh battery);
    0.0 when the line is already below empty_v.
    """
    points = [(s.t, float(v)) for s in samples if isinstance(v := s.values.get("battery_v"), (int, float))]
    if not points:
        return None
    newest = points[-1][0]
    points = [(t, v) for t, v in points if t >= newest - BATTERY_TREND]
    if len(points) < _BATTERY_MIN_SAMPLES or newest - points[0][0] < _BATTERY_MIN_SPAN:
        return None
    xs = [(t - newest).total_seconds() / 86400 for t, _ in points]  # days, 0 at the newest sample
    ys = [v for _, v in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope_v_per_day = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope_v_per_day >= 0:
        return None
    v_newest = mean_y - slope_v_per_day * mean_x  # the line's value at the newest sample
    empty_at_days = (empty_v - v_newest) / slope_v_per_day  # after the newest sample
    left = empty_at_days - (now - newest).total_seconds() / 86400
    return max(0.0, left)


def median_interval_s(records: Sequence[Record]) -> float | None:
    """The median gap between the newest records' receptions: the node's reporting interval.

    None with fewer than three records (two gaps), too few to tell an interval from a boot message.
    """
    times = [parse_iso(r.received_at) for r in records[-INTERVAL_RECORDS:]]
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    if len(gaps) < 2:
        return None
    return float(statistics.median(gaps))


def signal(rx: Sequence[dict[str, object]]) -> dict[str, object] | None:
    """The best reception of one frame (highest RSSI), and how many gateways heard it."""
    if not rx:
        return None
    best = max(rx, key=lambda r: float(r.get("rssi", float("-inf"))))  # type: ignore[arg-type]
    return {
        "rssi": best.get("rssi"),
        "snr": best.get("snr"),
        "sf": best.get("sf"),
        "gateway": best.get("gateway"),
        "gateways": len({r.get("gateway") for r in rx}),
    }
