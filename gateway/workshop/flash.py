"""Flashing MicroPython onto a board: the port and chip checks, the esptool command lines, the firmware cache, and
esptool's errors.

The board file (boards/<id>.json, "micropython") names the image, the chip and
the offset. Before anything is downloaded or erased, the port is opened once
(a missing, busy or forbidden port named as such) and esptool identifies the
chip in its bootloader (a board of another chip refused). esptool then does the
flashing and mpflash the download, each as its own command: esptool's progress
reaches the technician unchanged, mpflash's log only with --verbose.
gateway/cli/flash.py runs what this plans.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import serial

from gateway.workshop import port_errors

# The MicroPython release the firmware is tested with (the desktop interpreter's; mpy-cross's
# .mpy version 6.3 imports on it).
MICROPYTHON_VERSION = "1.28.0"
BAUD = 460800  # esptool's write speed; USB-serial chips on these boards all take it
CONNECT_ATTEMPTS = 7  # esptool's default: each attempt tries its reset sequences, about 0.75 s with no chip


class FlashError(Exception):
    """Flashing cannot go on; the message says what to do."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "akker" / "firmware"


def check_port(port: str) -> None:
    """Open and close port, so that a missing, busy or forbidden port is named before anything else happens."""
    try:
        serial.Serial(port, exclusive=True).close()
    except (serial.SerialException, OSError) as err:
        raise FlashError(port_errors.explain(port, str(err)) or f"cannot open {port}: {err}") from None


def identify_chip(port: str, board: str, attempts: int = CONNECT_ATTEMPTS, verbose: bool = False) -> str:
    """The chip answering in its bootloader on port, as esptool names it ("ESP32-S3"); esptool's own lines only when
    verbose. board (its id) is for the error message."""
    # Imported here: esptool takes 0.1 s to import, and only this command needs it.
    from esptool.cmds import detect_chip
    from esptool.logger import log
    from esptool.util import FatalError

    log.set_verbosity("auto" if verbose else "silent")
    try:
        with detect_chip(port, connect_attempts=attempts) as esp:
            return str(esp.CHIP_NAME)
    except (FatalError, serial.SerialException, OSError) as err:
        raise FlashError(explain_esptool(str(err), port, board)) from None


def check_chip(found: str, board: dict[str, object], port: str) -> None:
    """Refuse a chip other than the one the board file names: its image would not boot."""
    mp = board.get("micropython")
    assert isinstance(mp, dict)
    if found.lower().replace("-", "") != mp.get("chip"):
        raise FlashError(
            f"the chip on {port} is an {found}, but boards/{board.get('id')}.json is for {mp.get('chip')}: "
            "check --board (nothing was erased)"
        )


def esptool_commands(
    board: dict[str, object], port: str, firmware: Path, baud: int = BAUD, attempts: int = CONNECT_ATTEMPTS
) -> list[list[str]]:
    """Erase, then write the image at the board's offset: the two esptool 5 command lines."""
    mp = board.get("micropython")
    assert isinstance(mp, dict)
    chip, offset = mp.get("chip"), mp.get("flash_offset")
    if not chip or not offset:
        raise FlashError(f"board {board.get('id')} is not flashed with esptool")
    base = [sys.executable, "-m", "esptool", "--chip", str(chip), "--port", port, "--connect-attempts", str(attempts)]
    return [[*base, "erase-flash"], [*base, "--baud", str(baud), "write-flash", str(offset), str(firmware)]]


def mpflash_download_command(image: str, version: str = MICROPYTHON_VERSION, dest: Path | None = None) -> list[str]:
    mpflash = str(Path(sys.executable).parent / "mpflash")
    return [mpflash, "-x", "--dir", str(dest or cache_dir()), "download", "--board", image, "--version", version]


def cached_image(image: str, version: str = MICROPYTHON_VERSION, dest: Path | None = None) -> Path | None:
    """The downloaded image for that board and version, if the cache holds it."""
    folder = dest or cache_dir()
    if not folder.exists():
        return None
    found = sorted(p for p in folder.rglob(f"*{image}*{version}*") if p.suffix in (".bin", ".uf2"))
    return found[-1] if found else None


def uf2_instructions(board: dict[str, object], firmware: Path | None) -> str:
    mp = board.get("micropython")
    assert isinstance(mp, dict)
    image = mp.get("image")
    what = str(firmware) if firmware else f"the {image} .uf2 of MicroPython {MICROPYTHON_VERSION}"
    return (
        f"{board.get('name')} ({board.get('mcu')}) is flashed by copying a file, not with esptool:\n"
        f"  1. hold BOOTSEL (on the core module), press RESET (on the base board) for 2 s and let go, and\n"
        f"     release BOOTSEL once a drive named RPI-RP2 appears;\n"
        f"  2. copy {what} onto it (download it from micropython.org/download/{image} if you have none);\n"
        f"  3. the board reboots into MicroPython by itself; then run `akker deploy`."
    )


# esptool's own failures, after those of opening the port (gateway/workshop/port_errors.py): (pattern, what to say).
_ESPTOOL_ERRORS: tuple[tuple[str, str], ...] = (
    (r"This chip is (\S+) not (\S+)|Wrong --chip", "the chip on {port} is not the one boards/{board}.json names: "
     "check --board"),
    (r"Wrong boot mode", "the ESP32 on {port} answers but did not enter its bootloader: hold BOOT (PRG on a "
     "Heltec), press and release RST, then release BOOT and run the command again"),
    (r"No serial data received|Failed to connect", "no ESP32 answers on {port}: use a data cable (not charge-only), "
     "hold BOOT (PRG on a Heltec), press and release RST to enter the bootloader, then release BOOT and run the "
     "command again"),
)  # fmt: skip
_HINTS = ("For troubleshooting", "Hint:")  # esptool's pointers to its docs, after the line that says what failed


def explain_esptool(output: str, port: str, board: str) -> str:
    opening = port_errors.explain(port, output)
    if opening is not None:
        return opening
    for pattern, message in _ESPTOOL_ERRORS:
        if re.search(pattern, output):
            return message.format(port=port, board=board)
    said = [line for line in output.splitlines() if line.strip() and not line.strip().startswith(_HINTS)]
    last = said[-1:] or ["no output"]
    return f"esptool failed on {port}: {last[0].strip()}"


def download_failed_offline(output: str) -> bool:
    return bool(re.search(r"NameResolutionError|Could not connect|Max retries exceeded|Network is unreachable", output))
