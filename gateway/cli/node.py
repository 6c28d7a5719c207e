"""`akker node`: run the real firmware on the simulated board, under the real MicroPython interpreter."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from firmware import config as firmware_config
from gateway.sim import micropython
from gateway.workshop import mpy_build

from . import paths
from .errors import CliError
from .nodes import BOARDS

# The cap for a full cycle is 64 KB; today the firmware, the codec and the simulated
# hardware need more on this 64-bit port (make bench prints the smallest heap that works).
HEAP = "160k"


def add_node_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True, help="the board to run: only `sim` runs on the desktop")
    p.add_argument("--config", required=True, type=Path, help="the node's config.json")
    p.add_argument("--cycles", required=True, type=int, help="how many wake-ups to run")
    p.add_argument(
        "--state",
        type=Path,
        help="folder kept as the virtual board's flash between runs (state, log, time); a fresh one if omitted",
    )
    p.add_argument("--seed", type=int, default=1, help="the simulated field's seed (default 1)")
    p.add_argument("--verbose", action="store_true", help="also show the firmware's log lines on stderr")
    p.add_argument("--heap", default=HEAP, type=paths.heap, help=f"MicroPython heap size (default {HEAP})")


def cmd_node(args: argparse.Namespace) -> int:
    known = sorted(p.stem for p in BOARDS.glob("*.json"))
    if args.board not in known:
        raise CliError(f"unknown board {args.board!r}: the boards are {', '.join(known)}; use --board sim here")
    if args.board != "sim":
        raise CliError(f"board {args.board!r} is real hardware: deploy to it (akker deploy); use --board sim here")
    if args.cycles < 1:
        raise CliError("--cycles must be at least 1")
    try:
        config = args.config.read_bytes()
        parsed = json.loads(config)
    except OSError as err:
        raise CliError(f"cannot read {args.config}: {err.strerror}") from None
    except ValueError:
        raise CliError(f"{args.config} is not valid JSON: fix it or write it again with akker provision") from None
    try:
        firmware_config.validate(parsed)  # the firmware's own check: it would stop at boot with this reason
    except ValueError as err:
        raise CliError(f"{args.config}: {err}: fix it or write it again with akker provision") from None
    with tempfile.TemporaryDirectory(prefix="akker-node-") as tmp:
        root = args.state or Path(tmp) / "flash"
        root.mkdir(parents=True, exist_ok=True)
        (root / "config.json").write_bytes(config)
        build = Path(tmp) / "build"
        try:
            mpy_build.build(build)
            cmd, env = micropython.command(
                build, ["-m", "firmware.sim.run", str(root.resolve()), str(args.cycles), str(args.seed)], args.heap
            )
        except (mpy_build.ToolMissing, RuntimeError) as err:
            raise CliError(str(err)) from None
        stderr = None if args.verbose else subprocess.PIPE
        proc = subprocess.run(cmd, env=env, cwd=build, stdout=sys.stdout, stderr=stderr, text=True)
        if proc.returncode:
            tail = (proc.stderr or "").strip().splitlines()[-5:]
            raise CliError("the firmware stopped with an error: " + " | ".join(tail))
        if args.state is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0
