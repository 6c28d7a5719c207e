"""The downlink for one uplink: what it carries, built and counted, its FCntDown stored before it goes.

TS001-1.0.4 4 and 5. One downlink per uplink at most, carrying together:
the ACK of a confirmed uplink, the answers to the node's MAC requests in FOpts
(LinkCheckAns: the best gateway's SNR above the data rate's demodulation
floor, and how many gateways heard it; DeviceTimeAns: GPS time at the end of
the uplink), a LinkADRReq when ADR says so (adr.py; an ADRACKReq alone also
gets a downlink), a DevStatusReq once a day (the answer is kept: dev_status()),
and the oldest queued command from the farm office on its FPort,
with FPending set when more are queued. A node gets at most `daily_limit`
downlinks in 24 hours (default 10, The Things Network's fair-use figure),
ACKs included. FCntDown is kept per session, and the downlink is logged and
its command marked sent in the same transaction that takes the counter.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from firmware.lorawan.session import dr_of
from gateway.bridge.frame import Reception
from gateway.bridge.registry import Registry
from payload_codec.lorawan import build_downlink
from payload_codec.mac_commands import build, parse

from .adr import DEMOD_FLOOR_DB, MARGIN_DB, Adr
from .commands import Command, CommandQueue
from .reach import Partial

DAILY_LIMIT = 10
CONFIRMED_TRIES = 3  # a confirmed command goes again after an uplink without its ACK, this often at most
GPS_EPOCH_UNIX = 315_964_800  # 1980-01-06T00:00:00Z
GPS_LEAP_S = 18  # GPS runs ahead of UTC by the leap seconds since 1980 (18 since 2017)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS downlink_sessions (
    node TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    fcnt_down INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS downlinks_sent (
    node TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    fcnt_down INTEGER NOT NULL,
    command_id INTEGER
);
CREATE INDEX IF NOT EXISTS downlinks_sent_node ON downlinks_sent (node, sent_at);
CREATE TABLE IF NOT EXISTS dev_status (
    node TEXT PRIMARY KEY,
    asked_at TEXT,
    answered_at TEXT,
    battery INTEGER,
    snr_db INTEGER
);
"""
DEV_STATUS_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class Uplink:
    """What the network needs of an accepted uplink to answer it."""

    node: str
    confirmed: bool
    mac: bytes  # the node's MAC commands (FOpts, or an FPort 0 payload)
    receptions: Sequence[Reception]
    ended_at: datetime  # the end of the uplink, UTC
    adr: bool = False  # the uplink's ADR bit: the network may set its data rate, power and NbTrans
    adr_ack_req: bool = False  # the node has heard nothing for 64 uplinks: any downlink will do
    ack: bool = False  # the uplink acknowledges our last confirmed downlink


@dataclass(frozen=True)
class Downlink:
    node: str
    phy: bytes
    fcnt_down: int
    command_id: int | None
    fpending: bool


def _session_key(dev_addr: int, nwk_skey: bytes) -> str:
    """Names a session without its key: a new join (new DevAddr and keys) starts FCntDown at 0."""
    return hashlib.sha256(dev_addr.to_bytes(4, "big") + nwk_skey).hexdigest()[:16]


def gps_time(t: datetime) -> tuple[int, int]:
    """(seconds since the GPS epoch, 1/256 s) for DeviceTimeAns."""
    unix = t.timestamp()
    gps = unix - GPS_EPOCH_UNIX + GPS_LEAP_S
    return int(gps), int((gps - int(gps)) * 256)


def node_mac(up: Uplink) -> list[tuple[int, dict[str, object]]]:
    """The node's MAC commands in the uplink; none when they do not parse."""
    try:
        return parse(up.mac, True)
    except ValueError:
        return []


def mac_answers(up: Uplink) -> list[tuple[str, dict[str, object]]]:
    """Answers to the node's LinkCheckReq and DeviceTimeReq (the other uplink commands answer the network)."""
    out: list[tuple[str, dict[str, object]]] = []
    requests = node_mac(up)
    best = max(up.receptions, key=lambda r: r.snr_db) if up.receptions else None
    for cid, _fields in requests:
        if cid == 0x02 and best is not None:
            margin = best.snr_db - DEMOD_FLOOR_DB.get(best.sf, -20.0)
            out.append(("LinkCheckAns", {"margin_db": max(0, min(254, int(margin))), "gw_cnt": len(up.receptions)}))
        elif cid == 0x0D:
            seconds, fraction = gps_time(up.ended_at)
            out.append(("DeviceTimeAns", {"gps_time_s": seconds, "fraction": fraction}))
    return out


class DownlinkBuilder:
    def __init__(
        self,
        db: sqlite3.Connection,
        daily_limit: int = DAILY_LIMIT,
        partial: Partial = (),
        margin_db: float = MARGIN_DB,
    ) -> None:
        self.db = db
        self.margin_db = margin_db
        self.partial = partial  # the gateways that hear part of the plan (reach.py)
        self.registry = Registry(db)
        self.commands = CommandQueue(db)
        self.daily_limit = daily_limit
        db.executescript(_SCHEMA)

    def fcnt_down(self, node: str) -> int | None:
        """The FCntDown of the node's last downlink in its current session; None before its first."""
        session = self.registry.by_name(node)
        if session is None:
            return None
        row = self.db.execute("SELECT session, fcnt_down FROM downlink_sessions WHERE node = ?", (node,)).fetchone()
        return int(row[1]) if row and row[0] == _session_key(session.dev_addr, session.nwk_skey) else None

    def sent_today(self, node: str, now: datetime) -> int:
        since = (now - timedelta(days=1)).astimezone(timezone.utc).isoformat()
        row = self.db.execute("SELECT COUNT(*) FROM downlinks_sent WHERE node = ? AND sent_at > ?", (node, since))
        return int(row.fetchone()[0])

    def _dev_status_due(self, node: str, now: datetime) -> bool:
        """DevStatusReq once a day (TS001-1.0.4 5.5): the node's battery and link margin, for the farm office."""
        row = self.db.execute("SELECT asked_at FROM dev_status WHERE node = ?", (node,)).fetchone()
        if row is None or row[0] is None:
            # A node first seen now is asked a day from now: its first uplink need not cost a downlink.
            with self.db:
                self.db.execute(
                    "INSERT OR REPLACE INTO dev_status (node, asked_at) VALUES (?, ?)",
                    (node, now.astimezone(timezone.utc).isoformat()),
                )
            return False
        return now - datetime.fromisoformat(str(row[0])) >= DEV_STATUS_EVERY

    def _note_dev_status(self, up: Uplink, now: datetime) -> None:
        for cid, fields in node_mac(up):
            if cid == 0x06:  # DevStatusAns: battery 0 external, 1..254 level, 255 unknown; SNR of our request
                with self.db:
                    self.db.execute(
                        "UPDATE dev_status SET answered_at = ?, battery = ?, snr_db = ? WHERE node = ?",
                        (now.astimezone(timezone.utc).isoformat(), fields["battery"], fields["snr_db"], up.node),
                    )

    def dev_status(self, node: str) -> dict[str, object] | None:
        """The node's last DevStatusAns: {"battery", "snr_db", "answered_at"}, or None."""
        row = self.db.execute("SELECT battery, snr_db, answered_at FROM dev_status WHERE node = ?", (node,)).fetchone()
        if row is None or row[2] is None:
            return None
        return {"battery": row[0], "snr_db": row[1], "answered_at": row[2]}

    def _confirmed_retry(self, up: Uplink, now: datetime) -> Command | None:
        """A confirmed command still waiting for its ACK: acknowledged now, or sent again (only after an uplink)."""
        waiting = self.commands.awaiting_ack(up.node)
        if waiting is None:
            return None
        if up.ack:
            self.commands.move(waiting.id, "acknowledged", now)
            return None
        if self.commands.attempts(waiting.id) >= CONFIRMED_TRIES:
            self.commands.move(waiting.id, "expired", now)
            return None
        return waiting

    def build(self, up: Uplink, now: datetime | None = None) -> Downlink | None:
        """The downlink answering `up`, counted and stored; None when there is nothing to send or no budget."""
        now = now or datetime.now(timezone.utc)
        session = self.registry.by_name(up.node)
        if session is None:
            return None
        answers = mac_answers(up)
        adr = Adr(self.db, self.margin_db, self.partial)
        for cid, fields in node_mac(up):
            if cid == 0x03:  # LinkADRAns: what was asked is in force only when all three are acknowledged
                adr.answered(up.node, fields)
        adr_want = adr.request(up.node, dr_of(up.receptions[0].sf), up.adr) if up.receptions else None
        self._note_dev_status(up, now)
        status_req = b"\x06" if self._dev_status_due(up.node, now) else b""
        command = self._confirmed_retry(up, now) or self.commands.next_queued(up.node)
        if not (up.confirmed or answers or command or adr_want or up.adr_ack_req or status_req):
            return None
        if self.sent_today(up.node, now) >= self.daily_limit:
            return None
        adr_req = adr.asking(up.node, *adr_want) if adr_want else b""  # waits for its answer from here on
        key = _session_key(session.dev_addr, session.nwk_skey)
        with self.db:
            row = self.db.execute("SELECT session, fcnt_down FROM downlink_sessions WHERE node = ?", (up.node,))
            got = row.fetchone()
            fcnt = int(got[1]) + 1 if got and got[0] == key else 0  # a new session counts from 0
            self.db.execute(
                "INSERT OR REPLACE INTO downlink_sessions (node, session, fcnt_down) VALUES (?, ?, ?)",
                (up.node, key, fcnt),
            )
            self.db.execute(
                "INSERT INTO downlinks_sent (node, sent_at, fcnt_down, command_id) VALUES (?, ?, ?, ?)",
                (up.node, now.astimezone(timezone.utc).isoformat(), fcnt, command.id if command else None),
            )
            if status_req:
                self.db.execute(
                    "INSERT INTO dev_status (node, asked_at) VALUES (?, ?)"
                    " ON CONFLICT (node) DO UPDATE SET asked_at = excluded.asked_at",
                    (up.node, now.astimezone(timezone.utc).isoformat()),
                )
            if command is not None:
                self.db.execute(
                    "UPDATE commands SET state = 'sent', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                    (now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), command.id),
                )
        more = command is not None and self.commands.next_queued(up.node) is not None
        phy = build_downlink(
            session.dev_addr,
            fcnt,
            command.fport if command else None,
            command.payload if command else b"",
            session.nwk_skey,
            session.app_skey,
            confirmed=bool(command and command.confirmed),
            ack=up.confirmed,
            fpending=more,
            fopts=(build(answers, False) if answers else b"") + adr_req + status_req,
        )
        return Downlink(up.node, phy, fcnt, command.id if command else None, more)
