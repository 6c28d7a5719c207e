"""The join server: a JoinRequest checked against the registry, answered with a JoinAccept and a new session.

LoRaWAN 1.0.x (TS001-1.0.4 section 6.2). The request's MIC must agree with
the node's AppKey; its DevNonce must follow the node's LoRaWAN version (1.0.4:
higher than the last one accepted, a counter; 1.0.2 and 1.0.3: random, but
never one used before); every accept carries the next JoinNonce, and a DevAddr
drawn free from the configured range. The nonces and the new session (DevAddr,
NwkSKey, AppSKey, counters reset) are stored in one transaction before the
accept is handed out, so a JoinAccept never goes out for a session the bridge
does not know. Frames are built and checked with payload_codec's join modules.
Scheduling the accept into the node's receive window is the downlink
scheduler's job. docs/network.md.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.bridge.registry import OtaaDevice, Registry
from payload_codec.lorawan_crypto import FrameError, MicError
from payload_codec.lorawan_join import session_keys
from payload_codec.lorawan_join_server import build_join_accept, open_join_request, parse_join_request

from .adr import Adr
from .commands import CommandQueue
from .reach import PLAN_CFLIST_HZ

# LoRaWAN Backend Interfaces 1.0, 6.1: NetID 000000, for private networks; its DevAddrs are 00000000-01ffffff.
PRIVATE_NET_ID = 0x000000
PRIVATE_RANGE = (0x00000001, 0x01FFFFFF)
USED_NONCES_KEPT = 1000  # 1.0.2/1.0.3: the DevNonces remembered per node (random ones: 2**16 possible)


class JoinRefused(ValueError):
    """A JoinRequest that gets no answer; the message says why (it is counted under `reason`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class JoinSettings:
    """What every JoinAccept tells a node: its network, receive windows and extra channels (EU868)."""

    net_id: int = PRIVATE_NET_ID
    dev_addr_range: tuple[int, int] = PRIVATE_RANGE
    rx1_dr_offset: int = 0
    rx2_data_rate: int = 0  # DR0, SF12 at 869.525 MHz: EU868's default
    rx_delay_s: int = 1
    cflist_hz: tuple[int, ...] = PLAN_CFLIST_HZ  # channels 3..7 beyond the three join channels


@dataclass(frozen=True)
class Joined:
    node: str
    dev_addr: int
    dev_nonce: int
    join_nonce: int
    accept: bytes = field(repr=False)  # the JoinAccept's PHYPayload, encrypted as it goes on the air


class JoinServer:
    def __init__(
        self, registry: Registry, settings: JoinSettings | None = None, draw: Callable[[int], int] = secrets.randbelow
    ) -> None:
        self.registry = registry
        self.settings = settings or JoinSettings()
        self.draw = draw  # n -> 0..n-1: DevAddrs at random; the simulator's own stream, so a seed gives one run

    def answer(self, phy: bytes, cflist: bool = True) -> Joined:
        """The JoinAccept for a JoinRequest, with the session stored; JoinRefused when it gets none.

        cflist False leaves the settings' extra channels out: no gateway that heard the request listens on them.
        """
        try:
            join_eui, dev_eui, dev_nonce = parse_join_request(phy)
        except FrameError as err:
            raise JoinRefused("malformed", f"not a JoinRequest: {err}") from None
        device = self.registry.otaa_by_dev_eui(dev_eui)
        if device is None:
            raise JoinRefused("unknown", f"JoinRequest from DevEUI {dev_eui.hex()}, which is not registered")
        if join_eui != device.join_eui:
            raise JoinRefused("join_eui", f"{device.name}: JoinEUI {join_eui.hex()} is not the registered one")
        try:
            open_join_request(phy, device.app_key)
        except MicError:
            raise JoinRefused("mic", f"{device.name}: the JoinRequest's MIC does not match its AppKey") from None
        nonces = self._check_dev_nonce(device, dev_nonce)
        s = self.settings
        join_nonce = (device.join_nonce + 1) & 0xFFFFFF
        dev_addr = self._free_dev_addr()
        accept = build_join_accept(
            device.app_key,
            join_nonce,
            s.net_id,
            dev_addr,
            rx1_dr_offset=s.rx1_dr_offset,
            rx2_data_rate=s.rx2_data_rate,
            rx_delay_s=s.rx_delay_s,
            cflist=list(s.cflist_hz) if s.cflist_hz and cflist else None,
        )
        keys = session_keys(device.app_key, join_nonce, s.net_id, dev_nonce)
        self.registry.record_join(device, join_nonce, json.dumps(nonces), dev_addr, keys)
        # The node starts from its defaults again, and what waited for an answer in the old session goes again.
        Adr(self.registry.db).forget(device.name)
        CommandQueue(self.registry.db).requeue_unacknowledged(device.name)
        return Joined(device.name, dev_addr, dev_nonce, join_nonce, accept)

    def _check_dev_nonce(self, device: OtaaDevice, dev_nonce: int) -> list[int]:
        """The node's DevNonce record with dev_nonce added; JoinRefused when its version's rule forbids it."""
        seen = [int(n) for n in json.loads(device.dev_nonces)]
        if device.mac_version == "1.0.4":
            # A counter (TS001-1.0.4 6.2.2): it must rise; only the last one is kept.
            if seen and dev_nonce <= seen[-1]:
                raise JoinRefused(
                    "dev_nonce",
                    f"{device.name}: DevNonce {dev_nonce} is not above the last accepted, {seen[-1]} (a replay, or a"
                    " node whose flash was erased: register it again to reset its DevNonces)",
                )
            return [dev_nonce]
        if dev_nonce in seen:
            raise JoinRefused("dev_nonce", f"{device.name}: DevNonce {dev_nonce} was used before (a replay)")
        return [*seen, dev_nonce][-USED_NONCES_KEPT:]

    def _free_dev_addr(self) -> int:
        first, last = self.settings.dev_addr_range
        for _ in range(64):
            dev_addr = first + self.draw(last - first + 1)
            if self.registry.by_dev_addr(dev_addr) is None:
                return dev_addr
        raise JoinRefused("no_dev_addr", f"no free DevAddr found in {first:08x}-{last:08x}: widen the range")
