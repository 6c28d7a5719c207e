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


def test_a_pause_in_the_samples_is_a_row_of_nulls_so_a_chart_draws_a_gap() -> None:
    # Hourly samples with 5 h missing after the third: one null row halfway through the pause, nothing else.
    hours = [0, 1, 2, 8, 9, 10]
    samples = [
        Sample(T0 + timedelta(hours=h), {"air_temp_c": 10.0 + h, "soil_moisture_pct": [20.0]}, None) for h in hours
    ]
    cols = series.columns(samples)
    assert cols["t"] == [(T0 + timedelta(hours=h)).timestamp() for h in (0, 1, 2, 5, 8, 9, 10)]
    assert cols["air_temp_c"] == [10.0, 11.0, 12.0, None, 18.0, 19.0, 20.0]
    assert cols["soil_moisture_pct"] == [[20.0, 20.0, 20.0, None, 20.0, 20.0, 20.0]]
    even = series.columns(samples[:3])  # no pause: no null
    assert None not in even["air_temp_c"]


@pytest.mark.parametrize(
    ("snr", "sf", "rssi", "silent", "word"),
    [
        (7.5, 9, -97.0, False, "good"),
        (-8.0, 9, -118.0, False, "weak"),  # 4.5 dB above SF9's -12.5 dB floor: one fade from lost
        (-8.0, 12, -125.0, False, "good"),  # 12 dB above SF12's -20 dB floor
        (7.5, 9, -97.0, True, "lost"),  # a silent node has lost its link, whatever its last frame was
        (None, None, -120.0, False, "weak"),  # no SNR or SF: judged on RSSI
    ],
)
def test_the_signal_in_words(snr: float | None, sf: int | None, rssi: float, silent: bool, word: str) -> None:
    assert series.signal_quality({"snr": snr, "sf": sf, "rssi": rssi}, silent) == word


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
