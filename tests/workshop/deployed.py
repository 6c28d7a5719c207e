"""A board deployed once per test module: provision and deploy onto a bare virtual board, then boot copies of its flash.

Deploying takes 10-15 s; each test boots a copy of the deployed flash instead,
as a second board deployed the same way would be.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import serial

from gateway.sim.virtual_board import VirtualBoard

AKKER = str(Path(sys.executable).parent / "akker")


def akker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class Deployed:
    """A board's flash after provision and deploy (the board stopped), the node's config file and the database."""

    flash: Path
    config: Path
    db: Path


def deploy_once(tmp: Path, build: Path) -> Deployed:
    """Provision node v1 (2 soil, 2 soil temperature, sht4x, 2 traps) and deploy it to a bare virtual board."""
    out = akker("provision", "--db", str(tmp / "farm.db"), "--name", "v1", "--abp", "--board", "sim", "--soil", "2",
                "--soil-temp", "2", "--air", "sht4x", "--traps", "2", "--out", str(tmp / "v1"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    config = tmp / "v1" / "config.json"
    with VirtualBoard(tmp / "flash", build, bare=True, heapsize="320k") as board:
        out = akker("deploy", "--board", "sim", "--port", str(board.tty), "--config", str(config), "--follow", "1",
                    timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
    return Deployed(tmp / "flash", config, tmp / "farm.db")


def wait_booted(board: VirtualBoard, seconds: float = 10) -> None:
    """Wait until the board's boot (main.py: one cycle of the node) has ended at the REPL prompt."""
    seen = b""
    with serial.Serial(str(board.tty), 115200, timeout=0.1) as port:
        port.write(b"\r")  # answered with a prompt once main.py has returned
        end = time.monotonic() + seconds
        while b">>> " not in seen:
            assert time.monotonic() < end, seen.decode(errors="replace")
            seen += port.read(256)


@contextmanager
def booted_copy(deployed: Deployed, tmp: Path, build: Path) -> Iterator[VirtualBoard]:
    """A virtual board booted from a copy of the deployed flash, stopped afterwards."""
    shutil.copytree(deployed.flash, tmp / "flash")
    board = VirtualBoard(tmp / "flash", build, bare=True, heapsize="320k")
    board.start()
    try:
        wait_booted(board)
        yield board
    finally:
        board.stop()
