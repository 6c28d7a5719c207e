"""The node registry: which DevAddr or DevEUI belongs to which node, with its keys and last counter.

It lives in the bridge's SQLite database, created with mode 0600 because it holds
keys. Keys leave this module only as bytes for the frame layer; nothing here logs them.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_SCHEMA_VERSION = 2
# nodes: a session (DevAddr and session keys): an ABP node's for life, an OTAA node's once it joins.
# otaa_devices (schema 2): an OTAA node's root keys, from which a join server derives its sessions.
# server_devices: a node on The Things Stack or ChirpStack, whose keys stay there (docs/integrations.md).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS server_devices (
    name TEXT PRIMARY KEY,
    dev_eui BLOB NOT NULL UNIQUE,
    network TEXT NOT NULL,
    board TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS otaa_devices (
    name TEXT PRIMARY KEY,
    dev_eui BLOB NOT NULL UNIQUE,
    join_eui BLOB NOT NULL,
    app_key BLOB NOT NULL,
    mac_version TEXT NOT NULL DEFAULT '1.0.4',
    board TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    join_nonce INTEGER NOT NULL DEFAULT 0,
    dev_nonces TEXT NOT NULL DEFAULT '[]'
);
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


@dataclass(frozen=True)
class OtaaDevice:
    name: str
    dev_eui: bytes
    join_eui: bytes
    app_key: bytes
    mac_version: str
    board: str | None
    created_at: str
    join_nonce: int = 0  # the last JoinNonce a JoinAccept carried (gateway/network/join_server.py)
    dev_nonces: str = "[]"  # JSON: 1.0.4 the last DevNonce accepted; 1.0.2/1.0.3 every one used

    def __repr__(self) -> str:  # the AppKey stays out of logs and tracebacks
        return f"OtaaDevice(name={self.name!r}, dev_eui={self.dev_eui.hex()}, board={self.board!r})"


@dataclass(frozen=True)
class ServerDevice:
    name: str
    dev_eui: bytes
    network: str  # one of NETWORKS
    board: str | None
    created_at: str


AnyNode = Node | OtaaDevice | ServerDevice
MAC_VERSIONS = ("1.0.4", "1.0.3", "1.0.2")
NETWORKS = ("ttn", "chirpstack")


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


def _select(db: sqlite3.Connection, cls: type[T], table: str, where: str, value: object) -> T | None:
    """The row of table whose column `where` is value, as cls (its fields name the columns, in order)."""
    columns = ", ".join(f.name for f in fields(cls))  # type: ignore[arg-type]
    row = db.execute(f"SELECT {columns} FROM {table} WHERE {where} = ?", (value,)).fetchone()
    return cls(*row) if row else None


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
        if self.otaa_by_name(name) or self.server_device(name):
            raise RegistryError(f"a node named {name!r} already exists: pick another name")
        self._insert(
            "INSERT INTO nodes (name, dev_addr, nwk_skey, app_skey, board) VALUES (?, ?, ?, ?, ?)",
            (name, dev_addr, nwk_skey, app_skey, board),
            lambda: self.by_name(name) or self.by_dev_addr(dev_addr),
            f"DevAddr {dev_addr:08x}",
        )
        node = self.by_name(name)
        assert node is not None
        return node

    def add_otaa(
        self,
        name: str,
        dev_eui: bytes,
        join_eui: bytes,
        app_key: bytes,
        board: str | None = None,
        mac_version: str = "1.0.4",
    ) -> OtaaDevice:
        """Register an OTAA node by its root keys; its session comes when it joins."""
        if not valid_node_name(name):
            raise RegistryError(f"node name {name!r}: use {NODE_NAME_RULE}, e.g. north-1")
        if len(dev_eui) != 8 or len(join_eui) != 8:
            raise RegistryError("DevEUI and JoinEUI must be 8 bytes (16 hex digits) each")
        if len(app_key) != 16:
            raise RegistryError("the AppKey must be 16 bytes (32 hex digits)")
        if mac_version not in MAC_VERSIONS:
            raise RegistryError(f"MAC version {mac_version!r}: use one of {', '.join(MAC_VERSIONS)}")
        if self.by_name(name) or self.server_device(name):
            raise RegistryError(f"a node named {name!r} already exists: pick another name")
        if self.server_device(dev_eui.hex(), "dev_eui"):
            raise RegistryError(f"DevEUI {dev_eui.hex()} belongs to a network server's node: each needs its own")
        self._insert(
            "INSERT INTO otaa_devices (name, dev_eui, join_eui, app_key, mac_version, board) VALUES (?, ?, ?, ?, ?, ?)",
            (name, dev_eui, join_eui, app_key, mac_version, board),
            lambda: self.otaa_by_name(name) or self.otaa_by_dev_eui(dev_eui),
            f"DevEUI {dev_eui.hex()}",
        )
        device = self.otaa_by_name(name)
        assert device is not None
        return device

    def add_server_device(self, name: str, dev_eui: bytes, network: str, board: str | None = None) -> ServerDevice:
        """Register a node whose network server (The Things Stack, ChirpStack) holds its keys and answers it."""
        if not valid_node_name(name):
            raise RegistryError(f"node name {name!r}: use {NODE_NAME_RULE}, e.g. north-1")
        if len(dev_eui) != 8:
            raise RegistryError("the DevEUI must be 8 bytes (16 hex digits)")
        if network not in NETWORKS:
            raise RegistryError(f"network {network!r}: use one of {', '.join(NETWORKS)}")
        if self.by_name(name) or self.otaa_by_name(name):
            raise RegistryError(f"a node named {name!r} already exists: pick another name")
        if self.otaa_by_dev_eui(dev_eui):
            raise RegistryError(f"DevEUI {dev_eui.hex()} already belongs to an OTAA node of this bridge's network")
        self._insert(
            "INSERT INTO server_devices (name, dev_eui, network, board) VALUES (?, ?, ?, ?)",
            (name, dev_eui, network, board),
            lambda: self.server_device(name) or self.server_device(dev_eui.hex(), "dev_eui"),
            f"DevEUI {dev_eui.hex()}",
        )
        device = self.server_device(name)
        assert device is not None
        return device

    def server_device(self, key: str, by: str = "name") -> ServerDevice | None:
        """The network-server node by name, or by="dev_eui" with its DevEUI in hex."""
        value: object = bytes.fromhex(key) if by == "dev_eui" else key
        return _select(self.db, ServerDevice, "server_devices", by, value)

    def all_server_devices(self) -> list[ServerDevice]:
        columns = ", ".join(f.name for f in fields(ServerDevice))
        return [ServerDevice(*r) for r in self.db.execute(f"SELECT {columns} FROM server_devices ORDER BY name")]

    def _insert(self, sql: str, params: tuple[object, ...], clash: Callable[[], AnyNode | None], taken: str) -> None:
        """Insert a node's row; when its name or its identifier (`taken`) is in use, say which."""
        try:
            with self.db:
                self.db.execute(sql, params)
        except sqlite3.IntegrityError:
            other = clash()
            name = params[0]
            if other and other.name == name:
                raise RegistryError(f"a node named {name!r} already exists: pick another name") from None
            raise RegistryError(
                f"{taken} already belongs to {other.name if other else 'another node'}: every node needs its own"
            ) from None

    def _otaa(self, where: str, value: object) -> OtaaDevice | None:
        return _select(self.db, OtaaDevice, "otaa_devices", where, value)

    def otaa_by_name(self, name: str) -> OtaaDevice | None:
        return self._otaa("name", name)

    def otaa_by_dev_eui(self, dev_eui: bytes) -> OtaaDevice | None:
        return self._otaa("dev_eui", dev_eui)

    def _one(self, where: str, value: object) -> Node | None:
        return _select(self.db, Node, "nodes", where, value)

    def by_name(self, name: str) -> Node | None:
        return self._one("name", name)

    def by_dev_addr(self, dev_addr: int) -> Node | None:
        return self._one("dev_addr", dev_addr)

    def all(self) -> list[Node]:
        rows = self.db.execute(
            "SELECT name, dev_addr, nwk_skey, app_skey, board, last_fcnt, created_at FROM nodes ORDER BY name"
        )
        return [Node(*row) for row in rows]

    def all_otaa(self) -> list[OtaaDevice]:
        columns = ", ".join(f.name for f in fields(OtaaDevice))
        return [OtaaDevice(*row) for row in self.db.execute(f"SELECT {columns} FROM otaa_devices ORDER BY name")]

    def record_join(
        self, device: OtaaDevice, join_nonce: int, dev_nonces: str, dev_addr: int, keys: tuple[bytes, bytes]
    ) -> None:
        """A join answered: the nonces kept and the new session in force, in one transaction.

        The session is the node's row in `nodes` (DevAddr, NwkSKey, AppSKey, no counter yet): the pipeline
        opens its frames from it as from an ABP node's.
        """
        with self.db:
            self.db.execute(
                "UPDATE otaa_devices SET join_nonce = ?, dev_nonces = ? WHERE name = ?",
                (join_nonce, dev_nonces, device.name),
            )
            self.db.execute("DELETE FROM nodes WHERE name = ?", (device.name,))
            self.db.execute(
                "INSERT INTO nodes (name, dev_addr, nwk_skey, app_skey, board) VALUES (?, ?, ?, ?, ?)",
                (device.name, dev_addr, keys[0], keys[1], device.board),
            )

    def names(self) -> list[str]:
        return sorted(r[0] for r in self.db.execute("SELECT name FROM nodes UNION SELECT name FROM server_devices"))

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM nodes").fetchone()[0])

    def last_fcnt(self, dev_addr: int) -> int | None:
        """The last frame counter accepted from the node, read fresh: the pipeline's transaction may have moved it."""
        row = self.db.execute("SELECT last_fcnt FROM nodes WHERE dev_addr = ?", (dev_addr,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def record_fcnt(self, dev_addr: int, fcnt: int) -> None:
        """Within the caller's transaction: the pipeline commits it with the record that carried fcnt."""
        self.db.execute("UPDATE nodes SET last_fcnt = ? WHERE dev_addr = ?", (fcnt, dev_addr))
