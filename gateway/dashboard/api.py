"""Everything the dashboard's pages show, as JSON-able dicts (docs/dashboard.md, "JSON API").

Pure functions over a read-only connection to the store, an alert config and a
"now": records received after now are left out, so the same store shows the
same page on any clock. `zone` is the browser's time zone, for calendar days
when the alert config names none. The server turns these dicts into responses.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, time, timedelta

from gateway.farm import battery, queries, series
from gateway.farm.alert_config import AlertConfig, Thresholds
from gateway.farm.alerts import SILENT, NodeWindow, evaluate, node_window
from gateway.farm.queries import NodeInfo, iso
from gateway.farm.series import Sample

DEFAULT_DAYS = 7  # the node page's charts span this many days unless asked otherwise
MAX_DAYS = 366
RECEPTIONS = 50  # rows of a node page's reception history
HINT_NO_NODES = (
    "no nodes yet: add them with `akker nodes add`, then run `akker gateway run` or `akker sim` on this database"
)


def overview(db: sqlite3.Connection, config: AlertConfig, now: datetime, zone: str | None = None) -> dict[str, object]:
    """/api/nodes: every node's summary, grouped by field, and every active alert."""
    if not queries.has_store(db):
        return empty_overview(config, now, HINT_NO_NODES, zone)
    infos = _nodes(db, config)
    summaries = [_summary(info, config, node_window(db, info.name, config, now, zone), now, zone) for info in infos]
    groups: dict[str | None, list[dict[str, object]]] = {f.name: [] for f in config.fields}
    for s in summaries:
        groups.setdefault(s["field"], []).append(s)  # type: ignore[arg-type]
    return {
        "now": iso(now),
        "timezone": config.zone(zone),
        "grouped": config.from_file,
        "fields": [
            {"name": name, "thresholds": _thresholds(config, name), "nodes": nodes}
            for name, nodes in groups.items()
            if nodes or name is not None
        ],
        "alerts": [a for s in summaries for a in s["alerts"]],  # type: ignore[attr-defined]
        "hint": None if summaries else HINT_NO_NODES,
    }


def empty_overview(config: AlertConfig, now: datetime, hint: str, zone: str | None = None) -> dict[str, object]:
    """The overview of a store that is missing or empty: no nodes, and a hint saying what to do."""
    return {
        "now": iso(now),
        "timezone": config.zone(zone),
        "grouped": config.from_file,
        "fields": [],
        "alerts": [],
        "hint": hint,
    }


def node_detail(
    db: sqlite3.Connection,
    config: AlertConfig,
    name: str,
    now: datetime,
    days: int = DEFAULT_DAYS,
    zone: str | None = None,
) -> dict[str, object] | None:
    """/api/nodes/<name>: the node's summary, its series over `days`, catches per day, receptions; None if unknown."""
    if not queries.has_store(db):
        return None
    info = next((n for n in _nodes(db, config) if n.name == name), None)
    if info is None:
        return None
    start = now - timedelta(days=days)
    window = node_window(db, name, config, now, zone, since=start)
    summary = _summary(info, config, window, now, zone)
    shown = [s for s in window.samples if s.t >= start]
    tz = config.tz(zone)
    per_day = series.catches_per_day(shown, tz)
    traps = max((len(counts) for _, counts in per_day), default=0)
    status = next((r for r in reversed(window.records) if r.data.get("type") == "status"), None)
    return {
        **summary,
        "now": iso(now),
        "start": iso(start),
        "timezone": config.zone(zone),
        "days": days,
        "thresholds": asdict(config.thresholds_for(name)),
        "status": None if status is None else {"received_at": status.received_at, **status.data},
        "dev_status": queries.dev_status(db, name),  # the node's DevStatusAns, when the bridge's network asked
        "series": series.columns(shown),
        "catches_per_day": {
            "days": [d.isoformat() for d, _ in per_day],
            "t": [datetime.combine(d, time(0), tz).timestamp() for d, _ in per_day],  # the day's start, in tz
            "traps": [[counts[t] if t < len(counts) else 0 for _, counts in per_day] for t in range(traps)],
        },
        "receptions": [
            {
                "received_at": r.received_at,
                "fcnt": r.fcnt,
                "type": r.kind,
                "gateways": sorted({str(x.get("gateway")) for x in r.rx}),
                **_best(r.rx),
            }
            for r in queries.receptions(db, name, now, RECEPTIONS)
        ],
    }


def alerts(
    db: sqlite3.Connection | None, config: AlertConfig, now: datetime, zone: str | None = None
) -> dict[str, object]:
    """/api/alerts: the active alerts and the thresholds of every field (db None: no store to read)."""
    active = evaluate(db, config, now, zone) if db is not None else []
    return {
        "now": iso(now),
        "timezone": config.zone(zone),
        "alerts": active,
        "fields": [
            {"name": f.name, "nodes": None if f.nodes is None else list(f.nodes), **asdict(f.thresholds)}
            for f in config.fields
        ],
    }


def known_node(db: sqlite3.Connection, config: AlertConfig, name: str) -> bool:
    """True for a node of the registry, of the records or of the alert config: one the pages can show."""
    if any(f.nodes and name in f.nodes for f in config.fields):
        return True
    if not queries.has_store(db):
        return False
    return any(n.name == name for n in queries.nodes(db))


# ---------------------------------------------------------------- parts


def _nodes(db: sqlite3.Connection, config: AlertConfig) -> list[NodeInfo]:
    """The store's nodes and the ones the config names (shown as never heard: a typo or a node not yet added)."""
    known = {n.name: n for n in queries.nodes(db)}
    for f in config.fields:
        for name in f.nodes or ():
            known.setdefault(name, NodeInfo(name, None, None))
    return [known[name] for name in sorted(known)]


def _thresholds(config: AlertConfig, field: str | None) -> dict[str, object]:
    """A field's thresholds as the user wrote them (the defaults' for nodes in no field)."""
    f = next((f for f in config.fields if f.name == field), None) if field is not None else None
    th: Thresholds = f.thresholds if f else config.defaults
    return asdict(th)


def _summary(
    info: NodeInfo, config: AlertConfig, window: NodeWindow, now: datetime, zone: str | None
) -> dict[str, object]:
    recs, samples = window.records, window.samples
    field = config.field_of(info.name)
    last = queries.parse_iso(recs[-1].received_at) if recs else None
    readings = series.latest_readings(samples)
    battery_v = readings.get("battery_v")
    today = series.start_of_day(now, config.tz(zone))
    silent = any(a["kind"] == SILENT for a in window.alerts)
    signal = series.signal(recs[-1].rx) if recs else None
    newest = _newest(samples)
    return {
        "name": info.name,
        "dev_addr": None if info.dev_addr is None else f"{info.dev_addr:08x}",
        "board": info.board,
        "registered": info.dev_addr is not None,
        "field": field.name if field else None,
        "last_seen": None if last is None else iso(last),
        "last_seen_ago_s": None if last is None else round((now - last).total_seconds(), 3),
        "interval_s": window.interval_s,
        "silent": silent,
        "battery": {
            "v": None if battery_v is None else battery_v[1],
            "days_left": battery.days_left(
                None if battery_v is None else float(battery_v[1]),  # type: ignore[arg-type]
                window.interval_s,
                None if signal is None else signal.get("sf"),  # type: ignore[arg-type]
            ),
        },
        "signal": None if signal is None else {**signal, "quality": series.signal_quality(signal, silent)},
        "readings": {key: value for key, (_, value) in readings.items() if key != "insect_count"},
        "readings_at": None if newest is None else iso(newest),
        "readings_age_s": None if newest is None else round((now - newest).total_seconds()),
        "catches_today": series.catches_between(samples, today, now),
        "alerts": window.alerts,
    }


def _newest(samples: Sequence[Sample]) -> datetime | None:
    return samples[-1].t if samples else None


def _best(rx: Sequence[dict[str, object]]) -> dict[str, object]:
    best = series.signal(rx)
    if best is None:
        return {"rssi": None, "snr": None, "sf": None}
    return {"rssi": best["rssi"], "snr": best["snr"], "sf": best["sf"]}
