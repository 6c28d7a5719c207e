from __future__ import annotations

import os
import pty
import tty
from collections.abc import Iterator

import pytest


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
