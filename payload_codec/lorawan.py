"""LoRaWAN 1.0.x data frames: build, parse, check and decrypt.

Specification: LoRaWAN L2 1.0.4 (TS001-1.0.4), section 4 (MAC message
formats) and section 4.3.3 / 4.4 (encryption, MIC). docs/frames.md explains the
counter rules and key handling. Only AES-128 ECB is used (payload_codec.aes);
the MIC is AES-CMAC (payload_codec.cmac).
"""

import struct

from micropython import const

from .aes import cipher, encrypt_block
from .cmac import Cmac

# MHDR (4.2): MType in bits 7..5, Major (0 = LoRaWAN R1) in bits 1..0.
_MTYPE_UNCONFIRMED_UP = const(2)
_MTYPE_UNCONFIRMED_DOWN = const(3)
_MTYPE_CONFIRMED_UP = const(4)
_MTYPE_CONFIRMED_DOWN = const(5)
_MTYPES = (
    "join_request",
    "join_accept",
    "unconfirmed_up",
    "unconfirmed_down",
    "confirmed_up",
    "confirmed_down",
    "rejoin_request",
    "proprietary",
)

# FCtrl (4.3.1): the same bit positions up and down; bit 6 is ADRACKReq up
# (RFU down), bit 4 is ClassB up and FPending down.
_FCTRL_ADR = const(0x80)
_FCTRL_ADR_ACK_REQ = const(0x40)
_FCTRL_ACK = const(0x20)
_FCTRL_BIT4 = const(0x10)

_DIR_UP = const(0)
_DIR_DOWN = const(1)
_MIN_LEN = const(12)  # MHDR 1 + DevAddr 4 + FCtrl 1 + FCnt 2 + MIC 4
_MAX_LEN = const(255)  # the radio's largest PHYPayload
_FCNT_MAX = 0xFFFFFFFF


class FrameError(ValueError):
    """A frame that is malformed, or not valid for the call."""


class MicError(FrameError):
    """The frame's MIC does not match its contents under this NwkSKey."""


class ReplayError(FrameError):
    """The frame's counter is not greater than the last accepted one."""


def _check_key(key, name):
    if type(key) is not bytes and type(key) is not bytearray:
        raise FrameError("%s must be 16 bytes, not %s" % (name, type(key).__name__))
    if len(key) != 16:
        raise FrameError("%s must be 16 bytes, not %d" % (name, len(key)))


def _check_u32(value, name):
    if type(value) is not int or value < 0 or value > _FCNT_MAX:
        raise FrameError("%s must be an int in 0..4294967295, not %r" % (name, value))


def _block(prefix, direction, dev_addr, fcnt, last):
    """The A_i / B_0 block of 4.3.3 and 4.4: prefix | 0^4 | Dir | DevAddr | FCnt | 0 | last."""
    b = bytearray(16)
    b[0] = prefix
    b[5] = direction
    struct.pack_into("<II", b, 6, dev_addr, fcnt)
    b[15] = last
    return b


def _crypt(key, direction, dev_addr, fcnt, buf, start, n):
    """XOR buf[start:start+n] in place with the FRMPayload keystream (4.3.3)."""
    c = cipher(key)
    a = _block(0x01, direction, dev_addr, fcnt, 0)
    s = bytearray(16)
    i = 0
    while i < n:
        a[15] = (i >> 4) + 1
        encrypt_block(c, a, s)
        for j in range(16 if n - i > 16 else n - i):
            buf[start + i + j] ^= s[j]
        i += 16


def _mic(nwk_skey, direction, dev_addr, fcnt, msg, n, out):
    """Write the 16-byte CMAC of B_0 | msg[:n] into out; the MIC is its first 4 bytes (4.4)."""
    _cmac(nwk_skey).mac(_block(0x49, direction, dev_addr, fcnt, n), msg, n, out)


_cmacs = {}


def _cmac(key):
    """One Cmac per key, so its subkeys are derived once (bounded like the cipher cache)."""
    m = _cmacs.get(key)
    if m is None:
        if len(_cmacs) >= 8:
            _cmacs.clear()
        m = Cmac(key)
        _cmacs[bytes(key)] = m
    return m


def _check_bytes(value, name):
    if type(value) is not bytes and type(value) is not bytearray and type(value) is not memoryview:
        raise FrameError("%s must be bytes, not %s" % (name, type(value).__name__))


def _build(mtype, direction, dev_addr, fcnt, fport, payload, nwk_skey, app_skey, fctrl, fopts):
    _check_bytes(payload, "payload")
    _check_bytes(fopts, "fopts")
    _check_u32(dev_addr, "dev_addr")
    _check_u32(fcnt, "fcnt")
    _check_key(nwk_skey, "nwk_skey")
    _check_key(app_skey, "app_skey")
    nopts = len(fopts)
    if nopts > 15:
        raise FrameError("fopts is %d bytes, at most 15 fit in FOptsLen" % nopts)
    if fport is None:
        if len(payload):
            raise FrameError("a payload needs an fport")
    elif type(fport) is not int or fport < 0 or fport > 224:
        raise FrameError("fport %r is out of range 0..224 (225..255 are reserved)" % (fport,))
    elif fport == 0 and nopts:
        raise FrameError("fport 0 carries MAC commands in the payload: fopts must be empty")
    head = 8 + nopts + (0 if fport is None else 1)
    n = head + len(payload) + 4
    if n > _MAX_LEN:
        raise FrameError("frame would be %d bytes, more than %d" % (n, _MAX_LEN))
    phy = bytearray(n)
    phy[0] = mtype << 5
    struct.pack_into("<IBH", phy, 1, dev_addr, fctrl | nopts, fcnt & 0xFFFF)
    phy[8 : 8 + nopts] = fopts
    if fport is not None:
        phy[head - 1] = fport
        phy[head : n - 4] = payload
        _crypt(nwk_skey if fport == 0 else app_skey, direction, dev_addr, fcnt, phy, head, len(payload))
    mic = bytearray(16)
    _mic(nwk_skey, direction, dev_addr, fcnt, phy, n - 4, mic)
    phy[n - 4 :] = mic[:4]
    return bytes(phy)


def build_uplink(dev_addr, fcnt, fport, payload, nwk_skey, app_skey, confirmed=False, adr=False, fopts=b""):
    """Build an uplink data frame; return its PHYPayload bytes.

    fcnt is the full 32-bit counter: its low 16 bits travel, all 32 enter the
    MIC and the keystream. The caller must have persisted fcnt before sending.
    """
    mtype = _MTYPE_CONFIRMED_UP if confirmed else _MTYPE_UNCONFIRMED_UP
    fctrl = _FCTRL_ADR if adr else 0
    return _build(mtype, _DIR_UP, dev_addr, fcnt, fport, payload, nwk_skey, app_skey, fctrl, fopts)


def build_downlink(
    dev_addr, fcnt, fport, payload, nwk_skey, app_skey, confirmed=False, adr=False, ack=False, fpending=False, fopts=b""
):
    """Build a downlink data frame; return its PHYPayload bytes."""
    mtype = _MTYPE_CONFIRMED_DOWN if confirmed else _MTYPE_UNCONFIRMED_DOWN
    fctrl = (_FCTRL_ADR if adr else 0) | (_FCTRL_ACK if ack else 0) | (_FCTRL_BIT4 if fpending else 0)
    return _build(mtype, _DIR_DOWN, dev_addr, fcnt, fport, payload, nwk_skey, app_skey, fctrl, fopts)


# Parsing and opening frames live in lorawan_open.py, loaded on first use: a node
# only builds uplinks, and on its heap the opening code would cost about 5 KB.


def parse_frame(phy):
    """Split a data frame into its fields without keys; the payload stays encrypted.

    Returns a dict: mtype (name), dev_addr, adr, ack, fctrl (the raw byte),
    fopts, fcnt16, fport (None when absent), frm_payload, mic.
    """
    from .lorawan_open import parse_frame as parse

    return parse(phy)


def open_uplink(phy, nwk_skey, app_skey, last_fcnt=None):
    """Check and decrypt an uplink; return (fcnt, fport, plaintext).

    last_fcnt is the last counter accepted from this device, or None for its
    first frame (then the high 16 bits are taken as 0). Raises ReplayError,
    MicError or FrameError; nothing else, whatever the bytes.
    """
    from .lorawan_open import open_frame

    return open_frame(phy, nwk_skey, app_skey, last_fcnt, _DIR_UP, ("unconfirmed_up", "confirmed_up"))


def open_downlink(phy, nwk_skey, app_skey, last_fcnt=None):
    """Check and decrypt a downlink; return (fcnt, fport, plaintext). As open_uplink."""
    from .lorawan_open import open_frame

    return open_frame(phy, nwk_skey, app_skey, last_fcnt, _DIR_DOWN, ("unconfirmed_down", "confirmed_down"))
