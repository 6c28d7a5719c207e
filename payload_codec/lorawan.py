"""LoRaWAN 1.0.x data frames: build, parse, check and decrypt.

Specification: LoRaWAN L2 1.0.4 (TS001-1.0.4), section 4 (MAC message
formats) and section 4.3.3 / 4.4 (encryption, MIC). docs/frames.md explains the
counter rules and key handling. Only AES-128 ECB is used (payload_codec.aes);
the MIC is AES-CMAC (payload_codec.cmac). Keystream, MIC, argument checks and
errors are in lorawan_crypto.py, which the opening half shares.
"""

import struct

from micropython import const

from .lorawan_crypto import FrameError, check_bytes, check_key, check_u32, crypt, mic

# The errors are part of this module's API wherever they are defined.
from .lorawan_crypto import MicError as MicError
from .lorawan_crypto import ReplayError as ReplayError

# MHDR (4.2): MType in bits 7..5, Major (0 = LoRaWAN R1) in bits 1..0.
_MTYPE_UNCONFIRMED_UP = const(2)
_MTYPE_UNCONFIRMED_DOWN = const(3)
_MTYPE_CONFIRMED_UP = const(4)
_MTYPE_CONFIRMED_DOWN = const(5)

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


def _build(mtype, direction, dev_addr, fcnt, fport, payload, nwk_skey, app_skey, fctrl, fopts):
    check_bytes(payload, "payload")
    check_bytes(fopts, "fopts")
    check_u32(dev_addr, "dev_addr")
    check_u32(fcnt, "fcnt")
    check_key(nwk_skey, "nwk_skey")
    check_key(app_skey, "app_skey")
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
        crypt(nwk_skey if fport == 0 else app_skey, direction, dev_addr, fcnt, phy, head, len(payload))
    cmac = bytearray(16)
    mic(nwk_skey, direction, dev_addr, fcnt, phy, n - 4, cmac)
    phy[n - 4 :] = cmac[:4]
    return bytes(phy)


def build_uplink(
    dev_addr,
    fcnt,
    fport,
    payload,
    nwk_skey,
    app_skey,
    confirmed=False,
    adr=False,
    fopts=b"",
    ack=False,
    adr_ack_req=False,
):
    """Build an uplink data frame; return its PHYPayload bytes.

    fcnt is the full 32-bit counter: its low 16 bits travel, all 32 enter the
    MIC and the keystream. The caller must have persisted fcnt before sending.
    ack acknowledges a confirmed downlink; adr_ack_req asks the network to answer (ADR back-off).
    """
    mtype = _MTYPE_CONFIRMED_UP if confirmed else _MTYPE_UNCONFIRMED_UP
    fctrl = (_FCTRL_ADR if adr else 0) | (_FCTRL_ACK if ack else 0) | (_FCTRL_ADR_ACK_REQ if adr_ack_req else 0)
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
