"""The dashboard's overview answer (/api/nodes) on a farm of 20 and of 200 nodes, 7 days at 15 minutes.

The farm is written straight into a bridge store with the bridge's own Writer,
as the pipeline would after seven days: every node registered, a report every
15 minutes with the usual sensors (two probes, a soil and an air temperature,
air humidity, one trap, the battery), heard by one gateway, ids in the order
they arrived. The request goes through the dashboard's App as a browser's
would, store opened read-only and closed again; the median of several answers
is compared with the 100 ms a page may take.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway.bridge import store
from gateway.bridge.frame import iso_utc
from gateway.bridge.registry import Registry, open_db
from gateway.dashboard.app import App
from gateway.farm.alert_config import default_config

FARMS = (20, 200)
DAYS = 7
INTERVAL_S = 900
TARGET_MS = 100.0
REPEATS = 7
NOW = datetime(2026, 6, 8, 12, 0, tzinfo=timezone.utc)


def build(path: Path, nodes: int, days: int = DAYS) -> None:
    """A bridge store holding `nodes` nodes' reports of the last `days` days, every INTERVAL_S."""
    db = open_db(path)
    registry = Registry(db)
    for n in range(nodes):
        registry.add(f"n-{n:03d}", 0x26000000 + n, bytes([n % 256] * 15 + [1]), bytes([n % 256] * 15 + [2]), "sim")
    db.close()
    db = store.connect(path)
    writer = store.Writer(db)
    steps = days * 86400 // INTERVAL_S
    start = NOW - timedelta(days=days)
    writer.begin()
    for k in range(steps):
        t = iso_utc(start + timedelta(seconds=k * INTERVAL_S + 30))
        for n in range(nodes):
            sample = {"age_s": 0, "soil_moisture_pct": [30.0 - (k % 96) / 10, 33.5], "soil_temp_c": [14.2],
                      "air_temp_c": 12.5 + (k % 96) / 8, "air_rh_pct": 81.0, "insect_count": [k // 8],
                      "battery_v": round(4.05 - k / 40000, 2)}  # fmt: skip
            rx = [{"gateway": "aa555a0000000001", "rssi": -95.0 - n % 20, "snr": 6.5, "sf": 7, "freq_hz": 868100000}]
            phy = bytes(8) + k.to_bytes(4, "big") + n.to_bytes(2, "big")  # unique, as real frames are
            writer.insert(dev_addr=0x26000000 + n, fcnt=k, node=f"n-{n:03d}", fport=1, phy=phy, received_at=t,
                          data={"type": "report", "samples": [sample]}, derived={"catches": [[int(k % 8 == 0)]]},
                          error=None, rx=rx, sinks=[])  # fmt: skip
    writer.commit()
    db.close()


def overview_ms(nodes: int) -> tuple[float, int]:
    """(median ms of /api/nodes, records in the store) on a new farm of `nodes` nodes."""
    with tempfile.TemporaryDirectory(prefix="akker-bench-dashboard-") as tmp:
        path = Path(tmp) / "farm.db"
        build(path, nodes)
        app = App(path, default_config(), lambda: NOW)
        try:
            assert app.handle("GET", "/api/nodes?tz=Europe/Amsterdam").status == 200
            times = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                response = app.handle("GET", "/api/nodes?tz=Europe/Amsterdam")
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status == 200
        finally:
            app.close()
        db = store.connect_readonly(path)
        count = store.record_count(db)
        db.close()
    return statistics.median(times), count
