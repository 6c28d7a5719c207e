"""Registered nodes and real LoRaWAN frames for the bridge's tests (built with payload_codec)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway.bridge import store
from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.registry import Registry, open_db
from payload_codec import encode_uplink
from payload_codec.lorawan import build_uplink

# name -> (DevAddr, NwkSKey, AppSKey)
NODES = {
    "north-1": (0x26011B01, bytes(range(16)), bytes(range(16, 32))),
    "south-2": (0x26011B02, bytes(range(32, 48)), bytes(range(48, 64))),
}
T0 = datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc)


def register(db_path: Path, names: tuple[str, ...] = tuple(NODES)) -> None:
    db = open_db(db_path)
    for name in names:
        dev_addr, nwk, app = NODES[name]
        Registry(db).add(name, dev_addr, nwk, app, "sim")
    db.close()
    store.connect(db_path).close()


def sample(traps: list[int | None] | None = None, age_s: int = 0, moisture: float = 23.4) -> dict[str, object]:
    s: dict[str, object] = {"age_s": age_s, "soil_moisture_pct": [moisture], "air_temp_c": 17.8, "battery_v": 3.87}
    if traps is not None:
        s["insect_count"] = traps
    return s


def report_phy(name: str, fcnt: int, samples: list[dict[str, object]] | None = None) -> bytes:
    dev_addr, nwk, app = NODES[name]
    fport, payload = encode_uplink({"type": "report", "samples": samples or [sample()]})
    return build_uplink(dev_addr, fcnt, fport, payload, nwk, app)


def frame(phy: bytes, gateway: str = "aa555a0000000001", at: datetime | None = None, crc_ok: bool = True,
          rssi: float = -97.0) -> UplinkFrame:  # fmt: skip
    rx = Reception(gateway=gateway, rssi_dbm=rssi, snr_db=7.5, freq_hz=868_100_000, sf=9, bw_khz=125, crc_ok=crc_ok)
    return UplinkFrame(phy=phy, rx=rx, source="test", received_at=at or T0)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
