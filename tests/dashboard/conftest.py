from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.dashboard.server import DashboardServer
from tests.dashboard import farm


@pytest.fixture(scope="session")
def farm_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test farm's store (tests/dashboard/farm.py), built once per worker; nothing may change it."""
    return farm.build(tmp_path_factory.mktemp("farm") / "bridge.db")


@pytest.fixture
def server(farm_db: Path) -> Iterator[DashboardServer]:
    s = DashboardServer(farm_db, "127.0.0.1", 0, now=lambda: farm.NOW)
    s.start()
    try:
        yield s
    finally:
        s.stop()
