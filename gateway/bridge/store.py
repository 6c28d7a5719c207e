"""The bridge's store: every accepted frame once, the outbox of each sink, and the counters.

It shares the SQLite database (WAL) with the node registry. The pipeline is the
only writer of records; each delivery worker reads its outbox and deletes what
its sink confirmed. Commits are fsynced (synchronous=FULL): a frame acknowledged
to a gateway survives a power cut of the barn's Raspberry Pi, not only a crash.

Schema (docs/gateway.md, "The store"):
- records: one row per (dev_addr, fcnt), with the PHYPayload, the decoded
  data, derived values and every reception; error is set for an authentic
  frame whose payload did not decode (kept, never delivered).
- outbox: (sink, record_id) for every record a sink has not yet confirmed.
- counters: name -> value, for `akker gateway status`.
- trap_counts: the last cumulative trap counts per node, to derive catches.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.bridge import gateways
from gateway.bridge.registry import open_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dev_addr INTEGER NOT NULL,
    fcnt INTEGER NOT NULL,
    node TEXT NOT NULL,
    fport INTEGER,
    phy BLOB NOT NULL,
    received_at TEXT NOT NULL,
    data TEXT,
    derived TEXT,
    error TEXT,
    rx TEXT NOT NULL,
    UNIQUE (dev_addr, fcnt)
);
CREATE INDEX IF NOT EXISTS records_phy ON records (phy);
CREATE INDEX IF NOT EXISTS records_node ON records (node, id);
CREATE TABLE IF NOT EXISTS outbox (
    sink TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    PRIMARY KEY (sink, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trap_counts (
    dev_addr INTEGER PRIMARY KEY,
    counts TEXT NOT NULL
);
"""

# How long a writer waits for another's lock before the store counts as locked. The bridge's own
# transactions take milliseconds; its callers retry with backoff, and a stop never waits longer.
BUSY_TIMEOUT_MS = 2000

# The reasons a frame is rejected, as counted and shown by `akker gateway status`.
REJECT_REASONS = ("bad_crc", "malformed", "unknown_dev_addr", "unknown_dev_eui", "bad_mic", "replay", "codec_error")


@dataclass(frozen=True)
class Record:
    """A stored frame as sinks see it; message() is the JSON every sink delivers."""

    id: int
    node: str
    dev_addr: int
    fcnt: int
    fport: int | None
    received_at: str
    data: dict[str, object]
    derived: dict[str, object]
    rx: list[dict[str, object]]

    def message(self) -> dict[str, object]:
        return {
            "node": self.node,
            "dev_addr": f"{self.dev_addr:08x}",
            "fcnt": self.fcnt,
            "fport": self.fport,
            "received_at": self.received_at,
            "data": self.data,
            "derived": self.derived,
            "rx": self.rx,
        }


RECORD_COLUMNS = "id, node, dev_addr, fcnt, fport, received_at, data, derived, rx"  # in record_from_row's order


def record_from_row(row: tuple[object, ...]) -> Record:
    rid, node, dev_addr, fcnt, fport, received_at, data, derived, rx = row
    return Record(
        id=int(rid),  # type: ignore[call-overload]
        node=str(node),
        dev_addr=int(dev_addr),  # type: ignore[call-overload]
        fcnt=int(fcnt),  # type: ignore[call-overload]
        fport=None if fport is None else int(fport),  # type: ignore[call-overload]
        received_at=str(received_at),
        data=json.loads(str(data)),
        derived=json.loads(str(derived)) if derived else {},
        rx=json.loads(str(rx)),
    )


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the bridge database, created (mode 0600) and migrated if needed.

    One thread uses it at a time; it may be opened by another (a worker's, before it starts).
    """
    db = open_db(path, check_same_thread=False)
    db.executescript(_SCHEMA + gateways.SCHEMA)
    db.isolation_level = None  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


INTEGRITY_CHECK_S = 10.0  # at start; a store too big to check in this is checked as far as it gets


def check_integrity(path: Path, limit_s: float = INTEGRITY_CHECK_S) -> bool:
    """SQLite's quick_check on the store, for at most limit_s: True if it got through the whole file.

    Raises sqlite3.DatabaseError when the file is damaged, so that the bridge refuses to start
    instead of acknowledging frames it cannot store.
    """
    if not path.exists():
        return True
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    deadline = time.monotonic() + limit_s
    db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
    try:
        rows = db.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.OperationalError as err:
        if "interrupted" in str(err):
            return False
        raise
    finally:
        db.close()
    if rows != [("ok",)]:
        found = [x for r in rows for x in str(r[0]).splitlines() if x and not x.startswith("***")]
        raise sqlite3.DatabaseError(f"database disk image is malformed; quick_check: {(found or ['?'])[0]}")
    return True


def connect_readonly(path: Path) -> sqlite3.Connection:
    """For `akker gateway status` and the dashboard: never creates or changes the file."""
    if not path.exists():
        raise FileNotFoundError(path)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.execute("PRAGMA busy_timeout=10000")
    return db


class Writer:
    """The pipeline's side: inside one transaction, record frames, outbox rows and counters."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
            self.db.execute("ROLLBACK")

    def find_phy(self, phy: bytes) -> tuple[int, str, str] | None:
        """(record id, received_at, rx JSON) of the record with exactly this PHYPayload, if stored."""
        row = self.db.execute("SELECT id, received_at, rx FROM records WHERE phy = ?", (phy,)).fetchone()
        return (int(row[0]), str(row[1]), str(row[2])) if row else None

    def set_rx(self, record_id: int, rx: list[dict[str, object]]) -> None:
        self.db.execute("UPDATE records SET rx = ? WHERE id = ?", (json.dumps(rx), record_id))

    def insert(
        self,
        *,
        dev_addr: int,
        fcnt: int,
        node: str,
        fport: int | None,
        phy: bytes,
        received_at: str,
        data: dict[str, object] | None,
        derived: dict[str, object] | None,
        error: str | None,
        rx: list[dict[str, object]],
        sinks: Sequence[str],
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO records (dev_addr, fcnt, node, fport, phy, received_at, data, derived, error, rx)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                dev_addr,
                fcnt,
                node,
                fport,
                phy,
                received_at,
                None if data is None else json.dumps(data),
                None if derived is None else json.dumps(derived),
                error,
                json.dumps(rx),
            ),
        )
        rid = int(cur.lastrowid or 0)
        if error is None:
            self.db.executemany("INSERT INTO outbox (sink, record_id) VALUES (?, ?)", [(s, rid) for s in sinks])
        return rid

    def trap_counts(self, dev_addr: int) -> list[int | None] | None:
        row = self.db.execute("SELECT counts FROM trap_counts WHERE dev_addr = ?", (dev_addr,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_trap_counts(self, dev_addr: int, counts: list[int | None]) -> None:
        self.db.execute(
            "INSERT INTO trap_counts (dev_addr, counts) VALUES (?, ?)"
            " ON CONFLICT (dev_addr) DO UPDATE SET counts = excluded.counts",
            (dev_addr, json.dumps(counts)),
        )

    def add_counters(self, counts: dict[str, int]) -> None:
        self.db.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            [(k, v) for k, v in counts.items() if v],
        )


class Outbox:
    """A delivery worker's side: the records its sink has not confirmed, oldest first."""

    def __init__(self, db: sqlite3.Connection, sink: str) -> None:
        self.db = db
        self.sink = sink

    def pending(self, after: int, limit: int) -> list[Record]:
        rows = self.db.execute(
            f"SELECT {', '.join('r.' + c.strip() for c in RECORD_COLUMNS.split(','))}"
            " FROM outbox o JOIN records r ON r.id = o.record_id"
            " WHERE o.sink = ? AND o.record_id > ? ORDER BY o.record_id LIMIT ?",
            (self.sink, after, limit),
        ).fetchall()
        return [record_from_row(row) for row in rows]

    def confirm(self, record_ids: Iterable[int]) -> int:
        ids = list(record_ids)
        if not ids:
            return 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "DELETE FROM outbox WHERE sink = ? AND record_id = ?", [(self.sink, rid) for rid in ids]
            )
            self.db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (f"delivered_{self.sink}", len(ids)),
            )
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # a second ROLLBACK would raise and hide the error that matters
                self.db.execute("ROLLBACK")
            raise
        return len(ids)


def counters(db: sqlite3.Connection) -> dict[str, int]:
    return {str(name): int(value) for name, value in db.execute("SELECT name, value FROM counters ORDER BY name")}


def backlog(db: sqlite3.Connection) -> dict[str, int]:
    """Records each sink has not confirmed yet, including sinks no longer configured."""
    return {str(s): int(n) for s, n in db.execute("SELECT sink, COUNT(*) FROM outbox GROUP BY sink ORDER BY sink")}


def record_count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM records").fetchone()[0])


def records(db: sqlite3.Connection, node: str | None = None, limit: int = 1000) -> list[Record]:
    """The newest stored, decoded records (of one node), oldest first."""
    where = "WHERE error IS NULL" + (" AND node = ?" if node else "")
    args: tuple[object, ...] = (node, limit) if node else (limit,)
    rows = db.execute(f"SELECT {RECORD_COLUMNS} FROM records {where} ORDER BY id DESC LIMIT ?", args).fetchall()
    return [record_from_row(row) for row in reversed(rows)]
