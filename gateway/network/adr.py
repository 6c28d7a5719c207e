"""ADR on the network side: from a node's recent uplinks, the data rate, power and NbTrans it should use.

As the established network servers do it (ChirpStack's default algorithm, TTN's
margin): take the best SNR of the last 20 uplinks, less the data rate's
demodulation floor and an installation margin (default 10 dB); every 3 dB
left over is one step: first a faster data rate (up to DR5, SF7), then lower
power (TXPower index up to 7, 14 dB below the maximum); a deficit raises the
power again. NbTrans follows the frames lost among those 20: under 5 % one
transmission, under 10 % two, else three. The channel mask and the data rate
stay within what the gateways that hear the node listen on (reach.py: a
gateway board hears one channel at one SF); the mask is the network's to set
even for a node without the ADR bit. The decision is a LinkADRReq, sent only
while no earlier one waits for its LinkADRAns, and not again once refused.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import NamedTuple

from firmware.lorawan.session import sf_of
from payload_codec.mac_commands import build

from .reach import ALL_DRS, Partial, node_reach

# The SNR below which each SF cannot be demodulated (dB; SF7..SF12), as TTN's and ChirpStack's ADR use it.
DEMOD_FLOOR_DB = {7: -7.5, 8: -10.0, 9: -12.5, 10: -15.0, 11: -17.5, 12: -20.0}
HISTORY = 20
MIN_HISTORY = 4  # fewer uplinks than this say too little about a link
MARGIN_DB = 10.0  # ChirpStack's installation margin; The Things Network uses 15
STEP_DB = 3.0
DR_MAX = 5  # DR5, SF7 at 125 kHz: this network does not use DR6 (SF7/250 kHz)
TX_POWER_MAX = 7  # EU868: MaxEIRP - 14 dB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS adr_nodes (
    node TEXT PRIMARY KEY,
    dr INTEGER NOT NULL,
    tx_power INTEGER NOT NULL,
    nb_trans INTEGER NOT NULL,
    margin_db REAL NOT NULL,
    asked TEXT,
    ch_mask INTEGER NOT NULL DEFAULT 0,
    refused TEXT,
    since_id INTEGER NOT NULL DEFAULT 0,
    asked_id INTEGER NOT NULL DEFAULT 0,
    mask_refused INTEGER NOT NULL DEFAULT 0,
    acked INTEGER NOT NULL DEFAULT 0
);
"""
# Columns added since the first adr_nodes. since_id: the node's uplinks from before the settings in force
# (records.id up to it) say nothing about its link now, and would make ADR lower the power again and again.
# asked_id: the node's last record when the waiting LinkADRReq went out. mask_refused: the node refused a
# channel mask (its channels are not EU868's defaults, e.g. provisioned for one board): none is sent again.
# acked: the settings in the row were acknowledged by the node in this session (else they are its defaults).
_ADDED_COLUMNS = {
    "ch_mask": "INTEGER NOT NULL DEFAULT 0",
    "refused": "TEXT",
    "since_id": "INTEGER NOT NULL DEFAULT 0",
    "asked_id": "INTEGER NOT NULL DEFAULT 0",
    "mask_refused": "INTEGER NOT NULL DEFAULT 0",
    "acked": "INTEGER NOT NULL DEFAULT 1",  # rows from before it held what was in force; new rows say 0
}
ASK_AGAIN_AFTER = 3  # uplinks without a LinkADRAns: the request or its answer was lost, ask again


@dataclass(frozen=True)
class Settings:
    dr: int
    tx_power: int
    nb_trans: int
    ch_mask: int = 0  # the node's channels its gateways hear; 0: all of them (ChMaskCntl 6)


class _Row(NamedTuple):
    """A node's adr_nodes row (the columns are described with _ADDED_COLUMNS)."""

    in_force: Settings | None
    asked: Settings | None
    refused: Settings | None
    since_id: int
    asked_id: int
    mask_refused: bool
    acked: bool


def decide(
    best_snr_db: float, current: Settings, lost: float, margin_db: float = MARGIN_DB, drs: frozenset[int] = ALL_DRS
) -> Settings:
    """The settings for a node whose best recent SNR is best_snr_db and which lost this share of its frames.

    drs: the data rates some gateway in the node's reach listens on; the node is never moved to another.
    """
    spare = best_snr_db - DEMOD_FLOOR_DB[sf_of(current.dr)] - margin_db
    steps = int(spare // STEP_DB)
    dr, power = current.dr, current.tx_power
    faster = sorted(d for d in drs if dr < d <= DR_MAX)
    while faster and steps >= faster[0] - dr:  # one step per data rate skipped or taken
        steps -= faster[0] - dr
        dr = faster.pop(0)
    while steps > 0 and power < TX_POWER_MAX:
        power += 1
        steps -= 1
    while steps < 0 and power > 0:
        power -= 1
        steps += 1
    nb_trans = 1 if lost < 0.05 else 2 if lost < 0.10 else 3
    return Settings(dr, power, nb_trans, current.ch_mask)


class Adr:
    """Each node's ADR state, beside the registry: what is in force, and what was asked and not yet answered.

    partial: the gateways that hear part of the plan, e.g. the gateway boards' ids (reach.py).
    """

    def __init__(self, db: sqlite3.Connection, margin_db: float = MARGIN_DB, partial: Partial = ()) -> None:
        self.db = db
        self.margin_db = margin_db
        self.partial = partial
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(adr_nodes)")}
        with db:
            for name, kind in _ADDED_COLUMNS.items():
                if name not in columns:  # a farm database from before the column
                    db.execute(f"ALTER TABLE adr_nodes ADD COLUMN {name} {kind}")

    def state(self, node: str) -> tuple[Settings | None, Settings | None]:
        """(in force, asked and unanswered) for node; in force is None until the node acknowledged something."""
        row = self._row(node)
        return (row.in_force if row.acked else None), row.asked

    def report(self, node: str) -> dict[str, object] | None:
        """`akker nodes list`'s `adr`: the decision and its inputs; None before the network first asked anything.

        dr, tx_power, nb_trans: in force once the node acknowledged them (acknowledged), else what it was
        taken to use when asked; margin_db: the margin they were decided with; asked: a LinkADRReq not yet
        answered; best_snr_db and lost: the next decision's inputs (None: too few uplinks yet).
        """
        got = self.db.execute("SELECT margin_db FROM adr_nodes WHERE node = ?", (node,)).fetchone()
        row = self._row(node)
        if got is None or row.in_force is None:
            return None
        best, lost = self.history(node)
        return {**row.in_force.__dict__, "margin_db": float(got[0]), "acknowledged": row.acked,
                "asked": row.asked.__dict__ if row.asked else None, "best_snr_db": best,
                "lost": round(lost, 3)}  # fmt: skip

    def _row(self, node: str) -> _Row:
        got = self.db.execute(
            "SELECT dr, tx_power, nb_trans, ch_mask, asked, refused, since_id, asked_id, mask_refused, acked"
            " FROM adr_nodes WHERE node = ?",
            (node,),
        ).fetchone()
        if got is None:
            return _Row(None, None, None, 0, 0, False, False)
        dr, tx_power, nb_trans, ch_mask, asked, refused, since_id, asked_id, mask_refused, acked = got
        return _Row(
            Settings(int(dr), int(tx_power), int(nb_trans), int(ch_mask)),
            Settings(**json.loads(asked)) if asked else None,
            Settings(**json.loads(refused)) if refused else None,
            int(since_id), int(asked_id), bool(mask_refused), bool(acked),
        )  # fmt: skip

    def history(self, node: str) -> tuple[float | None, float]:
        """(best SNR, share of frames lost) over the node's last HISTORY uplinks at the settings in force.

        (None, 0) if too few.
        """
        rows = self.db.execute(
            "SELECT fcnt, rx FROM records WHERE node = ? AND error IS NULL AND id > ? ORDER BY id DESC LIMIT ?",
            (node, self._row(node).since_id, HISTORY),
        ).fetchall()
        if len(rows) < MIN_HISTORY:
            return None, 0.0
        best = max(float(r.get("snr", -99)) for _, rx in rows for r in json.loads(rx))
        fcnts = [int(f) for f, _ in rows]
        span = max(fcnts) - min(fcnts) + 1
        return best, max(0.0, 1 - len(fcnts) / span) if span > 0 else 0.0

    def request(self, node: str, uplink_dr: int, adr: bool = True) -> tuple[Settings, Settings] | None:
        """(current, wanted) when the node should get a LinkADRReq now, else None. Nothing is saved: asking()
        does that once the downlink carrying it is built (a daily limit may stop it).

        adr: the uplink's ADR bit. Without it only the channel mask is the network's to set.
        """
        row = self._row(node)
        in_force = row.in_force or Settings(uplink_dr, 0, 1)
        current = replace(in_force, dr=uplink_dr)
        if row.asked is not None:
            return (current, row.asked) if self._uplinks_since(node, row.asked_id) >= ASK_AGAIN_AFTER else None
        near = node_reach(self.db, node, self.partial)
        want = replace(current, ch_mask=0 if row.mask_refused else near.mask())
        best, lost = self.history(node) if adr else (None, 0.0)
        if best is not None:
            want = decide(best, want, lost, self.margin_db, near.drs)
        if want in (current, row.refused):  # a refusal is not asked again until something changes
            return None
        if want == replace(current, tx_power=current.tx_power + 1):
            return None  # one power step down alone is not worth a downlink: ADR would see-saw by 2 dB
        return current, want

    def asking(self, node: str, current: Settings, want: Settings) -> bytes:
        """The LinkADRReq for request()'s answer, now waiting for the node's LinkADRAns."""
        self._save(node, self._row(node).in_force or current, want)
        with self.db:
            self.db.execute("UPDATE adr_nodes SET asked_id = ? WHERE node = ?", (self._last_id(node), node))
        # ChMaskCntl 0 with the channels the gateways hear; 6 (every channel the node has on) when they hear all.
        fields = {"data_rate": want.dr, "tx_power": want.tx_power, "ch_mask": want.ch_mask,
                  "ch_mask_cntl": 0 if want.ch_mask else 6, "nb_trans": want.nb_trans}  # fmt: skip
        return build([("LinkADRReq", fields)], False)

    def _uplinks_since(self, node: str, record_id: int) -> int:
        """The node's uplinks stored after record_id (the waiting LinkADRReq went out with it)."""
        row = self.db.execute("SELECT COUNT(*) FROM records WHERE node = ? AND id > ?", (node, record_id)).fetchone()
        return int(row[0])

    def answered(self, node: str, acks: dict[str, object]) -> None:
        """The node's LinkADRAns: all three acknowledged put what was asked in force; any refusal drops it.

        A refused channel mask means the node's channels are not the ones the mask was made for: no mask
        is sent to it again (ChMaskCntl 6 keeps whatever channels it has).
        """
        row = self._row(node)
        in_force, asked = row.in_force, row.asked
        if asked is None or in_force is None:
            return
        ack = all(acks.values())
        self._save(node, asked if ack else in_force, None, None if ack else asked)
        with self.db:
            if not acks.get("ch_mask_ack", True):
                self.db.execute("UPDATE adr_nodes SET mask_refused = 1, ch_mask = 0 WHERE node = ?", (node,))
            if ack:  # the answer rides on the first uplink at the new settings, stored just now: history starts there
                since = max(0, self._last_id(node) - 1)
                self.db.execute("UPDATE adr_nodes SET since_id = ?, acked = 1 WHERE node = ?", (since, node))

    def forget(self, node: str) -> None:
        """A new session (a join): the node starts again from its defaults, and so does its ADR.

        Its uplinks of the old session are history that says nothing of the new one (their frame counters
        would look like hundreds of lost frames): the history starts after them.
        """
        self._save(node, Settings(0, 0, 1), None)
        with self.db:
            self.db.execute("UPDATE adr_nodes SET since_id = ?, acked = 0 WHERE node = ?", (self._last_id(node), node))

    def _last_id(self, node: str) -> int:
        """The id of the node's last stored record; 0 for none, or a registry without a store (the join tests')."""
        try:
            row = self.db.execute("SELECT MAX(id) FROM records WHERE node = ?", (node,)).fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0] or 0)

    def _save(self, node: str, in_force: Settings, asked: Settings | None, refused: Settings | None = None) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO adr_nodes (node, dr, tx_power, nb_trans, margin_db, asked, ch_mask, refused, acked)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (node) DO UPDATE SET dr = excluded.dr,"
                " tx_power = excluded.tx_power, nb_trans = excluded.nb_trans, margin_db = excluded.margin_db,"
                " asked = excluded.asked, ch_mask = excluded.ch_mask, refused = excluded.refused",
                (node, in_force.dr, in_force.tx_power, in_force.nb_trans, self.margin_db,
                 json.dumps(asked.__dict__) if asked else None, in_force.ch_mask,
                 json.dumps(refused.__dict__) if refused else None),
            )  # fmt: skip
