"""What the gateways that hear a node listen on, so the network never sends it where none of them listens.

A gateway board (the serial source) is a node's radio: it listens on one
frequency at one spreading factor, the ones its receptions carry. A Semtech UDP
gateway is an 8-channel concentrator: it hears the farm's whole plan at every
data rate, unless `akker gateway channels` gave it fewer channels
(gateway/bridge/gateways.py). A node's reach is what the gateways that heard
its last REACH_FRAMES uplinks listen on. ADR (adr.py) keeps the node's channel mask and data rate
inside it, and a JoinAccept carries the extra channels (CFList) only when a
gateway that hears them heard the JoinRequest. docs/network.md, "Gateways".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from firmware.lorawan.session import dr_of

DEFAULT_CHANNELS_KHZ = (868100, 868300, 868500)  # EU868 channels 0..2: every node has them from the start
# The CFList most EU868 networks send (The Things Network's plan): channels 3..7, 867.1-867.9 MHz.
PLAN_CFLIST_HZ = (867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000)
ALL_DRS = frozenset(range(6))  # DR0..DR5, SF12..SF7 at 125 kHz
REACH_FRAMES = 20


@dataclass(frozen=True)
class Reach:
    channels_khz: frozenset[int] | None  # None: every channel of the plan
    drs: frozenset[int]

    def mask(self, node_channels_khz: Iterable[int] = DEFAULT_CHANNELS_KHZ) -> int:
        """The LinkADRReq channel mask over the node's channels; 0 when the gateways hear all of them (or none)."""
        khz = list(node_channels_khz)
        if self.channels_khz is None:
            return 0
        mask = sum(1 << i for i, f in enumerate(khz) if f in self.channels_khz)
        return 0 if mask in (0, (1 << len(khz)) - 1) else mask


EVERYWHERE = Reach(None, ALL_DRS)


Partial = Collection[str] | Mapping[str, frozenset[int] | None]


def reach(receptions: Iterable[Mapping[str, object]], partial: Partial) -> Reach:
    """The reach of whatever gateways made these receptions (Reception.as_json dicts).

    partial: the gateways that hear part of the plan: gateway boards' ids, or a mapping of gateway id to the
    channels set for it, None for a board (gateway/bridge/gateways.py, partial()). Any other hears everything.
    """
    plans = partial if isinstance(partial, Mapping) else dict.fromkeys(partial)
    channels: set[int] = set()
    drs: set[int] = set()
    for r in receptions:
        gw = r.get("gateway")
        if gw not in plans:
            return EVERYWHERE
        plan = plans[gw]
        if plan is not None:  # a concentrator on those channels, at every data rate
            channels |= plan
            drs |= ALL_DRS
            continue
        channels.add(int(str(r.get("frequency", 0))) // 1000)
        drs.add(dr_of(int(str(r.get("sf", 12)))))
    if not channels:
        return EVERYWHERE
    return Reach(frozenset(channels), frozenset(drs & ALL_DRS) or ALL_DRS)


def node_reach(db: sqlite3.Connection, node: str, partial: Partial) -> Reach:
    """The reach of the gateways that heard the node's last REACH_FRAMES stored uplinks."""
    if not partial:
        return EVERYWHERE  # every gateway hears everything
    rows = db.execute(
        "SELECT rx FROM records WHERE node = ? AND error IS NULL ORDER BY id DESC LIMIT ?", (node, REACH_FRAMES)
    ).fetchall()
    receptions: list[Mapping[str, object]] = []
    for (rx,) in rows:
        try:
            receptions.extend(json.loads(rx))
        except ValueError:
            continue
    return reach(receptions, partial)


def hears_cflist(r: Reach) -> bool:
    """Whether the extra channels a JoinAccept's CFList gives (PLAN_CFLIST_HZ) are all heard."""
    return r.channels_khz is None or {hz // 1000 for hz in PLAN_CFLIST_HZ} <= r.channels_khz
