"""Everything the dashboard's pages show, as JSON-able dicts (docs/dashboard.md, "JSON API").

Pure functions over a read-only connection to the store, an alert config and a
"now": records received after now are left out, so the same store shows the
same page on any clock. The server turns these dicts into responses.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, time, timedelta

from gateway.bridge.store import Record
from gateway.farm import queries, series
from gateway.farm.alerts import AlertConfig, evaluate, node_alerts
from gateway.farm.queries import NodeInfo, iso
from gateway.farm.series import Sample

DEFAULT_DAYS = 7  # the node page's charts span this many days unless asked otherwise
MAX_DAYS = 366
RECEPTIONS = 50  # rows of a node page's reception history
HINT_NO_NODES = (
    "no nodes yet: add them with `akker nodes add`, then run `akker gateway run` or `akker sim` on this database"
)


def overview(db: sqlite3.Connection, config: AlertConfig, now: datetime) -> dict[str, object]:
    """/api/nodes: every node's summary, grouped by field, and every active alert."""
    if not queries.has_store(db):
        return empty_overview(config, now, HINT_NO_NODES)
    infos = _nodes(db, config)
    summaries = [_summary(info, config, _recent(db, info.name, config, now), now) for info in infos]
    groups: dict[str | None, list[dict[str, object]]] = {f.name: [] for f in config.fields}
    for s in summaries:
        groups.setdefault(s["field"], []).append(s)  # type: ignore[arg-type]
    return {
        "now": iso(now),
        "timezone": config.timezone,
        "grouped": config.from_file,
        "fields": [{"name": name, "nodes": nodes} for name, nodes in groups.items() if nodes or name is not None],
        "alerts": [a for s in summaries for a in s["alerts"]],  # type: ignore[attr-defined]
        "hint": None if summaries else HINT_NO_NODES,
    }


def empty_overview(config: AlertConfig, now: datetime, hint: str) -> dict[str, object]:
    """The overview of a store that is missing or empty: no nodes, and a hint saying what to do."""
    return {
        "now": iso(now),
        "timezone": config.timezone,
        "grouped": config.from_file,
        "fields": [],
        "alerts": [],
        "hint": hint,
    }


def node_detail(
    db: sqlite3.Connection, config: AlertConfig, name: str, now: datetime, days: int = DEFAULT_DAYS
) -> dict[str, object] | None:
    """/api/nodes/<name>: the node's summary, its series over `days`, catches per day, receptions; None if unknown."""
    if not queries.has_store(db):
        return None
    info = next((n for n in _nodes(db, config) if n.name == name), None)
    if info is None:
        return None
    start = now - timedelta(days=days)
    recs = _recent(db, name, config, now, since=start)
    summary = _summary(info, config, recs, now)
    shown = [s for s in series.samples(recs) if s.t >= start]
    tz = config.tz()
    per_day = series.catches_per_day(shown, tz)
    traps = max((len(counts) for _, counts in per_day), default=0)
    status = next((r for r in reversed(recs) if r.data.get("type") == "status"), None)
    return {
        **summary,
        "now": iso(now),
        "timezone": config.timezone,
        "days": days,
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


def alerts(db: sqlite3.Connection | None, config: AlertConfig, now: datetime) -> dict[str, object]:
    """/api/alerts: the active alerts and the thresholds of every field (db None: no store to read)."""
    active = evaluate(db, config, now) if db is not None else []
    return {
        "now": iso(now),
        "timezone": config.timezone,
        "alerts": active,
        "fields": [
            {"name": f.name, "nodes": None if f.nodes is None else list(f.nodes), **vars(f.thresholds)}
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


def _recent(
    db: sqlite3.Connection, node: str, config: AlertConfig, now: datetime, since: datetime | None = None
) -> list[Record]:
    """The records a node's summary needs (a battery trend, today, an interval), and those since `since`."""
    start = min(now - series.BATTERY_TREND, series.start_of_day(now, config.tz()))
    if since is not None:
        start = min(start, since)
    return queries.records(db, node, now, since=start, at_least=series.INTERVAL_RECORDS)


def _summary(info: NodeInfo, config: AlertConfig, recs: Sequence[Record], now: datetime) -> dict[str, object]:
    samples = series.samples(recs)
    field = config.field_of(info.name)
    last = queries.parse_iso(recs[-1].received_at) if recs else None
    readings = series.latest_readings(samples)
    battery = readings.get("battery_v")
    today = series.start_of_day(now, config.tz())
    return {
        "name": info.name,
        "dev_addr": None if info.dev_addr is None else f"{info.dev_addr:08x}",
        "board": info.board,
        "registered": info.dev_addr is not None,
        "field": field.name if field else None,
        "last_seen": None if last is None else iso(last),
        "last_seen_ago_s": None if last is None else round((now - last).total_seconds(), 3),
        "interval_s": series.median_interval_s(recs),
        "battery": {
            "v": None if battery is None else battery[1],
            "days_left": _round(series.battery_days_left(samples, now)),
        },
        "signal": series.signal(recs[-1].rx) if recs else None,
        "readings": {key: value for key, (_, value) in readings.items() if key != "insect_count"},
        "readings_at": _newest(samples),
        "catches_today": series.catches_between(samples, today, now),
        "alerts": node_alerts(info.name, config, recs, samples, now),
    }


def _newest(samples: Sequence[Sample]) -> str | None:
    return iso(samples[-1].t) if samples else None


def _round(days: float | None) -> float | None:
    return None if days is None else round(days, 1)


def _best(rx: Sequence[dict[str, object]]) -> dict[str, object]:
    best = series.signal(rx)
    if best is None:
        return {"rssi": None, "snr": None, "sf": None}
    return {"rssi": best["rssi"], "snr": best["snr"], "sf": best["sf"]}
