"""ADR on the network side: from a node's recent uplinks, the data rate, power and NbTrans it should use.

As the established network servers do it (ChirpStack's default algorithm, TTN's
margin): take the best SNR of the last 20 uplinks, less the data rate's
demodulation floor and an installation margin (default 10 dB); every 3 dB
left over is one step: first a faster data rate (up to DR5, SF7), then lower
power (TXPower index up to 7, 14 dB below the maximum); a deficit raises the
power again. NbTrans follows the frames lost among those 20: under 5 % one
transmission, under 10 % two, else three. The decision is a LinkADRReq with
ChMaskCntl 6 (every channel the node has), sent only while no earlier one
waits for its LinkADRAns.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from payload_codec.mac_commands import build

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
    asked TEXT
);
"""


@dataclass(frozen=True)
class Settings:
    dr: int
    tx_power: int
    nb_trans: int


def decide(best_snr_db: float, current: Settings, lost: float, margin_db: float = MARGIN_DB) -> Settings:
    """The settings for a node whose best recent SNR is best_snr_db and which lost this share of its frames."""
    spare = best_snr_db - DEMOD_FLOOR_DB[12 - current.dr] - margin_db
    steps = int(spare // STEP_DB)
    dr, power = current.dr, current.tx_power
    while steps > 0 and dr < DR_MAX:
        dr += 1
        steps -= 1
    while steps > 0 and power < TX_POWER_MAX:
        power += 1
        steps -= 1
    while steps < 0 and power > 0:
        power -= 1
        steps += 1
    nb_trans = 1 if lost < 0.05 else 2 if lost < 0.10 else 3
    return Settings(dr, power, nb_trans)


class Adr:
    """Each node's ADR state, beside the registry: what is in force, and what was asked and not yet answered."""

    def __init__(self, db: sqlite3.Connection, margin_db: float = MARGIN_DB) -> None:
        self.db = db
        self.margin_db = margin_db
        db.executescript(_SCHEMA)

    def state(self, node: str) -> tuple[Settings | None, Settings | None]:
        """(in force, asked and unanswered) for node."""
        row = self.db.execute("SELECT dr, tx_power, nb_trans, asked FROM adr_nodes WHERE node = ?", (node,))
        got = row.fetchone()
        if got is None:
            return None, None
        asked = Settings(**json.loads(got[3])) if got[3] else None
        return Settings(int(got[0]), int(got[1]), int(got[2])), asked

    def history(self, node: str) -> tuple[float | None, float]:
        """(best SNR, share of frames lost) over the node's last HISTORY stored uplinks; (None, 0) if too few."""
        rows = self.db.execute(
            "SELECT fcnt, rx FROM records WHERE node = ? AND error IS NULL ORDER BY id DESC LIMIT ?", (node, HISTORY)
        ).fetchall()
        if len(rows) < MIN_HISTORY:
            return None, 0.0
        best = max(float(r.get("snr", -99)) for _, rx in rows for r in json.loads(rx))
        fcnts = [int(f) for f, _ in rows]
        span = max(fcnts) - min(fcnts) + 1
        return best, max(0.0, 1 - len(fcnts) / span) if span > 0 else 0.0

    def request(self, node: str, uplink_dr: int) -> bytes:
        """A LinkADRReq when the node should change and none is waiting for its answer, else nothing."""
        in_force, asked = self.state(node)
        if asked is not None:
            return b""
        current = Settings(uplink_dr, in_force.tx_power if in_force else 0, in_force.nb_trans if in_force else 1)
        best, lost = self.history(node)
        if best is None:
            return b""
        want = decide(best, current, lost, self.margin_db)
        if want == current:
            return b""
        self._save(node, in_force or current, want)
        fields = {"data_rate": want.dr, "tx_power": want.tx_power, "ch_mask": 0, "ch_mask_cntl": 6,
                  "nb_trans": want.nb_trans}  # fmt: skip
        return build([("LinkADRReq", fields)], False)

    def answered(self, node: str, ack: bool) -> None:
        """The node's LinkADRAns: all acknowledged puts what was asked in force; any refusal drops it."""
        in_force, asked = self.state(node)
        if asked is None or in_force is None:
            return
        self._save(node, asked if ack else in_force, None)

    def _save(self, node: str, in_force: Settings, asked: Settings | None) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO adr_nodes (node, dr, tx_power, nb_trans, margin_db, asked)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (node, in_force.dr, in_force.tx_power, in_force.nb_trans, self.margin_db,
                 json.dumps(asked.__dict__) if asked else None),
            )  # fmt: skip
