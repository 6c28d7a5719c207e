"""LoRaWAN 1.0.x over-the-air activation, the network's side: JoinRequest in, JoinAccept out.

LoRaWAN L2 1.0.4 (TS001-1.0.4) section 6.2; the device's side, the session
keys and the EU868 CFList reader are in payload_codec/lorawan_join.py. The
network encrypts a JoinAccept with AES *decryption*, so that a device needs
only AES encryption to read it (6.2.3); that one decryption lives in
payload_codec.aes and is loaded only here.
"""

from micropython import const

from .aes import decrypt_block, decrypt_cipher
from .lorawan_crypto import FrameError, MicError, check_key
from .lorawan_join import field_uint, join_mic

# MicroPython keeps `_NAME = const(...)` out of a module's globals: repeated from lorawan_join.py.
_JOIN_REQUEST = const(0x00)  # MHDR: MType 000, Major 00
_JOIN_ACCEPT = const(0x20)  # MHDR: MType 001, Major 00
_REQUEST_LEN = const(23)  # MHDR | JoinEUI 8 | DevEUI 8 | DevNonce 2 | MIC 4
_ACCEPT_LEN = const(17)  # MHDR | JoinNonce 3 | NetID 3 | DevAddr 4 | DLSettings | RxDelay | MIC 4
_CFLIST_LEN = const(16)  # EU868: five channels of 3 bytes, 0, CFListType


def parse_join_request(phy):
    """(JoinEUI, DevEUI, DevNonce) of a JoinRequest, MIC not checked: a network finds the device's key by DevEUI."""
    if (type(phy) is not bytes and type(phy) is not bytearray) or len(phy) != _REQUEST_LEN:
        raise FrameError("a JoinRequest is 23 bytes")
    if phy[0] != _JOIN_REQUEST:
        raise FrameError("MHDR 0x%02x is not a LoRaWAN 1.0 JoinRequest" % phy[0])
    return bytes(reversed(phy[1:9])), bytes(reversed(phy[9:17])), int.from_bytes(phy[17:19], "little")


def open_join_request(phy, app_key):
    """(JoinEUI, DevEUI, DevNonce) once the MIC agrees with app_key; MicError if not."""
    fields = parse_join_request(phy)
    check_key(app_key, "AppKey")
    if join_mic(app_key, bytes(phy[:19])) != bytes(phy[19:23]):
        raise MicError("the JoinRequest's MIC does not match this AppKey")
    return fields


def build_join_accept(app_key, join_nonce, net_id, dev_addr, rx1_dr_offset=0, rx2_data_rate=0, rx_delay_s=1,
                      cflist=None):  # fmt: skip
    """The JoinAccept (6.2.3), encrypted as it goes on the air; cflist: up to five extra channels in Hz (EU868)."""
    check_key(app_key, "AppKey")
    plain = bytearray(_ACCEPT_LEN - 4 + (_CFLIST_LEN if cflist is not None else 0))  # all but the MIC
    plain[0] = _JOIN_ACCEPT
    plain[1:4] = field_uint(join_nonce, "JoinNonce", 0xFFFFFF).to_bytes(3, "little")
    plain[4:7] = field_uint(net_id, "NetID", 0xFFFFFF).to_bytes(3, "little")
    plain[7:11] = field_uint(dev_addr, "DevAddr", 0xFFFFFFFF).to_bytes(4, "little")
    plain[11] = field_uint(rx1_dr_offset, "RX1DROffset", 7) << 4 | field_uint(rx2_data_rate, "RX2DataRate", 15)
    plain[12] = field_uint(rx_delay_s, "RxDelay", 15)  # 0 also means 1 s; we write 1
    if cflist is not None:
        plain[13:29] = cflist_bytes(cflist)
    mic = join_mic(app_key, bytes(plain))
    body = bytes(plain[1:]) + mic
    out = bytearray(1 + len(body))
    out[0] = _JOIN_ACCEPT
    c = decrypt_cipher(app_key)
    block = bytearray(16)
    for i in range(0, len(body), 16):
        decrypt_block(c, body[i : i + 16], block)
        out[1 + i : 17 + i] = block
    return bytes(out)


def cflist_bytes(freqs_hz):
    """An EU868 CFList: up to five frequencies in Hz (multiples of 100), the rest 0, then CFListType 0."""
    if len(freqs_hz) > 5:
        raise FrameError("a CFList holds at most five channels")
    out = bytearray(_CFLIST_LEN)
    for i, f in enumerate(freqs_hz):
        if type(f) is not int or f < 0 or f % 100 or f // 100 > 0xFFFFFF:
            raise FrameError("CFList frequency %r: give Hz, a multiple of 100" % (f,))
        out[3 * i : 3 * i + 3] = (f // 100).to_bytes(3, "little")
    return bytes(out)
