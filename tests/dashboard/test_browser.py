"""The dashboard in a real browser (Playwright driving Debian's Chromium, headless) on the test farm.

The farm (tests/farm/farm.py) has a dry field (north-1), a silent node with a
flat battery (south-2) and a busy trap (east-3). The pages are opened as a
British reader on a desktop and as a Dutch farmer in Europe/Amsterdam on a
400 px phone: the overview, every node's charts drawn with the stored data and
their reception history, error pages. Screenshots go to the test's folder, and
also to test-artifacts/ at the repository's root when AKKER_ARTIFACTS is set
(CI keeps them).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from gateway.dashboard.server import DashboardServer
from gateway.farm.alert_config import parse
from tests.farm import farm

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed: `apt-get install chromium` (.ci/run does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# Three fields, as a farmer would set them (docs/dashboard.md): the wheat's soil is dry below 15 %.
FIELDS = parse({
    "fields": {
        "wheat": {"nodes": ["north-1"], "soil_moisture_min_pct": 15, "soil_moisture_max_pct": 32},
        "beet": {"nodes": ["east-3"]},
        "meadow": {"nodes": ["south-2"]},
    }
})  # fmt: skip
PHONE = {"width": 400, "height": 860}


@pytest.fixture(scope="module")
def dashboard(farm_db: Path) -> Iterator[DashboardServer]:
    with DashboardServer(farm_db, "127.0.0.1", 0, now=lambda: farm.NOW) as s:
        yield s


@pytest.fixture(scope="module")
def fields_dashboard(farm_db: Path) -> Iterator[DashboardServer]:
    with DashboardServer(farm_db, "127.0.0.1", 0, alerts_config=FIELDS, now=lambda: farm.NOW) as s:
        yield s


class Visit:
    """A page, with every console error and every request it made, for the checks at the end."""

    def __init__(
        self,
        browser: Browser,
        base_url: str,
        shots: Path,
        viewport: dict[str, int] | None = None,
        timezone_id: str = "UTC",
        locale: str = "en-GB",
    ) -> None:
        self.context = browser.new_context(
            viewport=viewport or {"width": 1300, "height": 900}, timezone_id=timezone_id, locale=locale
        )
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.base_url = base_url
        self.shots = shots
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("request", self._request)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            self.errors.append(msg.text)

    def _request(self, req: Request) -> None:
        self.requests.append(req.url)

    def screenshot(self, name: str) -> Path:
        path = self.shots / name
        self.page.screenshot(path=str(path), full_page=True)
        if os.environ.get("AKKER_ARTIFACTS"):
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(path, ARTIFACTS / name)
        return path

    def check_clean(self) -> None:
        assert self.errors == []
        assert all(u.startswith(self.base_url) or u.startswith("data:") for u in self.requests), self.requests

    def no_sideways_scrolling(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], width  # type: ignore[index]


@pytest.fixture
def visit(browser: Browser, dashboard: DashboardServer, tmp_path: Path) -> Iterator[Visit]:
    v = Visit(browser, dashboard.url, tmp_path)
    try:
        yield v
    finally:
        v.context.close()


def words(text: str) -> str:
    """Text as a reader sees it: the pages keep a number and its unit together with a no-break space."""
    return text.replace("\u00a0", " ")


def api(dashboard: DashboardServer, path: str) -> Any:
    with urllib.request.urlopen(dashboard.url + path, timeout=10) as r:
        return json.load(r)


def expected_charts(detail: Any) -> dict[str, tuple[int, int]]:
    """chart -> (series drawn, points per series), from the node's JSON: a series is drawn when it has a value."""

    def has(values: list[object]) -> int:
        return int(any(v is not None for v in values))

    s, days = detail["series"], detail["catches_per_day"]
    n = len(s["t"])
    return {
        "soil_moisture": (sum(has(p) for p in s["soil_moisture_pct"]), n),
        "temperature": (sum(has(p) for p in s["soil_temp_c"]) + has(s["air_temp_c"]), n),
        "air_humidity": (has(s["air_rh_pct"]), n),
        "catches": (sum(has(t) for t in days["traps"]), len(days["t"])),
        "battery": (has(s["battery_v"]), n),
    }


def check_charts(page: Page, detail: Any) -> None:
    for chart, (series, points) in expected_charts(detail).items():
        section = page.locator(f'section.chart[data-chart="{chart}"]')
        assert (section.get_attribute("data-series"), section.get_attribute("data-points")) == (
            str(series), str(points) if series else "0"), chart  # fmt: skip
        if not series:
            continue
        canvas = section.locator("canvas")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, chart
        # Our legend: a row per series with its newest value, never uPlot's "--" placeholder.
        items = section.locator("ul.legend li[data-kind=series] .value").all_inner_texts()
        assert len(items) == series and all(v and "--" not in v for v in items), (chart, items)
        # Something was painted: the lines or bars take far more pixels than the axes' grid alone.
        painted = canvas.evaluate(
            "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"
        )
        assert painted > 1000, chart


def test_the_overview_shows_every_node_and_the_active_alerts(visit: Visit, dashboard: DashboardServer) -> None:
    visit.page.goto(dashboard.url)
    visit.page.wait_for_selector("body[data-loaded=overview]")
    rows = visit.page.locator("tr.node")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.node)")) == sorted(farm.NODES)
    north = visit.page.locator('tr.node[data-node="north-1"]')
    assert north.locator("td").nth(1).inner_text() == "30 min ago"
    assert "10.5 % dry / 35.0 %" in words(north.inner_text())
    assert north.locator("[data-level]").evaluate_all("es => es.map(e => e.dataset.level)") == [
        "dry", "good", "good", "ok", "good"]  # moisture x2, catches, battery, signal  # fmt: skip
    assert north.locator(".signal-good").get_attribute("title") == "-97 dBm · SNR 7.5 dB · 2 gateways"
    # Silent: its last seen says how old its readings are, and they are greyed.
    south = visit.page.locator('tr.node[data-node="south-2"]')
    assert south.locator("td").nth(1).inner_text().split("\n") == ["30 h ago", "last reading 1 d 6 h old"]
    assert "stale" in (south.get_attribute("class") or "")
    kinds = visit.page.locator("ul.alerts li").evaluate_all("ls => ls.map(l => l.dataset.node + ' ' + l.dataset.kind)")
    assert kinds == ["east-3 catches_high", "north-1 soil_moisture_low", "south-2 silent", "south-2 battery_low"]
    assert visit.screenshot("dashboard-overview.png").stat().st_size > 10_000
    visit.check_clean()


def test_a_node_page_draws_its_charts_and_lists_its_receptions(visit: Visit, dashboard: DashboardServer) -> None:
    visit.page.goto(dashboard.url)
    visit.page.wait_for_selector("body[data-loaded=overview]")
    visit.page.locator('tr.node[data-node="north-1"] a').click()
    visit.page.wait_for_selector("body[data-loaded=node]")
    assert visit.page.url == dashboard.url + "node/north-1"
    assert visit.page.locator("#title").inner_text() == "Node north-1"
    detail = api(dashboard, "api/nodes/north-1")
    assert expected_charts(detail) == {"soil_moisture": (2, 66), "temperature": (2, 66), "air_humidity": (1, 66),
                                       "catches": (1, 3), "battery": (1, 66)}  # fmt: skip
    check_charts(visit.page, detail)
    # The field's thresholds are dashed lines, named with their values in the legend.
    marks = visit.page.locator('section[data-chart="soil_moisture"] li[data-kind=threshold]').all_inner_texts()
    assert [words(m) for m in marks] == ["dry below 15 %", "wet above 40 %"]
    rows = visit.page.locator("#receptions tbody tr")
    assert rows.count() == 50
    first = rows.first.locator("td").all_inner_texts()
    assert first[1:] == ["66", "report", "2 (aa555a0000000001, aa555a0000000002)", "-97", "7.5", "9"]
    assert "soil moisture 10.5 % is below 15 %" in visit.page.locator("#alerts").inner_text()
    visit.screenshot("dashboard-node-north-1.png")
    visit.check_clean()


def test_a_batching_node_with_two_traps_draws_a_bar_per_trap(visit: Visit, dashboard: DashboardServer) -> None:
    visit.page.goto(dashboard.url + "node/east-3?days=3")
    visit.page.wait_for_selector("body[data-loaded=node]")
    detail = api(dashboard, "api/nodes/east-3?days=3")
    assert expected_charts(detail)["catches"] == (2, 3) and expected_charts(detail)["temperature"] == (3, 64)
    check_charts(visit.page, detail)
    assert visit.page.locator("nav.range a.current").inner_text() == "3 days"
    visit.screenshot("dashboard-node-east-3.png")
    visit.check_clean()


def test_an_unknown_node_is_a_404_and_a_silent_node_still_has_its_history(
    visit: Visit, dashboard: DashboardServer
) -> None:
    response = visit.page.goto(dashboard.url + "node/west-9")
    assert response is not None and response.status == 404
    visit.page.wait_for_selector("body[data-loaded=error]")
    assert "no node named" in visit.page.locator("#error").inner_text().lower()
    visit.errors.clear()  # the browser reports the 404 itself
    visit.page.goto(dashboard.url + "node/south-2?days=1")
    visit.page.wait_for_selector("body[data-loaded=node]")
    # Nothing in the last day: empty charts say so; the receptions are still there.
    assert visit.page.locator("section.chart p.empty").count() == 5
    assert visit.page.locator("#receptions tbody tr").count() == 36
    assert "not heard for 1 d 6 h" in visit.page.locator("#alerts").inner_text()
    visit.check_clean()


def test_a_node_page_shows_the_device_status_the_network_kept(browser: Browser, farm_db: Path, tmp_path: Path) -> None:
    # Issue 14: DevStatusReq's answer (battery level, the SNR the node heard the network at) on the node page.
    from gateway.bridge.registry import open_db
    from gateway.network.downlinks import DownlinkBuilder

    copy = tmp_path / "farm.db"
    shutil.copy(farm_db, copy)
    db = open_db(copy)
    DownlinkBuilder(db)  # the network's tables, as a bridge run with --network makes them
    with db:
        db.execute("INSERT INTO dev_status (node, asked_at, answered_at, battery, snr_db) VALUES (?, ?, ?, ?, ?)",
                   ("north-1", "2026-06-03T10:00:00+00:00", "2026-06-03T10:15:00+00:00", 200, -3))  # fmt: skip
    db.close()
    with DashboardServer(copy, "127.0.0.1", 0, now=lambda: farm.NOW) as s:
        v = Visit(browser, s.url, tmp_path)
        try:
            v.page.goto(s.url + "node/north-1")
            v.page.wait_for_selector("body[data-loaded=node]")
            facts = words(v.page.locator("#facts").inner_text())
            assert "battery 79 % · heard the network at -3 dB" in facts, facts
            v.page.goto(s.url + "node/east-3")
            v.page.wait_for_selector("body[data-loaded=node]")
            none = v.page.locator("#facts div", has_text="device status").locator("dd").inner_text()
            assert "battery" not in none and len(none.strip()) == 1, none  # never asked: a dash
            v.check_clean()
        finally:
            v.context.close()


def dutch_phone(browser: Browser, server: DashboardServer, shots: Path) -> Visit:
    return Visit(browser, server.url, shots, PHONE, "Europe/Amsterdam", "nl-NL")


def test_a_dutch_farmer_on_a_phone_sees_each_field_at_a_glance(
    browser: Browser, fields_dashboard: DashboardServer, tmp_path: Path
) -> None:
    v = dutch_phone(browser, fields_dashboard, tmp_path)
    try:
        v.page.goto(fields_dashboard.url)
        v.page.wait_for_selector("body[data-loaded=overview]")
        assert v.page.evaluate("document.documentElement.lang") == "nl"
        assert v.page.locator("h1").inner_text() == "Akker · perceeloverzicht"
        # 18:00 UTC is 20:00 in Amsterdam (summer time): 24-hour, day before month, the zone named.
        assert v.page.locator("#clock").inner_text() == "stand 3 jun 2026, 20:00 (Europe/Amsterdam)"
        sections = v.page.locator("section.field").evaluate_all("ss => ss.map(s => s.dataset.field)")
        assert sections == ["wheat", "beet", "meadow"]
        assert words(v.page.locator('section[data-field="wheat"] p.rules').inner_text()).startswith("droog onder 15 %")

        north = v.page.locator('tr.node[data-node="north-1"]')
        # The wheat's wet line is 32 %: probe 1 is dry, probe 2 (35 %) wet; Dutch decimal commas.
        assert north.locator("td.readings [data-level]").evaluate_all("es => es.map(e => e.dataset.level)")[:2] == [
            "dry", "wet"]  # fmt: skip
        assert "10,5 % droog / 35,0 % nat" in words(north.inner_text())
        signal = north.locator(".signal-good")
        assert signal.inner_text() == "goed" and signal.get_attribute("title") == "-97 dBm · SNR 7,5 dB · 2 gateways"
        assert words(north.locator(".battery-ok").inner_text()).startswith("3,85 V · nog ")

        # Silent for a day and more: greyed, its readings' age said, its signal lost, its battery weeks from empty.
        south = v.page.locator('tr.node[data-node="south-2"]')
        assert "stale" in (south.get_attribute("class") or "")
        assert "laatste meting 1 d 6 u oud" in words(south.inner_text())
        assert south.locator(".signal-lost").inner_text() == "weg"
        assert words(south.locator(".battery-soon").inner_text()) == "3,38 V · nog 4 weken"
        grey = south.locator("td.readings").first.evaluate("e => getComputedStyle(e).color")
        assert grey == "rgb(138, 146, 134)", grey

        # East-3's traps: 68 today counted from midnight in Amsterdam, over the 20 a day allowed.
        east = v.page.locator('tr.node[data-node="east-3"] .level-high')
        assert east.inner_text().startswith("68")

        alerts = [words(a) for a in v.page.locator("ul.alerts li").all_inner_texts()]
        assert alerts[1] == "north-1 (wheat): bodemvocht 10,5 % is lager dan 15 % sinds 3 jun 2026, 05:30", alerts
        assert alerts[2].startswith("south-2 (meadow): 1 d 6 u niet gehoord: langer dan 3 intervallen van 1 u")
        v.no_sideways_scrolling()
        v.screenshot("dashboard-overview-nl-phone.png")

        # The switch: English, kept for the next page; back to Dutch.
        v.page.locator('#lang button[data-lang="en"]').click()
        v.page.wait_for_selector("body[data-loaded=overview]")
        assert v.page.locator("h1").inner_text() == "Akker · field overview"
        assert "10,5 % dry" in words(
            v.page.locator('tr.node[data-node="north-1"]').inner_text()
        )  # formats: still Dutch
        v.page.locator('#lang button[data-lang="nl"]').click()
        v.page.wait_for_selector("body[data-loaded=overview]")
        assert v.page.locator("h1").inner_text() == "Akker · perceeloverzicht"
        v.check_clean()
    finally:
        v.context.close()


def test_a_dutch_farmer_on_a_phone_reads_a_node_up_to_now_with_its_thresholds(
    browser: Browser, fields_dashboard: DashboardServer, tmp_path: Path
) -> None:
    v = dutch_phone(browser, fields_dashboard, tmp_path)
    try:
        v.page.goto(fields_dashboard.url + "node/north-1")
        v.page.wait_for_selector("body[data-loaded=node]")
        assert v.page.locator("#title").inner_text() == "Sensor north-1"
        detail = api(fields_dashboard, "api/nodes/north-1")
        check_charts(v.page, detail)
        now = farm.NOW.timestamp()
        section = v.page.locator('section[data-chart="soil_moisture"]')
        assert section.get_attribute("data-range") == f"{now - 7 * 86400:.0f} {now:.0f}"
        legend = [words(i) for i in section.locator("ul.legend li").all_inner_texts()]
        assert legend == ["sonde 1 10,5 %", "sonde 2 35,0 %", "droog onder 15 %", "nat boven 32 %"], legend
        facts = words(v.page.locator("#facts").inner_text())
        assert "goed (-97 dBm · SNR 7,5 dB · 2 gateways)" in facts
        v.no_sideways_scrolling()
        v.screenshot("dashboard-node-north-1-nl-phone.png")

        # A silent node: its charts still run to now, so the days it said nothing are an empty stretch.
        v.page.goto(fields_dashboard.url + "node/south-2?days=3")
        v.page.wait_for_selector("body[data-loaded=node]")
        battery = v.page.locator('section[data-chart="battery"]')
        assert battery.get_attribute("data-range") == f"{now - 3 * 86400:.0f} {now:.0f}"
        assert words(battery.locator("li[data-kind=series]").inner_text()) == "batterij 3,38 V"
        assert "stale" in (v.page.locator('#facts [data-fact="last_seen"] dd').get_attribute("class") or "")
        v.no_sideways_scrolling()
        v.screenshot("dashboard-node-south-2-nl-phone.png")
        v.check_clean()
    finally:
        v.context.close()


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("node/west-9", 404, "Er is geen sensor met de naam “west-9”."),
        ("node/north-1?days=abc", 400, "“abc” is geen aantal dagen: kies een heel getal van 1 tot 366."),
    ],
)
def test_a_page_that_cannot_be_shown_says_why_in_dutch_and_leads_back(
    browser: Browser, fields_dashboard: DashboardServer, tmp_path: Path, path: str, status: int, text: str
) -> None:
    v = dutch_phone(browser, fields_dashboard, tmp_path)
    try:
        response = v.page.goto(fields_dashboard.url + path)
        assert response is not None and response.status == status
        v.page.wait_for_selector("body[data-loaded=error]")
        assert v.page.locator("#error").inner_text().startswith(text)
        v.no_sideways_scrolling()
        v.screenshot(f"dashboard-error-{status}-nl-phone.png")
        v.page.locator("#back").click()
        v.page.wait_for_selector("body[data-loaded=overview]")
        assert v.page.url == fields_dashboard.url
    finally:
        v.context.close()
