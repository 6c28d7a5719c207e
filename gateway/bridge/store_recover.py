"""`akker gateway recover`: copy what can still be read from a damaged store into a new one.

SQLite's own `.recover` is the usual answer, but the sqlite3 shell in Debian 12
(3.40.1) fails on every bridge store, damaged or not ("SQL logic error"), and
`.dump` ends a damaged file's dump in ROLLBACK. So the bridge salvages its own
tables: each is read by ranges of its key, and a range that hits a damaged page
is split in two until the damage is fenced off to the smallest range that
still fails. What sits only in damaged pages is lost; everything else, the
nodes' keys and counters included, comes over. The damaged file is only read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.bridge import store

# table -> its integer key (the rowid or its alias); outbox goes by (sink, record_id), see _outbox
_TABLES = (("nodes", "rowid"), ("records", "id"), ("counters", "rowid"), ("trap_counts", "dev_addr"))
_SINKS = ("mqtt", "jsonl", "webhook")
_TOP = 2**63 - 1
_QUERIES = 20000  # per table: a damaged interior page can fail every range below it, however small


@dataclass
class Recovered:
    copied: dict[str, int] = field(default_factory=dict)
    lost_ranges: dict[str, int] = field(default_factory=dict)  # key ranges that could not be read, per table
    requeued: dict[str, int] = field(default_factory=dict)  # per sink: records queued again (outbox unreadable)
    unsure: list[str] = field(default_factory=list)  # sinks whose outbox could not be read and were not named


def recover(src: Path, dst: Path, sinks: Sequence[str] = ()) -> Recovered:
    """Copy src's readable rows into dst, a new store; FileExistsError if dst exists.

    sinks: the sinks the bridge delivers to. Where the outbox cannot be read, the records there are
    queued again for these and for every sink the store shows (a delivery counter, a readable row).
    """
    if dst.exists():
        raise FileExistsError(dst)
    old = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    new = store.connect(dst)
    result = Recovered()
    try:
        new.execute("BEGIN")
        top = _last_record_id(old)
        for table, key in _TABLES:
            columns = [row[1] for row in new.execute(f"PRAGMA table_info({table})")]
            copy = _Copy(old, new, table, columns, result)
            lo, hi = (0, top) if table == "records" else (-_TOP, _TOP)
            copy.range(f"{key} BETWEEN ? AND ?", (), lo, hi)
        _outbox(old, new, result, top, set(sinks))
        new.execute("COMMIT")
    finally:
        old.close()
        new.close()
    return result


class _Copy:
    def __init__(
        self, old: sqlite3.Connection, new: sqlite3.Connection, table: str, columns: list[str], result: Recovered
    ) -> None:
        self.old, self.new, self.table, self.result = old, new, table, result
        self.select = f"SELECT {', '.join(columns)} FROM {table} WHERE "
        self.insert = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.budget = _QUERIES
        self.lost: list[tuple[int, int]] = []

    def range(self, where: str, fixed: tuple[object, ...], lo: int, hi: int) -> None:
        """Copy the rows with lo <= key <= hi, splitting the range around whatever cannot be read."""
        stack = [(lo, hi)]
        while stack:
            a, b = stack.pop()
            if self.budget <= 0:
                self._lose(a, b)
                continue
            self.budget -= 1
            try:
                rows = self.old.execute(self.select + where, (*fixed, a, b)).fetchall()
            except sqlite3.DatabaseError:
                if b - a < 1:
                    self._lose(a, b)
                    continue
                mid = a + (b - a) // 2
                stack += [(mid + 1, b), (a, mid)]
                continue
            self.new.executemany(self.insert, rows)
            self.result.copied[self.table] = self.result.copied.get(self.table, 0) + len(rows)

    def _lose(self, a: int, b: int) -> None:
        self.lost.append((a, b))
        self.result.lost_ranges[self.table] = self.result.lost_ranges.get(self.table, 0) + 1


def _last_record_id(old: sqlite3.Connection) -> int:
    """The highest record id ever given (AUTOINCREMENT keeps it), to bound the search; the whole range if lost."""
    for sql in ("SELECT seq FROM sqlite_sequence WHERE name = 'records'", "SELECT MAX(id) FROM records"):
        try:
            row = old.execute(sql).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and row[0] is not None:
            return int(row[0])
    return _TOP


def _outbox(old: sqlite3.Connection, new: sqlite3.Connection, result: Recovered, top: int, named: set[str]) -> None:
    """The outbox is keyed by (sink, record_id): one range walk per sink the store may have had."""
    names = [str(n) for (n,) in new.execute("SELECT name FROM counters")]
    known = {n[len("delivered_") :] for n in names if n.startswith("delivered_")} | named
    for sink in sorted(set(_SINKS) | known):
        copy = _Copy(old, new, "outbox", ["sink", "record_id"], result)
        copy.range("sink = ? AND record_id BETWEEN ? AND ?", (sink,), 0, top)
        if new.execute("SELECT 1 FROM outbox WHERE sink = ? LIMIT 1", (sink,)).fetchone():
            known.add(sink)
        if sink in known:
            # Whether these were delivered cannot be read: at least once means they go out again.
            for a, b in copy.lost:
                cur = new.execute(
                    "INSERT OR IGNORE INTO outbox (sink, record_id)"
                    " SELECT ?, id FROM records WHERE error IS NULL AND id BETWEEN ? AND ?",
                    (sink, a, b),
                )
                result.requeued[sink] = result.requeued.get(sink, 0) + max(cur.rowcount, 0)
        elif copy.lost:
            result.unsure.append(sink)
    # Rows for records lost with the damaged pages would count as a backlog that can never be delivered.
    new.execute("DELETE FROM outbox WHERE record_id NOT IN (SELECT id FROM records)")
