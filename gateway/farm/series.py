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

GAP_FACTOR = 3  # a pause over this many times the usual gap between samples is drawn as a gap
# The SNR below which an SX126x cannot demodulate, per SF at 125 kHz (SX1261/2 datasheet rev 2.1, table 6-1,
# "SNR limit"); a frame heard within WEAK_MARGIN_DB of it is one fade away from being lost.
SNR_FLOOR_DB = {7: -7.5, 8: -10.0, 9: -12.5, 10: -15.0, 11: -17.5, 12: -20.0}
WEAK_MARGIN_DB = 5.0
WEAK_RSSI_DBM = -115.0  # for a reception without SNR or SF: near an SX126x's SF7-SF9 sensitivity
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
    """Columnar series for charts: t in Unix seconds, one list per single value, a list per probe.

    Where a node paused for over GAP_FACTOR times its usual gap, a row of nulls between two samples
    breaks the line, so a chart shows the pause as a gap instead of a line across it.
    """
    samples = _with_gaps(samples)
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


def _with_gaps(samples: Sequence[Sample]) -> list[Sample]:
    gaps = [(b.t - a.t).total_seconds() for a, b in pairwise(samples)]
    usual = statistics.median(gaps) if gaps else 0.0
    out: list[Sample] = list(samples[:1])
    for (prev, s), gap in zip(pairwise(samples), gaps, strict=True):
        if usual > 0 and gap > GAP_FACTOR * usual:
            out.append(Sample(prev.t + (s.t - prev.t) / 2, {}, None))
        out.append(s)
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


def signal_quality(best: dict[str, object], silent: bool) -> str:
    """The signal in a farmer's words: "lost" for a silent node, "weak" near the SF's SNR floor, else "good"."""
    if silent:
        return "lost"
    snr, sf, rssi = best.get("snr"), best.get("sf"), best.get("rssi")
    if isinstance(snr, (int, float)) and isinstance(sf, int) and sf in SNR_FLOOR_DB:
        return "weak" if snr - SNR_FLOOR_DB[sf] < WEAK_MARGIN_DB else "good"
    return "weak" if isinstance(rssi, (int, float)) and rssi < WEAK_RSSI_DBM else "good"
