"""A network server's uplink message, read into a ServerUplink: The Things Stack's and ChirpStack v4's JSON.

The Things Stack (its "Data Formats" page; lorawan-stack's messages.proto): snake_case,
fields that are 0, "" or false left out (so f_cnt 0 and f_port 0 are absent), EUIs in
upper-case hex, frm_payload base64, settings.frequency a string. ChirpStack v4
(integration.proto, JSON as its MQTT integration sends it): camelCase, bytes base64,
deviceInfo.devEui lower-case hex, times with +00:00. Only the raw FRMPayload is taken
(never the server's decoded object) with the counter, the DevAddr and each gateway's
reception. A message that is not what it should be raises MessageError, which the
source counts; nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from gateway.bridge.frame import MAX_RECEPTIONS, Reception, ServerUplink

MAX_MESSAGE = 64 * 1024  # one uplink's JSON with 16 gateways' metadata is a few KB
_FRACTION = re.compile(r"(\.\d{6})\d+")  # nanoseconds: Python's datetime keeps microseconds


class MessageError(ValueError):
    """A message that cannot be an uplink of ours; the text says what is wrong with it."""


def _get(obj: object, path: str, default: object = None) -> object:
    for key in path.split("."):
        if not isinstance(obj, Mapping):
            return default
        obj = obj.get(key, default)
    return obj


def _int(value: object, what: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    try:
        return int(str(value))  # The Things Stack writes 64-bit numbers as strings
    except ValueError:
        raise MessageError(f"{what} is not a whole number: {str(value)[:40]!r}") from None


def _hex(value: object, nbytes: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raw = b""
    if len(raw) != nbytes:
        raise MessageError(f"{what} is not {2 * nbytes} hex digits: {str(value)[:40]!r}")
    return raw


def _b64(value: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        raise MessageError(f"{what} is not base64") from None


def _time(value: object, what: str) -> datetime:
    try:
        t = datetime.fromisoformat(_FRACTION.sub(r"\1", str(value)).replace("Z", "+00:00"))
    except ValueError:
        raise MessageError(f"{what} is not an ISO 8601 time: {str(value)[:40]!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _load(raw: bytes) -> Mapping[str, object]:
    if len(raw) > MAX_MESSAGE:
        raise MessageError(f"a message of {len(raw)} bytes, more than {MAX_MESSAGE}")
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MessageError("not JSON") from None
    if not isinstance(msg, dict):
        raise MessageError("not a JSON object")
    return msg


def tts_uplink(raw: bytes) -> ServerUplink:
    """An uplink message from The Things Stack (MQTT `v3/{app}@{tenant}/devices/{id}/up`)."""
    msg = _load(raw)
    up = msg.get("uplink_message")
    if not isinstance(up, dict):
        raise MessageError("no uplink_message: not an uplink")
    dev_eui = _hex(_get(msg, "end_device_ids.dev_eui"), 8, "end_device_ids.dev_eui")
    dev_addr = int.from_bytes(_hex(_get(msg, "end_device_ids.dev_addr"), 4, "end_device_ids.dev_addr"), "big")
    fcnt = _int(up.get("f_cnt"), "f_cnt", 0)
    at = _time(up.get("received_at") or msg.get("received_at"), "received_at")
    lora = _get(up, "settings.data_rate.lora", {})
    freq = _int(_get(up, "settings.frequency"), "settings.frequency", 0)
    sf = _int(_get(lora, "spreading_factor"), "spreading_factor", 0)
    bw = _int(_get(lora, "bandwidth"), "bandwidth", 125000) // 1000
    receptions = [
        _reception("rx_metadata", _get(rx, "gateway_ids.eui") or _get(rx, "gateway_ids.gateway_id"),
                   _get(rx, "rssi", _get(rx, "channel_rssi", 0)), _get(rx, "snr", 0), _get(rx, "time"), freq, sf, bw)
        for rx in up.get("rx_metadata") or []
    ]  # fmt: skip
    key = f"ttn:{dev_eui.hex()}:{up.get('session_key_id', '')}:{fcnt}:{up.get('received_at', '')}"
    return _uplink("ttn", key, dev_eui, dev_addr, fcnt, up.get("f_port"), _b64(up.get("frm_payload"), "frm_payload"),
                   receptions, at)  # fmt: skip


def chirpstack_uplink(raw: bytes) -> ServerUplink:
    """An up event from ChirpStack v4 (MQTT `application/{id}/device/{dev_eui}/event/up`, JSON)."""
    msg = _load(raw)
    dedup = msg.get("deduplicationId")
    if not dedup or not isinstance(msg.get("deviceInfo"), dict):
        raise MessageError("no deduplicationId or deviceInfo: not an up event")
    dev_eui = _hex(_get(msg, "deviceInfo.devEui"), 8, "deviceInfo.devEui")
    dev_addr = int.from_bytes(_hex(msg.get("devAddr"), 4, "devAddr"), "big")
    fcnt = _int(msg.get("fCnt"), "fCnt", 0)
    lora = _get(msg, "txInfo.modulation.lora", {})
    freq = _int(_get(msg, "txInfo.frequency"), "txInfo.frequency", 0)
    sf = _int(_get(lora, "spreadingFactor"), "spreadingFactor", 0)
    bw = _int(_get(lora, "bandwidth"), "bandwidth", 125000) // 1000
    receptions = [
        _reception(
            "rxInfo", _get(rx, "gatewayId"), _get(rx, "rssi", 0), _get(rx, "snr", 0), _get(rx, "gwTime"), freq, sf, bw
        )
        for rx in msg.get("rxInfo") or []
    ]
    return _uplink("chirpstack", f"chirpstack:{dedup}", dev_eui, dev_addr, fcnt, msg.get("fPort"),
                   _b64(msg.get("data"), "data"), receptions, _time(msg.get("time"), "time"))  # fmt: skip


def _number(value: object, what: str) -> float:
    try:
        number = float(str(value))  # a number, or one written as a string
    except ValueError:
        number = math.nan
    if not math.isfinite(number):  # "nan" and "inf" parse, but would put the receptions in no order
        raise MessageError(f"{what} is not a number: {str(value)[:40]!r}")
    return number


def _reception(where: str, gateway: object, rssi: object, snr: object, when: object, freq: int, sf: int,
               bw: int) -> Reception:  # fmt: skip
    """One gateway's reception from a server's metadata (where: its list's key): its id in lower case, "?" when
    it gives none."""
    return Reception(str(gateway or "?").lower(), _number(rssi, f"{where} rssi"), _number(snr, f"{where} snr"),
                     freq, sf, bw, gateway_time=None if when is None else str(when))  # fmt: skip


def _uplink(source: str, key: str, dev_eui: bytes, dev_addr: int, fcnt: int, fport: object, payload: bytes,
            receptions: list[Reception], at: datetime) -> ServerUplink:  # fmt: skip
    port = _int(fport, "FPort", 0)
    if not 0 <= port <= 255 or not 0 <= fcnt < 1 << 32:
        raise MessageError(f"FPort {port} or FCnt {fcnt} out of range")
    kept = tuple(sorted(receptions, key=lambda r: -r.snr_db)[:MAX_RECEPTIONS])
    best = kept[0] if kept else Reception(source, 0.0, 0.0, 0, 0, 125)
    return ServerUplink(phy=key.encode()[:200], rx=best, source=source, received_at=at, dev_eui=dev_eui,
                        dev_addr=dev_addr, fcnt=fcnt, fport=port or None, payload=payload,
                        receptions=kept)  # fmt: skip
