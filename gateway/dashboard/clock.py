"""What time the dashboard shows the farm at: the wall clock, or the newest record's time for a simulated farm."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from gateway.bridge import store
from gateway.farm import queries


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def latest_record_clock(db_path: Path) -> Callable[[], datetime]:
    """A clock that reads the newest record's reception time (the wall clock for an empty store).

    For a simulated farm, whose records carry virtual times: the dashboard then
    shows it as it was when the simulation ended, however long ago that was.
    """

    def now() -> datetime:
        try:
            db = store.connect_readonly(db_path)
        except FileNotFoundError:
            return utc_now()
        try:
            latest = queries.latest_received_at(db) if queries.has_store(db) else None
        except sqlite3.DatabaseError:
            latest = None
        finally:
            db.close()
        return latest or utc_now()

    return now
