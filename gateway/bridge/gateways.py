"""The farm's gateways as the bridge hears them: what kind each one is, and what it listens on.

A gateway board (the serial source) is a node's radio: it listens on one
channel at one spreading factor, the ones its frames carry. A Semtech UDP
gateway is a concentrator that hears the whole EU868 plan. The pipeline notes
each gateway from its intact frames (stages.py); the network keeps every node
where its gateways listen (gateway/network/reach.py), and `akker provision`
sets a new node to what the farm's gateway boards listen on. A Semtech gateway
set up for part of the plan says so nowhere on the wire (its `stat` carries no
channels): `akker gateway channels` records what its global_conf.json listens
on, in gateway_channels, and the network takes that instead of "everything".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.bridge.frame import UplinkFrame, iso_utc

SCHEMA = """
CREATE TABLE IF NOT EXISTS gateways (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    freq_khz INTEGER,
    sf INTEGER,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gateway_channels (
    id TEXT PRIMARY KEY,
    channels_khz TEXT NOT NULL,
    set_at TEXT NOT NULL
);
"""
BOARD = "board"  # one channel, one SF: freq_khz and sf say which
CONCENTRATOR = "concentrator"  # the whole plan: freq_khz and sf are NULL
_REFRESH = timedelta(minutes=10)  # seen_at is rewritten this often, not at every frame


@dataclass(frozen=True)
class Gateway:
    id: str
    kind: str
    freq_khz: int | None
    sf: int | None
    seen_at: str


def _what(frame: UplinkFrame) -> tuple[str, int | None, int | None]:
    if frame.source == "serial":
        return BOARD, frame.rx.freq_hz // 1000, frame.rx.sf
    return CONCENTRATOR, None, None


class GatewayNotes:
    """Writes a gateway's row when it is new, changed or not written for a while: in the pipeline's transaction."""

    def __init__(self) -> None:
        self._written: dict[str, tuple[tuple[str, int | None, int | None], datetime]] = {}  # committed only
        self._pending: dict[str, tuple[tuple[str, int | None, int | None], datetime]] = {}

    def note(self, db: sqlite3.Connection, frame: UplinkFrame) -> None:
        self._write(db, frame.rx.gateway, _what(frame), frame.received_at)

    def note_board(self, db: sqlite3.Connection, gw: str, freq_khz: int, sf: int, at: datetime) -> None:
        """A board's own word on what it listens on (its PONG), before it has heard anything."""
        self._write(db, gw, (BOARD, freq_khz, sf), at)

    def _write(self, db: sqlite3.Connection, gw: str, what: tuple[str, int | None, int | None], at: datetime) -> None:
        last = self._pending.get(gw) or self._written.get(gw)
        if last is not None and last[0] == what and at - last[1] < _REFRESH:
            return
        db.execute(
            "INSERT INTO gateways (id, kind, freq_khz, sf, seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
            " SET kind = excluded.kind, freq_khz = excluded.freq_khz, sf = excluded.sf, seen_at = excluded.seen_at",
            (gw, *what, iso_utc(at)),
        )
        self._pending[gw] = (what, at)

    def committed(self) -> None:
        self._written.update(self._pending)
        self._pending = {}

    def aborted(self) -> None:
        self._pending = {}


def known(db: sqlite3.Connection) -> list[Gateway]:
    """Every gateway the bridge has heard from, most recently seen first; none before the bridge first ran."""
    try:
        rows = db.execute("SELECT id, kind, freq_khz, sf, seen_at FROM gateways ORDER BY seen_at DESC").fetchall()
    except sqlite3.OperationalError:  # no such table: a database the bridge never ran on
        return []
    return [Gateway(*row) for row in rows]


def board_ids(db: sqlite3.Connection) -> set[str]:
    return {g.id for g in known(db) if g.kind == BOARD}


def set_channels(db: sqlite3.Connection, gw: str, channels_khz: Sequence[int] | None, at: datetime) -> None:
    """Record the channels a Semtech gateway listens on; None: the whole plan again (the default)."""
    with db:
        if channels_khz is None:
            db.execute("DELETE FROM gateway_channels WHERE id = ?", (gw,))
        else:
            db.execute(
                "INSERT INTO gateway_channels (id, channels_khz, set_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE"
                " SET channels_khz = excluded.channels_khz, set_at = excluded.set_at",
                (gw, json.dumps(sorted(set(channels_khz))), iso_utc(at)),
            )


def configured(db: sqlite3.Connection) -> dict[str, frozenset[int]]:
    """Each Semtech gateway's channels as `akker gateway channels` set them."""
    try:
        rows = db.execute("SELECT id, channels_khz FROM gateway_channels").fetchall()
    except sqlite3.OperationalError:  # a database from before the table: none set
        return {}
    return {str(gw): frozenset(int(k) for k in json.loads(khz)) for gw, khz in rows}


def partial(db: sqlite3.Connection) -> dict[str, frozenset[int] | None]:
    """The gateways that hear part of the plan, as gateway/network/reach.py takes them.

    A board maps to None (it hears where its frames say), a Semtech gateway to the channels set for it.
    """
    out: dict[str, frozenset[int] | None] = dict(configured(db))
    out.update(dict.fromkeys(board_ids(db)))
    return out
