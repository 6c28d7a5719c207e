"""Alerts on the test farm (tests/farm/farm.py) and the alert config: its schema, its errors, its docs."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.bridge.store import connect_readonly
from gateway.farm import alert_config
from gateway.farm.alert_config import AlertConfigError, Thresholds, default_config, load, parse
from gateway.farm.alerts import evaluate
from tests.farm.farm import NOW

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DOCS = Path(__file__).parents[2] / "docs" / "dashboard.md"


@pytest.fixture
def db(farm_db: Path) -> Iterator[sqlite3.Connection]:
    conn = connect_readonly(farm_db)
    yield conn
    conn.close()


def test_the_default_config_alerts_on_the_dry_the_busy_the_silent_and_the_flat(db: sqlite3.Connection) -> None:
    assert evaluate(db, default_config(), NOW) == [
        # Trap 1 catches 3 an hour and trap 2 one since midnight: 4 an hour, 24 by 05:30 (+40 s), the 6th hour.
        {"node": "east-3", "field": "farm", "kind": "catches_high", "message": "64 catches today, above 20",
         "value": 64, "threshold": 20, "since": "2026-06-03T05:30:40.000Z"},
        # Probe 1 is at 14.7 % at 03:30 (h = 51) and 10.5 % at 17:30; probe 2 stays wet: any probe counts.
        {"node": "north-1", "field": "farm", "kind": "soil_moisture_low",
         "message": "soil moisture 10.5 % is below 15 %", "value": 10.5, "threshold": 15.0,
         "since": "2026-06-03T03:30:00.000Z"},
        # Heard every hour until 11:30:20 the day before: silent for 30.5 h less 20 s, the limit 3 x 1 h,
        # so silent since 3 h after it was last heard.
        {"node": "south-2", "field": "farm", "kind": "silent",
         "message": "not heard for 1 d 6 h: over 3 intervals of 1 h", "value": 109780, "threshold": 10800,
         "since": "2026-06-02T14:30:20.000Z", "interval_s": 3600},
        {"node": "south-2", "field": "farm", "kind": "battery_low", "message": "battery 3.38 V is below 3.4 V",
         "value": 3.38, "threshold": 3.4, "since": "2026-06-01T00:30:20.000Z"},
    ]  # fmt: skip


def test_fields_have_their_own_thresholds_interval_and_calendar_day(db: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(
        'timezone = "Europe/Amsterdam"\n'
        "[defaults]\nbattery_min_v = 3.3\n"
        '[fields.wheat]\nnodes = ["north-1"]\nsoil_moisture_min_pct = 10.0\n'
        '[fields.beet]\nnodes = ["east-3"]\ncatches_per_day_max = 67\ninterval_s = 600\n'
    )
    config = load(path)
    got = [(a["node"], a["field"], a["kind"], a["value"], a["threshold"]) for a in evaluate(db, config, NOW)]
    assert got == [
        # In Amsterdam the day began at 22:00 UTC: two more hours of 2 catches, 68 today, over 67.
        ("east-3", "beet", "catches_high", 68, 67),
        # Heard 2.5 h ago less 40 s; the field says it reports every 10 min, so over 3 x 600 s.
        ("east-3", "beet", "silent", 8960, 1800),
        # north-1 (10.5 % above 10 %) is fine; south-2 is in no field: the defaults, battery 3.38 V above 3.3 V.
        ("south-2", None, "silent", 109780, 10800),
    ]


def test_a_since_is_where_the_run_began_however_long_ago_and_stays_put(db: sqlite3.Connection) -> None:
    # north-1's battery is 3.95 V from its first sample (h = 0, 00:30 on June 1) and only falls: below 3.96 V
    # all along. That is 66 samples back, further than today and the newest 64 records the alerts read first.
    config = parse({"fields": {"f": {"nodes": ["north-1"], "battery_min_v": 3.96}}})
    seen = set()
    for later_h in (0, 1, 5):
        alerts = evaluate(db, config, NOW + timedelta(hours=later_h))
        (battery,) = [a for a in alerts if a["node"] == "north-1" and a["kind"] == "battery_low"]
        seen.add(battery["since"])
    assert seen == {"2026-06-01T00:30:00.000Z"}


def test_thresholds_come_back_as_written(db: sqlite3.Connection) -> None:
    config = parse({"fields": {"f": {"nodes": ["north-1", "south-2"], "soil_moisture_min_pct": 11, "interval_s": 899}}})
    got = {a["kind"]: a for a in evaluate(db, config, NOW)}
    assert got["soil_moisture_low"]["threshold"] == 11 and "below 11 %" in got["soil_moisture_low"]["message"]
    assert got["silent"]["threshold"] == 3 * 899 and got["silent"]["interval_s"] == 899


def test_evaluate_reads_little_and_writes_nothing(db: sqlite3.Connection, farm_db: Path) -> None:
    before = farm_db.read_bytes()
    t0 = time.perf_counter()
    for _ in range(10):
        evaluate(db, default_config(), NOW)
    assert (time.perf_counter() - t0) / 10 < 0.1
    assert farm_db.read_bytes() == before


def test_a_store_without_records_has_no_alerts(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    db = connect_readonly(tmp_path / "empty.db")
    assert evaluate(db, default_config(), NOW) == []
    db.close()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "no [fields.<name>] table"),
        ('[fields.a]\nnodes = ["n"]\nsoil_moisture_min = 3\n', "unknown key 'soil_moisture_min'"),
        ('colour = "green"\n[fields.a]\nnodes = ["n"]\n', "unknown key 'colour'"),
        ('[fields.a]\nnodes = ["n"]\n[fields.b]\nnodes = ["n"]\n', "node 'n' is already in field 'a'"),
        ("[fields.a]\nbattery_min_v = 3.5\n", "nodes must be a list of node names"),
        ('[fields.a]\nnodes = ["n"]\ncatches_per_day_max = 2.5\n', "catches_per_day_max must be a whole number"),
        ('[fields.a]\nnodes = ["n"]\nbattery_min_v = "low"\n', "battery_min_v must be a number above 0"),
        ('[defaults]\nsilent_intervals = true\n[fields.a]\nnodes = ["n"]\n', "silent_intervals must be a whole"),
        ('timezone = "Mars/Olympus"\n[fields.a]\nnodes = ["n"]\n', "unknown timezone 'Mars/Olympus'"),
        ("[fields.a\n", "is not valid TOML"),
    ],
)
def test_a_config_that_cannot_be_used_says_where_and_why(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(toml)
    with pytest.raises(AlertConfigError, match=re.escape(message)) as err:
        load(path)
    assert str(path) in str(err.value)


def test_one_schema_for_the_defaults_the_loader_and_the_docs() -> None:
    assert [s.name for s in alert_config.SETTINGS] == [f.name for f in dataclasses.fields(Thresholds)]
    assert {s.name: s.default for s in alert_config.SETTINGS} == dataclasses.asdict(Thresholds())
    docs = DOCS.read_text()
    for s in alert_config.SETTINGS:
        default = "inferred" if s.default is None else f"{s.default:g}"
        assert re.search(rf"^\| `{s.name}` \| {re.escape(default)} \|", docs, re.M), f"docs table row for {s.name}"
    # The example in the docs is a config the loader takes.
    (example,) = re.findall(r"```toml\n(.*?)```", docs, re.S)
    config = parse(tomllib.loads(example), "docs example")
    assert config.from_file and config.fields
