"""Commands from the farm office to a node, kept durably until they are applied or given up.

`akker nodes send` queues one (validated with the codec's downlink commands,
payload_codec/commands.py); the downlink scheduler takes the oldest queued one
for a node into its next receive window. Every command has a state:

    queued -> sent -> acknowledged (a confirmed downlink's ACK) -> applied (the node's status says so)
                   \\-> expired (not applied within EXPIRE_S; the office can send it again)

The table lives in the bridge's database beside the registry, so a command
survives a restart of the bridge and of the machine.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from payload_codec import CodecError, encode_downlink

STATES = ("queued", "sent", "acknowledged", "applied", "expired")
LIVE = ("queued", "sent", "acknowledged")  # still under way
EXPIRE_S = 7 * 86400  # a node that has not applied a command in a week is not going to: say so

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    command TEXT NOT NULL,
    fport INTEGER NOT NULL,
    payload BLOB NOT NULL,
    confirmed INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS commands_node ON commands (node, id);
"""


class CommandError(ValueError):
    """A command that cannot be queued; the message says what is wrong with it."""


@dataclass(frozen=True)
class Command:
    id: int
    node: str
    command: str  # the JSON the office sent, as the codec accepted it
    fport: int
    payload: bytes
    confirmed: bool
    state: str
    created_at: str
    updated_at: str


def _now(now: datetime | None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class CommandQueue:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(_SCHEMA)

    def add(self, node: str, command: object, confirmed: bool = False, now: datetime | None = None) -> Command:
        """Queue a command (a dict, or its JSON text) for node; CommandError when the codec refuses it."""
        if isinstance(command, str):
            try:
                command = json.loads(command)
            except ValueError as err:
                raise CommandError(
                    f'the command is not JSON ({err}): e.g. \'{{"cmd": "set_interval", "seconds": 600}}\''
                ) from None
        try:
            fport, payload = encode_downlink(command)
        except CodecError as err:
            raise CommandError(str(err)) from None
        at = _now(now)
        with self.db:
            cur = self.db.execute(
                "INSERT INTO commands (node, command, fport, payload, confirmed, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                (node, json.dumps(command, sort_keys=True), fport, payload, int(confirmed), at, at),
            )
        got = self.get(int(cur.lastrowid or 0))
        assert got is not None
        return got

    def get(self, command_id: int) -> Command | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM commands WHERE id = ?", (command_id,)).fetchone()
        return _command(row) if row else None

    def for_node(self, node: str) -> list[Command]:
        return [
            _command(r) for r in self.db.execute(f"SELECT {_COLUMNS} FROM commands WHERE node = ? ORDER BY id", (node,))
        ]

    def updated_since(self, at: str) -> list[Command]:
        """Commands whose state changed at or after `at` (updated_at's format), oldest change first."""
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM commands WHERE updated_at >= ? ORDER BY updated_at, id", (at,))
        return [_command(r) for r in rows]

    def next_queued(self, node: str) -> Command | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE node = ? AND state = 'queued' ORDER BY id LIMIT 1", (node,)
        ).fetchone()
        return _command(row) if row else None

    def move(self, command_id: int, state: str, now: datetime | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"state {state!r} is not one of {', '.join(STATES)}")
        with self.db:
            self.db.execute(
                "UPDATE commands SET state = ?, updated_at = ? WHERE id = ?", (state, _now(now), command_id)
            )

    def requeue_unacknowledged(self, node: str, now: datetime | None = None) -> int:
        """A new session (the node joined again): a confirmed command still awaiting its ACK goes again, afresh."""
        where = "node = ? AND state = 'sent' AND confirmed = 1"
        if self.db.execute(f"SELECT 1 FROM commands WHERE {where} LIMIT 1", (node,)).fetchone() is None:
            return 0  # the usual case, without a write transaction (a join storm's joins are each one)
        with self.db:
            cur = self.db.execute(
                f"UPDATE commands SET state = 'queued', attempts = 0, updated_at = ? WHERE {where}", (_now(now), node)
            )
        return cur.rowcount

    def note_status(self, node: str, status: dict[str, object], now: datetime | None = None) -> int | None:
        """A status from the node: the command it names as applied last becomes applied; its id, or None."""
        last = status.get("last_command")
        if not isinstance(last, dict):
            return None
        text = json.dumps(last, sort_keys=True)
        row = self.db.execute(
            "SELECT id FROM commands WHERE node = ? AND command = ? AND state IN ('sent', 'acknowledged')"
            " ORDER BY id DESC LIMIT 1",
            (node, text),
        ).fetchone()
        if row is None:
            return None
        self.move(int(row[0]), "applied", now)
        return int(row[0])

    def awaiting_ack(self, node: str) -> Command | None:
        """The confirmed command sent to node whose ACK has not come yet."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE node = ? AND state = 'sent' AND confirmed = 1"
            " ORDER BY id DESC LIMIT 1",
            (node,),
        ).fetchone()
        return _command(row) if row else None

    def handed_over(self, command_id: int) -> None:
        """A network server has the command (server_downlinks.py): counted as one attempt, its state unchanged."""
        with self.db:
            self.db.execute("UPDATE commands SET attempts = attempts + 1 WHERE id = ?", (command_id,))

    def attempts(self, command_id: int) -> int:
        row = self.db.execute("SELECT attempts FROM commands WHERE id = ?", (command_id,)).fetchone()
        return int(row[0]) if row else 0

    def expire(self, now: datetime | None = None) -> int:
        """Commands not applied EXPIRE_S after they were queued become expired; how many did."""
        limit = _now((now or datetime.now(timezone.utc)) - timedelta(seconds=EXPIRE_S))
        due = "state IN ('queued', 'sent', 'acknowledged') AND created_at < ?"
        if self.db.execute(f"SELECT 1 FROM commands WHERE {due} LIMIT 1", (limit,)).fetchone() is None:
            return 0  # called at every uplink: a read, not a write transaction, when nothing is due
        with self.db:
            cur = self.db.execute(
                f"UPDATE commands SET state = 'expired', updated_at = ? WHERE {due}", (_now(now), limit)
            )
        return cur.rowcount


_COLUMNS = "id, node, command, fport, payload, confirmed, state, created_at, updated_at"


def _command(row: tuple[object, ...]) -> Command:
    cid, node, command, fport, payload, confirmed, state, created, updated = row
    return Command(int(cid), str(node), str(command), int(fport), bytes(payload), bool(confirmed), str(state),
                   str(created), str(updated))  # type: ignore[arg-type]  # fmt: skip
