"""The node registry: which DevAddr belongs to which node, with its session keys and last counter.

It lives in the bridge's SQLite database (issue 5), which is created with mode
0600 because it holds keys. Keys leave this module only as bytes for the frame
layer; nothing here logs or prints them.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY,
    dev_addr INTEGER NOT NULL UNIQUE,
    nwk_skey BLOB NOT NULL,
    app_skey BLOB NOT NULL,
    board TEXT,
    last_fcnt INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"""


# One rule for node names, for registration, the dashboard's pages and API, and MQTT topics: ASCII only,
# because str.isalnum() also takes "nörth²", which a URL or a topic carries differently on every client.
_NODE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
NODE_NAME_RULE = "1 to 64 ASCII letters, digits, - or _"


def valid_node_name(name: str) -> bool:
    return _NODE_NAME.fullmatch(name) is not None


class RegistryError(ValueError):
    """A registry operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Node:
    name: str
    dev_addr: int
    nwk_skey: bytes
    app_skey: bytes
    board: str | None
    last_fcnt: int | None
    created_at: str

    def __repr__(self) -> str:  # keys stay out of logs and tracebacks
        return f"Node(name={self.name!r}, dev_addr={self.dev_addr:08x}, board={self.board!r})"


def open_db(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (creating with mode 0600) the bridge database, in WAL mode.

    check_same_thread=False for a connection that one thread opens and another
    uses (never two at once): the bridge's workers open theirs before starting.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = sqlite3.connect(path, check_same_thread=check_same_thread)
    db.execute("PRAGMA journal_mode=WAL")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > _SCHEMA_VERSION:
        raise RegistryError(f"{path} was written by a newer akker (schema {version}): upgrade akker")
    db.executescript(_SCHEMA)
    db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    return db


class Registry:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, name: str, dev_addr: int, nwk_skey: bytes, app_skey: bytes, board: str | None = None) -> Node:
        if not valid_node_name(name):
            raise RegistryError(f"node name {name!r}: use {NODE_NAME_RULE}, e.g. north-1")
        if not 0 <= dev_addr <= 0xFFFFFFFF:
            raise RegistryError("dev_addr must be 8 hex digits")
        if len(nwk_skey) != 16 or len(app_skey) != 16:
            raise RegistryError("keys must be 16 bytes (32 hex digits)")
        if nwk_skey == app_skey:
            raise RegistryError("NwkSKey and AppSKey must differ: generate each at random")
        try:
            with self.db:
                self.db.execute(
                    "INSERT INTO nodes (name, dev_addr, nwk_skey, app_skey, board) VALUES (?, ?, ?, ?, ?)",
                    (name, dev_addr, nwk_skey, app_skey, board),
                )
        except sqlite3.IntegrityError:
            clash = self.by_name(name) or self.by_dev_addr(dev_addr)
            if clash and clash.name == name:
                raise RegistryError(f"a node named {name!r} already exists: pick another name") from None
            raise RegistryError(
                f"DevAddr {dev_addr:08x} already belongs to {clash.name if clash else 'another node'}: "
                "every node needs its own"
            ) from None
        node = self.by_name(name)
        assert node is not None
        return node

    def _one(self, where: str, value: object) -> Node | None:
        row = self.db.execute(
            f"SELECT name, dev_addr, nwk_skey, app_skey, board, last_fcnt, created_at FROM nodes WHERE {where} = ?",
            (value,),
        ).fetchone()
        return Node(*row) if row else None

    def by_name(self, name: str) -> Node | None:
        return self._one("name", name)

    def by_dev_addr(self, dev_addr: int) -> Node | None:
        return self._one("dev_addr", dev_addr)

    def all(self) -> list[Node]:
        rows = self.db.execute(
            "SELECT name, dev_addr, nwk_skey, app_skey, board, last_fcnt, created_at FROM nodes ORDER BY name"
        )
        return [Node(*row) for row in rows]

    def names(self) -> list[str]:
        return [str(n) for (n,) in self.db.execute("SELECT name FROM nodes ORDER BY name")]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM nodes").fetchone()[0])

    def last_fcnt(self, dev_addr: int) -> int | None:
        """The last frame counter accepted from the node, read fresh: the pipeline's transaction may have moved it."""
        row = self.db.execute("SELECT last_fcnt FROM nodes WHERE dev_addr = ?", (dev_addr,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def record_fcnt(self, dev_addr: int, fcnt: int) -> None:
        """Within the caller's transaction: the pipeline commits it with the record that carried fcnt."""
        self.db.execute("UPDATE nodes SET last_fcnt = ? WHERE dev_addr = ?", (fcnt, dev_addr))
