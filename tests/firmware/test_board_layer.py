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


def test_a_trap_wake_is_one_catch_on_its_trap(machine: types.ModuleType, tmp_path: Path) -> None:
    b = board("heltec_v3", tmp_path)
    assert b.trap_pulses() == [0, 0] and not b.woke_by_trap()
    machine.cause = 4  # type: ignore[attr-defined]  # woke from deep sleep, by ext0
    assert b.woke_by_trap()
    assert b.trap_pulses() == [1, 0]


WITH_BUTTON = [b for b in REAL if json.loads((BOARDS / f"{b}.json").read_text())["button"]]


class Technician:
    """time.sleep_ms as the board layer's only clock: presses or lets go of the button at given milliseconds.

    It also notes whether the LED was lit at each wait, which is what the technician watches.
    """

    def __init__(self, spec: dict[str, Any], press_at_ms: int | None = None, let_go_at_ms: int | None = None) -> None:
        self.button, self.led = spec["button"], spec["led"]
        self.press_at_ms, self.let_go_at_ms = press_at_ms, let_go_at_ms
        self.waited_ms = 0
        self.lit_ms = 0

    def sleep_ms(self, ms: int) -> None:
        if Pin.levels.get(self.led["pin"]) == self.led["active"]:
            self.lit_ms += ms
        self.waited_ms += ms
        if self.press_at_ms is not None and self.waited_ms >= self.press_at_ms:
            Pin.levels[self.button["pin"]] = self.button["active"]
            self.press_at_ms = None
        if self.let_go_at_ms is not None and self.waited_ms >= self.let_go_at_ms:
            Pin.levels[self.button["pin"]] = 1 - self.button["active"]
            self.let_go_at_ms = None


def technician(board_id: str, monkeypatch: pytest.MonkeyPatch, **kwargs: int) -> Technician:
    t = Technician(json.loads((BOARDS / f"{board_id}.json").read_text()), **kwargs)
    monkeypatch.setattr(time, "sleep_ms", t.sleep_ms, raising=False)
    return t


@pytest.mark.parametrize("board_id", WITH_BUTTON)
def test_a_press_while_the_led_is_lit_after_a_power_on_is_maintenance(
    board_id: str, machine: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = board(board_id, tmp_path)
    t = technician(board_id, monkeypatch, press_at_ms=1000, let_go_at_ms=1500)
    assert b.maintenance()
    assert 1000 <= t.waited_ms <= 1040  # taken at once (seen twice, 20 ms apart), not at the window's end
    assert t.lit_ms == t.waited_ms  # lit all along ...
    assert Pin.levels[b.spec["led"]["pin"]] != b.spec["led"]["active"]  # ... and out once the press is taken
    assert not b.survey_requested()  # let go half a second later: maintenance only


@pytest.mark.parametrize("board_id", WITH_BUTTON)
@pytest.mark.parametrize("cause", ["PWRON_RESET", "HARD_RESET"])
def test_no_press_is_no_maintenance_after_the_3_s_window_of_a_reset(
    board_id: str, cause: str, machine: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine.HARD_RESET = 5  # type: ignore[attr-defined]
    machine.cause = getattr(machine, cause)  # type: ignore[attr-defined]
    b = board(board_id, tmp_path)
    t = technician(board_id, monkeypatch)
    assert not b.maintenance()
    assert t.waited_ms == t.lit_ms == 3000
    assert Pin.levels[b.spec["led"]["pin"]] != b.spec["led"]["active"]


@pytest.mark.parametrize("board_id", WITH_BUTTON)
@pytest.mark.parametrize("cause", ["DEEPSLEEP_RESET", "WDT_RESET", "BROWNOUT_RESET", "SOFT_RESET"])
def test_a_deep_sleep_wake_a_watchdog_a_brownout_or_a_soft_reset_never_waits_for_the_window(
    board_id: str, cause: str, machine: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine.BROWNOUT_RESET, machine.SOFT_RESET = 7, 6  # type: ignore[attr-defined]
    machine.cause = getattr(machine, cause)  # type: ignore[attr-defined]
    b = board(board_id, tmp_path)
    button, led = b.spec["button"], b.spec["led"]
    Pin.levels[button["pin"]] = button["active"]  # even with the button held down
    t = technician(board_id, monkeypatch)
    assert not b.maintenance()
    assert t.waited_ms == 0
    assert led["pin"] not in Pin.levels  # the LED never touched: no light, no current


@pytest.mark.parametrize("board_id", REAL)
@pytest.mark.parametrize("cause", ["PWRON_RESET", "DEEPSLEEP_RESET"])
def test_the_flag_file_is_maintenance_at_every_boot_without_a_window(
    board_id: str, cause: str, machine: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine.cause = getattr(machine, cause)  # type: ignore[attr-defined]
    b = board(board_id, tmp_path)
    t = technician(board_id, monkeypatch)
    (tmp_path / "maintenance").write_text("")
    assert b.maintenance()
    assert t.waited_ms == 0
    (tmp_path / "maintenance").unlink()
    assert not b.maintenance()


def test_a_board_without_a_button_opens_no_window(
    machine: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = board("rak11310", tmp_path)
    assert b.spec["button"] is None
    t = technician("rak11310", monkeypatch)
    assert not b.maintenance() and not b.survey_requested()
    assert t.waited_ms == 0


@pytest.mark.parametrize("board_id", WITH_BUTTON)
def test_a_survey_is_the_button_held_on_5_s_past_its_press_in_the_window_or_a_flag_file(
    board_id: str, machine: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = board(board_id, tmp_path)
    t = technician(board_id, monkeypatch, press_at_ms=500, let_go_at_ms=500 + 20 + 4900)
    assert b.maintenance()
    pressed_ms = t.waited_ms
    assert not b.survey_requested()  # let go 4.9 s past the press: maintenance only
    assert t.waited_ms - pressed_ms < 5000
    Pin.levels.clear()
    t = technician(board_id, monkeypatch, press_at_ms=500)
    assert b.maintenance()
    pressed_ms = t.waited_ms
    assert b.survey_requested()  # held on: a survey
    assert t.waited_ms - pressed_ms == 5000
    Pin.levels.clear()
    (tmp_path / "survey").write_text("")
    assert b.survey_requested()
