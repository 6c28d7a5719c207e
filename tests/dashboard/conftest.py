from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.dashboard.server import DashboardServer
from tests.farm import farm


@pytest.fixture
def server(farm_db: Path) -> Iterator[DashboardServer]:
    s = DashboardServer(farm_db, "127.0.0.1", 0, now=lambda: farm.NOW)
    s.start()
    try:
        yield s
    finally:
        s.stop()
