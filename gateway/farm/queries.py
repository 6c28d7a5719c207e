"""The dashboard's read-only queries on the bridge's store (schema: gateway/bridge/store.py, docs/gateway.md).

Every query takes an `until` time: records received after it are left out, so a
dashboard on a fixed clock (a test, a replayed simulation) sees the store as it
was then. A node's records are read newest first along the records_node index,
and the scan stops at the first record older than needed, so the cost follows
the window asked for, not the size of the store.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

from gateway.bridge.frame import iso_utc
from gateway.bridge.registry import Registry
from gateway.bridge.store import RECORD_COLUMNS, Record, record_from_row


@dataclass(frozen=True)
class NodeInfo:
    """A registered node as the dashboard shows it (never its keys)."""

    name: str
    dev_addr: int | None  # None: named in the alert config or the records but not in the registry
    board: str | None


@dataclass(frozen=True)
class Reception:
    """One stored frame as the reception history shows it, decoded or not."""

    received_at: str
    fcnt: int
    kind: str  # the message type ("report", "status") or "codec error"
    rx: list[dict[str, object]]


def iso(t: datetime) -> str:
    """A time as the store writes it (UTC, milliseconds, Z), so that strings compare like times."""
    return iso_utc(t)


def parse_iso(text: str) -> datetime:
    """A stored received_at (or any ISO 8601 time with a zone) as an aware datetime."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def has_store(db: sqlite3.Connection) -> bool:
    """True when the database holds the registry and the records table (a bridge has run on it)."""
    names = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"nodes", "records"} <= names


def nodes(db: sqlite3.Connection) -> list[NodeInfo]:
    """Registered nodes, and nodes that only appear in records, by name."""
    out = {n.name: NodeInfo(n.name, n.dev_addr, n.board) for n in Registry(db).all()}
    for (name,) in db.execute("SELECT DISTINCT node FROM records"):
        out.setdefault(str(name), NodeInfo(str(name), None, None))
    return [out[name] for name in sorted(out)]


def last_seen(db: sqlite3.Connection) -> dict[str, str]:
    """When each node's last frame was received (ISO 8601, as stored); none before the bridge has run."""
    if not has_store(db):
        return {}
    return {str(node): str(at) for node, at in db.execute("SELECT node, MAX(received_at) FROM records GROUP BY node")}


def dev_status(db: sqlite3.Connection, node: str) -> dict[str, object] | None:
    """The node's last DevStatusAns as the network kept it (battery 0..255, SNR dB, when); None without one."""
    names = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "dev_status" not in names:
        return None
    row = db.execute("SELECT battery, snr_db, answered_at FROM dev_status WHERE node = ?", (node,)).fetchone()
    if row is None or row[2] is None:
        return None
    return {"battery": row[0], "snr_db": row[1], "answered_at": row[2]}


def latest_received_at(db: sqlite3.Connection) -> datetime | None:
    """When the newest stored record was received, or None for an empty store."""
    row = db.execute("SELECT received_at FROM records ORDER BY id DESC LIMIT 1").fetchone()
    return parse_iso(str(row[0])) if row else None


def records(
    db: sqlite3.Connection, node: str, until: datetime, since: datetime | None = None, at_least: int = 0
) -> list[Record]:
    """A node's decoded records received in [since, until], and at least the newest `at_least` before until.

    Oldest first, like gateway.bridge.store.records().
    """
    until_s, since_s = iso(until), None if since is None else iso(since)
    cursor = db.execute(
        f"SELECT {RECORD_COLUMNS} FROM records WHERE node = ? AND error IS NULL AND received_at <= ? ORDER BY id DESC",
        (node, until_s),
    )
    out: list[Record] = []
    for row in cursor:
        if len(out) >= at_least and (since_s is None or str(row[5]) < since_s):
            break
        out.append(record_from_row(row))
    cursor.close()
    out.reverse()
    return out


def receptions(db: sqlite3.Connection, node: str, until: datetime, limit: int) -> list[Reception]:
    """The node's newest stored frames (undecodable ones too), newest first."""
    rows = db.execute(
        "SELECT received_at, fcnt, data, error, rx FROM records WHERE node = ? AND received_at <= ?"
        " ORDER BY id DESC LIMIT ?",
        (node, iso(until), limit),
    ).fetchall()
    out = []
    for received_at, fcnt, data, error, rx in rows:
        kind = "codec error" if error is not None else str(json.loads(str(data)).get("type", "?"))
        out.append(Reception(str(received_at), int(fcnt), kind, json.loads(str(rx))))
    return out
