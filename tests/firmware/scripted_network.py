"""A scripted LoRaWAN network for the node's tests: every frame it reads or writes goes through lora-packet.

It answers a JoinRequest with a JoinAccept, opens the node's uplinks with the
session keys lora-packet derives, and sends the downlinks a test queued, each
timed for RX1 (or RX2) of the uplink it answers, as a network server would
schedule it on a gateway. The node hears them through the simulated modem's
receive windows (firmware/sim/rx_window.py): `downlinks_for(record)` gives the
packets for one uplink record, from SimModem's on_send (in-process) or from a
line `firmware.sim.run --network` printed (MicroPython).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import class_a as bench_class_a
from payload_codec.mac_commands import build, parse
from tests.lora_packet_peer import LoraPacketPeer

RX2_KHZ = 869525
# Fields as lora-packet names them (FCtrl bits of an uplink: ADR b7, ADRACKReq b6, ACK b5).
FCTRL_ADR = 0x80
FCTRL_ADR_ACK_REQ = 0x40
FCTRL_ACK = 0x20


@dataclass
class Downlink(bench_class_a.Downlink):
    """The bench network's downlink (FPort, payload, FOpts, confirmed), and how this one goes on the air."""

    fpending: bool = False
    window: str = "rx1"  # or "rx2"
    shift_ms: int = 0  # timing error: how late (or early, negative) the gateway sends it
    phy: bytes | None = None  # sent as it is (a replay, a forgery) instead of being built


@dataclass
class Uplink:
    t_ms: int
    end_ms: int
    freq_khz: int
    sf: int
    phy: bytes
    join: bool = False
    dev_nonce: int | None = None
    fcnt: int | None = None
    fport: int | None = None
    fctrl: int = 0
    fopts: bytes = b""
    plaintext: bytes = b""
    answered: list[bytes] = field(default_factory=list)


class ScriptedNetwork:
    def __init__(
        self,
        peer: LoraPacketPeer,
        app_key: bytes,
        *,
        dev_addr: int = 0x26012E43,
        net_id: int = 0x000013,
        rx_delay_s: int = 1,
        rx1_dr_offset: int = 0,
        rx2_dr: int = 0,
        cflist_hz: list[int] | None = None,
        answer_joins: bool = True,
        link_margin: Callable[[int], int | None] | None = None,
    ) -> None:
        self.peer = peer
        self.app_key = app_key
        self.dev_addr = dev_addr
        self.net_id = net_id
        self.rx_delay_s = rx_delay_s
        self.rx1_dr_offset = rx1_dr_offset
        self.rx2_dr = rx2_dr
        self.rx2_khz = RX2_KHZ
        self.cflist_hz = cflist_hz or []
        self.answer_joins = answer_joins
        self.link_margin = link_margin  # SF -> the margin a LinkCheckAns reports (None: not heard)
        self.join_nonce = 0x000100
        self.nwk: bytes | None = None
        self.app: bytes | None = None
        self.fcnt_down = 0
        self.last_fcnt: int | None = None
        self.uplinks: list[Uplink] = []
        self.queue: list[Downlink] = []
        self.sent: list[bytes] = []

    # ------------------------------------------------------------ keys as lora-packet derives them

    def use_session(self, dev_addr: int, nwk: bytes, app: bytes) -> None:
        """An ABP node's session, as the network was told it."""
        self.dev_addr, self.nwk, self.app = dev_addr, nwk, app

    # ------------------------------------------------------------ what the node sent

    def downlinks_for(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The packets this network sends in answer to one uplink record (SimModem's, or run.py's printed line)."""
        phy = bytes(record["payload"]) if "payload" in record else bytes.fromhex(record["phy"])
        t_ms = record["time_ms"] if "time_ms" in record else record["t_ms"]
        end = t_ms + math.ceil(record["airtime_us"] / 1000)
        up = Uplink(t_ms=t_ms, end_ms=end, freq_khz=record["freq_khz"], sf=record["sf"], phy=phy)
        self.uplinks.append(up)
        if phy[0] == 0x00:
            return self._join(up)
        self._open(up)
        if not self.queue and self.link_margin is not None and (0x02, {}) in parse(up.fopts, True):
            margin = self.link_margin(up.sf)
            if margin is not None:
                self.queue.append(Downlink(fopts=build([("LinkCheckAns", {"margin_db": margin, "gw_cnt": 1})], False)))
        if not self.queue:
            return []
        return [self._downlink(up, self.queue.pop(0))]

    def _join(self, up: Uplink) -> list[dict[str, Any]]:
        up.join = True
        req = self.peer.ask({"op": "open_join_request", "phy": up.phy.hex(), "app_key": self.app_key.hex()})
        assert req["mic_ok"], "the node's JoinRequest fails lora-packet's MIC check"
        up.dev_nonce = req["dev_nonce"]
        if not self.answer_joins:
            return []
        self.join_nonce += 1
        cflist = b"".join((hz // 100).to_bytes(3, "little") for hz in self.cflist_hz)
        if cflist:
            cflist = cflist.ljust(15, b"\0") + b"\0"
        accept = self.peer.ask(
            {
                "op": "join_accept",
                "app_key": self.app_key.hex(),
                "join_nonce": self.join_nonce,
                "net_id": self.net_id,
                "dev_addr": f"{self.dev_addr:08x}",
                "dl_settings": (self.rx1_dr_offset << 4) | self.rx2_dr,
                "rx_delay": self.rx_delay_s,
                "cflist": cflist.hex(),
            }
        )
        phy = bytes.fromhex(accept["phy"])
        keys = self.peer.ask(
            {"op": "open_join_accept", "phy": phy.hex(), "app_key": self.app_key.hex(), "dev_nonce": up.dev_nonce}
        )
        assert keys["mic_ok"]
        self.nwk, self.app = bytes.fromhex(keys["nwk_skey"]), bytes.fromhex(keys["app_skey"])
        self.fcnt_down = 0
        self.last_fcnt = None
        self.sent.append(phy)
        # JOIN_ACCEPT_DELAY1: 5 s after the request, on its channel and data rate.
        return [{"t_ms": up.end_ms + 5000, "freq_khz": up.freq_khz, "sf": up.sf, "phy": phy.hex()}]

    def _open(self, up: Uplink) -> None:
        assert self.nwk is not None and self.app is not None, "a data uplink before any session"
        fcnt16 = int.from_bytes(up.phy[6:8], "little")
        fcnt = fcnt16 if self.last_fcnt is None else (self.last_fcnt & ~0xFFFF) | fcnt16
        if self.last_fcnt is not None and fcnt < self.last_fcnt:
            fcnt += 0x10000
        got = self.peer.ask(
            {"op": "open", "phy": up.phy.hex(), "nwk": self.nwk.hex(), "app": self.app.hex(), "fcnt": fcnt}
        )
        assert got["mic_ok"], f"uplink FCnt {fcnt} fails lora-packet's MIC check with the joined keys"
        assert int(got["dev_addr"], 16) == self.dev_addr
        up.fcnt = fcnt
        up.fport = got["fport"]
        up.fctrl = got["fctrl"]
        up.fopts = bytes.fromhex(got["fopts"])
        up.plaintext = bytes.fromhex(got["plaintext"])
        self.last_fcnt = fcnt

    def _downlink(self, up: Uplink, d: Downlink) -> dict[str, Any]:
        if d.phy is not None:
            phy = d.phy
        else:
            assert self.nwk is not None and self.app is not None
            built = self.peer.ask(
                {
                    "op": "build",
                    "mtype": "Confirmed Data Down" if d.confirmed else "Unconfirmed Data Down",
                    "dev_addr": f"{self.dev_addr:08x}",
                    "fcnt": self.fcnt_down,
                    "fport": d.fport,
                    "payload": d.payload.hex(),
                    "fopts": d.fopts.hex(),
                    "ack": bool(up.phy[0] >> 5 == 4),  # acknowledge a confirmed uplink
                    "fpending": d.fpending,
                    "nwk": self.nwk.hex(),
                    "app": self.app.hex(),
                }
            )
            assert "phy" in built, built
            phy = bytes.fromhex(built["phy"])
            self.fcnt_down += 1
        self.sent.append(phy)
        up.answered.append(phy)
        if d.window == "rx1":
            dr = max(0, (12 - up.sf) - self.rx1_dr_offset)
            return {
                "t_ms": up.end_ms + self.rx_delay_s * 1000 + d.shift_ms,
                "freq_khz": up.freq_khz,
                "sf": 12 - dr,
                "phy": phy.hex(),
            }
        return {
            "t_ms": up.end_ms + self.rx_delay_s * 1000 + 1000 + d.shift_ms,
            "freq_khz": self.rx2_khz,
            "sf": 12 - self.rx2_dr,
            "phy": phy.hex(),
        }

    @property
    def data_uplinks(self) -> list[Uplink]:
        return [u for u in self.uplinks if not u.join]
