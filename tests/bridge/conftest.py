from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sim.virtual_board import VirtualBoard
from tests.bridge.broker import Mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def board(tmp_path: Path, mpy_build: Path) -> Iterator[VirtualBoard]:
    """The gateway firmware under MicroPython behind a pty (ROOT/tty), hearing ROOT/air.jsonl."""
    with VirtualBoard(tmp_path / "board", mpy_build) as vb:
        yield vb
