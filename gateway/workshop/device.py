"""A board's REPL over USB serial, through mpremote's transport, with every failure as one line to act on.

The workshop commands (deploy, check, calibrate, monitor) open the board here.
mpremote does the raw-REPL protocol and the file transfers; this module adds
what a technician needs: which board answers, and what to do when none does.
"""

from __future__ import annotations

import contextlib
import io
import time

import serial
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from gateway.workshop import port_errors
from payload_codec import serial_link

BAUD = 115200
# Pressed *after* the reset: on the ESP32 boards the button is GPIO0, and held during a reset it starts the ROM
# bootloader, where nothing answers (docs/workshop.md, The buttons; the window is firmware/board.py's).
_MAINTENANCE = (
    "press and release RST, then press its button (PRG, BOOT) within the 3 s its LED is lit (maintenance; "
    "RAK11310: the flag file, docs/workshop.md)"
)


class DeviceError(Exception):
    """The board cannot be used as asked; the message says what to do."""


def port_error(port: str, err: Exception) -> DeviceError:
    """The DeviceError for a port that would not open, saying what to do (gateway/workshop/port_errors.py)."""
    return DeviceError(port_errors.explain(port, str(err)) or f"cannot open {port}: {err}")


class Device:
    """An open board, in the raw REPL. Use as a context manager; close() leaves the board in its friendly REPL."""

    def __init__(self, port: str, wait_s: float = 1.0) -> None:
        self.port = port
        try:
            # mpremote reports every open failure as "failed to access": open once here for the reason.
            serial.serial_for_url(port, baudrate=BAUD, exclusive=True).close()
            # A read timeout: mpremote reads a pty byte by byte and would wait forever on a silent one.
            self.transport = SerialTransport(port, baudrate=BAUD, timeout=0.2)
        except (serial.SerialException, OSError, TransportError) as err:
            raise port_error(port, err) from None
        try:
            self._enter(wait_s)
        except BaseException:
            self.transport.close()
            raise

    def _enter(self, wait_s: float) -> None:
        ser = self.transport.serial
        # A gateway board in its receive loop speaks frames, not the REPL: ask it to leave the loop.
        # A frame means nothing to a REPL (it starts and ends with 0x00), so this costs nothing there.
        ser.write(serial_link.encode_frame(serial_link.TO_REPL, 0))
        ser.write(b"\r\x03\x03")  # Ctrl-C: interrupt a running program, as mpremote does
        heard = self._drain(wait_s)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # mpremote prints what it got on failure
                self.transport.enter_raw_repl(soft_reset=False, timeout_overall=5)
            return
        except TransportError:
            pass
        if not heard:
            raise DeviceError(
                f"no board answers on {self.port}: is MicroPython on it (akker flash)? A node in deep sleep "
                f"does not answer: {_MAINTENANCE}, then retry"
            )
        raise DeviceError(f"the board on {self.port} runs its application, not the REPL: {_MAINTENANCE}, then retry")

    def _drain(self, wait_s: float) -> bool:
        """Read and drop whatever the board says for wait_s; True if it said anything."""
        ser = self.transport.serial
        heard = False
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            n = ser.in_waiting
            if n:
                ser.read(n)
                heard = True
            else:
                time.sleep(0.02)
        return heard

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, serial.SerialException):
            self.transport.exit_raw_repl()
        self.transport.close()

    # ------------------------------------------------------------ primitives

    def eval(self, expression: str) -> object:
        try:
            return self.transport.eval(expression)
        except TransportExecError as err:
            last = err.error_output.strip().splitlines()[-1]
            raise DeviceError(f"the board refused {expression!r}: {last}") from None

    def exec(self, code: str) -> str:
        try:
            return self.transport.exec(code).decode(errors="replace")
        except TransportExecError as err:
            raise DeviceError(f"the board failed: {err.error_output.strip().splitlines()[-1]}") from None

    def platform(self) -> tuple[str, str]:
        """(sys.platform, sys.implementation._machine): which chip answers."""
        got = self.eval("(__import__('sys').platform, getattr(__import__('sys').implementation, '_machine', ''))")
        assert isinstance(got, tuple)
        return str(got[0]), str(got[1])

    def soft_reset(self) -> None:
        """Leave the raw REPL and reset: boot.py and main.py run again, as after power-on."""
        self.transport.exit_raw_repl()
        self.transport.serial.write(b"\x04")

    def read_output(self, seconds: float, until: str | None = None) -> list[str]:
        """Lines the board prints within seconds (stops early at a line containing until)."""
        ser = self.transport.serial
        buf = b""
        lines: list[str] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                n = ser.in_waiting
                chunk = ser.read(n) if n else b""
            except (OSError, serial.SerialException):
                time.sleep(0.1)  # a board that resets drops its USB port for a moment
                continue
            if not chunk:
                time.sleep(0.02)
                continue
            buf += chunk
            *done, buf = buf.split(b"\n")
            for raw in done:
                line = raw.decode(errors="replace").rstrip("\r")
                lines.append(line)
                if until is not None and until in line:
                    return lines
        return lines


# boards/<id>.json "mcu" -> (sys.platform, a text sys.implementation._machine must contain or not)
_PLATFORMS = {
    "esp32": ("esp32", "ESP32", "S3"),
    "esp32s3": ("esp32", "ESP32S3", ""),
    "rp2040": ("rp2", "RP2040", ""),
    "unix": ("linux", "", ""),
}


def check_board(platform: tuple[str, str], board: dict[str, object], port: str) -> None:
    """Raise DeviceError when the chip answering is not the one the board file names."""
    mcu = str(board.get("mcu"))
    want = _PLATFORMS.get(mcu)
    if want is None:
        return
    sys_platform, machine = platform
    name, has, lacks = want
    ok = sys_platform == name and has.upper() in machine.upper().replace("-", "")
    if lacks and lacks in machine.upper().replace("ESP32", ""):
        ok = False
    if not ok:
        raise DeviceError(
            f"the board on {port} is {machine or sys_platform}, but boards/{board.get('id')}.json is for {mcu}: "
            "check --board"
        )
