"""firmware/board.py against every board file, with stand-ins for `machine`, `esp32`, `onewire` and `lora`.

Those modules only exist on a board; the stand-ins record what the board layer
asks of them, so a wrong key, pin or polarity in boards/*.json or board.py
shows up here rather than in a field.
"""

from __future__ import annotations

import json
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

BOARDS = Path(__file__).parents[2] / "boards"
REAL = sorted(p.stem for p in BOARDS.glob("*.json") if p.stem != "sim")


class Pin:
    OUT, IN, PULL_UP = 1, 0, 2
    levels: ClassVar[dict[int, int]] = {}

    def __init__(self, pin: int, mode: int = 0, pull: int | None = None, value: int | None = None) -> None:
        self.pin = pin
        if value is not None:
            Pin.levels[pin] = value

    def value(self, v: int | None = None) -> int:
        if v is None:
            return Pin.levels.get(self.pin, 1)
        Pin.levels[self.pin] = v
        return v


class ADC:
    ATTN_0DB, ATTN_2_5DB, ATTN_6DB, ATTN_11DB = 0, 1, 2, 3
    uv: ClassVar[dict[int, int]] = {}

    def __init__(self, pin: Pin) -> None:
        self.pin = pin.pin
        self.attenuation = None

    def atten(self, a: int) -> None:
        self.attenuation = a

    def read_uv(self) -> int:
        return ADC.uv.get(self.pin, 0)

    def read_u16(self) -> int:
        return ADC.uv.get(self.pin, 0) * 65535 // 3300000


class Recorder:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.configured: list[dict[str, Any]] = []

    def configure(self, cfg: dict[str, Any]) -> None:
        self.configured.append(cfg)


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    m = types.ModuleType("machine")
    m.Pin, m.ADC = Pin, ADC  # type: ignore[attr-defined]
    m.SPI = m.I2C = m.WDT = Recorder  # type: ignore[attr-defined]
    m.PWRON_RESET, m.DEEPSLEEP_RESET, m.WDT_RESET = 1, 4, 3  # type: ignore[attr-defined]
    m.EXT0_WAKE, m.EXT1_WAKE = 2, 3  # type: ignore[attr-defined]
    m.cause = 1  # type: ignore[attr-defined]
    m.reset_cause = lambda: m.cause  # type: ignore[attr-defined]
    m.wake_reason = lambda: 2  # type: ignore[attr-defined]
    lora = types.ModuleType("lora")
    lora.SX1262 = lora.SX1276 = Recorder  # type: ignore[attr-defined]
    onewire = types.ModuleType("onewire")
    onewire.OneWire = Recorder  # type: ignore[attr-defined]
    for name, mod in (("machine", m), ("lora", lora), ("onewire", onewire)):
        monkeypatch.setitem(sys.modules, name, mod)
    # MicroPython's time functions, which CPython's time module lacks.
    monkeypatch.setattr(time, "ticks_ms", lambda: 0, raising=False)
    monkeypatch.setattr(time, "ticks_diff", lambda a, b: a - b, raising=False)
    monkeypatch.setattr(time, "sleep_ms", lambda ms: None, raising=False)
    monkeypatch.delitem(sys.modules, "firmware.board", raising=False)
    Pin.levels, ADC.uv = {}, {}
    yield m
    sys.modules.pop("firmware.board", None)


def board(board_id: str, tmp_path: Path) -> Any:
    from firmware.board import Board

    return Board(board_id, root=str(tmp_path), boards_dir=str(BOARDS))


@pytest.mark.parametrize("board_id", REAL)
def test_every_board_builds_its_parts(board_id: str, machine: types.ModuleType, tmp_path: Path) -> None:
    spec = json.loads((BOARDS / f"{board_id}.json").read_text())
    b = board(board_id, tmp_path)
    assert b.reset_cause() == "power_on"
    modem = b.modem()
    r = spec["radio"]
    assert modem.kwargs.get("busy", modem.kwargs.get("dio0")).pin == (r["busy"] if r["chip"] == "sx1262" else r["dio0"])
    if r["chip"] == "sx1262":
        assert modem.kwargs["dio3_tcxo_millivolts"] == r["dio3_tcxo_millivolts"]
    if r["tx_ant"]:
        assert modem.configured == [{"tx_ant": r["tx_ant"]}]
    for i in range(len(spec["soil_adc"])):
        assert b.soil_adc(i).read_uv() >= 0
    if spec["i2c"]:
        assert b.i2c().kwargs["sda"].pin == spec["i2c"]["sda"]
    b.onewire()
    wdt = b.watchdog(30000)
    assert wdt.kwargs["timeout"] == (8388 if spec["mcu"] == "rp2040" else 30000)


@pytest.mark.parametrize(
    "board_id", [b for b in REAL if json.loads((BOARDS / f"{b}.json").read_text())["power"]["vext"]]
)
def test_the_sensor_rail_follows_its_polarity(board_id: str, machine: types.ModuleType, tmp_path: Path) -> None:
    vext = json.loads((BOARDS / f"{board_id}.json").read_text())["power"]["vext"]
    b = board(board_id, tmp_path)
    assert Pin.levels[vext["pin"]] == 1 - vext["active"]  # off after construction
    b.power_sensors(True)
    assert Pin.levels[vext["pin"]] == vext["active"]
    b.power_sensors(False)
    assert Pin.levels[vext["pin"]] == 1 - vext["active"]


@pytest.mark.parametrize("level", [0, 1])
def test_heltec_v3_finds_its_divider_switch_polarity(level: int, machine: types.ModuleType, tmp_path: Path) -> None:
    """V3.0/3.1 enable the divider with LOW, V3.2 with HIGH: the board layer must find which."""
    b = board("heltec_v3", tmp_path)
    original = ADC.read_uv

    def read_uv(self: ADC) -> int:  # the pin sees the battery only while the switch is at `level`
        return 790000 if Pin.levels.get(37) == level else 0

    ADC.read_uv = read_uv  # type: ignore[method-assign]
    try:
        switch = b.battery_enable()
        assert switch.active == level
    finally:
        ADC.read_uv = original  # type: ignore[method-assign]


def test_maintenance_by_button_or_flag_file(machine: types.ModuleType, tmp_path: Path) -> None:
    b = board("heltec_v3", tmp_path)
    assert not b.maintenance()
    (tmp_path / "maintenance").write_text("")
    assert b.maintenance()
    (tmp_path / "maintenance").unlink()
    Pin.levels[0] = 0  # the PRG button held
    assert b.maintenance()


def test_a_trap_wake_is_one_catch_on_its_trap(machine: types.ModuleType, tmp_path: Path) -> None:
    b = board("heltec_v3", tmp_path)
    assert b.trap_pulses() == [0, 0] and not b.woke_by_trap()
    machine.cause = 4  # type: ignore[attr-defined]  # woke from deep sleep, by ext0
    assert b.woke_by_trap()
    assert b.trap_pulses() == [1, 0]


def test_a_survey_is_the_button_still_held_5_s_after_boot_or_a_flag_file(
    machine: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = board("heltec_v3", tmp_path)
    waited: list[int] = []

    def let_go_after_2_s(ms: int) -> None:
        waited.append(ms)
        if sum(waited) >= 2000:
            Pin.levels[0] = 1

    monkeypatch.setattr(time, "sleep_ms", let_go_after_2_s, raising=False)
    Pin.levels[0] = 0  # the PRG button held at boot ...
    assert b.maintenance() and not b.survey_requested()  # ... and let go after 2 s: maintenance only
    assert sum(waited) == 2000
    Pin.levels[0] = 0
    monkeypatch.setattr(time, "sleep_ms", lambda ms: None, raising=False)
    assert b.survey_requested()  # held on: a survey
    Pin.levels[0] = 1
    (tmp_path / "survey").write_text("")
    assert b.survey_requested()
