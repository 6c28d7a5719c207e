"""Every board file follows the schema the board layer reads (docs/boards.md), without pin clashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

BOARDS = Path(__file__).parents[1] / "boards"
FILES = sorted(BOARDS.glob("*.json"))
EXPECTED = {"heltec_v2", "heltec_v3", "heltec_wsl_v3", "lilygo_t3s3", "rak11310", "sim"}
KEYS = {
    "id",
    "name",
    "mcu",
    "micropython",
    "radio",
    "power",
    "battery",
    "led",
    "button",
    "i2c",
    "onewire",
    "soil_adc",
    "trap_pins",
    "rtc_wake_pins",
    "notes",
}
RADIO_KEYS = {
    "chip",
    "spi",
    "cs",
    "reset",
    "busy",
    "dio1",
    "dio0",
    "dio2_rf_sw",
    "dio3_tcxo_millivolts",
    "tx_ant",
    "ant_sw",
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def pins(b: dict[str, Any]) -> list[tuple[str, int]]:
    """Every (use, pin) of a board."""
    r = b["radio"]
    out = [(f"spi.{k}", r["spi"][k]) for k in ("sck", "mosi", "miso")]
    out += [(k, r[k]) for k in ("cs", "reset", "busy", "dio0", "dio1") if r[k] is not None]
    if r["ant_sw"]:
        out.append(("ant_sw", r["ant_sw"]["pin"]))
    for k in ("vext", "adc_ctrl"):
        if b["power"][k]:
            out.append((k, b["power"][k]["pin"]))
    out.append(("battery", b["battery"]["adc"]))
    for k in ("led", "button"):
        if b[k]:
            out.append((k, b[k]["pin"]))
    if b["i2c"]:
        out += [("i2c.sda", b["i2c"]["sda"]), ("i2c.scl", b["i2c"]["scl"])]
    out.append(("onewire", b["onewire"]))
    out += [("soil_adc", p) for p in b["soil_adc"]] + [("trap", p) for p in b["trap_pins"]]
    return out


def test_the_supported_boards_are_there() -> None:
    assert {p.stem for p in FILES} == EXPECTED


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_schema(path: Path) -> None:
    b = load(path)
    assert set(b) == KEYS
    assert b["id"] == path.stem
    assert b["mcu"] in ("esp32", "esp32s3", "rp2040", "unix")
    assert set(b["radio"]) == RADIO_KEYS
    assert b["radio"]["chip"] in ("sx1262", "sx1276", "sim")
    if b["radio"]["chip"] == "sx1262":
        assert b["radio"]["busy"] is not None and b["radio"]["dio1"] is not None
    if b["radio"]["chip"] == "sx1276":
        assert b["radio"]["dio0"] is not None
    assert set(b["power"]) == {"vext", "adc_ctrl"}
    for switch in (b["power"]["vext"], b["power"]["adc_ctrl"], b["led"], b["button"]):
        if switch:
            assert switch["active"] in (0, 1, [0, 1])
    assert b["battery"]["divider"] is None or 1.0 < b["battery"]["divider"] < 10.0
    assert 1 <= len(b["soil_adc"]) <= 4
    assert len(b["trap_pins"]) <= 2
    assert path.stat().st_size < 2048  # MicroPython parses it on the board


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_no_pin_serves_two_jobs(path: Path) -> None:
    used = pins(load(path))
    by_pin: dict[int, list[str]] = {}
    for use, pin in used:
        by_pin.setdefault(pin, []).append(use)
    assert {p: u for p, u in by_pin.items() if len(u) > 1} == {}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_esp32_traps_can_wake_the_chip(path: Path) -> None:
    b = load(path)
    if b["mcu"].startswith("esp32"):
        assert set(b["trap_pins"]) <= set(b["rtc_wake_pins"])
        assert b["micropython"]["chip"] == b["mcu"]
        assert b["micropython"]["flash_offset"] == ("0x1000" if b["mcu"] == "esp32" else "0x0")
