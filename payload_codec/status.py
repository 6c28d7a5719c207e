"""Status (uplink FPort 2): firmware, board, reset cause and counters.

Sent at boot and once a day, so it is byte-aligned for easy reading rather
than bit-packed; counters are LEB128 varints because they are usually small.
Layout: docs/payload-format.md, section "FPort 2: status".
"""

from .errors import CodecError

# Wire code = index in this tuple (3 bits; code 7 is reserved).
_CAUSES = ("power_on", "deep_sleep", "watchdog", "soft", "hard", "brownout", "unknown")
_COUNTERS = ("uptime_s", "tx_frames", "sensor_errors", "radio_errors")
_KEYS = ("type", "firmware", "board", "reset_cause", "config_crc") + _COUNTERS
# Optional, after the counters: how many commands from the farm office the node has applied, and the last
# one, so the office sees a command confirmed (FPort byte, then the command's bytes as sent).
_OPTIONAL = ("commands_applied", "last_command")
_U32_MAX = 4294967295
_BOARD_MAX = 16


def _u32(message, key):
    v = message[key]
    if type(v) is not int:
        raise CodecError("status: %s must be an int, not %s" % (key, type(v).__name__))
    if v < 0 or v > _U32_MAX:
        raise CodecError("status: %s = %d is out of range 0..4294967295" % (key, v))
    return v


def _put_varint(out, v):
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def encode(message):
    for key in message:
        if key not in _KEYS and key not in _OPTIONAL:
            raise CodecError("status: unknown key %r" % (key,))
    if "last_command" in message and "commands_applied" not in message:
        raise CodecError("status: last_command needs commands_applied")
    for key in _KEYS:
        if key not in message:
            raise CodecError("status: %s is required" % key)
    cause = message["reset_cause"]
    if cause not in _CAUSES:
        raise CodecError("status: reset_cause %r is not one of %s" % (cause, ", ".join(_CAUSES)))
    fw = message["firmware"]
    if (type(fw) is not list and type(fw) is not tuple) or len(fw) != 3:
        raise CodecError("status: firmware must be three ints [major, minor, patch]")
    for part in fw:
        if type(part) is not int or part < 0 or part > 255:
            raise CodecError("status: firmware part %r is out of range 0..255" % (part,))
    board = message["board"]
    if type(board) is not str:
        raise CodecError("status: board must be a string, not %s" % type(board).__name__)
    raw = board.encode()
    if len(raw) < 1 or len(raw) > _BOARD_MAX or len(raw) != len(board):
        raise CodecError("status: board %r must be 1..16 ASCII characters" % (board,))
    for c in raw:
        if c < 0x21 or c > 0x7E:
            raise CodecError("status: board %r must be printable ASCII without spaces" % (board,))
    crc = _u32(message, "config_crc")
    out = bytearray()
    out.append(_CAUSES.index(cause))
    out.append(fw[0])
    out.append(fw[1])
    out.append(fw[2])
    out.append(crc >> 24)
    out.append((crc >> 16) & 0xFF)
    out.append((crc >> 8) & 0xFF)
    out.append(crc & 0xFF)
    out.append(len(raw))
    out.extend(raw)
    for key in _COUNTERS:
        _put_varint(out, _u32(message, key))
    if "commands_applied" in message:
        _put_varint(out, _u32(message, "commands_applied"))
    if "last_command" in message:
        from .commands import encode as encode_command

        try:
            fport, payload = encode_command(message["last_command"])
        except CodecError as err:
            raise CodecError("status: last_command: %s" % err) from None
        out.append(fport)
        out.extend(payload)
    return bytes(out)


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n, field):
        if self.pos + n > len(self.data):
            raise CodecError(
                "status: truncated: %s needs %d byte(s) at byte %d but the payload has only %d bytes"
                % (field, n, self.pos, len(self.data))
            )
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def varint(self, field):
        v = 0
        for i in range(5):
            b = self.take(1, field)[0]
            v |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if v > _U32_MAX:
                    raise CodecError("status: %s = %d is out of range 0..4294967295" % (field, v))
                return v
        raise CodecError("status: %s: a varint of more than 5 bytes is out of range" % field)


def decode(payload):
    r = _Reader(payload)
    head = r.take(1, "reset_cause")[0]
    if head & 0xF8:
        raise CodecError("status: reserved bits set: byte 0 is 0x%02x, bits 7..3 must be 0" % head)
    if head >= len(_CAUSES):
        raise CodecError("status: reset_cause code %d is out of range 0..%d" % (head, len(_CAUSES) - 1))
    fw = r.take(3, "firmware")
    crc = int.from_bytes(r.take(4, "config_crc"), "big")
    n = r.take(1, "board length")[0]
    if n < 1 or n > _BOARD_MAX:
        raise CodecError("status: board length %d is out of range 1..16" % n)
    raw = r.take(n, "board")
    for c in raw:
        if c < 0x21 or c > 0x7E:
            raise CodecError("status: board byte 0x%02x is out of range (printable ASCII only)" % c)
    message = {
        "type": "status",
        "reset_cause": _CAUSES[head],
        "firmware": [fw[0], fw[1], fw[2]],
        "config_crc": crc,
        "board": bytes(raw).decode(),
    }
    for key in _COUNTERS:
        message[key] = r.varint(key)
    if r.pos < len(payload):
        message["commands_applied"] = r.varint("commands_applied")
    if r.pos < len(payload):
        from .commands import decode as decode_command

        fport = payload[r.pos]
        try:
            message["last_command"] = decode_command(fport, bytes(payload[r.pos + 1 :]))
        except CodecError as err:
            raise CodecError("status: last_command: %s" % err) from None
        r.pos = len(payload)
    if r.pos != len(payload):
        raise CodecError(
            "status: trailing bytes: %d byte(s) after the last field (payload is %d bytes)"
            % (len(payload) - r.pos, len(payload))
        )
    return message
