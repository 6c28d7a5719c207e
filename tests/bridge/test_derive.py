"""Catches since the previous report, from cumulative trap counts modulo 65536."""

from __future__ import annotations

import pytest

from gateway.bridge.derive import catches, report_catches


@pytest.mark.parametrize(
    ("previous", "count", "expected"),
    [
        (None, 7, (7, 7)),  # the first count heard: the node started at zero when provisioned
        (10, 10, (0, 10)),
        (10, 25, (15, 25)),
        (65530, 4, (10, 4)),  # wrap-around of the 16-bit counter
        (65535, 0, (1, 0)),
        (40000, 3, (3, 3)),  # gone back, far from the top: the counter restarted at zero
        (60000, 100, (5636, 100)),  # within 8192 of the top: a wrap-around
        (10, None, (None, 10)),  # the trap failed: nothing known, the last count is kept
        (None, None, (None, None)),
    ],
)
def test_catches(previous: int | None, count: int | None, expected: tuple[int | None, int | None]) -> None:
    assert catches(previous, count) == expected


def test_a_batch_is_differenced_oldest_first_and_lost_frames_lose_no_catches() -> None:
    # A batch lists samples with their ages; the oldest (largest age) was counted first.
    samples: list[dict[str, object]] = [
        {"age_s": 0, "insect_count": [30, 5]},
        {"age_s": 1800, "insect_count": [12, 5]},
        {"age_s": 900, "insect_count": [20, None]},
    ]
    per_sample, last = report_catches(samples, [10, 1])
    assert per_sample == [[10, 0], [2, 4], [8, None]]
    assert last == [30, 5]
    # A frame lost in between: the next report's difference still holds every catch.
    per_sample, last = report_catches([{"age_s": 0, "insect_count": [45, 9]}], last)
    assert per_sample == [[15, 4]]


def test_samples_without_traps_and_a_change_in_the_number_of_traps() -> None:
    per_sample, last = report_catches([{"age_s": 0}], [3])
    assert per_sample == [None] and last == [3]
    per_sample, last = report_catches([{"age_s": 0, "insect_count": [4, 2]}], [3])
    assert per_sample == [[4, 2]] and last == [4, 2]
