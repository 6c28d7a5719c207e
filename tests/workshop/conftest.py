from __future__ import annotations

import os
import pty
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sim.virtual_board import VirtualBoard
from tests.workshop.deployed import Deployed, booted_copy, deploy_once


@pytest.fixture
def empty_port() -> Iterator[str]:
    """A serial device with no board behind it: one end of a pseudo-terminal that nobody answers."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, mpy_build: Path) -> Deployed:
    """Node v1 provisioned and deployed once per module (tests/workshop/deployed.py)."""
    return deploy_once(tmp_path_factory.mktemp("deployed"), mpy_build)


@pytest.fixture
def board(deployed: Deployed, tmp_path: Path, mpy_build: Path) -> Iterator[VirtualBoard]:
    """A copy of the deployed board, booted to its REPL."""
    with booted_copy(deployed, tmp_path, mpy_build) as vb:
        yield vb
