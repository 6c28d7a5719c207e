"""`akker deploy`: the firmware, the board file and the node's config onto a board over USB, verified."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from firmware import config as firmware_config
from gateway.workshop import lora_cache
from gateway.workshop.deploy import LORA_PACKAGES, build_firmware, deploy, plan
from gateway.workshop.device import Device, DeviceError, check_board
from gateway.workshop.flash import cache_dir
from gateway.workshop.provision import ProvisionError, board_file

from .errors import CliError

FOLLOW_S = 8.0
_BANNER = ("MicroPython ", 'Type "help()"')  # the REPL's greeting around the reset: not the board's log


def add_deploy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True, help="board id, a file name in boards/ (e.g. heltec_v3)")
    p.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--config", required=True, type=Path, help="the node's config.json (from akker provision)")
    p.add_argument(
        "--follow", type=float, default=FOLLOW_S, metavar="S", help=f"show the board's first log lines for S seconds"
        f" after the reboot (default {FOLLOW_S:.0f})"
    )  # fmt: skip


def _config(path: Path, board: str) -> bytes:
    try:
        raw = path.read_bytes()
        cfg = firmware_config.validate(json.loads(raw))
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror}") from None
    except ValueError as err:  # invalid JSON, or ConfigError (a ValueError) with its own message
        text = str(err) if isinstance(err, firmware_config.ConfigError) else f"{path} is not valid JSON ({err})"
        raise CliError(f"{text}: fix {path} (or write it again with akker provision); nothing was deployed") from None
    if cfg["board"] != board:
        raise CliError(f"{path} is for board {cfg['board']}, not {board}: give the right --config or --board")
    return raw


def cmd_deploy(args: argparse.Namespace) -> int:
    try:
        board = board_file(args.board)
    except ProvisionError as err:
        raise CliError(str(err)) from None
    config = _config(args.config, args.board)
    print("compiling firmware/ and payload_codec/ with mpy-cross ...", flush=True)
    build = build_firmware()
    try:
        with Device(args.port) as dev:
            check_board(dev.platform(), board, args.port)
            lora = None
            if args.board != "sim":
                radio = board["radio"]
                assert isinstance(radio, dict)
                packages = LORA_PACKAGES[str(radio["chip"])]
                mpy = int(str(dev.eval("__import__('sys').implementation._mpy & 0xFF")))
                cache = cache_dir().parent / "mip"
                try:
                    lora = lora_cache.files(cache, packages, mpy)
                except lora_cache.CacheError:
                    print(f"fetching {', '.join(packages)} into {cache} ...", flush=True)
                    lora_cache.fill(cache, packages, mpy)
                    lora = lora_cache.files(cache, packages, mpy)
            files = plan(board, config, Path(build.name), lora)
            print(f"deploying {len(files)} files to {args.port} (only what changed is copied) ...", flush=True)
            # Flushed line by line: a log written through a pipe shows how far a deploy got, also one broken off.
            report = deploy(dev, files, progress=lambda line: print(line, flush=True))
            print(
                f"done: {len(report.copied)} copied, {len(report.unchanged)} unchanged, {len(report.removed)} removed;"
                " every file verified by sha256. Rebooting:"
            )
            dev.soft_reset()
            for line in dev.read_output(args.follow, until="sleep"):
                if line.strip() not in ("", ">", ">>>") and not line.startswith(_BANNER):
                    print(f"  | {line}")
    except (DeviceError, lora_cache.CacheError) as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"the connection to {args.port} broke off ({err}): reconnect and deploy again") from None
    finally:
        build.cleanup()
    return 0
