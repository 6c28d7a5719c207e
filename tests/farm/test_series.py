"""The dashboard's pure parts: sample times, catches per day, the battery trend, the interval, durations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gateway.bridge.store import Record
from gateway.farm import series
from gateway.farm.alerts import duration
from gateway.farm.series import Sample

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=timezone.utc)


def record(received_at: str, samples: list[dict[str, object]], catches: list[object] | None = None) -> Record:
    data: dict[str, object] = {"type": "report", "samples": samples}
    derived: dict[str, object] = {} if catches is None else {"catches": catches}
    return Record(1, "n", 1, 0, 1, received_at, data, derived, [])


def battery(hours: list[float], volts: list[float]) -> list[Sample]:
    return [Sample(T0 + timedelta(hours=h), {"battery_v": v}, None) for h, v in zip(hours, volts, strict=True)]


def test_a_batch_sample_was_measured_its_age_before_the_record_was_received() -> None:
    rec = record("2026-06-01T12:00:00.000Z", [{"age_s": 1800, "air_temp_c": 10.0}, {"age_s": 0, "air_temp_c": 11.0}],
                 [None, [3]])  # fmt: skip
    status = Record(2, "n", 1, 1, 2, "2026-06-01T12:05:00.000Z", {"type": "status"}, {}, [])
    got = series.samples([status, rec])
    assert [s.t for s in got] == [T0 + timedelta(hours=11, minutes=30), T0 + timedelta(hours=12)]
    assert [s.catches for s in got] == [None, [3]]


def test_catches_per_day_follow_the_farms_calendar_day() -> None:
    samples = [Sample(T0 + timedelta(hours=h), {}, [n, 1]) for h, n in ((-3, 5), (1, 2), (23, 4))]
    assert series.catches_per_day(samples, timezone.utc) == [
        (T0.date() - timedelta(days=1), [5, 1]),
        (T0.date(), [6, 2]),
    ]
    # 2026-05-31 21:00 UTC is 23:00 in Amsterdam, 01:00 and 23:00 UTC are 03:00 on the 1st and 01:00 on the 2nd.
    assert series.catches_per_day(samples, ZoneInfo("Europe/Amsterdam")) == [
        (T0.date() - timedelta(days=1), [5, 1]),
        (T0.date(), [2, 1]),
        (T0.date() + timedelta(days=1), [4, 1]),
    ]


@pytest.mark.parametrize(
    ("hours", "volts", "now_h", "expected"),
    [
        # 0.05 V a day down from 3.90 V: 3.80 V after two days, 10 days left to 3.3 V.
        ([0, 12, 24, 36, 48, 48], [3.90, 3.875, 3.85, 3.825, 3.80, 3.80], 48, 10.0),
        ([0, 12, 24, 36, 48, 48], [3.90, 3.875, 3.85, 3.825, 3.80, 3.80], 72, 9.0),  # a day later, unheard
        ([0, 12, 24, 36, 48, 60], [3.7] * 6, 60, None),  # flat: no trend to follow
        ([0, 12, 24, 36, 48, 60], [3.6, 3.62, 3.64, 3.66, 3.68, 3.7], 60, None),  # charging
        ([0, 2, 4, 6, 8, 10], [3.9, 3.8, 3.7, 3.6, 3.5, 3.4], 10, None),  # under a day of data
        ([0, 24, 48], [3.9, 3.8, 3.7], 48, None),  # too few samples
        ([0, 12, 24, 36, 48, 60], [3.40, 3.38, 3.36, 3.34, 3.32, 3.30], 60, 0.0),  # empty already
    ],
)
def test_battery_days_left_follows_a_least_squares_trend_down_to_3_3_v(
    hours: list[float], volts: list[float], now_h: float, expected: float | None
) -> None:
    got = series.battery_days_left(battery(hours, volts), T0 + timedelta(hours=now_h))
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-6))


def test_the_battery_trend_uses_only_the_last_week() -> None:
    # A fresh battery two weeks ago (4.1 V) does not count: the last week falls 0.02 V a day from 3.70 V.
    hours = [0] + [168 + 12 * i for i in range(15)]
    volts = [4.1] + [round(3.84 - 0.01 * i, 2) for i in range(15)]
    assert series.battery_days_left(battery(hours, volts), T0 + timedelta(hours=hours[-1])) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("gaps_s", "expected"),
    [([], None), ([900], None), ([900, 900], 900.0), ([5, 900, 900, 905, 20000], 900.0), ([600, 1200], 900.0)],
)
def test_the_interval_is_the_median_gap_between_records(gaps_s: list[int], expected: float | None) -> None:
    t, recs = T0, [record("2026-06-01T00:00:00.000Z", [])]
    for gap in gaps_s:
        t += timedelta(seconds=gap)
        recs.append(record(t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), []))
    assert series.median_interval_s(recs) == expected


def test_latest_readings_skip_readings_that_failed() -> None:
    samples = [
        Sample(T0, {"soil_moisture_pct": [20.0, 30.0], "battery_v": 3.8}, None),
        Sample(T0 + timedelta(hours=1), {"soil_moisture_pct": [None, None], "battery_v": 3.7}, None),
        Sample(T0 + timedelta(hours=2), {"soil_moisture_pct": [None, 29.0], "battery_v": None}, None),
    ]
    got = series.latest_readings(samples)
    assert got["soil_moisture_pct"] == (T0 + timedelta(hours=2), [None, 29.0])
    assert got["battery_v"] == (T0 + timedelta(hours=1), 3.7)
    assert "air_temp_c" not in got


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (720, "12 min"), (3600, "1 h"), (11100, "3 h 5 min"), (86400 * 2 + 3600 * 4, "2 d 4 h")],
)
def test_durations_read_like_a_person_says_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text
