"""The bench's airtime helper is the firmware's formula in milliseconds (its reference values:
tests/firmware/test_radio.py)."""

from __future__ import annotations

from bench.airtime import EU868_MAX_PAYLOAD, LORAWAN_OVERHEAD, time_on_air_ms
from firmware.airtime import time_on_air_us


def test_milliseconds_of_the_firmware_formula() -> None:
    assert time_on_air_ms(13, 9) == 164.864
    assert time_on_air_ms(25, 12) == time_on_air_us(25, 12) / 1000


def test_low_data_rate_optimisation_passes_through() -> None:
    # 30 bytes is a size where the optimisation costs a symbol block (at 25 bytes it does not at SF12).
    assert time_on_air_ms(30, 12, low_data_rate=False) < time_on_air_ms(30, 12)
    assert time_on_air_ms(30, 10, low_data_rate=False) == time_on_air_ms(30, 10)


def test_overhead_and_limits() -> None:
    assert LORAWAN_OVERHEAD == 13  # MHDR 1, DevAddr 4, FCtrl 1, FCnt 2, FPort 1, MIC 4
    assert EU868_MAX_PAYLOAD[12] == 51 and EU868_MAX_PAYLOAD[9] == 115
