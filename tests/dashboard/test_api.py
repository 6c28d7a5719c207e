"""The JSON the pages show, on the test farm's store (tests/farm/farm.py): values checked against its schedule."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.registry import open_db
from gateway.bridge.store import connect_readonly
from gateway.dashboard import api
from gateway.farm import battery
from gateway.farm.alert_config import AlertConfig, default_config, parse
from gateway.network.downlinks import DownlinkBuilder
from tests.farm import farm
from tests.farm.farm import NOW, START, at_hour


@pytest.fixture
def db(farm_db: Path) -> Iterator[sqlite3.Connection]:
    conn = connect_readonly(farm_db)
    yield conn
    conn.close()


def iso(h: float, seconds: int = 0) -> str:
    return (at_hour(h) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def nodes_of(overview: Any) -> dict[str, Any]:
    return {n["name"]: n for f in overview["fields"] for n in f["nodes"]}


def test_the_overview_has_every_node_with_last_seen_battery_signal_and_latest_readings(db: sqlite3.Connection) -> None:
    o: Any = api.overview(db, default_config(), NOW)
    assert o["now"] == "2026-06-03T18:00:00.000Z" and o["hint"] is None and o["grouped"] is False
    assert [f["name"] for f in o["fields"]] == ["farm"]
    nodes = nodes_of(o)
    assert list(nodes) == ["east-3", "north-1", "south-2"]
    north, south, east = nodes["north-1"], nodes["south-2"], nodes["east-3"]

    assert (north["last_seen"], north["last_seen_ago_s"]) == (iso(65), 1800.0)
    assert (south["last_seen"], south["last_seen_ago_s"]) == (iso(35, 20), 30.5 * 3600 - 20)
    assert east["last_seen"] == iso(63, 40)
    assert (north["interval_s"], south["interval_s"], east["interval_s"]) == (3600, 3600, 4 * 3600)
    assert (north["silent"], south["silent"], east["silent"]) == (False, True, False)

    assert north["signal"] == {"rssi": -97.0, "snr": 7.5, "sf": 9, "gateway": "aa555a0000000001", "gateways": 2,
                               "quality": "good"}  # fmt: skip
    assert south["signal"]["gateways"] == 1 and south["signal"]["quality"] == "lost"

    assert north["readings"] == {"soil_moisture_pct": [10.5, 35.0], "soil_temp_c": [15.7], "air_temp_c": 20.5,
                                 "air_rh_pct": 63.0, "battery_v": 3.85}  # fmt: skip
    assert north["readings_at"] == iso(65) and north["readings_age_s"] == 1800
    assert south["readings_age_s"] == 30.5 * 3600 - 20  # measured the day before: greyed on the page
    assert (north["catches_today"], east["catches_today"], south["catches_today"]) == ([9], [48, 16], None)

    # Days left from the energy model (gateway/farm/battery.py) at each node's voltage, interval and SF, in
    # whole days: north-1's 0.04 V a day in the test schedule is no trend a cell really follows.
    assert north["battery"] == {"v": 3.85, "days_left": battery.days_left(3.85, 3600, 9)}
    assert south["battery"] == {"v": 3.38, "days_left": battery.days_left(3.38, 3600, 9)}
    assert east["battery"] == {"v": 3.6, "days_left": battery.days_left(3.6, 4 * 3600, 9)}
    assert all(isinstance(n["battery"]["days_left"], int) for n in (north, south, east))
    assert 365 < north["battery"]["days_left"] <= battery.MAX_DAYS and 14 < south["battery"]["days_left"] < 60
    # The field's thresholds travel with it, as written, for the page's colours.
    assert o["fields"][0]["thresholds"]["soil_moisture_min_pct"] == 15.0
    assert [a["kind"] for a in o["alerts"]] == ["catches_high", "soil_moisture_low", "silent", "battery_low"]


def test_node_detail_has_series_catches_per_day_and_the_reception_history(db: sqlite3.Connection) -> None:
    north: Any = api.node_detail(db, default_config(), "north-1", NOW)
    assert north is not None and north["days"] == api.DEFAULT_DAYS
    s = north["series"]
    assert s["t"] == [at_hour(h).timestamp() for h in range(66)]
    assert s["soil_moisture_pct"] == [[farm.north_moisture(h) for h in range(66)], [35.0] * 66]
    assert s["battery_v"] == [farm.north_battery(h) for h in range(66)]
    assert len(s["soil_temp_c"]) == 1 and len(s["air_rh_pct"]) == 66
    # One catch every two hours: 11 on the first day (the count starts at 0), 12 on the second, 9 until 17:30.
    assert north["catches_per_day"] == {
        "days": ["2026-06-01", "2026-06-02", "2026-06-03"],
        "t": [(START + timedelta(days=d)).timestamp() for d in range(3)],
        "traps": [[11, 12, 9]],
    }
    assert north["status"]["firmware"] == [1, 4, 2]
    rows = north["receptions"]
    assert len(rows) == api.RECEPTIONS
    gateways = ["aa555a0000000001", "aa555a0000000002"]
    assert rows[0] == {"received_at": iso(65), "fcnt": 66, "type": "report", "gateways": gateways, "rssi": -97.0,
                       "snr": 7.5, "sf": 9}  # fmt: skip
    assert [r["fcnt"] for r in rows] == list(range(66, 16, -1))


def test_batches_spread_their_samples_over_time_and_catches_count_per_trap(db: sqlite3.Connection) -> None:
    east: Any = api.node_detail(db, default_config(), "east-3", NOW)
    assert east is not None and east["status"] is None
    assert east["series"]["t"] == [(at_hour(h) + timedelta(seconds=40)).timestamp() for h in range(64)]
    # Trap 1: 1 an hour, 3 an hour from June 3 (16 hours until 15:30); trap 2: 1 an hour.
    assert east["catches_per_day"]["traps"] == [[24, 24, 48], [24, 24, 16]]


def test_the_window_and_the_clock_decide_what_is_shown(db: sqlite3.Connection) -> None:
    one_day: Any = api.node_detail(db, default_config(), "north-1", NOW, days=1)
    assert one_day is not None
    assert one_day["series"]["t"][0] == at_hour(42).timestamp()
    assert len(one_day["series"]["t"]) == 24
    # On 2026-06-02 at 06:00 the store holds only what had arrived by then: south-2 was still talking.
    earlier = START + timedelta(hours=30)
    o: Any = api.overview(db, default_config(), earlier)
    nodes = nodes_of(o)
    assert nodes["north-1"]["last_seen"] == iso(29) and nodes["south-2"]["last_seen"] == iso(29, 20)
    assert [(a["node"], a["kind"]) for a in o["alerts"]] == [("south-2", "battery_low")]
    assert nodes["north-1"]["catches_today"] == [3]  # counts 11 at 23:30, 14 at 05:30 on the second day
    assert nodes["east-3"]["catches_today"] == [4, 4]  # the batch received at 03:30 (00:30..03:30)


def test_the_pages_and_api_alerts_say_the_same_in_any_time_zone(db: sqlite3.Connection) -> None:
    for zone in (None, "Europe/Amsterdam", "America/New_York"):
        o: Any = api.overview(db, default_config(), NOW, zone)
        assert o["alerts"] == api.alerts(db, default_config(), NOW, zone)["alerts"]
        assert o["timezone"] == (zone or "UTC")
        detail: Any = api.node_detail(db, default_config(), "north-1", NOW, zone=zone)
        assert detail["alerts"] == [a for a in o["alerts"] if a["node"] == "north-1"]
    # East-3's catches today: from 00:00 in the zone asked for (22:00 UTC the day before in Amsterdam).
    utc, ams = (nodes_of(api.overview(db, default_config(), NOW, z))["east-3"] for z in (None, "Europe/Amsterdam"))
    assert sum(ams["catches_today"]) == sum(utc["catches_today"]) + 2 * 2  # 2 an hour before midnight
    # A time zone in the alert config wins over the browser's.
    fixed = parse({"timezone": "Asia/Tokyo", "fields": {"f": {"nodes": ["east-3"]}}})
    assert api.overview(db, fixed, NOW, "Europe/Amsterdam")["timezone"] == "Asia/Tokyo"


def test_unknown_nodes_have_no_detail(db: sqlite3.Connection) -> None:
    assert api.node_detail(db, default_config(), "west-9", NOW) is None
    assert not api.known_node(db, default_config(), "west-9")
    assert api.known_node(db, default_config(), "east-3")


def test_an_alert_config_groups_nodes_by_field_and_shows_nodes_it_names_that_never_spoke(
    db: sqlite3.Connection,
) -> None:
    config = parse({"fields": {"wheat": {"nodes": ["north-1", "west-9"]}, "beet": {"nodes": ["east-3"]}}})
    o: Any = api.overview(db, config, NOW)
    assert o["grouped"] is True
    groups = {f["name"]: [n["name"] for n in f["nodes"]] for f in o["fields"]}
    assert groups == {"wheat": ["north-1", "west-9"], "beet": ["east-3"], None: ["south-2"]}
    west = nodes_of(o)["west-9"]
    assert (west["registered"], west["last_seen"], west["signal"], west["alerts"]) == (False, None, None, [])
    assert api.known_node(db, config, "west-9")


def test_a_store_without_tables_gives_an_empty_overview_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    db = connect_readonly(tmp_path / "empty.db")
    o = api.overview(db, AlertConfig(), NOW)
    assert o["fields"] == [] and o["alerts"] == [] and "akker nodes add" in str(o["hint"])
    assert api.node_detail(db, AlertConfig(), "north-1", NOW) is None
    assert api.alerts(db, AlertConfig(), NOW)["alerts"] == []
    db.close()


def test_reading_never_changes_the_store(farm_db: Path) -> None:
    before = hashlib.sha256(farm_db.read_bytes()).hexdigest()
    db = connect_readonly(farm_db)
    for name in farm.NODES:
        api.node_detail(db, default_config(), name, NOW)
    api.overview(db, default_config(), NOW)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("DELETE FROM records")
    db.close()
    assert hashlib.sha256(farm_db.read_bytes()).hexdigest() == before


def test_node_detail_shows_the_dev_status_the_network_kept(farm_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "farm.db"
    shutil.copy(farm_db, copy)
    db = open_db(copy)
    assert api.node_detail(db, default_config(), "north-1", NOW)["dev_status"] is None  # type: ignore[index]
    DownlinkBuilder(db)  # creates the network's tables, as a bridge run with --network does
    with db:
        db.execute("INSERT INTO dev_status (node, asked_at, answered_at, battery, snr_db) VALUES (?, ?, ?, ?, ?)",
                   ("north-1", "2026-06-03T10:00:00+00:00", "2026-06-03T10:15:00+00:00", 200, -3))  # fmt: skip
    shown: Any = api.node_detail(db, default_config(), "north-1", NOW)
    assert shown["dev_status"] == {"battery": 200, "snr_db": -3, "answered_at": "2026-06-03T10:15:00+00:00"}
