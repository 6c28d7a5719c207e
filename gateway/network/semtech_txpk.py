"""A downlink as a Semtech packet forwarder's `txpk` (PROTOCOL.TXT 6): sent at a counter time, IQ inverted."""

from __future__ import annotations

import base64

from .windows import Window

# TX_ACK errors (PROTOCOL.TXT 5.5) after which the same downlink may still go in RX2 through this gateway:
# the RX1 slot was refused, not the gateway. TX_FREQ and TX_POWER would refuse RX2 alike.
RETRY_IN_RX2 = ("TOO_LATE", "TOO_EARLY", "COLLISION_PACKET", "COLLISION_BEACON")


def txpk(window: Window, phy: bytes, power_dbm: int = 14) -> dict[str, object]:
    """The txpk that sends phy in window: `tmst` on the gateway's counter, LoRa 4/5, IQ inverted, no CRC."""
    return {
        "imme": False,
        "tmst": window.counter_us,
        "freq": window.freq_hz / 1_000_000,
        "rfch": 0,
        "powe": power_dbm,
        "modu": "LORA",
        "datr": f"SF{window.sf}BW{window.bw_khz}",
        "codr": "4/5",
        "ipol": True,  # downlinks are sent with inverted IQ, so that nodes hear them and not each other
        "size": len(phy),
        "data": base64.b64encode(phy).decode(),
        "ncrc": True,  # LoRaWAN downlinks carry no payload CRC
    }
