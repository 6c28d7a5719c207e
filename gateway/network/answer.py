"""What the network answers to one stored uplink: a JoinAccept, a data downlink, or nothing.

The decisions only, on the farm database, with no clock and no I/O: the
running bridge (service.py) and the field simulator (gateway/sim/network_air.py)
both answer through here, then place what comes out in a receive window
(windows.py) and send it their own way.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.registry import Node, Registry
from payload_codec import decode_uplink
from payload_codec.lorawan import open_uplink, parse_frame

from .adr import MARGIN_DB
from .commands import Command, CommandQueue
from .downlinks import DAILY_LIMIT, Downlink, DownlinkBuilder, Uplink
from .join_server import Joined, JoinServer, JoinSettings
from .reach import Partial, hears_cflist, reach
from .windows import RxSettings

JOIN_ACCEPT_DELAY_S = 5  # JOIN_ACCEPT_DELAY1; RX2 a second later (TS001-1.0.4, RP002 EU868)


def join(
    db: sqlite3.Connection,
    frame: UplinkFrame,
    settings: JoinSettings,
    partial: Partial,
    draw: Callable[[int], int] = secrets.randbelow,
) -> Joined:
    """The JoinAccept for a JoinRequest (JoinRefused when none), its extra channels only where gateways hear them."""
    cflist = hears_cflist(reach([frame.rx.as_json()], partial))
    return JoinServer(Registry(db), settings, draw).answer(frame.phy, cflist=cflist)


def join_windows() -> RxSettings:
    """A JoinAccept goes on the request's channel and data rate (RX1), or at 869.525 MHz SF12 (RX2)."""
    return RxSettings(rx_delay_s=JOIN_ACCEPT_DELAY_S)


def data_windows(settings: JoinSettings) -> RxSettings:
    """A joined node's windows, as every JoinAccept set them."""
    return RxSettings(rx_delay_s=settings.rx_delay_s, rx1_dr_offset=settings.rx1_dr_offset,
                      rx2_dr=settings.rx2_data_rate)  # fmt: skip


@dataclass(frozen=True)
class Answer:
    downlink: Downlink | None
    changed: list[Command]  # commands whose state this uplink changed, to publish


def data(
    db: sqlite3.Connection,
    frame: UplinkFrame,
    receptions: Sequence[Reception],
    partial: Partial,
    daily_limit: int = DAILY_LIMIT,
    margin_db: float = MARGIN_DB,
) -> Answer | None:
    """The downlink (or none) for an accepted data uplink; None when its DevAddr has no session."""
    info = parse_frame(frame.phy)
    session = Registry(db).by_dev_addr(info["dev_addr"])
    if session is None:
        return None
    fctrl = int(info["fctrl"])
    up = Uplink(session.name, info["mtype"] == "confirmed_up", info["fopts"], receptions, frame.received_at,
                adr=bool(fctrl & 0x80), adr_ack_req=bool(fctrl & 0x40), ack=bool(fctrl & 0x20))  # fmt: skip
    queue = CommandQueue(db)
    queue.expire(frame.received_at)  # a week unapplied, any node's: it shows, and MQTT hears it
    changed = [_status_applied(queue, session, frame)]
    down = DownlinkBuilder(db, daily_limit, partial, margin_db).build(up, frame.received_at)
    if down is not None and down.command_id is not None:
        changed.append(down.command_id)
    commands = [queue.get(c) for c in changed if c is not None]
    return Answer(down, [c for c in commands if c is not None])


def _status_applied(queue: CommandQueue, session: Node, frame: UplinkFrame) -> int | None:
    """A status message confirms the command it names as applied (docs/payload-format.md, status)."""
    _fcnt, fport, plain = open_uplink(frame.phy, session.nwk_skey, session.app_skey)
    if fport != 2:
        return None
    return queue.note_status(session.name, decode_uplink(2, plain), frame.received_at)
