"""A small farm for the dashboard's tests: three nodes over nearly three days, stored through the real Pipeline.

Every value below is written from this schedule, not read back from the code
under test. Samples are taken at half past each hour h (h = 0 is
2026-06-01 00:30 UTC); NOW is 2026-06-03 18:00 UTC (h = 66).

- north-1: one sample per report every hour (h = 0..65), two moisture probes:
  probe 1 dries from 30.0 % by 0.3 % an hour and is below 15 % from h = 51
  (14.7 %) to h = 65 (10.5 %); probe 2 stays at 35.0 %. Battery 3.95 V falling
  0.01 V every 6 hours. One trap, count h // 2: catches 11, 12, 9 per day.
  A status message at boot (00:06). Heard by two gateways.
- south-2: reports every hour until h = 35 (2026-06-02 11:30), then silent.
  Battery flat at 3.38 V (below 3.4 V from the start), no trap.
- east-3: batches of 4 samples every 4 hours (received at h = 3, 7, ..., 63;
  ages 3, 2, 1, 0 h). Two traps: trap 1 counts 1 an hour, 3 an hour from
  2026-06-03 (h = 48); trap 2 counts 1 an hour. Battery flat at 3.60 V.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway.bridge import store
from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from payload_codec import encode_uplink
from payload_codec.lorawan import build_uplink

START = datetime(2026, 6, 1, 0, 0, tzinfo=timezone.utc)
NOW = START + timedelta(hours=66)  # 2026-06-03 18:00 UTC
HOUR_S = 3600

# name -> (DevAddr, NwkSKey, AppSKey)
NODES = {
    "east-3": (0x26011B03, bytes(range(64, 80)), bytes(range(80, 96))),
    "north-1": (0x26011B01, bytes(range(16)), bytes(range(16, 32))),
    "south-2": (0x26011B02, bytes(range(32, 48)), bytes(range(48, 64))),
}


def at_hour(h: float) -> datetime:
    """The time of sample h: half past hour h."""
    return START + timedelta(hours=h + 0.5)


def north_moisture(h: int) -> float:
    return (300 - 3 * h) / 10


def north_battery(h: int) -> float:
    return (395 - h // 6) / 100


def east_trap1(h: int) -> int:
    """Trap 1's cumulative count after hour h: 1 an hour, 3 an hour from h = 48."""
    return min(h + 1, 48) + 3 * max(0, h - 47)


def _north(h: int) -> dict[str, object]:
    return {"age_s": 0, "soil_moisture_pct": [north_moisture(h), 35.0], "soil_temp_c": [14.0 + (h % 24) / 10],
            "air_temp_c": 12.0 + (h % 24) / 2, "air_rh_pct": 80.0 - (h % 24), "insect_count": [h // 2],
            "battery_v": north_battery(h)}  # fmt: skip


def _south(h: int) -> dict[str, object]:
    return {"age_s": 0, "soil_moisture_pct": [25.0], "air_temp_c": 15.0, "battery_v": 3.38}


def _east(h: int, age_s: int) -> dict[str, object]:
    return {"age_s": age_s, "soil_moisture_pct": [20.0, 28.0], "soil_temp_c": [13.0, 12.5], "air_temp_c": 16.0,
            "air_rh_pct": 70.0, "insect_count": [east_trap1(h), h + 1], "battery_v": 3.6}  # fmt: skip


def _phy(name: str, fcnt: int, message: dict[str, object]) -> bytes:
    dev_addr, nwk, app = NODES[name]
    fport, payload = encode_uplink(message)
    return build_uplink(dev_addr, fcnt, fport, payload, nwk, app)


def _frame(phy: bytes, t: datetime, gateway: str = "aa555a0000000001", rssi: float = -97.0) -> UplinkFrame:
    rx = Reception(gateway=gateway, rssi_dbm=rssi, snr_db=7.5, freq_hz=868_100_000, sf=9, bw_khz=125)
    return UplinkFrame(phy=phy, rx=rx, source="test", received_at=t)


def frames() -> list[UplinkFrame]:
    """Every frame of the farm, in the order the gateways hear them."""
    out: list[tuple[datetime, int, UplinkFrame]] = []
    status = {"type": "status", "reset_cause": "power_on", "firmware": [1, 4, 2], "config_crc": 439041101,
              "board": "heltec_v3", "uptime_s": 5, "tx_frames": 0, "sensor_errors": 0, "radio_errors": 0}  # fmt: skip
    t = START + timedelta(minutes=6)
    out.append((t, 0, _frame(_phy("north-1", 0, status), t)))
    for h in range(66):
        phy = _phy("north-1", h + 1, {"type": "report", "samples": [_north(h)]})
        out.append((at_hour(h), 1, _frame(phy, at_hour(h), "aa555a0000000001", -97.0)))
        out.append((at_hour(h), 2, _frame(phy, at_hour(h) + timedelta(milliseconds=300), "aa555a0000000002", -110.0)))
    for h in range(36):
        phy = _phy("south-2", h, {"type": "report", "samples": [_south(h)]})
        out.append((at_hour(h), 3, _frame(phy, at_hour(h) + timedelta(seconds=20), rssi=-104.0)))
    for k in range(16):
        newest = 4 * k + 3
        samples = [_east(h, (newest - h) * HOUR_S) for h in range(newest - 3, newest + 1)]
        phy = _phy("east-3", k, {"type": "report", "samples": samples})
        t = at_hour(newest) + timedelta(seconds=40)
        out.append((t, 4, _frame(phy, t, rssi=-88.0)))
    out.sort(key=lambda item: (item[0], item[1]))
    return [f for _, _, f in out]


def build(db_path: Path) -> Path:
    """Register the nodes and store every frame through the real pipeline; returns db_path."""
    db = open_db(db_path)
    for name, (dev_addr, nwk, app) in NODES.items():
        Registry(db).add(name, dev_addr, nwk, app, "sim")
    db.close()
    store.connect(db_path).close()
    pipeline = Pipeline(db_path, [])
    pipeline.open()
    try:
        outcomes = pipeline.process(frames())
    finally:
        pipeline.stop()
    assert set(outcomes) == {"accepted", "duplicate"}, outcomes
    assert outcomes.count("accepted") == 1 + 66 + 36 + 16
    return db_path
