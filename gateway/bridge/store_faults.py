"""What a store error means to the person running the bridge, and what they can do about it.

SQLite reports a full disk, a read-only file, another program's lock and a
damaged file all as sqlite3 errors; the bridge handles them alike (nothing is
acknowledged, everything is retried), but the operator must read which one it
is in words, with the fix, not as an exception's text. docs/gateway.md
("Failure modes") lists the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# SQLite's primary result codes (sqlite3.h); Python 3.10 has no sqlite_errorcode, so the text decides there.
_CODES = {5: "locked", 6: "locked", 8: "read_only", 10: "io", 11: "corrupt", 13: "disk_full", 14: "io", 26: "corrupt"}
_WORDS = (
    ("database or disk is full", "disk_full"),
    ("readonly database", "read_only"),
    ("read-only", "read_only"),
    ("database is locked", "locked"),
    ("database table is locked", "locked"),
    ("malformed", "corrupt"),
    ("not a database", "corrupt"),
    ("disk i/o error", "io"),
    ("unable to open database", "io"),
)


@dataclass(frozen=True)
class StoreFault:
    kind: str  # disk_full, read_only, locked, corrupt, io or other
    words: str  # what happened, for a person: "disk full"
    advice: str  # what to do next

    @property
    def lasting(self) -> bool:
        """A damaged file does not heal by waiting: the bridge stops rather than retry it for ever."""
        return self.kind == "corrupt"


def classify(err: BaseException, db_path: Path) -> StoreFault:
    code = getattr(err, "sqlite_errorcode", None)
    kind = _CODES.get(code & 0xFF, "") if isinstance(code, int) else ""
    if not kind:
        text = str(err).lower()
        kind = next((k for words, k in _WORDS if words in text), "other")
    folder = db_path.resolve().parent
    if kind == "disk_full":
        return StoreFault(kind, "disk full", f"free space on the disk that holds {folder} (`df -h {folder}`)")
    if kind == "read_only":
        return StoreFault(
            kind, "store read-only", f"make {db_path} and its folder writable by this user, or remount the disk"
        )
    if kind == "locked":
        advice = f"stop whatever holds a write lock on {db_path} (`fuser {db_path}`)"
        return StoreFault(kind, "store locked by another program", advice)
    if kind == "corrupt":
        return StoreFault(kind, "store damaged", recovery_advice(db_path))
    if kind == "io":
        return StoreFault(kind, "disk error", f"check the disk that holds {folder} (`dmesg`); the bridge retries")
    return StoreFault(kind, f"store error ({err})", "see docs/gateway.md, 'Failure modes'")


def recovery_advice(db_path: Path) -> str:
    recovered = db_path.with_name(db_path.stem + "-recovered" + db_path.suffix)
    return (
        f"keep {db_path} as it is; copy what it still holds (nodes, keys, records, outbox) into a new store with"
        f" `akker gateway recover --db {db_path} --into {recovered}` and run the bridge on that,"
        " or start on a new --db and register the nodes again"
    )
