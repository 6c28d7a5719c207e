"""The dashboard benchmark's farm is a farm the dashboard reads as the bridge would have written it."""

from __future__ import annotations

import json
from pathlib import Path

from bench import dashboard
from gateway.dashboard.app import App
from gateway.farm.alert_config import default_config


def test_the_benchmark_farm_shows_every_node_with_its_readings_and_battery(tmp_path: Path) -> None:
    path = tmp_path / "farm.db"
    dashboard.build(path, 3, days=1)
    app = App(path, default_config(), lambda: dashboard.NOW)
    try:
        response = app.handle("GET", "/api/nodes")
    finally:
        app.close()
    assert response.status == 200
    nodes = [n for f in json.loads(response.body)["fields"] for n in f["nodes"]]
    assert [n["name"] for n in nodes] == ["n-000", "n-001", "n-002"]
    for n in nodes:
        assert n["interval_s"] == dashboard.INTERVAL_S and n["alerts"] == []
        assert n["readings"]["soil_moisture_pct"] and isinstance(n["battery"]["days_left"], int)
        assert n["signal"]["quality"] == "good" and n["catches_today"] is not None
