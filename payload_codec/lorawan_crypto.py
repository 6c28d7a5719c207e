"""What building and opening a LoRaWAN 1.0.x data frame share: keystream, MIC, argument checks, errors.

LoRaWAN L2 1.0.4 (TS001-1.0.4) sections 4.3.3 (encryption) and 4.4 (MIC);
RFC 4493 (AES-CMAC). payload_codec.lorawan (building, and every public name)
and payload_codec.lorawan_open (parsing and opening) both import this module
and not each other: a node only builds, and must be able to without loading
the opening half. Import the errors from payload_codec.lorawan.
"""

import struct

from .aes import cipher, encrypt_block
from .cmac import Cmac

FCNT_MAX = 0xFFFFFFFF  # FCnt is 32 bits (4.3.1.5): past it a node needs new session keys


class FrameError(ValueError):
    """A frame that is malformed, or not valid for the call."""


class MicError(FrameError):
    """The frame's MIC does not match its contents under this NwkSKey."""


class ReplayError(FrameError):
    """The frame's counter is not greater than the last accepted one."""


def check_key(key, name):
    if type(key) is not bytes and type(key) is not bytearray:
        raise FrameError("%s must be 16 bytes, not %s" % (name, type(key).__name__))
    if len(key) != 16:
        raise FrameError("%s must be 16 bytes, not %d" % (name, len(key)))


def check_u32(value, name):
    if type(value) is not int or value < 0 or value > FCNT_MAX:
        raise FrameError("%s must be an int in 0..4294967295, not %r" % (name, value))


def check_bytes(value, name):
    if type(value) is not bytes and type(value) is not bytearray and type(value) is not memoryview:
        raise FrameError("%s must be bytes, not %s" % (name, type(value).__name__))


def _block(prefix, direction, dev_addr, fcnt, last):
    """The A_i / B_0 block of 4.3.3 and 4.4: prefix | 0^4 | Dir | DevAddr | FCnt | 0 | last."""
    b = bytearray(16)
    b[0] = prefix
    b[5] = direction
    struct.pack_into("<II", b, 6, dev_addr, fcnt)
    b[15] = last
    return b


def crypt(key, direction, dev_addr, fcnt, buf, start, n):
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


def mic(nwk_skey, direction, dev_addr, fcnt, msg, n, out):
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
