"""Parsing and opening LoRaWAN 1.0.x data frames: the receiving half of payload_codec.lorawan.

Import the public names from payload_codec.lorawan (parse_frame, open_uplink,
open_downlink), which load this module on first use. LoRaWAN L2 1.0.4,
sections 4.3.1 (FHDR, FCnt) and 4.4 (MIC). What it shares with the building
half is in lorawan_crypto.py.
"""

import struct

from micropython import const

from .lorawan_crypto import FCNT_MAX, FrameError, MicError, ReplayError, check_bytes, check_key, check_u32, crypt, mic

# MicroPython keeps `_NAME = const(...)` out of a module's globals, so the ones
# this half needs are repeated from lorawan.py rather than imported.
_MTYPE_UNCONFIRMED_UP = const(2)  # MHDR MType, 4.2
_MTYPE_CONFIRMED_DOWN = const(5)
_FCTRL_ADR = const(0x80)  # FCtrl, 4.3.1
_FCTRL_ACK = const(0x20)
_MIN_LEN = const(12)  # MHDR 1 + DevAddr 4 + FCtrl 1 + FCnt 2 + MIC 4
_MAX_LEN = const(255)  # the radio's largest PHYPayload
_MTYPES = (  # by MHDR MType (4.2): named only here, so a node that builds never holds the table
    "join_request",
    "join_accept",
    "unconfirmed_up",
    "unconfirmed_down",
    "confirmed_up",
    "confirmed_down",
    "rejoin_request",
    "proprietary",
)


def parse_frame(phy):
    """See payload_codec.lorawan.parse_frame."""
    check_bytes(phy, "a frame")
    n = len(phy)
    if n < _MIN_LEN:
        raise FrameError("frame too short: %d bytes, a data frame has at least %d" % (n, _MIN_LEN))
    if n > _MAX_LEN:
        raise FrameError("frame too long: %d bytes, at most %d" % (n, _MAX_LEN))
    mhdr = phy[0]
    if mhdr & 0x03:
        raise FrameError("MHDR 0x%02x: Major %d is not LoRaWAN R1 (0)" % (mhdr, mhdr & 0x03))
    mtype = mhdr >> 5
    if mtype < _MTYPE_UNCONFIRMED_UP or mtype > _MTYPE_CONFIRMED_DOWN:
        raise FrameError("not a data frame: MType %d (%s)" % (mtype, _MTYPES[mtype]))
    dev_addr, fctrl, fcnt16 = struct.unpack_from("<IBH", phy, 1)
    nopts = fctrl & 0x0F
    head = 8 + nopts
    if head > n - 4:
        raise FrameError("FOptsLen %d runs past the end of a %d-byte frame" % (nopts, n))
    fport = None
    if head < n - 4:
        fport = phy[head]
        if fport == 0 and nopts:
            raise FrameError("FPort 0 with %d bytes of FOpts: MAC commands may not be in both" % nopts)
        head += 1
    return {
        "mtype": _MTYPES[mtype],
        "dev_addr": dev_addr,
        "adr": bool(fctrl & _FCTRL_ADR),
        "ack": bool(fctrl & _FCTRL_ACK),
        "fctrl": fctrl,
        "fopts": bytes(phy[8 : 8 + nopts]),
        "fcnt16": fcnt16,
        "fport": fport,
        "frm_payload": bytes(phy[head : n - 4]),
        "mic": bytes(phy[n - 4 :]),
    }


def _same_mic(a, b):
    """Compare two 4-byte MICs in time that does not depend on where they differ."""
    diff = 0
    for i in range(4):
        diff |= a[i] ^ b[i]
    return diff == 0


def open_frame(phy, nwk_skey, app_skey, last_fcnt, direction, mtypes):
    """Check and decrypt a frame of one of mtypes sent in direction; see open_uplink."""
    check_key(nwk_skey, "nwk_skey")
    check_key(app_skey, "app_skey")
    if last_fcnt is not None:
        check_u32(last_fcnt, "last_fcnt")
    info = parse_frame(phy)
    if info["mtype"] not in mtypes:
        raise FrameError("expected %s, got a %s frame" % (" or ".join(mtypes), info["mtype"]))
    dev_addr = info["dev_addr"]
    fcnt16 = info["fcnt16"]
    n = len(phy)
    cmac = bytearray(16)

    def signed_with(fcnt):
        mic(nwk_skey, direction, dev_addr, fcnt, phy, n - 4, cmac)
        return _same_mic(cmac, info["mic"])

    # 4.3.1.5: only the low 16 bits travel. The frame's counter is the next one
    # after last_fcnt with those bits; if it does not sign but the one before
    # (at or below last_fcnt) does, the frame is an old one sent again.
    if last_fcnt is None:
        fcnt = fcnt16
    else:
        fcnt = (last_fcnt & 0xFFFF0000) | fcnt16
        if fcnt <= last_fcnt:
            fcnt += 0x10000
    if fcnt > FCNT_MAX or not signed_with(fcnt):
        if last_fcnt is not None and fcnt >= 0x10000 and signed_with(fcnt - 0x10000):
            raise ReplayError(
                "replay: DevAddr %08x FCnt %d is not greater than the last accepted %d"
                % (dev_addr, fcnt - 0x10000, last_fcnt)
            )
        raise MicError("MIC mismatch for DevAddr %08x FCnt %d" % (dev_addr, fcnt))
    fport = info["fport"]
    payload = bytearray(info["frm_payload"])
    if fport is not None:
        crypt(nwk_skey if fport == 0 else app_skey, direction, dev_addr, fcnt, payload, 0, len(payload))
    return fcnt, fport, bytes(payload)
