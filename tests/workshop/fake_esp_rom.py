"""An ESP32's ROM bootloader, just enough of it for esptool to identify the chip, behind a pseudo-terminal.

esptool (the real one) connects, syncs and reads the chip's magic register;
this answers as the classic ESP32 ROM does (Espressif's serial protocol:
docs.espressif.com/projects/esptool/en/latest/esp32/advanced-topics/serial-protocol.html):
SLIP frames, a request header <BBHI (0, op, size, checksum), a response
header <BBHI (1, op, size, value) followed by the status bytes. Every other
command gets the ROM's "invalid message" status: GET_SECURITY_INFO, which the
ESP32 ROM does not have, and whatever would load the flasher stub, erase or
write, so an esptool that goes past the chip check fails at once. Flashing
itself is for a real board.
"""

from __future__ import annotations

import os
import pty
import select
import struct
import threading
import tty
from types import TracebackType

_END, _ESC, _ESC_END, _ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD  # SLIP (RFC 1055)
_OP_SYNC = 0x08
_OP_READ_REG = 0x0A
_OP_GET_SECURITY_INFO = 0x14  # ESP32-C3 and later; the ESP32 ROM refuses it
_CHIP_DETECT_MAGIC_REG = 0x40001000
_ESP32_MAGIC = 0x00F01D83  # what the classic ESP32 holds at _CHIP_DETECT_MAGIC_REG
_OK = b"\x00\x00\x00\x00"  # status, error, 2 reserved bytes (ESP32 ROM: 4 status bytes)
_INVALID = b"\x01\x05\x00\x00"  # failed, 0x05 "received message is invalid"


def _slip(packet: bytes) -> bytes:
    body = packet.replace(bytes([_ESC]), bytes([_ESC, _ESC_ESC])).replace(bytes([_END]), bytes([_ESC, _ESC_END]))
    return bytes([_END]) + body + bytes([_END])


def _unslip(frame: bytes) -> bytes:
    return frame.replace(bytes([_ESC, _ESC_END]), bytes([_END])).replace(bytes([_ESC, _ESC_ESC]), bytes([_ESC]))


class FakeEsp32Rom:
    """A classic ESP32 waiting in its bootloader at .port; use as a context manager."""

    def __init__(self) -> None:
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.requests: list[int] = []  # the ops esptool sent, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeEsp32Rom:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)

    def _serve(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                buf += os.read(self._master, 4096)
            except OSError:
                return
            *frames, buf = buf.split(bytes([_END]))
            for frame in frames:
                if len(frame) >= 8:
                    self._answer(_unslip(frame))

    def _answer(self, packet: bytes) -> None:
        direction, op, size, _ = struct.unpack("<BBHI", packet[:8])
        if direction != 0:
            return
        self.requests.append(op)
        data, value, status = packet[8 : 8 + size], 0, _OK
        if op == _OP_SYNC:
            value = 0x20120707  # the ROM's non-zero value: not the flasher stub
        elif op == _OP_READ_REG:
            (address,) = struct.unpack("<I", data[:4])
            value = _ESP32_MAGIC if address == _CHIP_DETECT_MAGIC_REG else 0
        else:
            status = _INVALID  # GET_SECURITY_INFO, as the ESP32 ROM does; and anything that would change the chip
        reply = _slip(struct.pack("<BBHI", 1, op, len(status), value) + status)
        # The ROM answers a sync eight times (esptool reads the other seven).
        os.write(self._master, reply * (8 if op == _OP_SYNC else 1))
