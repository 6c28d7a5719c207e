"""The simulated farm's air and network, answering OTAA nodes in lockstep (`akker sim`, the default).

Each node's firmware runs in a thread of gateway/sim/lockstep.py. When a
node's transmission has ended and its turn comes, every frame that overlapped
it is known, so the channel decides at once which gateways heard it (range,
collisions with capture, a gateway deaf while it transmits), the real
bridge pipeline stores it, and the network's own code (gateway/network/answer.py,
windows.py) answers: a JoinAccept or a downlink, in RX1 or RX2, through the
gateway that heard best and whose duty cycle allows it. The downlink crosses
the channel the other way (too weak, or collided with another gateway's) and,
if it arrives, waits in the node's modem for its receive window
(firmware/sim/rx_window.py). The gateways are 8-channel concentrators by
default, as a commercial gateway on Semtech UDP is: they hear every channel at
every SF. With board_sf set they are gateway boards instead: each hears one
channel at one SF, and a downlink goes through the gateway firmware's own
transmit path (board_downlink.py). Times are farm milliseconds since the run's epoch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from firmware.airtime import time_on_air_us
from gateway.bridge import uplink
from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import open_db
from gateway.network import answer
from gateway.network.commands import CommandQueue
from gateway.network.join_server import JoinRefused, JoinSettings
from gateway.network.windows import GatewayDuty, RxSettings, Window, choose, windows

from . import channel
from .board_downlink import BoardTransmitter
from .farm_nodes import CHANNEL_KHZ
from .lockstep import Lockstep

DOWNLINK_POWER_DBM = 14.0  # a gateway's EIRP in the RX1 channels (RP002 EU868)
PREAMBLE = 8


@dataclass(frozen=True)
class Command:
    """`akker sim --command NAME@OFFSET=JSON`: queued as `akker nodes send` queues it, at that farm time."""

    node: str
    at_ms: int
    command: dict[str, Any]


@dataclass
class _Uplink:
    node: str
    t0: int
    t1: int
    freq_khz: int
    sf: int
    rssi: dict[str, float]  # at each gateway, this frame's fading included


@dataclass
class Air:
    nodes: Sequence[channel.Site]
    gws: Sequence[channel.Site]
    rng: random.Random
    epoch: datetime
    db_path: Path
    sinks: Sequence[str] = ()
    commands: Sequence[Command] = ()
    lockstep: Lockstep = field(default_factory=Lockstep)
    events: list[dict[str, Any]] = field(default_factory=list)  # downlinks on the air, as the truth file has them
    intact: set[tuple[str, int]] = field(default_factory=set)  # (node, farm t_ms) of uplinks a gateway decoded
    counts: dict[str, int] = field(default_factory=dict)
    board_sf: int | None = None  # gateway boards listening on CHANNEL_KHZ at this SF; None: concentrators

    def __post_init__(self) -> None:
        self.sites = {n.name: n for n in self.nodes}
        # Receptions name a gateway as the bridge does: a board's serial source says "board:<id>".
        self.ids = {g.name: (f"board:{g.name}" if self.board_sf else g.name) for g in self.gws}
        self.gw_sites = {self.ids[g.name]: g for g in self.gws}
        self.boards = {self.ids[g.name]: BoardTransmitter(i, CHANNEL_KHZ, self.board_sf)
                       for i, g in enumerate(self.gws) if self.board_sf}  # fmt: skip
        # One fixed shadowing per link, both ways: a hedge is in the way of the uplink and the downlink alike.
        self.shadow = {(n.name, g.name): self.rng.gauss(0, channel.SHADOWING_DB) for n in self.nodes for g in self.gws}
        self.pipeline = Pipeline(self.db_path, list(self.sinks))
        self.db = open_db(self.db_path, check_same_thread=False)  # one thread at a time uses it: lockstep's
        self.duty = GatewayDuty()
        self.settings = JoinSettings()
        self.on_air: list[_Uplink] = []
        self.gw_busy: dict[str, list[tuple[int, int]]] = {gid: [] for gid in self.gw_sites}
        self.downlinks_on_air: list[tuple[str, int, int, int, int]] = []  # gateway, t0, t1, freq_khz, sf
        self._commands = sorted(self.commands, key=lambda c: c.at_ms)
        self.dev_addrs = random.Random(self.rng.random())  # the join server's draws, from the run's seed

    def close(self) -> None:
        self.db.close()

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    # ------------------------------------------------------------ uplinks

    def put_on_air(self, node: str, t0: int, airtime_us: int, freq_khz: int, sf: int, power_dbm: float) -> _Uplink:
        site = self.sites[node]
        rssi = {g.name: channel.link_budget(site, g, self.shadow[(node, g.name)]) - channel.TX_POWER_DBM + power_dbm
                + self.rng.gauss(0, channel.FADING_DB) for g in self.gws}  # fmt: skip
        up = _Uplink(node, t0, t0 + (airtime_us + 999) // 1000, freq_khz, sf, rssi)
        self.on_air.append(up)
        return up

    def hear(self, up: _Uplink) -> list[Reception]:
        """Each gateway's reception of up, CRC failed where it collided; none where too weak or transmitting."""
        self.on_air = [o for o in self.on_air if o.t1 > up.t0 - 10_000]  # no frame lasts 10 s
        rivals = [o for o in self.on_air if o is not up and o.t0 < up.t1 and up.t0 < o.t1
                  and o.freq_khz == up.freq_khz and o.sf == up.sf]  # fmt: skip
        out = []
        for g in self.gws:
            gid = self.ids[g.name]
            board = self.boards.get(gid)
            if board is not None and (up.freq_khz, up.sf) != (board.freq_khz, board.sf):
                self._count("gateway_not_listening")  # a board's one radio hears one channel at one SF
                continue
            rssi = up.rssi[g.name]
            if rssi < channel.SENSITIVITY_DBM[up.sf]:
                self._count("weak")
                continue
            if any(t0 < up.t1 and up.t0 < t1 for t0, t1 in self.gw_busy[gid]):
                self._count("gateway_transmitting")  # half duplex: a gateway sending a downlink hears nothing
                continue
            collided = channel.collides(rssi, (o.rssi[g.name] for o in rivals))
            if collided:
                self._count("collided")
            snr = channel.snr_db(rssi) + self.rng.gauss(0, 0.5)
            counter = board.counter_us(up.t1) if board is not None else (up.t1 * 1000) % (1 << 32)
            out.append(Reception(gid, round(rssi), round(snr * 4) / 4, up.freq_khz * 1000, up.sf, 125,
                                 crc_ok=not collided, counter_us=counter))  # fmt: skip
        return out

    # ------------------------------------------------------------ the network

    def queue_commands(self, now_ms: int) -> None:
        while self._commands and self._commands[0].at_ms <= now_ms:
            c = self._commands.pop(0)
            CommandQueue(self.db).add(c.node, c.command, now=self.epoch + timedelta(milliseconds=c.at_ms))

    def answer(self, phy: bytes, up: _Uplink, receptions: list[Reception]) -> tuple[bytes, RxSettings] | None:
        """Store the uplink as the bridge would and return what the network sends back, if anything."""
        at = self.epoch + timedelta(milliseconds=up.t1)
        frames = [UplinkFrame(phy, r, "serial" if r.gateway in self.boards else "udp", at) for r in receptions]
        outcomes = self.pipeline.process(frames)
        intact = [r for r in receptions if r.crc_ok]
        if not intact:
            return None
        self.intact.add((up.node, up.t0))
        frame = frames[receptions.index(intact[0])]
        if phy[0] == 0x00:
            try:
                joined = answer.join(self.db, frame, self.settings, set(self.boards), self.dev_addrs.randrange)
            except JoinRefused as err:
                self._count(f"join_refused_{err.reason}")
                return None
            self.pipeline.registry_changed()
            self._count("joins")
            return joined.accept, answer.join_windows()
        if not any(o in (uplink.ACCEPTED, uplink.MAC_ONLY) for o in outcomes):
            return None
        got = answer.data(self.db, frame, intact, set(self.boards))
        if got is None or got.downlink is None:
            return None
        return got.downlink.phy, answer.data_windows(self.settings)

    def _transmitting(self, gateway: str, t0: int, sf: int, length: int) -> bool:
        """The gateway is already sending then: it has one transmitter, whatever the sub-bands' duty cycles."""
        t1 = t0 + (time_on_air_us(length, sf, 125, 5, PREAMBLE) + 999) // 1000
        return any(b0 < t1 and t0 < b1 for b0, b1 in self.gw_busy[gateway])

    def send_down(
        self, node: str, up: _Uplink, receptions: list[Reception], phy: bytes, rx: RxSettings
    ) -> tuple[dict[str, Any], int, float] | None:
        """The downlink on the air, as the truth file has it, with its RSSI and SNR at the node; None if no window.

        "heard" says whether it reaches the node so far; collided() may take that back once every downlink
        that overlaps it is decided.
        """
        intact = [r for r in receptions if r.crc_ok]
        free = [c for c in windows(intact, up.t1, rx) if not self._transmitting(c.gateway, c.due_ms, c.sf, len(phy))]
        w = choose(free, self.duty, up.t1, len(phy))
        if w is None:
            self._count("downlink_no_window")
            return None
        sent = self._transmit(w, up.t1, phy)
        if "refused" in sent:
            self._count("downlink_refused_by_board")
            return None
        t0, airtime_us, freq_khz, sf = sent["time_ms"], sent["airtime_us"], sent["freq_khz"], sent["sf"]
        t1 = t0 + (airtime_us + 999) // 1000
        self.gw_busy[w.gateway] = [b for b in self.gw_busy[w.gateway] if b[1] > up.t0 - 10_000] + [(t0, t1)]
        gw = self.gw_sites[w.gateway]
        rssi = (channel.link_budget(self.sites[node], gw, self.shadow[(node, gw.name)]) - channel.TX_POWER_DBM
                + sent["power_dbm"] + self.rng.gauss(0, channel.FADING_DB))  # fmt: skip
        # A node listens with inverted IQ: a downlink sent without it is not even noise to the node.
        heard = (sent["inverted"] and rssi >= channel.SENSITIVITY_DBM[sf]
                 and not self._overlapping(w.gateway, t0, t1, freq_khz, sf))  # fmt: skip
        self.downlinks_on_air = [d for d in self.downlinks_on_air if d[2] > up.t0 - 10_000] + [
            (w.gateway, t0, t1, freq_khz, sf)
        ]
        self._count("downlinks" if heard else "downlinks_lost")
        snr = channel.snr_db(rssi)
        event = {"kind": "tx", "dir": "down", "node": node, "gateway": w.gateway, "t_ms": t0, "freq_khz": freq_khz,
                 "sf": sf, "bw_khz": sent["bw_khz"], "airtime_us": airtime_us, "phy": sent["payload"].hex(),
                 "window": 1 if w.name == "rx1" else 2, "heard": heard}  # fmt: skip
        self.events.append(event)
        return event, round(rssi), round(snr, 1)

    def _transmit(self, w: Window, now_ms: int, phy: bytes) -> dict[str, Any]:
        """What w's gateway puts on the air (as SimModem records it), or {"refused": why}."""
        board = self.boards.get(w.gateway)
        if board is not None:
            return board.send(now_ms, w.counter_us // 1000, w.freq_hz // 1000, w.sf, w.bw_khz, phy)
        # A concentrator sends what its txpk says (gateway/network/semtech_txpk.py), at its tmst, IQ inverted.
        return {"time_ms": w.due_ms, "airtime_us": time_on_air_us(len(phy), w.sf, w.bw_khz, 5, PREAMBLE),
                "freq_khz": w.freq_hz // 1000, "sf": w.sf, "bw_khz": w.bw_khz, "payload": phy,
                "power_dbm": DOWNLINK_POWER_DBM, "inverted": True}  # fmt: skip

    def _overlapping(self, gateway: str, t0: int, t1: int, freq_khz: int, sf: int) -> bool:
        """Another gateway's downlink on this channel and SF overlaps: at the node, neither is heard."""
        return any(d[0] != gateway and d[1] < t1 and t0 < d[2] and d[3] == freq_khz and d[4] == sf
                   for d in self.downlinks_on_air)  # fmt: skip

    def collided(self, event: dict[str, Any]) -> bool:
        """Once every downlink that overlaps event is decided: True (and counted lost) if one of them collides."""
        t0 = int(event["t_ms"])
        t1 = t0 + (int(event["airtime_us"]) + 999) // 1000
        if not event["heard"] or not self._overlapping(event["gateway"], t0, t1, event["freq_khz"], event["sf"]):
            return False
        event["heard"] = False
        self.counts["downlinks"] -= 1
        self._count("downlinks_lost")
        return True
