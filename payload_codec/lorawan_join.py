"""LoRaWAN 1.0.x over-the-air activation, the device's side: JoinRequest out, JoinAccept in, session keys.

LoRaWAN L2 1.0.4 (TS001-1.0.4) section 6.2; the EU868 CFList from RP002.
A device builds the request and opens the accept; the network's side (open
the request, build the accept) is payload_codec/lorawan_join_server.py, so
that a joining node's heap does not hold it. EUIs are given and returned as
8 bytes in the order people write them (70B3D57ED00000DC), and go on the air
reversed; every other field is little-endian on the air.
"""

from micropython import const

from .aes import cipher, encrypt_block
from .cmac import Cmac
from .lorawan_crypto import FrameError, MicError, check_key

_JOIN_REQUEST = const(0x00)  # MHDR: MType 000, Major 00
_JOIN_ACCEPT = const(0x20)  # MHDR: MType 001, Major 00
_REQUEST_LEN = const(23)  # MHDR | JoinEUI 8 | DevEUI 8 | DevNonce 2 | MIC 4
_ACCEPT_LEN = const(17)  # MHDR | JoinNonce 3 | NetID 3 | DevAddr 4 | DLSettings | RxDelay | MIC 4
_CFLIST_LEN = const(16)  # EU868: five channels of 3 bytes, 0, CFListType


def join_mic(key, data):
    """The 4-byte MIC of a join message: AES-CMAC under the AppKey, truncated (6.2.2, 6.2.3)."""
    out = bytearray(16)
    Cmac(key).mac(None, data, len(data), out)
    return bytes(out[:4])


def eui_on_air(value, name):
    """An EUI as written (8 bytes, most significant first), reversed for the air."""
    if (type(value) is not bytes and type(value) is not bytearray) or len(value) != 8:
        raise FrameError("%s must be 8 bytes" % name)
    return bytes(reversed(value))


def field_uint(value, name, top):
    """value when it is an int in 0..top; FrameError naming the field if not."""
    if type(value) is not int or value < 0 or value > top:
        raise FrameError("%s must be an int in 0..%d, not %r" % (name, top, value))
    return value


# ------------------------------------------------------------------ JoinRequest


def build_join_request(join_eui, dev_eui, dev_nonce, app_key):
    """The 23-byte JoinRequest (6.2.2); dev_nonce is the 1.0.4 counter, never reused for this JoinEUI."""
    check_key(app_key, "AppKey")
    msg = bytearray(_REQUEST_LEN)
    msg[0] = _JOIN_REQUEST
    msg[1:9] = eui_on_air(join_eui, "JoinEUI")
    msg[9:17] = eui_on_air(dev_eui, "DevEUI")
    msg[17:19] = field_uint(dev_nonce, "DevNonce", 0xFFFF).to_bytes(2, "little")
    msg[19:23] = join_mic(app_key, bytes(msg[:19]))
    return bytes(msg)


# ------------------------------------------------------------------ JoinAccept


def open_join_accept(phy, app_key, dev_nonce):
    """A JoinAccept read as the device reads it: a dict of its fields and the session keys it gives.

    Keys: join_nonce, net_id, dev_addr (ints), rx1_dr_offset, rx2_data_rate, rx_delay_s (0 on the air is 1),
    cflist (a list of five frequencies in Hz, 0 for none, or None), nwk_skey, app_skey. MicError if the
    MIC does not agree with app_key. Checking that join_nonce was not seen before is the caller's: it
    alone knows the last one.
    """
    check_key(app_key, "AppKey")
    if type(phy) is not bytes and type(phy) is not bytearray:
        raise FrameError("a JoinAccept must be bytes")
    n = len(phy)
    if n != _ACCEPT_LEN and n != _ACCEPT_LEN + _CFLIST_LEN:
        raise FrameError("a JoinAccept is 17 or 33 bytes, not %d" % n)
    if phy[0] != _JOIN_ACCEPT:
        raise FrameError("MHDR 0x%02x is not a LoRaWAN 1.0 JoinAccept" % phy[0])
    c = cipher(app_key)
    plain = bytearray(n)
    plain[0] = phy[0]
    block = bytearray(16)
    for i in range(1, n, 16):
        encrypt_block(c, bytes(phy[i : i + 16]), block)
        plain[i : i + 16] = block
    if join_mic(app_key, bytes(plain[: n - 4])) != bytes(plain[n - 4 :]):
        raise MicError("the JoinAccept's MIC does not match this AppKey")
    join_nonce = int.from_bytes(plain[1:4], "little")
    net_id = int.from_bytes(plain[4:7], "little")
    nwk_skey, app_skey = session_keys(app_key, join_nonce, net_id, dev_nonce)
    delay = plain[12] & 0x0F
    return {
        "join_nonce": join_nonce,
        "net_id": net_id,
        "dev_addr": int.from_bytes(plain[7:11], "little"),
        "rx1_dr_offset": (plain[11] >> 4) & 0x07,
        "rx2_data_rate": plain[11] & 0x0F,
        "rx_delay_s": delay if delay else 1,
        "cflist": parse_cflist(plain[13:29]) if n > _ACCEPT_LEN else None,
        "nwk_skey": nwk_skey,
        "app_skey": app_skey,
    }


def session_keys(app_key, join_nonce, net_id, dev_nonce):
    """(NwkSKey, AppSKey) of LoRaWAN 1.0.x (6.2.5): AES(AppKey, 0x01 or 0x02 | JoinNonce | NetID | DevNonce | 0 pad)."""
    check_key(app_key, "AppKey")
    block = bytearray(16)
    block[1:4] = field_uint(join_nonce, "JoinNonce", 0xFFFFFF).to_bytes(3, "little")
    block[4:7] = field_uint(net_id, "NetID", 0xFFFFFF).to_bytes(3, "little")
    block[7:9] = field_uint(dev_nonce, "DevNonce", 0xFFFF).to_bytes(2, "little")
    c = cipher(app_key)
    keys = []
    for prefix in (0x01, 0x02):
        block[0] = prefix
        out = bytearray(16)
        encrypt_block(c, block, out)
        keys.append(bytes(out))
    return keys[0], keys[1]


# ------------------------------------------------------------------ CFList (EU868)


def parse_cflist(data):
    """Five channel frequencies in Hz (0: not used) from an EU868 CFList; FrameError for another CFListType."""
    if len(data) != _CFLIST_LEN:
        raise FrameError("a CFList is 16 bytes")
    if data[15] != 0:
        raise FrameError("CFListType %d is not a list of frequencies (EU868 uses 0)" % data[15])
    return [int.from_bytes(data[i : i + 3], "little") * 100 for i in range(0, 15, 3)]
