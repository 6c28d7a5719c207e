"""Flashing MicroPython onto a board: the esptool command lines, the firmware cache, and esptool's errors.

The board file (boards/<id>.json, "micropython") names the image, the chip and
the offset. esptool does the flashing and mpflash the download; both run as
their own commands so that their progress reaches the technician unchanged.
Nothing here opens a port: gateway/cli/flash.py runs what this plans.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from gateway.workshop import port_errors

# The MicroPython release the firmware is tested with (the desktop interpreter's; mpy-cross's
# .mpy version 6.3 imports on it).
MICROPYTHON_VERSION = "1.28.0"
BAUD = 460800  # esptool's write speed; USB-serial chips on these boards all take it


class FlashError(Exception):
    """Flashing cannot go on; the message says what to do."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "akker" / "firmware"


def esptool_commands(board: dict[str, object], port: str, firmware: Path, baud: int = BAUD) -> list[list[str]]:
    """Erase, then write the image at the board's offset: the two esptool 5 command lines."""
    mp = board.get("micropython")
    assert isinstance(mp, dict)
    chip, offset = mp.get("chip"), mp.get("flash_offset")
    if not chip or not offset:
        raise FlashError(f"board {board.get('id')} is not flashed with esptool")
    base = [sys.executable, "-m", "esptool", "--chip", str(chip), "--port", port]
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
        f"  1. hold the BOOT (BOOTSEL) button while plugging in the USB cable: a drive named RPI-RP2 appears;\n"
        f"  2. copy {what} onto it (download it from micropython.org/download/{image} if you have none);\n"
        f"  3. the board reboots into MicroPython by itself; then run `akker deploy`."
    )


# esptool's own failures, after those of opening the port (gateway/workshop/port_errors.py): (pattern, what to say).
_ESPTOOL_ERRORS: tuple[tuple[str, str], ...] = (
    (r"This chip is (\S+) not (\S+)|Wrong --chip", "the chip on {port} is not the one boards/{board}.json names: "
     "check --board"),
    (r"No serial data received|Failed to connect", "no ESP32 answers on {port}: use a data cable (not charge-only), "
     "hold BOOT while pressing RESET to enter the bootloader, then run the command again"),
)  # fmt: skip


def explain_esptool(output: str, port: str, board: str) -> str:
    opening = port_errors.explain(port, output)
    if opening is not None:
        return opening
    for pattern, message in _ESPTOOL_ERRORS:
        if re.search(pattern, output):
            return message.format(port=port, board=board)
    last = [line for line in output.splitlines() if line.strip()][-1:] or ["no output"]
    return f"esptool failed on {port}: {last[0].strip()}"


def download_failed_offline(output: str) -> bool:
    return bool(re.search(r"NameResolutionError|Could not connect|Max retries exceeded|Network is unreachable", output))
