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

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import TypeGuard

from gateway.bridge.frame import Reception

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

# rxpk "stat" (section 4): the radio's CRC verdict. 0 means the packet had no CRC to check;
# LoRaWAN uplinks always carry one, so 0 is passed on as not failed and the MIC decides.
_CRC_OK = {1: True, 0: True, -1: False}

_DATR = re.compile(r"SF(\d{1,2})BW(\d{3})")  # LoRa data rate, e.g. "SF9BW125"
_SF_RANGE = range(5, 13)  # SX1302 demodulates SF5..SF12; SX1301 SF7..SF12
_BW_KHZ = (125, 250, 500)  # the SX130x concentrators' LoRa bandwidths
_FREQ_MHZ_MIN, _FREQ_MHZ_MAX = 100.0, 3000.0  # LoRa radios tune 137 MHz..2.5 GHz; a value in Hz lands far outside
_TMST_MAX = 0xFFFFFFFF  # tmst is a 32-bit microsecond counter

# Limits no real forwarder reaches, so that whatever breaks them costs us little (docs/semtech-udp.md, "Limits").
# lora_pkt_fwd (sx1302_hal) fetches at most NB_PKT_MAX = 255 packets per datagram, the SX1301
# packet_forwarder 8; a busy SX1302 gateway sends a few dozen at most.
MAX_RXPK = 255
# Strings we read or keep: "2024-05-01T06:30:00.123456Z" is 27 characters, "SF12BW500" 9, "4/5" 3.
MAX_TEXT = 64
_TEXT_FIELDS = ("modu", "datr", "codr", "time")
MAX_PHY = 255  # bytes: the most a LoRa packet carries
_MAX_DATA = 4 * ((MAX_PHY + 2) // 3)  # its base64 text, padded
_SHOWN = 40  # characters of a refused value quoted in an error: enough to recognise it, never the whole


class PacketError(ValueError):
    """A datagram that cannot be understood as a whole; it is counted and not acknowledged."""


class LimitError(PacketError):
    """A datagram or rxpk item beyond a size limit that real forwarders stay far within."""


@dataclass(frozen=True)
class RxPacket:
    """One good rxpk: what an UplinkFrame needs besides its source and receive time."""

    phy: bytes
    rx: Reception


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
        raise PacketError(f"rxpk is {_json_type(items)}, not an array")
    if len(items) > MAX_RXPK:
        # Refused whole, before any item is looked at: a forwarder never sends this many, and one
        # error line per item would make the log many times larger than the datagram.
        raise LimitError(f"{len(items)} rxpk items, at most {MAX_RXPK}")
    stat = root.get("stat")
    if stat is not None and not isinstance(stat, dict):
        raise PacketError(f"stat is {_json_type(stat)}, not an object")
    results: list[RxPacket | str] = []
    oversize = 0
    for i, item in enumerate(items):
        try:
            results.append(parse_rxpk(item, gateway))
        except PacketError as err:
            oversize += isinstance(err, LimitError)
            results.append(f"rxpk[{i}]: {err}")
    return PushData(version, token, gateway, tuple(results), stat, oversize)


def parse_rxpk(item: object, gateway: str) -> RxPacket:
    """One rxpk object (section 4) into a packet; raise PacketError naming the first field that is wrong."""
    if not isinstance(item, dict):
        raise PacketError(f"is {_json_type(item)}, not an object")
    for key in _TEXT_FIELDS:
        text = item.get(key)
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise LimitError(f"{key} is {len(text)} characters, at most {MAX_TEXT}")
    data = item.get("data")
    if isinstance(data, str) and len(data) > _MAX_DATA:
        raise LimitError(f"data is {len(data)} characters of base64, more than a LoRa packet's {MAX_PHY} bytes")

    modu = item.get("modu")
    if modu != "LORA":
        # FSK packets are not LoRaWAN uplinks from our nodes; refused like any bad field, but named.
        if modu == "FSK":
            raise PacketError("modu 'FSK' is not supported, only 'LORA'")
        raise PacketError(f"modu {_show(modu)}, not 'LORA'")

    datr = item.get("datr")
    match = _DATR.fullmatch(datr) if isinstance(datr, str) else None
    if match is None:
        raise PacketError(f"datr {_show(datr)}, not like 'SF9BW125'")
    sf, bw_khz = int(match[1]), int(match[2])
    if sf not in _SF_RANGE or bw_khz not in _BW_KHZ:
        raise PacketError(f"datr {datr!r}: SF{sf} or BW{bw_khz} is not a LoRa setting of a concentrator")

    freq_mhz = _number(item, "freq")
    if not _FREQ_MHZ_MIN <= freq_mhz <= _FREQ_MHZ_MAX:
        raise PacketError(f"freq {freq_mhz!r} is not a LoRa frequency in MHz")

    crc = item.get("stat")
    if not _is_int(crc) or crc not in _CRC_OK:
        raise PacketError(f"stat {_show(crc)}, not 1, 0 or -1")

    # rssis (SX1302) is the packet's own signal strength; rssi there is the whole channel's.
    rssi_dbm = _number(item, "rssis") if "rssis" in item else _number(item, "rssi")
    snr_db = _number(item, "lsnr")

    tmst = item.get("tmst")
    if tmst is not None and (not _is_int(tmst) or not 0 <= tmst <= _TMST_MAX):
        raise PacketError(f"tmst {_show(tmst)}, not a 32-bit unsigned counter")
    time = item.get("time")
    if time is not None and not isinstance(time, str):
        raise PacketError(f"time {_show(time)}, not a string")

    if not isinstance(data, str):
        raise PacketError("data missing" if data is None else f"data is {_json_type(data)}, not a base64 string")
    try:
        # 4 says "padded", but the example packets in the same document are not: accept both.
        phy = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError) as err:
        raise PacketError(f"data is not base64: {err}") from None
    if not phy:
        raise PacketError("data is empty")
    size = item.get("size")
    if size is not None and (not _is_int(size) or size != len(phy)):
        raise PacketError(f"size {_show(size)} but data decodes to {len(phy)} bytes")

    rx = Reception(
        gateway=gateway,
        rssi_dbm=rssi_dbm,
        snr_db=snr_db,
        freq_hz=round(freq_mhz * 1_000_000),
        sf=sf,
        bw_khz=bw_khz,
        crc_ok=_CRC_OK[crc],
        gateway_time=time or None,
        counter_us=tmst,
    )
    return RxPacket(phy, rx)


def _json_object(body: bytes, name: str) -> dict[str, object]:
    # Some forwarders send the C string's terminating NUL along with the JSON.
    text = body.rstrip(b"\x00")
    if not text:
        raise PacketError(f"{name} carries no JSON")
    try:
        root = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError; deep nesting recurses
        raise PacketError(f"{name} JSON: {err}") from None
    if not isinstance(root, dict):
        raise PacketError(f"{name} JSON is {_json_type(root)}, not an object")
    return root


def _no_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity, which are not JSON and have no place in a reception.
    raise ValueError(f"{name} is not a JSON number")


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(item: dict[str, object], key: str) -> float:
    v = item.get(key)
    if v is None:
        raise PacketError(f"{key} missing")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PacketError(f"{key} {_show(v)}, not a number")
    try:
        f = float(v)
    except OverflowError:  # an integer too large for a float
        f = math.inf
    if not math.isfinite(f):
        raise PacketError(f"{key} {_show(v)} is out of range")
    return f


def _show(v: object) -> str:
    """repr(v) for an error message, cut short: a refused value must not make the log larger than the input."""
    text = repr(v)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 10]}... ({len(text)} characters)"


def _json_type(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"
