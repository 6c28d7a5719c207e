"""LoRa time on air, from Semtech AN1200.13 ("LoRa Modem Designer's Guide"), section 4.

Also the LoRaWAN 1.0.x frame overhead and the EU868 payload limits (RP002-1.0.x),
which the bench needs to turn an application payload into radio time.
"""

from __future__ import annotations

import math

# MHDR(1) + DevAddr(4) + FCtrl(1) + FCnt(2) + FPort(1) + MIC(4), with no FOpts.
LORAWAN_OVERHEAD = 13

# Largest FRMPayload per spreading factor in EU868 at 125 kHz (DR0..DR5 = SF12..SF7),
# without repeater compatibility; a bigger payload cannot be sent in one frame.
EU868_MAX_PAYLOAD = {7: 242, 8: 242, 9: 115, 10: 51, 11: 51, 12: 51}


def time_on_air_ms(
    phy_bytes: int,
    sf: int,
    bw_khz: float = 125.0,
    cr: int = 1,
    preamble: int = 8,
    explicit_header: bool = True,
    crc: bool = True,
    low_data_rate: bool | None = None,
) -> float:
    """Time on air of one LoRa packet with a PHY payload of phy_bytes, in milliseconds.

    cr is 1..4 for coding rate 4/5..4/8. low_data_rate None means "as the
    LoRaWAN regional parameters set it": on when a symbol lasts 16 ms or more
    (SF11 and SF12 at 125 kHz).
    """
    t_sym = (2**sf) / bw_khz  # ms
    if low_data_rate is None:
        low_data_rate = t_sym >= 16.0
    de = 1 if low_data_rate else 0
    ih = 0 if explicit_header else 1
    numerator = 8 * phy_bytes - 4 * sf + 28 + 16 * int(crc) - 20 * ih
    payload_symbols = 8 + max(math.ceil(numerator / (4 * (sf - 2 * de))) * (cr + 4), 0)
    return (preamble + 4.25) * t_sym + payload_symbols * t_sym
