"""The USB serial link between the gateway board and the bridge: frames, and the messages in them.

docs/serial-protocol.md specifies it byte by byte. Each frame is COBS-encoded
and ends with a 0x00 byte, so a receiver resynchronises at the next 0x00
after garbage (the same USB serial also carries the MicroPython REPL's text).
Inside: version, type, sequence number, body, CRC-32. Shared by the board
firmware (MicroPython) and the bridge (CPython).
"""

import struct
from binascii import crc32

from micropython import const

VERSION = const(1)
MAX_BODY = const(255)  # a PHYPayload is at most 255 bytes; other bodies are smaller
_HEAD = const(4)  # version, type, sequence (2)
_CRC = const(4)
_RX_LEN = const(16)  # the RX body's fixed part, before the PHYPayload
_MAX_RAW = const(_HEAD + _RX_LEN + MAX_BODY + _CRC)  # the largest frame before COBS: an RX of 255 bytes

# Frame types (docs/serial-protocol.md, section 3). Board to host:
RX = const(0x01)  # a received LoRa packet with its reception metadata
PONG = const(0x02)  # the answer to PING: firmware version and board id
ACK = const(0x03)  # the answer to a command: its sequence number and a status
LOG = const(0x04)  # a log line from the board
# Host to board:
PING = const(0x81)
CONFIGURE = const(0x82)  # radio settings
TO_REPL = const(0x83)  # leave the receive loop and return to the REPL
TRANSMIT = const(0x84)  # send a downlink at a time on the board's clock

_RX = ">IIBHhhB"  # ticks_ms, freq_khz, sf, bw_khz, rssi_dbm, snr in 0.01 dB, flags; then the PHYPayload
_CONFIGURE = ">IBHBb"  # freq_khz, sf, bw_khz, sync_word, tx_power_dbm
_TRANSMIT = ">IIBHb"  # at ticks_ms, freq_khz, sf, bw_khz, tx_power_dbm; then the PHYPayload
_FLAG_CRC_ERROR = const(0x01)


class LinkError(ValueError):
    """A frame or message that is malformed; counted by the reader, never raised to its caller."""


def cobs_encode(data):
    """COBS: no 0x00 in the output, at most one byte added per 254."""
    out = bytearray(len(data) + len(data) // 254 + 2)
    code_at = 0
    pos = 1
    code = 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at = pos
            pos += 1
            code = 1
        else:
            out[pos] = b
            pos += 1
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at = pos
                pos += 1
                code = 1
    out[code_at] = code
    return bytes(out[:pos])


def cobs_decode(data):
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise LinkError("COBS: a zero byte inside a frame")
        if i + code > n:
            raise LinkError("COBS: a block runs past the end of the frame")
        out.extend(data[i + 1 : i + code])
        i += code
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(ftype, seq, body=b""):
    """One frame ready for the wire: 0x00, COBS(version | type | seq | body | CRC-32), 0x00.

    The leading 0x00 ends whatever text the REPL printed before, so it cannot
    glue itself to the frame; the reader skips empty frames between delimiters.
    """
    if len(body) > _MAX_RAW - _HEAD - _CRC:
        raise LinkError("body of %d bytes is too long" % len(body))
    raw = bytearray(_HEAD + len(body) + _CRC)
    struct.pack_into(">BBH", raw, 0, VERSION, ftype, seq & 0xFFFF)
    raw[_HEAD : _HEAD + len(body)] = body
    struct.pack_into(">I", raw, _HEAD + len(body), crc32(raw[: _HEAD + len(body)]) & 0xFFFFFFFF)
    return b"\x00" + cobs_encode(raw) + b"\x00"


def decode_frame(encoded):
    """(type, seq, body) from one frame without its 0x00 delimiter; LinkError if it is damaged."""
    raw = cobs_decode(encoded)
    if len(raw) < _HEAD + _CRC:
        raise LinkError("frame of %d bytes is shorter than its header and CRC" % len(raw))
    (crc,) = struct.unpack_from(">I", raw, len(raw) - _CRC)
    if crc != crc32(raw[: len(raw) - _CRC]) & 0xFFFFFFFF:
        raise LinkError("CRC mismatch")
    version, ftype, seq = struct.unpack_from(">BBH", raw, 0)
    if version != VERSION:
        raise LinkError("version %d, this side speaks %d" % (version, VERSION))
    return ftype, seq, raw[_HEAD : len(raw) - _CRC]


class FrameReader:
    """Splits a byte stream into frames; damaged frames and stray bytes are counted and skipped.

    Memory is bounded: a run of bytes longer than the largest frame without a
    0x00 is dropped as garbage.
    """

    def __init__(self):
        self.buf = bytearray()
        self.frames = 0
        self.damaged = 0  # frames that failed COBS, CRC or version
        self.garbage = 0  # bytes dropped because no frame could hold them
        self.lost = 0  # frames missing from the sequence numbers
        self._next_seq = -1

    def feed(self, data):
        """Return the intact frames completed by data, as (type, seq, body) tuples."""
        out = []
        limit = _MAX_RAW + _MAX_RAW // 254 + 2
        for b in data:
            if b != 0:
                if len(self.buf) >= limit:
                    self.garbage += len(self.buf)
                    self.buf = bytearray()
                self.buf.append(b)
                continue
            if not self.buf:
                continue  # back-to-back delimiters
            chunk = bytes(self.buf)
            self.buf = bytearray()
            try:
                frame = decode_frame(chunk)
            except LinkError:
                self.damaged += 1
                continue
            if self._next_seq >= 0 and frame[1] != self._next_seq:
                self.lost += (frame[1] - self._next_seq) & 0xFFFF
            self._next_seq = (frame[1] + 1) & 0xFFFF
            self.frames += 1
            out.append(frame)
        return out


# ---------------------------------------------------------------- messages


def encode_rx(packet):
    """Body of an RX frame from {ticks_ms, freq_khz, sf, bw_khz, rssi_dbm, snr_db, crc_error, phy}."""
    phy = packet["phy"]
    if len(phy) > MAX_BODY:
        raise LinkError("PHYPayload of %d bytes is longer than 255" % len(phy))
    body = bytearray(_RX_LEN + len(phy))
    struct.pack_into(
        _RX,
        body,
        0,
        packet["ticks_ms"] & 0xFFFFFFFF,
        packet["freq_khz"],
        packet["sf"],
        packet["bw_khz"],
        packet["rssi_dbm"],
        round(packet["snr_db"] * 100),
        _FLAG_CRC_ERROR if packet["crc_error"] else 0,
    )
    body[_RX_LEN:] = phy
    return bytes(body)


def decode_rx(body):
    if len(body) < _RX_LEN:
        raise LinkError("RX body of %d bytes is shorter than its %d-byte header" % (len(body), _RX_LEN))
    ticks, freq, sf, bw, rssi, snr, flags = struct.unpack_from(_RX, body, 0)
    if flags & ~_FLAG_CRC_ERROR:
        raise LinkError("RX flags 0x%02x: reserved bits set" % flags)
    return {
        "ticks_ms": ticks,
        "freq_khz": freq,
        "sf": sf,
        "bw_khz": bw,
        "rssi_dbm": rssi,
        "snr_db": snr / 100,
        "crc_error": bool(flags & _FLAG_CRC_ERROR),
        "phy": bytes(body[_RX_LEN:]),
    }


def encode_configure(freq_khz, sf, bw_khz, sync_word, tx_power_dbm):
    return struct.pack(_CONFIGURE, freq_khz, sf, bw_khz, sync_word, tx_power_dbm)


def decode_configure(body):
    if len(body) != struct.calcsize(_CONFIGURE):
        raise LinkError("CONFIGURE body of %d bytes, expected %d" % (len(body), struct.calcsize(_CONFIGURE)))
    freq, sf, bw, sync, power = struct.unpack(_CONFIGURE, body)
    return {"freq_khz": freq, "sf": sf, "bw_khz": bw, "sync_word": sync, "tx_power_dbm": power}


def encode_transmit(at_ticks_ms, freq_khz, sf, bw_khz, tx_power_dbm, phy):
    """A downlink to send with inverted IQ when the board's ticks_ms reaches at_ticks_ms (docs/serial-protocol.md)."""
    if len(phy) > MAX_BODY - struct.calcsize(_TRANSMIT):
        raise LinkError("a TRANSMIT carries at most %d bytes of PHYPayload" % (MAX_BODY - struct.calcsize(_TRANSMIT)))
    return struct.pack(_TRANSMIT, at_ticks_ms, freq_khz, sf, bw_khz, tx_power_dbm) + bytes(phy)


def decode_transmit(body):
    n = struct.calcsize(_TRANSMIT)
    if len(body) < n + 1:
        raise LinkError("TRANSMIT body of %d bytes, expected %d and a PHYPayload" % (len(body), n))
    at, freq, sf, bw, power = struct.unpack(_TRANSMIT, body[:n])
    return {"at_ticks_ms": at, "freq_khz": freq, "sf": sf, "bw_khz": bw, "tx_power_dbm": power, "phy": bytes(body[n:])}


def encode_pong(version, board, radio=None):
    """radio: what a gateway board listens on ({freq_khz, sf, bw_khz}), or None before it listens."""
    raw = board.encode()
    body = bytes((version[0], version[1], version[2], len(raw))) + raw
    if radio:
        body += struct.pack(">IBH", radio["freq_khz"], radio["sf"], radio["bw_khz"])
    return body


def decode_pong(body):
    """{"firmware", "board", "radio"}; radio None when the board sent none (older firmware, not listening)."""
    if len(body) < 4 or len(body) not in (4 + body[3], 4 + body[3] + 7):
        raise LinkError("PONG body of %d bytes does not match its board id length" % len(body))
    end = 4 + body[3]
    radio = None
    if len(body) > end:
        freq_khz, sf, bw_khz = struct.unpack(">IBH", bytes(body[end:]))
        radio = {"freq_khz": freq_khz, "sf": sf, "bw_khz": bw_khz}
    return {"firmware": [body[0], body[1], body[2]], "board": bytes(body[4:end]).decode(), "radio": radio}


def encode_ack(seq, ok):
    return struct.pack(">HB", seq & 0xFFFF, 0 if ok else 1)


def decode_ack(body):
    if len(body) != 3:
        raise LinkError("ACK body of %d bytes, expected 3" % len(body))
    seq, status = struct.unpack(">HB", body)
    return {"seq": seq, "ok": status == 0}
