"""`akker flash`: erase a board and write MicroPython onto it (esptool), or explain the UF2 copy (RP2040).

With --download-only it only fills the firmware cache, touching no port: a laptop
with internet readies the image for a field without it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections import deque
from pathlib import Path

from gateway.workshop.flash import (
    CONNECT_ATTEMPTS,
    MICROPYTHON_VERSION,
    FlashError,
    cache_dir,
    cached_image,
    check_chip,
    check_port,
    download_failed_offline,
    esptool_commands,
    explain_esptool,
    identify_chip,
    mpflash_download_command,
    uf2_instructions,
)
from gateway.workshop.provision import ProvisionError, board_file

from .errors import CliError


def add_flash_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True, help="board id, a file name in boards/ (e.g. heltec_v3)")
    # Not required by argparse: --download-only takes none, and an RP2040 board is flashed by copying a file.
    p.add_argument("--port", help="the board's serial port, e.g. /dev/ttyUSB0 or /dev/ttyACM0")
    p.add_argument(
        "--firmware",
        type=Path,
        help=f"a MicroPython image file; without it, MicroPython {MICROPYTHON_VERSION} is downloaded once into "
        f"{cache_dir()}",
    )
    p.add_argument(
        "--connect-attempts", type=int, default=CONNECT_ATTEMPTS, metavar="N",
        help=f"how often esptool tries to reach the bootloader (default {CONNECT_ATTEMPTS}; 0: until it answers)",
    )  # fmt: skip
    p.add_argument(
        "--download-only", action="store_true",
        help="only download the board's MicroPython into the cache (or find it there) and say where; no port",
    )  # fmt: skip
    p.add_argument("--verbose", action="store_true", help="also show esptool's chip check and mpflash's own log")


def _run(cmd: list[str], echo: bool = True, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a tool, its progress on our terminal when echo; keep its last lines to explain a failure."""
    tail: deque[str] = deque(maxlen=60)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if echo:
                print(line, end="", flush=True)
            tail.append(line)
    return proc.returncode, "".join(tail)


def _download(image: str, verbose: bool) -> tuple[int, str]:
    """mpflash's download, its log (timestamps, emoji, database upgrades) kept for --verbose and for errors."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    # mpflash keeps its board database in MPFLASH_FIRMWARE (else ~/Downloads/firmware): keep it in our cache.
    env = {**os.environ, "MPFLASH_FIRMWARE": str(cache_dir())}
    return _run(mpflash_download_command(image), echo=verbose, env=env)


def _image(board: dict[str, object], verbose: bool, or_firmware: bool = True) -> Path:
    """The board's pinned image from the cache, downloaded into it first if need be; or_firmware: whether
    --firmware is a way out to offer."""
    mp = board["micropython"]
    assert isinstance(mp, dict)
    image = str(mp["image"])
    found = cached_image(image)
    if found:
        print(f"using {found} (cached)")
        return found
    print(f"downloading MicroPython {MICROPYTHON_VERSION} for {image} into {cache_dir()} ...")
    code, output = _download(image, verbose)
    found = cached_image(image)
    if found:
        print(f"downloaded {found} ({found.stat().st_size / 1e6:.1f} MB)")
        return found
    if download_failed_offline(output):
        raise CliError(
            f"offline: cannot download MicroPython for {image}. Connect to the internet and run this again "
            f"(it is kept in {cache_dir()})" + (", or give --firmware FILE" if or_firmware else "")
        )
    raise CliError(
        f"mpflash found no MicroPython {MICROPYTHON_VERSION} image for {image} (exit {code}): give --firmware FILE"
    )


def _download_only(args: argparse.Namespace, board: dict[str, object]) -> int:
    # Refused, not ignored: whoever names a port or a file expects something done with it.
    if args.port is not None:
        raise CliError("--download-only touches no board: leave out --port, or leave out --download-only to flash")
    if args.firmware is not None:
        raise CliError("--download-only fetches the board's own image: leave out --firmware")
    mp = board.get("micropython")
    if not isinstance(mp, dict) or not mp.get("image"):
        raise CliError(f"board {args.board} has no MicroPython image to download (it runs on the desktop)")
    _image(board, args.verbose, or_firmware=False)
    if board.get("mcu") == "rp2040":
        print(f"ready: `akker flash --board {args.board}` prints the steps that copy it onto the board")
    else:
        print(f"ready: `akker flash --board {args.board} --port PORT` takes it from the cache, without internet")
    return 0


def cmd_flash(args: argparse.Namespace) -> int:
    try:
        board = board_file(args.board)
    except ProvisionError as err:
        raise CliError(str(err)) from None
    if args.download_only:
        return _download_only(args, board)
    if args.firmware is not None and not args.firmware.is_file():
        raise CliError(f"no firmware file {args.firmware}: check the path")
    mp = board.get("micropython")
    assert isinstance(mp, dict)
    if board.get("mcu") == "rp2040":
        print(uf2_instructions(board, args.firmware or cached_image(str(mp["image"]))))
        return 0
    if not mp.get("chip"):
        raise CliError(f"board {args.board} has no MicroPython image to flash (it runs on the desktop)")
    if args.port is None:
        raise CliError(
            "give --port, the board's serial port (e.g. /dev/ttyUSB0), or --download-only to only fill the cache"
        )
    # Port, then chip, then download: a technician at the wrong port or board learns it before waiting for one.
    print(f"checking the chip on {args.port} ...", flush=True)
    try:
        check_port(args.port)
        chip = identify_chip(args.port, args.board, args.connect_attempts, args.verbose)
        check_chip(chip, board, args.port)
    except FlashError as err:
        raise CliError(str(err)) from None
    print(f"{chip} answers on {args.port}, as boards/{args.board}.json expects", flush=True)
    firmware = args.firmware or _image(board, args.verbose)
    try:
        commands = esptool_commands(board, args.port, firmware, attempts=args.connect_attempts)
    except FlashError as err:
        raise CliError(str(err)) from None
    for step, cmd in zip(("erasing the flash", "writing MicroPython"), commands, strict=True):
        print(f"{step} on {args.port} ...", flush=True)
        code, output = _run(cmd)
        if code != 0:
            raise CliError(explain_esptool(output, args.port, args.board))
    print(
        f"done: MicroPython is on {args.port}. Next: akker deploy --board {args.board} --port {args.port} --config ..."
    )
    return 0
