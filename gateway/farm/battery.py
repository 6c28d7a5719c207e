"""A node's battery days left, forecast from the energy its wake-ups spend (issue 16).

The forecast charges each wake-up as the field simulator does (firmware/sim/energy.py: its
currents, its cell, its Li-ion voltage curve, its wake_up_mah), with the wake-up's times taken
from what the firmware does: the sensors' conversion waits, the frame's time on air
(firmware/airtime.py) and class A's two receive windows as firmware/radio.py opens them. A
voltage trend cannot do this job: a full cell's voltage moves 0.01 V (the codec's step) in
weeks, so a few days of samples give a slope of noise.
"""

from __future__ import annotations

import math

from firmware import config as firmware_config
from firmware.airtime import time_on_air_us
from firmware.radio import _RX_ERROR_MS, _RX_LOCK_SYMBOLS
from firmware.sensors.ds18b20 import _CONVERT_MS
from firmware.sensors.sht import _SHT4X_WAIT_MS
from firmware.sim.energy import CAPACITY_MAH, charge_at, wake_up_mah

# A node's config defaults, from the firmware's one schema (a gateway-role config needs no keys).
_DEFAULTS = firmware_config.validate({"role": "gateway", "board": "any"})
EMPTY_V = float(_DEFAULTS["low_battery_v"])  # below it the firmware stops transmitting: "empty"
RX_DELAY_S = int(_DEFAULTS["radio"]["rx_delay_s"])
RX2_SF = int(_DEFAULTS["radio"]["rx2_sf"])
# A report's PHYPayload: 13 bytes of LoRaWAN framing around the 13-byte report of the usual node
# (two soil probes, two DS18B20s, an SHT4x, one trap, the battery), as `akker sim` sends it.
REPORT_PHY_BYTES = 26
# The firmware's waits while the usual node reads its sensors: DS18B20 conversion, then SHT4x.
SENSORS_MS = _CONVERT_MS + _SHT4X_WAIT_MS
# The believable ceiling. A Li-ion cell loses 2-3 % of its charge a month by itself (more when warm,
# plus its protection circuit's drain), which the simulator's model leaves out: beyond about three
# years that, and the cell's ageing, empty it, not the node. The forecast says "this long or more".
MAX_DAYS = 3 * 365
_BW_KHZ = 125
_CODING_RATE = 5  # 4/5, as firmware/radio.py sends
_PREAMBLE = 8
_SF_RANGE = range(7, 13)
_VOLTS_BELIEVABLE = (1.0, 4.5)  # outside: no reading of one Li-ion cell (firmware/sensors/battery.py)
_DAY_MS = 86_400_000


def window_ms(sf: int) -> int:
    """How long a receive window that hears nothing stays open at sf (firmware/radio.py Radio.receive)."""
    return 2 * _RX_ERROR_MS + (_RX_LOCK_SYMBOLS << sf) // _BW_KHZ + 1


def wake_up_ms(
    sf: int,
    phy_bytes: int = REPORT_PHY_BYTES,
    class_a: bool = True,
    *,
    rx_delay_s: int = RX_DELAY_S,
    rx2_sf: int = RX2_SF,
    sensors_ms: int = SENSORS_MS,
) -> tuple[int, int, int, int]:
    """(awake_ms, tx_ms, wait_ms, rx_ms) of one wake-up that sends a frame, as the simulator counts them.

    Class A listens in RX1 (at the uplink's SF) rx_delay_s after the frame and, hearing nothing, in RX2
    a second later: the MCU waits awake between them. The simulator's clock moves by whole ms, rounded
    up, for the frame while it counts tx_ms rounded down; kept so both give the same figures.
    """
    airtime_us = time_on_air_us(phy_bytes, sf, _BW_KHZ, _CODING_RATE, _PREAMBLE)
    wait_ms = rx_ms = 0
    if class_a:
        rx1_ms = window_ms(sf)
        wait_ms = rx_delay_s * 1000 - _RX_ERROR_MS + 1000 - rx1_ms
        rx_ms = rx1_ms + window_ms(rx2_sf)
    awake_ms = sensors_ms + (airtime_us + 999) // 1000 + wait_ms + rx_ms
    return awake_ms, airtime_us // 1000, wait_ms, rx_ms


def mah_per_day(
    interval_s: float, sf: int, phy_bytes: int = REPORT_PHY_BYTES, class_a: bool = True, **timing: int
) -> float:
    """The charge a node spends a day, waking every interval_s to send a frame (timing: see wake_up_ms)."""
    awake_ms, tx_ms, wait_ms, rx_ms = wake_up_ms(sf, phy_bytes, class_a, **timing)
    interval_ms = interval_s * 1000
    per_wake = wake_up_mah(awake_ms, tx_ms, max(0.0, interval_ms - awake_ms), wait_ms, rx_ms)
    return per_wake * _DAY_MS / interval_ms


def days_left(
    battery_v: float | None,
    interval_s: float | None,
    sf: int | None,
    phy_bytes: int = REPORT_PHY_BYTES,
    class_a: bool = True,
    *,
    empty_v: float = EMPTY_V,
    capacity_mah: float = CAPACITY_MAH,
    **timing: int,
) -> int | None:
    """Whole days (rounded down) until the battery reaches empty_v, or None when that cannot be told.

    battery_v: the latest reading (V); interval_s: seconds between the node's reports; sf: their
    spreading factor (7..12, at 125 kHz); phy_bytes: a report's PHYPayload length; class_a: the node
    listens in its two receive windows after each report (every Akker node does); timing: rx_delay_s,
    rx2_sf, sensors_ms as wake_up_ms takes them. The charge left is the voltage curve read backwards.

    None when battery_v, interval_s or sf is missing or not one a node can have (a voltage outside
    1.0..4.5 V, an interval not above 0, an SF outside 7..12). 0 at or below empty_v. At most
    MAX_DAYS: a forecast beyond the cell's self-discharge life is not one anyone should believe.
    """
    if battery_v is None or interval_s is None or sf is None:
        return None
    if not (math.isfinite(battery_v) and _VOLTS_BELIEVABLE[0] <= battery_v <= _VOLTS_BELIEVABLE[1]):
        return None
    if not (math.isfinite(interval_s) and interval_s > 0) or isinstance(sf, bool) or sf not in _SF_RANGE:
        return None
    above_empty = charge_at(battery_v) - charge_at(empty_v)
    if battery_v <= empty_v or above_empty <= 0:
        return 0
    days = above_empty * capacity_mah / mah_per_day(interval_s, sf, phy_bytes, class_a, **timing)
    return min(MAX_DAYS, math.floor(days))
