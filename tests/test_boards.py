"""Every boards/<id>.json against the board schema in docs/boards.md.

The board layer reads these files on MicroPython, so they must be plain JSON with
exactly the documented keys, small enough to parse on the board, and free of pin
clashes. Facts about the chips (RTC pins, ADC units, strapping and flash pins) are
from the Espressif and Raspberry Pi datasheets, as docs/boards.md lists them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway.workshop.mpy_build import tool

BOARDS_DIR = Path(__file__).resolve().parents[1] / "boards"
BOARD_FILES = sorted(BOARDS_DIR.glob("*.json"))
EXPECTED_BOARDS = {"heltec_v2", "heltec_v3", "heltec_wsl_v3", "lilygo_t3s3", "rak11310", "sim"}
MAX_FILE_BYTES = 2048  # parsed on the board at boot

TOP_KEYS = {
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
MICROPYTHON_KEYS = {"image", "chip", "flash_offset"}
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
}
RADIO_OPTIONAL_KEYS = {"ant_sw"}
SPI_KEYS = {"id", "sck", "mosi", "miso", "baudrate"}
POWER_KEYS = {"vext", "adc_ctrl"}
BATTERY_KEYS = {"adc", "divider", "atten"}
I2C_KEYS = {"id", "sda", "scl"}
SWITCH_KEYS = {"pin", "active"}

MCUS = {"esp32", "esp32s3", "rp2040", "unix"}
RADIO_CHIPS = {"sx1262", "sx1276", "sim"}
ESP32_ATTENUATIONS = {"0dB", "2.5dB", "6dB", "11dB"}
FLASH_OFFSETS = {"esp32": "0x1000", "esp32s3": "0x0"}

# Chip facts: the GPIO numbers that exist, that can wake from deep sleep, that are ADC inputs,
# and that a sensor must not use (strapping, in-package flash/PSRAM, native USB).
GPIOS = {
    "esp32": set(range(40)) - {20, 24, 28, 29, 30, 31},
    "esp32s3": set(range(22)) | set(range(26, 49)),
    "rp2040": set(range(30)),
}
RTC_GPIOS = {"esp32": {0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39}, "esp32s3": set(range(22))}
ADC1_GPIOS = {"esp32": set(range(32, 40)), "esp32s3": set(range(1, 11)), "rp2040": {26, 27, 28, 29}}
ADC2_GPIOS = {"esp32s3": set(range(11, 21))}  # allowed only where notes say why (WiFi must stay off)
NOT_FOR_SENSORS = {
    "esp32": {0, 2, 5, 12, 15} | set(range(6, 12)),
    "esp32s3": {0, 3, 45, 46, 19, 20} | set(range(26, 33)),
    "rp2040": set(),
}
INPUT_ONLY = {"esp32": set(range(34, 40))}
# On-board parts the schema has no key for; sensor pins must keep off them (docs/boards.md, sources).
ON_BOARD = {
    "heltec_v2": {4: "OLED SDA", 15: "OLED SCL", 16: "OLED reset", 13: "V2.0 battery", 34: "radio DIO2"},
    "heltec_v3": {17: "OLED SDA", 18: "OLED SCL", 21: "OLED reset"},
    "heltec_wsl_v3": {},
    # SD card in SPI mode (DAT1 = GPIO4 and DAT2 = GPIO12 are unused in that mode, so free), the
    # radio footprint's pads for the other radio variants, the OLED.
    "lilygo_t3s3": {
        **{2: "SD MISO", 11: "SD MOSI", 13: "SD CS", 14: "SD SCK"},
        **{9: "radio pad", 10: "radio pad", 21: "radio pad", 36: "radio pad"},
        **{17: "OLED SCL", 18: "OLED SDA"},
    },
    "rak11310": {24: "blue LED"},
    "sim": {},
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def is_int(value: Any) -> bool:
    return type(value) is int


def is_pin(value: Any) -> bool:
    return is_int(value) and value >= 0


def check_switch(value: Any, where: str, *, nullable: bool) -> None:
    """A {"pin": N, "active": 0 | 1 | [0, 1]} object, or null where the schema allows it."""
    if value is None:
        assert nullable, f"{where} must not be null"
        return
    assert isinstance(value, dict), f"{where} must be an object"
    assert set(value) == SWITCH_KEYS, f"{where} keys {sorted(value)}"
    assert is_pin(value["pin"]), f"{where}.pin"
    assert value["active"] in (0, 1, [0, 1]) and type(value["active"]) is not bool, f"{where}.active"


def assigned_pins(board: dict[str, Any]) -> list[tuple[str, int]]:
    """(function, pin) for every pin the board assigns: radio, power, battery, led, button, i2c, sensors."""
    radio = board["radio"]
    pins = [(f"radio.spi.{k}", radio["spi"][k]) for k in ("sck", "mosi", "miso")]
    pins += [(f"radio.{k}", radio[k]) for k in ("cs", "reset", "busy", "dio1", "dio0") if radio[k] is not None]
    if radio.get("ant_sw"):
        pins.append(("radio.ant_sw", radio["ant_sw"]["pin"]))
    pins += [(f"power.{k}", v["pin"]) for k, v in board["power"].items() if v is not None]
    pins.append(("battery.adc", board["battery"]["adc"]))
    pins += [(k, board[k]["pin"]) for k in ("led", "button") if board[k] is not None]
    if board["i2c"] is not None:
        pins += [("i2c.sda", board["i2c"]["sda"]), ("i2c.scl", board["i2c"]["scl"])]
    pins.append(("onewire", board["onewire"]))
    pins += [("soil_adc", p) for p in board["soil_adc"]]
    pins += [("trap_pins", p) for p in board["trap_pins"]]
    return pins


def sensor_pins(board: dict[str, Any]) -> set[int]:
    pins = {board["onewire"], *board["soil_adc"], *board["trap_pins"]}
    if board["i2c"] is not None:
        pins |= {board["i2c"]["sda"], board["i2c"]["scl"]}
    return pins


def test_the_set_of_boards_is_exactly_the_supported_six() -> None:
    assert {p.stem for p in BOARD_FILES} == EXPECTED_BOARDS


@pytest.fixture(params=BOARD_FILES, ids=lambda p: p.stem)
def board_file(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture
def board(board_file: Path) -> dict[str, Any]:
    return load(board_file)


def test_file_is_small_plain_json_named_by_its_id(board_file: Path) -> None:
    raw = board_file.read_bytes()
    assert len(raw) < MAX_FILE_BYTES, f"{len(raw)} bytes"
    raw.decode("ascii")  # MicroPython's json is happiest with plain ASCII
    board = json.loads(raw)
    assert isinstance(board, dict)
    assert board["id"] == board_file.stem


def test_top_level_keys_and_types(board: dict[str, Any]) -> None:
    assert set(board) == TOP_KEYS
    assert isinstance(board["name"], str) and board["name"]
    assert board["mcu"] in MCUS
    assert isinstance(board["notes"], str) and board["notes"].strip()
    assert is_pin(board["onewire"])
    for key in ("soil_adc", "trap_pins", "rtc_wake_pins"):
        assert isinstance(board[key], list) and all(is_pin(p) for p in board[key]), key
        assert len(set(board[key])) == len(board[key]), f"{key} repeats a pin"
    assert board["soil_adc"] and board["trap_pins"]


def test_micropython_image(board: dict[str, Any]) -> None:
    mp = board["micropython"]
    assert set(mp) == MICROPYTHON_KEYS
    mcu = board["mcu"]
    if mcu == "unix":
        assert mp == {"image": None, "chip": None, "flash_offset": None}
        return
    assert isinstance(mp["image"], str) and mp["image"]
    if mcu in FLASH_OFFSETS:  # esptool arguments
        assert mp["chip"] == mcu
        assert mp["flash_offset"] == FLASH_OFFSETS[mcu]
    else:  # rp2040 takes a UF2 image: no esptool
        assert mp["chip"] is None and mp["flash_offset"] is None


def test_radio(board: dict[str, Any]) -> None:
    radio = board["radio"]
    assert RADIO_KEYS <= set(radio) <= RADIO_KEYS | RADIO_OPTIONAL_KEYS
    assert radio["chip"] in RADIO_CHIPS
    assert (radio["chip"] == "sim") == (board["mcu"] == "unix")
    assert set(radio["spi"]) == SPI_KEYS and all(is_int(v) for v in radio["spi"].values())
    assert radio["spi"]["baudrate"] > 0
    assert is_pin(radio["cs"]) and is_pin(radio["reset"])
    for key in ("busy", "dio1", "dio0"):
        assert radio[key] is None or is_pin(radio[key]), key
    assert type(radio["dio2_rf_sw"]) is bool
    tcxo = radio["dio3_tcxo_millivolts"]
    assert tcxo is None or (is_int(tcxo) and 1600 <= tcxo <= 3300)  # the SX126x driver's range
    assert radio["tx_ant"] in (None, "PA_BOOST")
    check_switch(radio.get("ant_sw"), "radio.ant_sw", nullable=True)
    if radio["chip"] == "sx1262":
        assert is_pin(radio["busy"]) and is_pin(radio["dio1"]), "the SX1262 driver needs busy and dio1"
        assert radio["dio0"] is None and radio["tx_ant"] is None
    if radio["chip"] == "sx1276":
        assert is_pin(radio["dio0"]), "the SX1276 driver needs dio0"
        assert radio["busy"] is None and radio["dio3_tcxo_millivolts"] is None and not radio["dio2_rf_sw"]


def test_power_battery_led_button_i2c(board: dict[str, Any]) -> None:
    assert set(board["power"]) == POWER_KEYS
    check_switch(board["power"]["vext"], "power.vext", nullable=True)
    check_switch(board["power"]["adc_ctrl"], "power.adc_ctrl", nullable=True)
    check_switch(board["led"], "led", nullable=True)
    check_switch(board["button"], "button", nullable=True)

    battery = board["battery"]
    assert set(battery) == BATTERY_KEYS
    assert is_pin(battery["adc"])
    divider = battery["divider"]
    if divider is None:
        assert "divider" in board["notes"], "an unknown divider must be explained in notes"
    else:
        assert isinstance(divider, (int, float)) and type(divider) is not bool and divider >= 1
    if board["mcu"] in ("esp32", "esp32s3"):
        assert battery["atten"] in ESP32_ATTENUATIONS
    else:
        assert battery["atten"] is None

    i2c = board["i2c"]
    assert i2c is None or (set(i2c) == I2C_KEYS and all(is_int(v) for v in i2c.values()))


def test_no_pin_serves_two_functions(board: dict[str, Any]) -> None:
    seen: dict[int, str] = {}
    for function, pin in assigned_pins(board):
        assert pin not in seen, f"GPIO{pin} is both {seen[pin]} and {function}"
        seen[pin] = function


def test_pins_exist_on_the_chip(board: dict[str, Any]) -> None:
    mcu = board["mcu"]
    if mcu == "unix":
        return
    pins = {pin for _, pin in assigned_pins(board)} | set(board["rtc_wake_pins"])
    assert pins <= GPIOS[mcu], f"not GPIOs of {mcu}: {sorted(pins - GPIOS[mcu])}"


def test_sensor_pins_avoid_strapping_flash_and_usb_pins(board: dict[str, Any]) -> None:
    mcu = board["mcu"]
    if mcu == "unix":
        return
    clash = sensor_pins(board) & NOT_FOR_SENSORS[mcu]
    assert not clash, f"sensor pins on strapping/flash/USB pins: {sorted(clash)}"
    outputs = {board["onewire"]} | ({board["i2c"]["sda"], board["i2c"]["scl"]} if board["i2c"] else set())
    assert not outputs & INPUT_ONLY.get(mcu, set()), "onewire and I2C need output-capable pins"


def test_sensors_keep_off_on_board_parts(board: dict[str, Any]) -> None:
    parts = ON_BOARD[board["id"]]
    pins = {board["onewire"], *board["soil_adc"], *board["trap_pins"]}
    assert not {p: parts[p] for p in pins if p in parts}


def test_soil_probes_are_on_adc_inputs(board: dict[str, Any]) -> None:
    mcu = board["mcu"]
    if mcu == "unix":
        return
    soil = set(board["soil_adc"])
    adc2 = soil & ADC2_GPIOS.get(mcu, set())
    assert soil - adc2 <= ADC1_GPIOS[mcu], f"not ADC inputs: {sorted(soil - adc2 - ADC1_GPIOS[mcu])}"
    if adc2:
        assert "ADC2" in board["notes"], "ADC2 soil pins (unusable with WiFi on) must be explained in notes"


def test_wake_pins(board: dict[str, Any]) -> None:
    mcu = board["mcu"]
    wake = set(board["rtc_wake_pins"])
    if mcu == "rp2040":
        assert wake == set()
    elif mcu in RTC_GPIOS:
        assert wake <= RTC_GPIOS[mcu], f"not RTC GPIOs: {sorted(wake - RTC_GPIOS[mcu])}"
        assert set(board["trap_pins"]) <= wake, "trap pins must wake the ESP32 from deep sleep"
    else:
        assert set(board["trap_pins"]) <= wake


def test_every_board_file_loads_on_micropython(tmp_path: Path) -> None:
    """The real interpreter's json module reads every file, with a small heap."""
    script = "import json\nfor p in %r:\n    with open(p) as f:\n        print(json.load(f)['id'])\n" % [
        str(p) for p in BOARD_FILES
    ]
    result = subprocess.run(
        [tool("micropython"), "-X", "heapsize=16k", "-c", script],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path), "PATH": ""},
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [p.stem for p in BOARD_FILES]
