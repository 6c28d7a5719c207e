"""The one frame type passed between the bridge's parts: a PHYPayload as one gateway heard it.

Sources (serial board, Semtech UDP, simulator) turn what they receive into
UplinkFrame objects; the pipeline checks, deduplicates and stores them; sinks
never see these, only stored records. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Reception:
    """How one gateway heard a frame."""

    gateway: str  # gateway id: the EUI in hex for Semtech UDP, "board:<board id>" for the serial board
    rssi_dbm: float
    snr_db: float
    freq_hz: int
    sf: int
    bw_khz: int
    crc_ok: bool = True  # False: the radio's CRC failed; the pipeline counts and drops the frame
    gateway_time: str | None = None  # the gateway's own ISO 8601 time of reception, when it sends one
    counter_us: int | None = None  # the gateway's free-running receive counter (tmst, or board ticks x 1000)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "gateway": self.gateway,
            "rssi": self.rssi_dbm,
            "snr": self.snr_db,
            "frequency": self.freq_hz,
            "sf": self.sf,
            "bw": self.bw_khz,
        }
        if self.gateway_time is not None:
            out["gateway_time"] = self.gateway_time
        if self.counter_us is not None:
            out["counter_us"] = self.counter_us
        return out

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Reception:
        return cls(
            gateway=str(d["gateway"]),
            rssi_dbm=float(d["rssi"]),  # type: ignore[arg-type]
            snr_db=float(d["snr"]),  # type: ignore[arg-type]
            freq_hz=int(d["frequency"]),  # type: ignore[call-overload]
            sf=int(d["sf"]),  # type: ignore[call-overload]
            bw_khz=int(d["bw"]),  # type: ignore[call-overload]
            gateway_time=d.get("gateway_time"),  # type: ignore[arg-type]
            counter_us=d.get("counter_us"),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class UplinkFrame:
    phy: bytes  # the LoRaWAN PHYPayload, exactly as received
    rx: Reception
    source: str  # "serial", "udp" or "sim": which kind of source delivered it
    received_at: datetime  # when the bridge got it, UTC

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)


def iso_utc(t: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a Z, as every record and message carries it."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
