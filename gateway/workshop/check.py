"""Is this board ready to leave the workshop? The self-test's report judged, one PASS or FAIL per check.

The board measures (firmware/selftest.py's report() prints one JSON line
through the raw REPL); this module judges: each check becomes PASS with its
value, or FAIL with the reason and what to do. `akker check` prints them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware.version import VERSION
from gateway.workshop.device import Device, DeviceError, check_board
from gateway.workshop.provision import ProvisionError, board_file
from payload_codec.report_layout import HI, KEY, LO


class SelftestError(DeviceError):
    """The board answered, but with no self-test result; the message says what to do."""


SELFTEST = "from firmware.selftest import report; report()"
# Free heap (after gc.collect, at the REPL) below which the node's cycle may run out of memory. A class A
# wake-up needs about 81-87 KB on a 32-bit board with the code as .mpy files, 32-40 KB frozen, and about
# 114 KB on the 64-bit desktop port (docs/firmware.md, Heap). The ESP32 ports start with a 56-64 KB heap
# and grow it from the IDF heap when it runs low, so 64 KB is the floor here, not the need.
MIN_HEAP_KB = {32: 64, 64: 128}


def _report_range(key: str) -> tuple[float, float]:
    i = KEY.index(key)
    return LO[i], HI[i]


# Readings outside the report's ranges are faults, not weather: the node would send them as failed.
SOIL_TEMP_RANGE_C = _report_range("soil_temp_c")
AIR_TEMP_RANGE_C = _report_range("air_temp_c")
RH_RANGE_PCT = _report_range("air_rh_pct")

# What to do when a check fails, by the check's name before any "[i]"; {i}: the probe index.
ADVICE = {
    "board": "deploy the firmware with the right --board (akker deploy)",
    "sensors": "the config asks for more than the board file wires: provision the node again for this board",
    "soil_moisture": "check probe {i}'s plug on soil input {i} and its cable",
    "soil_temp": "check the DS18B20 wiring on the 1-Wire pin: data, 4.7 kOhm pull-up to 3.3 V, ground",
    "air": "check the sensor's I2C wiring (SDA, SCL, 3.3 V, GND) and that config sensors.air names the chip fitted",
    "battery": "check the cell and its connector; a bench supply on USB alone reads no battery",
    "radio": "check that the board file matches this board (akker deploy --board) and the radio module's seating",
    "state": "provision the node again (new keys) and deploy: the frame counter cannot be trusted",
}


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}: {self.text}"


def _fail(name: str, why: str) -> Result:
    base, _, index = name.partition("[")
    advice = ADVICE.get(base, "")
    if advice:
        why = f"{why}: {advice.format(i=index.rstrip(']'))}"
    return Result(name, False, why)


def _between(value: float, lo_hi: tuple[float, float]) -> bool:
    return lo_hi[0] <= value <= lo_hi[1]


def _board(value: Any, platform: tuple[str, str], port: str) -> Result:
    try:
        board = board_file(str(value))
        check_board(platform, board, port)
    except (ProvisionError, DeviceError) as err:
        return _fail("board", str(err))
    chip = platform[1].split(" [")[0] or platform[0]  # the unix port's _machine is "linux [GCC ...] version"
    return Result("board", True, f"{value} ({board.get('name', value)}), {chip} answers")


def _config(cfg: dict[str, Any], board_id: Any) -> Result:
    if board_id is not None and cfg["board"] != board_id:
        return Result(
            "config",
            False,
            f"config.json is for board {cfg['board']}, but boards/{board_id}.json is on the board: "
            "deploy the node's own config (akker deploy --config FILE)",
        )
    if cfg["role"] == "gateway":
        return Result("config", True, f"gateway on {cfg['channels_khz'][0]} kHz, SF{cfg['sf']}")
    return Result("config", True, f"node, DevAddr {cfg.get('dev_addr')}, every {cfg['interval_s']} s, SF{cfg['sf']}")


def _soil(name: str, value: Any, cfg: dict[str, Any] | None) -> Result:
    pct, raw = value
    text = f"{pct:.1f} % (raw {raw}"
    index = int(name[name.index("[") + 1 : -1])
    if cfg is not None and index < len(cfg["soil_moisture"]):
        dry, wet = cfg["soil_moisture"][index]
        text += f"; calibrated dry {dry}, wet {wet}"
    return Result(name, True, text + ")")


def _temperature(name: str, value: Any) -> Result:
    if not _between(value, SOIL_TEMP_RANGE_C):
        lo, hi = SOIL_TEMP_RANGE_C
        return _fail(name, f"reads {value:.1f} °C, outside {lo:.0f}..{hi:.0f} °C")
    return Result(name, True, f"{value:.1f} °C")


def _air(value: Any) -> Result:
    temp, rh = value
    if not _between(temp, AIR_TEMP_RANGE_C) or not _between(rh, RH_RANGE_PCT):
        return _fail("air", f"reads {temp:.1f} °C, {rh:.1f} %RH: outside the sensor's range")
    return Result("air", True, f"{temp:.1f} °C, {rh:.1f} %RH")


def _battery(value: Any, cfg: dict[str, Any] | None) -> Result:
    low = cfg["low_battery_v"] if cfg else None
    if low is not None and value < low:
        return Result(
            "battery",
            False,
            f"{value:.2f} V, below low_battery_v {low} V, where the node stops sending: charge or replace the cell",
        )
    return Result("battery", True, f"{value:.2f} V")


def _radio(value: Any) -> Result:
    return Result("radio", True, f"{value} answers, in standby")


def _heap(heap: dict[str, int] | None) -> Result | None:
    if not heap:
        return None
    free_kb, total_kb = heap["free"] // 1024, heap["total"] // 1024
    need = MIN_HEAP_KB.get(heap["bits"], MIN_HEAP_KB[32])
    text = f"{free_kb} KB free of {total_kb} KB"
    if free_kb < need:
        return Result(
            "heap",
            False,
            f"{text}, the node's cycle needs about {need} KB: use a board with more RAM, or an image with the "
            "firmware frozen in (docs/firmware.md, Heap)",
        )
    return Result("heap", True, text)


def _state(value: Any) -> Result:
    if value is None:
        return Result("state", True, "no counters yet: the node has not sent a frame")
    if value["source"] == "rtc":
        where, fcnt = "in RTC memory", f"next frame counter {value['fcnt']}"
    else:  # flash is written every 32 frames and before trap counts go out: it lags RTC memory
        where, fcnt = "as last saved to flash", f"frame counters reserved up to {value['fcnt']}"
    return Result(
        "state",
        True,
        f"{where}: boot {value['boots']}, {value['tx_frames']} frames sent, {fcnt}, {value['sensor_errors']} sensor "
        f"errors, {value['radio_errors']} radio errors, {value['faults']} faults",
    )


def _firmware(version: list[int]) -> Result:
    board, here = ".".join(map(str, version)), ".".join(map(str, VERSION))
    if list(version) != list(VERSION):
        return Result("firmware", False, f"{board} on the board, {here} in this akker: deploy it (akker deploy)")
    return Result("firmware", True, board)


def judge(report: dict[str, Any], platform: tuple[str, str], port: str) -> list[Result]:
    """The self-test's facts as PASS/FAIL results, in a fixed order: firmware, board, config, sensors, the rest."""
    checks: list[list[Any]] = report["checks"]
    found = {name: (value, why) for name, value, why in checks}
    board_id = found.get("board", (None, None))[0]
    cfg = found.get("config", (None, None))[0]
    results = [_firmware(report["firmware"])]
    judges: dict[str, Callable[[str, Any], Result]] = {
        "board": lambda _n, v: _board(v, platform, port),
        "config": lambda _n, v: _config(v, board_id),
        "soil_moisture": lambda n, v: _soil(n, v, cfg),
        "soil_temp": _temperature,
        "air": lambda _n, v: _air(v),
        "battery": lambda _n, v: _battery(v, cfg),
        "radio": lambda _n, v: _radio(v),
        "state": lambda _n, v: _state(v),
    }
    state: Result | None = None
    for name, value, why in checks:
        if why is not None:
            result = _fail(name, str(why))
        else:
            judge_one = judges.get(name.partition("[")[0])
            # A check this akker does not know (newer firmware): its value as it came.
            result = judge_one(name, value) if judge_one else Result(name, True, json.dumps(value))
        if name == "state":
            state = result  # printed last, after the traps it counts
            continue
        results.append(result)
    if cfg is not None and cfg["traps"]:
        counts = found.get("state", (None, None))[0]
        traps = counts["traps"][: cfg["traps"]] if counts else [0] * cfg["traps"]
        results.append(Result("traps", True, f"{', '.join(map(str, traps))} catches counted"))
    heap = _heap(report.get("heap"))
    if heap is not None:
        results.append(heap)
    if state is not None:
        results.append(state)
    return results


def parse(output: str) -> dict[str, Any]:
    """The self-test's JSON line from what the board printed; SelftestError when there is none."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                got = json.loads(line)
            except ValueError:
                break
            if isinstance(got, dict) and "selftest" in got:
                return got
            break
    tail = output.strip().splitlines()[-1:] or ["nothing"]
    raise SelftestError(
        f"the board's self-test printed no result (last line: {tail[0]!r}): deploy again (akker deploy)"
    )


def run_selftest(dev: Device, call: str) -> dict[str, Any]:
    """Run a firmware.selftest function through the raw REPL and parse its line."""
    try:
        return parse(dev.exec(call))
    except DeviceError as err:
        if "selftest" in str(err):
            raise SelftestError(
                f"the firmware on {dev.port} has no self-test (firmware.selftest): deploy this akker's firmware "
                "(akker deploy), then retry"
            ) from None
        raise
