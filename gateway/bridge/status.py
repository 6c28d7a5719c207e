"""What `akker gateway status` reports: what the store has counted and what the running bridge says of itself.

Read-only on the store, so it can run beside the bridge.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.bridge import health, store
from gateway.bridge.registry import Registry


def report(db: sqlite3.Connection, db_path: Path | None = None) -> dict[str, object]:
    """Counters, rejections by reason, each sink's delivery and backlog, and the running bridge's health."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'counters'").fetchone():
        Registry(db).count()  # a registry the bridge has not run on yet, or not ours at all (raises)
        c: dict[str, int] = {}
        backlog: dict[str, int] = {}
        records = 0
    else:
        c = store.counters(db)
        backlog = store.backlog(db)
        records = store.record_count(db)
    state = health.read(db_path) if db_path is not None else None
    parts = state.get("parts", {}) if state else {}
    assert isinstance(parts, dict)
    sinks = sorted(
        {k[len("delivered_") :] for k in c if k.startswith("delivered_")}
        | set(backlog)
        | {k[len("sink:") :] for k in parts if k.startswith("sink:")}
    )
    return {
        "bridge": _bridge_state(state),
        "store": parts.get("store", {"state": "ok"}),
        "records": records,
        "received": c.get("received", 0),
        "accepted": c.get("accepted", 0),
        "duplicates": c.get("duplicate", 0),
        "repeats": c.get("repeat", 0),
        "rejected": {r: c.get(f"rejected_{r}", 0) for r in store.REJECT_REASONS},
        "sinks": {
            name: {
                "delivered": c.get(f"delivered_{name}", 0),
                "backlog": backlog.get(name, 0),
                **parts.get(f"sink:{name}", {"state": "ok"}),
            }
            for name in sinks
        },
        "sources": {k: v for k, v in c.items() if k.startswith(("udp_", "serial_"))},
        "internal_errors": c.get("internal_error", 0),
    }


def _bridge_state(state: dict[str, object] | None) -> dict[str, object]:
    if state is None:
        return {"running": False}
    keys = ("running", "pid", "version", "started_at", "stopped_at", "killed")
    return {k: state[k] for k in keys if k in state}
