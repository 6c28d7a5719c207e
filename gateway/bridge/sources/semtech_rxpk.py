"""One rxpk item of a Semtech PUSH_DATA (section 4 of the protocol) checked into a packet. No sockets.

gateway/bridge/sources/semtech_packets.py reads the datagram around it. Every
refusal names the first field that is wrong, quoting at most a few dozen
characters of it, so that a refused packet never costs more log than it
carried.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from typing import TypeGuard

from gateway.bridge.frame import Reception

# rxpk "stat" (section 4): the radio's CRC verdict. 0 means the packet had no CRC to check;
# LoRaWAN uplinks always carry one, so 0 is passed on as not failed and the MIC decides.
_CRC_OK = {1: True, 0: True, -1: False}

_DATR = re.compile(r"SF(\d{1,2})BW(\d{3})")  # LoRa data rate, e.g. "SF9BW125"
_SF_RANGE = range(5, 13)  # SX1302 demodulates SF5..SF12; SX1301 SF7..SF12
_BW_KHZ = (125, 250, 500)  # the SX130x concentrators' LoRa bandwidths
_FREQ_MHZ_MIN, _FREQ_MHZ_MAX = 100.0, 3000.0  # LoRa radios tune 137 MHz..2.5 GHz; a value in Hz lands far outside
_TMST_MAX = 0xFFFFFFFF  # tmst is a 32-bit microsecond counter

# Limits no real forwarder reaches, so that whatever breaks them costs us little (docs/semtech-udp.md, "Limits").
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


def parse_rxpk(item: object, gateway: str) -> RxPacket:
    """One rxpk object (section 4) into a packet; raise PacketError naming the first field that is wrong."""
    if not isinstance(item, dict):
        raise PacketError(f"is {json_type(item)}, not an object")
    _within_limits(item)
    sf, bw_khz, freq_mhz = _radio_settings(item)
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
    return RxPacket(_payload(item), rx)


def _within_limits(item: dict[str, object]) -> None:
    """Sizes first: a refused item costs no more than reading its lengths."""
    for key in _TEXT_FIELDS:
        text = item.get(key)
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise LimitError(f"{key} is {len(text)} characters, at most {MAX_TEXT}")
    data = item.get("data")
    if isinstance(data, str) and len(data) > _MAX_DATA:
        raise LimitError(f"data is {len(data)} characters of base64, more than a LoRa packet's {MAX_PHY} bytes")


def _radio_settings(item: dict[str, object]) -> tuple[int, int, float]:
    """(SF, bandwidth in kHz, frequency in MHz) of a LoRa reception."""
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
    return sf, bw_khz, freq_mhz


def _payload(item: dict[str, object]) -> bytes:
    """The PHYPayload from data (base64), checked against size."""
    data = item.get("data")
    if not isinstance(data, str):
        raise PacketError("data missing" if data is None else f"data is {json_type(data)}, not a base64 string")
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
    return phy


def no_constant(name: str) -> object:
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


def json_type(v: object) -> str:
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
