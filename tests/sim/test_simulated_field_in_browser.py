"""The dashboard of a simulated field in a real browser: `akker sim`, then every node and its charts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from gateway.dashboard.clock import latest_record_clock
from gateway.dashboard.server import DashboardServer
from tests.dashboard.test_browser import Visit, api, browser, check_charts  # noqa: F401 - browser is a fixture

AKKER = str(Path(sys.executable).parent / "akker")
NODES = [f"sim-{i:02d}" for i in range(1, 5)]


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("field") / "farm.db"
    out = subprocess.run([AKKER, "sim", "--nodes", "4", "--days", "2", "--runtime", "micropython", "--seed", "7",
                          "--db", str(db)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return db


@pytest.fixture
def site(field: Path) -> Iterator[DashboardServer]:
    with DashboardServer(field, "127.0.0.1", 0, now=latest_record_clock(field)) as s:
        yield s


def test_every_simulated_node_and_its_charts_with_the_simulated_data(
    browser: Browser,  # noqa: F811 - the fixture imported above
    site: DashboardServer,
    tmp_path: Path,
) -> None:
    visit = Visit(browser, site.url, tmp_path)
    try:
        visit.page.goto(site.url)
        visit.page.wait_for_selector("body[data-loaded=overview]")
        rows = visit.page.locator("tr.node")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.node)")) == NODES
        visit.screenshot("simulated-field-overview.png")
        visit.page.locator('tr.node[data-node="sim-01"] a').click()
        visit.page.wait_for_selector("body[data-loaded=node]")
        detail = api(site, "api/nodes/sim-01?days=3")
        assert len(detail["series"]["t"]) > 150  # two days of 15-minute samples
        visit.page.goto(site.url + "node/sim-01?days=3")
        visit.page.wait_for_selector("body[data-loaded=node]")
        check_charts(visit.page, detail)
        visit.screenshot("simulated-field-sim-01.png")
        visit.check_clean()
    finally:
        visit.context.close()
