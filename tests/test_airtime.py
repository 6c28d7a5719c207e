"""The bench's time-on-air formula against Semtech's reference values (AN1200.13, LoRa calculator)."""

from __future__ import annotations

import pytest

from bench.airtime import time_on_air_ms


@pytest.mark.parametrize(
    ("phy_bytes", "sf", "expected_ms"),
    [
        (13, 9, 164.864),  # the check value of ../shared/notes/protocols.md
        # 12 application bytes + 13 LoRaWAN overhead, SF7..SF12 (SF11/SF12 with low-data-rate optimisation)
        (25, 7, 61.696),
        (25, 8, 113.152),
        (25, 9, 205.824),
        (25, 10, 411.648),
        (25, 11, 823.296),
        (25, 12, 1482.752),
    ],
)
def test_time_on_air_matches_reference(phy_bytes: int, sf: int, expected_ms: float) -> None:
    assert time_on_air_ms(phy_bytes, sf) == pytest.approx(expected_ms, abs=1e-9)


def test_low_data_rate_optimisation_is_on_from_sf11_only() -> None:
    # 30 bytes is a size where the optimisation costs a symbol block (at 25 bytes it does not at SF12).
    assert time_on_air_ms(30, 12, low_data_rate=False) < time_on_air_ms(30, 12)
    assert time_on_air_ms(30, 11, low_data_rate=False) < time_on_air_ms(30, 11)
    assert time_on_air_ms(30, 10, low_data_rate=False) == time_on_air_ms(30, 10)
