"""Downlink commands (FPorts 20..25), one FPort per command.

Each command is a row of the table below: its name, its FPort and its
parameters (name, bytes, lowest, highest), sent big-endian in that order.
Layout: docs/payload-format.md, section "Downlink commands".
"""

from .errors import CodecError

# (name, FPort, ((key, bytes, lowest, highest), ...)) per command: docs/payload-format.md, section 5.
COMMANDS = (
    ("set_interval", 20, (("seconds", 3, 60, 86400),)),
    ("set_batch", 21, (("samples", 1, 1, 8),)),
    ("set_calibration", 22, (("probe", 1, 0, 3), ("dry", 2, 0, 65535), ("wet", 2, 0, 65535))),
    ("reset_trap", 23, (("trap", 1, 0, 1),)),
    ("request_status", 24, ()),
    ("reboot", 25, ()),
)


def _find(cmd):
    for row in COMMANDS:
        if row[0] == cmd:
            return row
    raise CodecError("downlink: unknown cmd %r (known: %s)" % (cmd, ", ".join(r[0] for r in COMMANDS)))


def encode(command):
    if type(command) is not dict:
        raise CodecError("downlink: command must be a dict, not %s" % type(command).__name__)
    if "cmd" not in command:
        raise CodecError("downlink: cmd is required")
    name, fport, params = _find(command["cmd"])
    for key in command:
        if key != "cmd" and not any(p[0] == key for p in params):
            raise CodecError("downlink: %s: unknown key %r" % (name, key))
    out = bytearray()
    for key, size, lo, hi in params:
        if key not in command:
            raise CodecError("downlink: %s: %s is required" % (name, key))
        v = command[key]
        if type(v) is not int:
            raise CodecError("downlink: %s: %s must be an int, not %s" % (name, key, type(v).__name__))
        if v < lo or v > hi:
            raise CodecError("downlink: %s: %s = %d is out of range %d..%d" % (name, key, v, lo, hi))
        for i in range(size - 1, -1, -1):
            out.append((v >> (8 * i)) & 0xFF)
    return fport, bytes(out)


def decode(fport, payload):
    row = None
    for r in COMMANDS:
        if r[1] == fport:
            row = r
    if row is None:
        raise CodecError("downlink: unknown fport %d (commands use 20..25)" % fport)
    name, _port, params = row
    size = 0
    for p in params:
        size += p[1]
    if len(payload) < size:
        raise CodecError("downlink: %s: truncated: %d byte(s), needs %d" % (name, len(payload), size))
    if len(payload) > size:
        raise CodecError("downlink: %s: trailing bytes: %d byte(s) after the last field" % (name, len(payload) - size))
    command = {"cmd": name}
    pos = 0
    for key, n, lo, hi in params:
        v = int.from_bytes(payload[pos : pos + n], "big")
        if v < lo or v > hi:
            raise CodecError("downlink: %s: %s = %d is out of range %d..%d" % (name, key, v, lo, hi))
        command[key] = v
        pos += n
    return command
