"""One uplink read the one way: its header checked, its node's keys tried, its payload decoded.

The pipeline (which then deduplicates, derives and stores) and `akker monitor`
(which only shows) both call this, so the two can never disagree on what a
frame says. A frame that cannot be read raises Refused with the outcome the
pipeline counts it under; an authentic frame whose payload does not decode is
returned with its error, because it is still the node's frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.bridge.registry import Node
from payload_codec import CodecError, decode_uplink
from payload_codec.lorawan import FrameError, MicError, ReplayError, open_uplink, parse_frame

# Outcomes, each a counter of `akker gateway status` (store.REJECT_REASONS lists the rejections).
ACCEPTED = "accepted"
MAC_ONLY = "mac_only"  # authentic, counted and stored, but only MAC commands: nothing for the sinks
JOIN_REQUEST = "join_request"  # an OTAA node asking to join: counted, not stored; the network answers it
DUPLICATE = "duplicate"
REPEAT = "repeat"  # the node's own retransmission (NbTrans) of a stored frame: counted, nothing else
INTERNAL_ERROR = "internal_error"
BAD_CRC = "bad_crc"
MALFORMED = "malformed"
UNKNOWN_DEV_ADDR = "unknown_dev_addr"
UNKNOWN_DEV_EUI = "unknown_dev_eui"  # a network server's uplink from a DevEUI not registered for that server
BAD_MIC = "bad_mic"
REPLAY = "replay"
CODEC_ERROR = "codec_error"
_UPLINKS = ("unconfirmed_up", "confirmed_up")


class Refused(Exception):
    """A frame that cannot be read; reason is one of the outcomes above, detail says why in words."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Header:
    dev_addr: int
    fcnt16: int
    fport: int | None
    mtype: str


@dataclass(frozen=True)
class Opened:
    """An authentic uplink: its 32-bit counter, FPort, and either the decoded message or why it did not decode."""

    node: Node
    fcnt: int
    fport: int | None
    payload: bytes
    data: dict[str, object] | None
    error: str | None

    @property
    def mac_only(self) -> bool:
        return self.fport is None or self.fport == 0


def header(phy: bytes) -> Header:
    """The LoRaWAN header of a data uplink; Refused(MALFORMED) for anything else."""
    try:
        info = parse_frame(phy)
    except FrameError as err:
        raise Refused(MALFORMED, str(err)) from None
    if info["mtype"] not in _UPLINKS:
        raise Refused(MALFORMED, f"a {info['mtype']} frame, not an uplink")
    fport = info["fport"]
    return Header(int(info["dev_addr"]), int(info["fcnt16"]), None if fport is None else int(fport), str(info["mtype"]))


def open_and_decode(phy: bytes, node: Node, last_fcnt: int | None) -> Opened:
    """Check the MIC against the 32-bit counter rebuilt from last_fcnt, decrypt, decode; Refused if not authentic."""
    try:
        fcnt, fport, plain = open_uplink(phy, node.nwk_skey, node.app_skey, last_fcnt)
    except ReplayError as err:
        raise Refused(REPLAY, str(err)) from None
    except MicError as err:
        raise Refused(BAD_MIC, str(err)) from None
    except FrameError as err:
        raise Refused(MALFORMED, str(err)) from None
    return decoded(node, fcnt, fport, bytes(plain))


def decoded(node: Node, fcnt: int, fport: int | None, payload: bytes) -> Opened:
    """An authentic uplink's FRMPayload decoded by our codec (the error instead when it does not decode)."""
    if fport is None or fport == 0:
        error = f"no application payload (FPort {fport}): MAC commands only, answered by the network"
        return Opened(node, fcnt, fport, payload, None, error)
    try:
        return Opened(node, fcnt, fport, payload, decode_uplink(fport, payload), None)
    except CodecError as err:
        return Opened(node, fcnt, fport, payload, None, str(err))
