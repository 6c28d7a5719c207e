"""Semtech UDP packet forwarder datagrams: parsing what gateways send, building what we answer. No sockets.

Reference: Semtech's "Basic communication protocol between LoRa gateway and
Network Server", protocol version 2 (Lora-net/sx1302_hal packet_forwarder/PROTOCOL.md;
Lora-net/packet_forwarder PROTOCOL.TXT for version 1, whose upstream layout is
the same). Section numbers below are that document's.

Every datagram starts `version | token (2 bytes) | identifier`. The token is
random and only ever echoed, so its byte order does not matter; it is read big-endian
and written back the same way, which restores the original two bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gateway.bridge.sources.semtech_rxpk import (
    MAX_TEXT,
    LimitError,
    PacketError,
    RxPacket,
    json_type,
    no_constant,
    parse_rxpk,
)

_VERSIONS = (1, 2)  # 1: packet_forwarder before the TX_ACK was added; upstream datagrams are laid out alike

# Identifiers, byte 3 (sections 3 and 5)
_ID_PUSH_DATA = 0x00  # gateway -> server: rxpk and/or stat JSON
_ID_PUSH_ACK = 0x01  # server -> gateway
_ID_PULL_DATA = 0x02  # gateway -> server: keep-alive that opens the downlink route through NAT
_ID_PULL_RESP = 0x03  # server -> gateway: a txpk to send
_ID_PULL_ACK = 0x04  # server -> gateway
_ID_TX_ACK = 0x05  # gateway -> server: a PULL_RESP was accepted or refused (version 2 only)

_SERVER_TO_GATEWAY = {_ID_PUSH_ACK: "PUSH_ACK", _ID_PULL_RESP: "PULL_RESP", _ID_PULL_ACK: "PULL_ACK"}

_HEADER_LEN = 4  # version, token, identifier
_EUI_HEADER_LEN = 12  # ... then the gateway EUI, 8 bytes

# Limits no real forwarder reaches, so that whatever breaks them costs us little (docs/semtech-udp.md, "Limits").
# lora_pkt_fwd (sx1302_hal) fetches at most NB_PKT_MAX = 255 packets per datagram, the SX1301
# packet_forwarder 8; a busy SX1302 gateway sends a few dozen at most.
MAX_RXPK = 255


@dataclass(frozen=True)
class PushData:
    version: int
    token: int
    gateway: str  # EUI, 16 lowercase hex digits
    rxpk: tuple[RxPacket | str, ...]  # one per rxpk item, in order: the packet, or why it was refused
    stat: dict[str, object] | None  # the gateway's status report, as sent
    oversize: int = 0  # how many of the refused items broke a size limit (LimitError) rather than a rule


@dataclass(frozen=True)
class PullData:
    version: int
    token: int
    gateway: str


@dataclass(frozen=True)
class TxAck:
    version: int
    token: int
    gateway: str
    error: str | None  # txpk_ack.error when the gateway refused a downlink ("NONE" counts as no error)


def push_ack(token: int, version: int = 2) -> bytes:
    """PUSH_ACK (3.3): answer a PUSH_DATA with its own version and token."""
    return _header(version, token, _ID_PUSH_ACK)


def pull_ack(token: int, version: int = 2) -> bytes:
    """PULL_ACK (5.3): answer a PULL_DATA with its own version and token."""
    return _header(version, token, _ID_PULL_ACK)


def pull_resp(token: int, version: int, txpk: dict[str, object]) -> bytes:
    """PULL_RESP (5.4): a txpk for the gateway to send, to the address of its last PULL_DATA."""
    return _header(version, token, _ID_PULL_RESP) + json.dumps({"txpk": txpk}, separators=(",", ":")).encode()


def _header(version: int, token: int, identifier: int) -> bytes:
    return bytes((version,)) + token.to_bytes(2, "big") + bytes((identifier,))


def parse_datagram(data: bytes) -> PushData | PullData | TxAck:
    """Parse one datagram a gateway sent; raise PacketError when it cannot be used at all.

    A PUSH_DATA whose envelope is sound is returned even when some of its rxpk
    items are not: those become error strings in `rxpk`, so one bad packet does
    not cost the others heard in the same datagram.
    """
    if len(data) < _HEADER_LEN:
        raise PacketError(f"too short: {len(data)} bytes, the header alone is {_HEADER_LEN}")
    version, identifier = data[0], data[3]
    if version not in _VERSIONS:
        raise PacketError(f"unknown protocol version {version}, expected 1 or 2")
    token = int.from_bytes(data[1:3], "big")
    if identifier in _SERVER_TO_GATEWAY:
        raise PacketError(f"{_SERVER_TO_GATEWAY[identifier]} (0x{identifier:02x}) is sent by servers, not gateways")
    if identifier not in (_ID_PUSH_DATA, _ID_PULL_DATA, _ID_TX_ACK):
        raise PacketError(f"unknown identifier 0x{identifier:02x}")
    name = {_ID_PUSH_DATA: "PUSH_DATA", _ID_PULL_DATA: "PULL_DATA", _ID_TX_ACK: "TX_ACK"}[identifier]
    if len(data) < _EUI_HEADER_LEN:
        raise PacketError(f"{name} too short: {len(data)} bytes, the header with the gateway EUI is {_EUI_HEADER_LEN}")
    gateway = data[4:12].hex()
    body = data[12:]

    if identifier == _ID_PULL_DATA:
        if body:
            raise PacketError(f"PULL_DATA is {_EUI_HEADER_LEN} bytes, this one has {len(body)} more")
        return PullData(version, token, gateway)

    if identifier == _ID_TX_ACK:
        # 5.5: the JSON is optional; none at all means the downlink was accepted.
        error = None
        if body.rstrip(b"\x00"):
            root = _json_object(body, name)
            ack = root.get("txpk_ack")
            if isinstance(ack, dict) and isinstance(ack.get("error"), str) and ack["error"] != "NONE":
                error = ack["error"][:MAX_TEXT]
        return TxAck(version, token, gateway, error)

    root = _json_object(body, name)
    items = root.get("rxpk", [])
    if not isinstance(items, list):
        raise PacketError(f"rxpk is {json_type(items)}, not an array")
    if len(items) > MAX_RXPK:
        # Refused whole, before any item is looked at: a forwarder never sends this many, and one
        # error line per item would make the log many times larger than the datagram.
        raise LimitError(f"{len(items)} rxpk items, at most {MAX_RXPK}")
    stat = root.get("stat")
    if stat is not None and not isinstance(stat, dict):
        raise PacketError(f"stat is {json_type(stat)}, not an object")
    results: list[RxPacket | str] = []
    oversize = 0
    for i, item in enumerate(items):
        try:
            results.append(parse_rxpk(item, gateway))
        except PacketError as err:
            oversize += isinstance(err, LimitError)
            results.append(f"rxpk[{i}]: {err}")
    return PushData(version, token, gateway, tuple(results), stat, oversize)


def _json_object(body: bytes, name: str) -> dict[str, object]:
    # Some forwarders send the C string's terminating NUL along with the JSON.
    text = body.rstrip(b"\x00")
    if not text:
        raise PacketError(f"{name} carries no JSON")
    try:
        root = json.loads(text, parse_constant=no_constant)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError; deep nesting recurses
        raise PacketError(f"{name} JSON: {err}") from None
    if not isinstance(root, dict):
        raise PacketError(f"{name} JSON is {json_type(root)}, not an object")
    return root
