"""Alerts per field: soil too dry, too many catches today, a node silent, a battery low (docs/dashboard.md).

The thresholds come from the alert config (alert_config.py). node_window() is
the one reading of a node's records that the dashboard's pages, /api/alerts and
the bridge's MQTT alerts all use, so they say the same thing: it reads today's
records and the newest 64, and further back while an alert's run (a field dry
since, a battery low since) has not found its start, so a `since` is the moment
the condition began and stays put as the window slides.

Everything here is pure: it reads the store, never the clock, and writes
nothing, so the bridge can call it after every batch and publish what it returns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from gateway.bridge.store import Record

from . import queries, series
from .alert_config import AlertConfig
from .series import Sample

# Alert kinds, in the order they are listed for a node.
SOIL_MOISTURE_LOW = "soil_moisture_low"
CATCHES_HIGH = "catches_high"
SILENT = "silent"
BATTERY_LOW = "battery_low"
KINDS = (SOIL_MOISTURE_LOW, CATCHES_HIGH, SILENT, BATTERY_LOW)


@dataclass(frozen=True)
class NodeWindow:
    """A node's newest records (oldest first), their samples, its interval and its active alerts."""

    records: list[Record]
    samples: list[Sample]
    interval_s: int | None  # the field's interval_s, else the median gap between records, in whole seconds
    alerts: list[dict[str, object]]


def evaluate(
    db: sqlite3.Connection, config: AlertConfig, now: datetime, zone: str | None = None
) -> list[dict[str, object]]:
    """The alerts active at `now`, from the records received until then; [] for a store with no records."""
    if not queries.has_store(db):
        return []
    return [a for info in queries.nodes(db) for a in node_window(db, info.name, config, now, zone).alerts]


def node_window(
    db: sqlite3.Connection,
    node: str,
    config: AlertConfig,
    now: datetime,
    zone: str | None = None,
    since: datetime | None = None,
) -> NodeWindow:
    """A node's records from the start of today (or `since`, if earlier) and at least the newest 64, and its alerts.

    Reads further back, four times as many records a step, until every run below a threshold has found
    its first sample or the node's history ends.
    """
    tz = config.tz(zone)
    start = series.start_of_day(now, tz)
    start = start if since is None else min(start, since)
    at_least = series.INTERVAL_RECORDS
    while True:
        recs = queries.records(db, node, now, since=start, at_least=at_least)
        samples = series.samples(recs)
        interval_s = _interval_s(config, node, recs)
        found, complete = _alerts(node, config, samples, recs, interval_s, now, tz)
        if complete or len(recs) < at_least:
            return NodeWindow(recs, samples, interval_s, found)
        at_least = 4 * len(recs)


def _interval_s(config: AlertConfig, node: str, recs: Sequence[Record]) -> int | None:
    configured = config.thresholds_for(node).interval_s
    if configured:
        return configured
    median = series.median_interval_s(recs)
    return None if median is None else round(median)


def _alerts(
    node: str,
    config: AlertConfig,
    samples: Sequence[Sample],
    records: Sequence[Record],
    interval_s: int | None,
    now: datetime,
    tz: tzinfo,
) -> tuple[list[dict[str, object]], bool]:
    """One node's alerts, and False when a run below a threshold reaches the oldest sample read (its start unknown)."""
    f = config.field_of(node)
    th = f.thresholds if f else config.defaults
    found: list[tuple[str, str, float, float, datetime]] = []  # kind, message, value, threshold, since
    complete = True

    moisture = _run_below(samples, "soil_moisture_pct", th.soil_moisture_min_pct)
    if moisture:
        value, since, whole = moisture
        complete &= whole
        message = f"soil moisture {value:g} % is below {th.soil_moisture_min_pct:g} %"
        found.append((SOIL_MOISTURE_LOW, message, value, th.soil_moisture_min_pct, since))
    caught = _catches_over(samples, series.start_of_day(now, tz), now, th.catches_per_day_max)
    if caught:
        total, since = caught
        message = f"{total} catches today, above {th.catches_per_day_max}"
        found.append((CATCHES_HIGH, message, total, th.catches_per_day_max, since))
    if records and interval_s:
        last = queries.parse_iso(records[-1].received_at)
        silent_s = round((now - last).total_seconds())
        limit_s = th.silent_intervals * interval_s
        if silent_s > limit_s:
            message = (
                f"not heard for {duration(silent_s)}: over {th.silent_intervals} intervals of {duration(interval_s)}"
            )
            found.append((SILENT, message, silent_s, limit_s, last + timedelta(seconds=limit_s)))
    battery = _run_below(samples, "battery_v", th.battery_min_v)
    if battery:
        value, since, whole = battery
        complete &= whole
        message = f"battery {value:.2f} V is below {th.battery_min_v:g} V"
        found.append((BATTERY_LOW, message, value, th.battery_min_v, since))
    field_name = f.name if f else None
    alerts: list[dict[str, object]] = []
    for kind, message, value, threshold, since in found:
        alert = {"node": node, "field": field_name, "kind": kind, "message": message, "value": value,
                 "threshold": threshold, "since": queries.iso(since)}  # fmt: skip
        if kind == SILENT:
            alert["interval_s"] = interval_s  # the node's interval the message speaks of
        alerts.append(alert)
    return alerts, complete


def _lowest(value: object) -> float | None:
    if isinstance(value, list):
        present = [float(v) for v in value if isinstance(v, (int, float))]
        return min(present) if present else None
    return float(value) if isinstance(value, (int, float)) else None


def _run_below(samples: Sequence[Sample], key: str, threshold: float) -> tuple[float, datetime, bool] | None:
    """(latest value, the first sample of the run below threshold it ends, whether a sample before the run was read).

    None when the latest value is not below the threshold.
    """
    run: list[tuple[float, datetime]] = []
    for s in reversed(samples):
        v = _lowest(s.values.get(key))
        if v is None:
            continue  # not fitted, or the reading failed: it neither starts nor ends a run
        if v >= threshold:
            return (run[0][0], run[-1][1], True) if run else None
        run.append((v, s.t))
    return (run[0][0], run[-1][1], False) if run else None


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
