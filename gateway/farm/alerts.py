"""Alerts per field: soil too dry, too many catches today, a node silent, a battery low (docs/dashboard.md).

The config is one TOML file (`akker dashboard --alerts FILE`): a time zone for
calendar days, default thresholds, and fields with their nodes and their own
thresholds. Without a file every node is in one field, "farm", with the
defaults below. SETTINGS is the one schema: the loader, the defaults and the
table in docs/dashboard.md follow it (a test checks the docs).

evaluate(db, config, now) is pure (it reads the store, never the clock, and
writes nothing) and reads about a day of records per node, so the bridge can
call it after every batch and publish what it returns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.bridge.store import Record
from gateway.toml_file import read_toml

from . import queries, series
from .series import Sample

DEFAULT_FIELD = "farm"  # the one field of the default config: every node

# Alert kinds, in the order they are listed for a node.
SOIL_MOISTURE_LOW = "soil_moisture_low"
CATCHES_HIGH = "catches_high"
SILENT = "silent"
BATTERY_LOW = "battery_low"
KINDS = (SOIL_MOISTURE_LOW, CATCHES_HIGH, SILENT, BATTERY_LOW)


class AlertConfigError(ValueError):
    """An alert config that cannot be used; the message names the file, the key and what is expected."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type  # float or int
    default: float | int | None
    help: str


# The thresholds, each a key of [defaults] and of every [fields.<name>] table.
SETTINGS: tuple[Setting, ...] = (
    Setting("soil_moisture_min_pct", float, 15.0, "alert when any probe's latest soil moisture is below this (%)"),
    Setting("catches_per_day_max", int, 20, "alert when a node's catches today (all traps) are above this"),
    Setting("battery_min_v", float, 3.4, "alert when the latest battery voltage is below this (V)"),
    Setting("silent_intervals", int, 3, "alert when a node has not been heard for this many intervals"),
    Setting("interval_s", int, None, "a node's reporting interval (s); default: the median gap between its records"),
)


@dataclass(frozen=True)
class Thresholds:
    soil_moisture_min_pct: float = 15.0
    catches_per_day_max: int = 20
    battery_min_v: float = 3.4
    silent_intervals: int = 3
    interval_s: int | None = None


@dataclass(frozen=True)
class Field:
    name: str
    nodes: tuple[str, ...] | None  # None: every node (the default config's one field)
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class AlertConfig:
    fields: tuple[Field, ...] = (Field(DEFAULT_FIELD, None),)
    defaults: Thresholds = field(default_factory=Thresholds)  # for nodes in no field
    timezone: str = "UTC"  # calendar days (catches per day, today) are counted in this zone
    from_file: bool = False  # False: the built-in default, one field with every node

    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    def field_of(self, node: str) -> Field | None:
        for f in self.fields:
            if f.nodes is None or node in f.nodes:
                return f
        return None

    def thresholds_for(self, node: str) -> Thresholds:
        f = self.field_of(node)
        return f.thresholds if f else self.defaults


def default_config() -> AlertConfig:
    return AlertConfig()


# ---------------------------------------------------------------- loading


def load(path: Path) -> AlertConfig:
    return parse(read_toml(path, "alert config", AlertConfigError), str(path))


def parse(raw: dict[str, object], where: str = "alert config") -> AlertConfig:
    """An AlertConfig from a parsed TOML document; unknown keys and wrong types are errors."""
    _unknown(raw, ("timezone", "defaults", "fields"), where)
    tz_name = raw.get("timezone", "UTC")
    if not isinstance(tz_name, str):
        raise AlertConfigError(f'{where}: timezone must be a string such as "Europe/Amsterdam"')
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AlertConfigError(f'{where}: unknown timezone {tz_name!r}: use a name like "Europe/Paris"') from None
    defaults = _thresholds(_table(raw, "defaults", where), Thresholds(), f"{where} [defaults]")
    fields_raw = _table(raw, "fields", where)
    if not fields_raw:
        raise AlertConfigError(f"{where}: no [fields.<name>] table: name at least one field and its nodes")
    fields: list[Field] = []
    owner: dict[str, str] = {}
    for name, body in fields_raw.items():
        ctx = f"{where} [fields.{name}]"
        if not isinstance(body, dict):
            raise AlertConfigError(f"{ctx} must be a table")
        nodes = body.get("nodes")
        if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) and n for n in nodes):
            raise AlertConfigError(f'{ctx}: nodes must be a list of node names, e.g. nodes = ["north-1"]')
        for n in nodes:
            if n in owner:
                raise AlertConfigError(f"{ctx}: node {n!r} is already in field {owner[n]!r}: a node is in one field")
            owner[n] = name
        settings = {k: v for k, v in body.items() if k != "nodes"}
        fields.append(Field(name, tuple(nodes), _thresholds(settings, defaults, ctx)))
    return AlertConfig(tuple(fields), defaults, tz_name, from_file=True)


def _unknown(raw: dict[str, object], known: Sequence[str], where: str) -> None:
    for key in raw:
        if key not in known:
            raise AlertConfigError(f"{where}: unknown key {key!r} (a typo?); keys are: {', '.join(known)}")


def _table(raw: dict[str, object], key: str, where: str) -> dict[str, object]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise AlertConfigError(f"{where}: {key} must be a table ([{key}])")
    return value


def _thresholds(raw: dict[str, object], base: Thresholds, where: str) -> Thresholds:
    by_name = {s.name: s for s in SETTINGS}
    _unknown(raw, list(by_name), where)
    values: dict[str, object] = {}
    for key, value in raw.items():
        s = by_name[key]
        ok = isinstance(value, int) if s.kind is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or value <= 0:  # type: ignore[operator]
            kind = "a whole number" if s.kind is int else "a number"
            raise AlertConfigError(f"{where}: {key} must be {kind} above 0")
        values[key] = float(value) if s.kind is float else value  # type: ignore[arg-type]
    return replace(base, **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- evaluating


def evaluate(db: sqlite3.Connection, config: AlertConfig, now: datetime) -> list[dict[str, object]]:
    """The alerts active at `now`, from the records received until then; [] for a store with no records."""
    if not queries.has_store(db):
        return []
    tz = config.tz()
    out: list[dict[str, object]] = []
    for info in queries.nodes(db):
        recs = queries.records(db, info.name, now, since=series.start_of_day(now, tz), at_least=series.INTERVAL_RECORDS)
        out += node_alerts(info.name, config, recs, series.samples(recs), now)
    return out


def node_alerts(
    node: str, config: AlertConfig, records: Sequence[Record], samples: Sequence[Sample], now: datetime
) -> list[dict[str, object]]:
    """One node's alerts from its newest records (at least today's and the newest 64) and their samples."""
    f = config.field_of(node)
    th = f.thresholds if f else config.defaults
    found: list[tuple[str, str, float, float, datetime]] = []  # kind, message, value, threshold, since

    moisture = _run_below(samples, "soil_moisture_pct", th.soil_moisture_min_pct)
    if moisture:
        value, since = moisture
        message = f"soil moisture {value:g} % is below {th.soil_moisture_min_pct:g} %"
        found.append((SOIL_MOISTURE_LOW, message, value, th.soil_moisture_min_pct, since))
    caught = _catches_over(samples, series.start_of_day(now, config.tz()), now, th.catches_per_day_max)
    if caught:
        total, since = caught
        message = f"{total} catches today, above {th.catches_per_day_max}"
        found.append((CATCHES_HIGH, message, total, th.catches_per_day_max, since))
    interval_s = th.interval_s or series.median_interval_s(records)
    if records and interval_s:
        last = queries.parse_iso(records[-1].received_at)
        silent_s = (now - last).total_seconds()
        limit_s = th.silent_intervals * interval_s
        if silent_s > limit_s:
            message = (
                f"not heard for {duration(silent_s)}: over {th.silent_intervals} intervals of {duration(interval_s)}"
            )
            found.append((SILENT, message, round(silent_s, 3), limit_s, last))
    battery = _run_below(samples, "battery_v", th.battery_min_v)
    if battery:
        value, since = battery
        message = f"battery {value:.2f} V is below {th.battery_min_v:g} V"
        found.append((BATTERY_LOW, message, value, th.battery_min_v, since))
    field_name = f.name if f else None
    return [
        {"node": node, "field": field_name, "kind": kind, "message": message, "value": value,
         "threshold": threshold, "since": queries.iso(since)}
        for kind, message, value, threshold, since in found
    ]  # fmt: skip


def _lowest(value: object) -> float | None:
    if isinstance(value, list):
        present = [float(v) for v in value if isinstance(v, (int, float))]
        return min(present) if present else None
    return float(value) if isinstance(value, (int, float)) else None


def _run_below(samples: Sequence[Sample], key: str, threshold: float) -> tuple[float, datetime] | None:
    """(latest value, the first sample of the run below threshold that it ends), if the latest is below."""
    run: list[tuple[float, datetime]] = []
    for s in reversed(samples):
        v = _lowest(s.values.get(key))
        if v is None:
            continue  # not fitted, or the reading failed: it neither starts nor ends a run
        if v >= threshold:
            break
        run.append((v, s.t))
    return (run[0][0], run[-1][1]) if run else None


def _catches_over(samples: Sequence[Sample], start: datetime, end: datetime, limit: int) -> tuple[int, datetime] | None:
    """(today's catches, the sample that took them over limit) when they are over it."""
    total, since = 0, None
    for s in samples:
        if s.catches is None or not start <= s.t <= end:
            continue
        total += sum(n or 0 for n in s.catches)
        if since is None and total > limit:
            since = s.t
    return (total, since) if since is not None else None


def duration(seconds: float) -> str:
    """A duration as a person reads it: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"
