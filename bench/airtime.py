"""LoRa time on air for the bench, from the firmware's own formula (firmware/airtime.py).

Also the LoRaWAN 1.0.x frame overhead and the EU868 payload limits, which the
bench needs to turn an application payload into radio time.
"""

from __future__ import annotations

from firmware.airtime import time_on_air_us
from firmware.dutycycle import MAX_PAYLOAD as EU868_MAX_PAYLOAD

__all__ = ["EU868_MAX_PAYLOAD", "LORAWAN_OVERHEAD", "time_on_air_ms"]

# MHDR(1) + DevAddr(4) + FCtrl(1) + FCnt(2) + FPort(1) + MIC(4), with no FOpts.
LORAWAN_OVERHEAD = 13


def time_on_air_ms(phy_bytes: int, sf: int, low_data_rate: bool | None = None) -> float:
    """Time on air of one packet with a PHY payload of phy_bytes at 125 kHz, CR 4/5, preamble 8, in ms."""
    return time_on_air_us(phy_bytes, sf, ldro=low_data_rate) / 1000
