"""`akker check`: a deployed virtual board passes every check; faults, a bad config and an unreachable board do not.

The board is a bare virtual board (MicroPython behind a pty, its own flash)
after `akker provision` and `akker deploy --board sim`. The deploy runs once
per module; each test boots a copy of that flash, as a second board deployed
the same way. The self-test's own faults (a NACKing sensor, a probe gone from
the 1-Wire bus) are injected through the simulated buses on CPython, where
the same firmware/selftest.py runs.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import serial

from firmware import selftest
from firmware.sim.board import SimBoard
from firmware.sim.clock import SimClock
from firmware.sim.field import Field
from firmware.version import VERSION
from gateway.sim.virtual_board import VirtualBoard
from gateway.workshop.check import judge
from tests.firmware.sim_node import node_config
from tests.workshop.deployed import akker

REPO = Path(__file__).resolve().parents[2]


def check(board: VirtualBoard) -> subprocess.CompletedProcess[str]:
    return akker("check", "--port", str(board.tty))


def lines(out: str) -> dict[str, str]:
    """check's output as name -> its 'PASS ...' or 'FAIL ...' line."""
    got = {}
    for line in out.splitlines():
        if line.startswith(("PASS ", "FAIL ")):
            got[line[5:].split(":", 1)[0]] = line
    return got


def number(line: str, after: str = ": ") -> float:
    return float(line.split(after, 1)[1].split()[0])


# ---------------------------------------------------------------- against the virtual board


def test_a_deployed_board_passes_every_check_with_what_its_sensors_see(board: VirtualBoard) -> None:
    out = check(board)
    assert out.returncode == 0, out.stdout + out.stderr
    got = lines(out.stdout)
    assert set(got) == {
        "firmware", "board", "config", "soil_moisture[0]", "soil_moisture[1]", "soil_temp[0]", "soil_temp[1]", "air",
        "battery", "traps", "radio", "heap", "state",
    }  # fmt: skip
    assert all(line.startswith("PASS ") for line in got.values()), out.stdout
    assert out.stdout.splitlines()[-1] == f"all {len(got)} checks passed"
    assert got["firmware"] == "PASS firmware: " + ".".join(map(str, VERSION))
    # The self-test builds a fresh simulated board: its field at time 0 (the readings take a few virtual ms).
    field = Field()
    for i in range(2):
        assert number(got[f"soil_moisture[{i}]"]) == pytest.approx(field.soil_moisture_pct(0, i), abs=0.1)
        assert f"raw {field.soil_raw(0, i)};" in got[f"soil_moisture[{i}]"]
        assert number(got[f"soil_temp[{i}]"]) == pytest.approx(field.soil_temp_c(0, i), abs=0.1)
    temp_c, rh_pct = field.air(0)
    assert number(got["air"]) == pytest.approx(temp_c, abs=0.1)
    assert number(got["air"], "°C, ") == pytest.approx(rh_pct, abs=0.1)
    assert number(got["battery"]) == pytest.approx(field.battery_v(0), abs=0.01)
    assert "DevAddr" in got["config"] and "sim answers, in standby" in got["radio"]
    assert "KB free of" in got["heap"] and "boot 2," in got["state"]  # deployed, then booted again here
    assert out.stderr == ""


def test_a_sensor_the_bus_lacks_is_a_fail_with_the_reason_and_what_to_do(board: VirtualBoard) -> None:
    config = board.root / "config.json"
    cfg = json.loads(config.read_text())
    cfg["sensors"]["air"] = "sht3x"  # the simulated bus carries an SHT4x, which refuses SHT3x commands
    config.write_text(json.dumps(cfg))
    out = check(board)
    assert out.returncode == 1, out.stdout + out.stderr
    got = lines(out.stdout)
    assert got["air"] == (
        "FAIL air: SHT at 0x44 did not accept its command: check the sensor's I2C wiring (SDA, SCL, 3.3 V, GND) "
        "and that config sensors.air names the chip fitted"
    )
    assert [name for name, line in got.items() if line.startswith("FAIL")] == ["air"]
    assert out.stdout.splitlines()[-1] == f"1 of {len(got)} checks failed: air"
    assert out.stderr == ""


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"role": "node",', "config: /config.json is not valid JSON: deploy it again"),
        (None, "config: /config.json is missing: deploy it with akker deploy"),
        (b'["node"]', "config: the file must be an object"),
    ],
)
def test_an_invalid_or_missing_config_is_a_fail_not_a_crash(
    board: VirtualBoard, content: bytes | None, reason: str
) -> None:
    config = board.root / "config.json"
    if content is None:
        config.unlink()
    else:
        config.write_bytes(content)
    out = check(board)
    assert out.returncode == 1, out.stdout + out.stderr
    got = lines(out.stdout)
    assert got["config"].startswith(f"FAIL config: {reason}"), got["config"]
    # What needs no config still answers; the sensors are not guessed at.
    for name in ("firmware", "board", "radio", "heap", "state"):
        assert got[name].startswith("PASS "), got[name]
    assert not any(name.startswith(("soil", "air", "battery", "traps")) for name in got)
    assert "Traceback" not in out.stdout + out.stderr


def test_a_board_that_cannot_be_reached_or_checked_exits_2(board: VirtualBoard, empty_port: str) -> None:
    out = akker("check", "--port", empty_port)
    assert out.returncode == 2 and out.stderr.startswith("akker: no board answers on"), out.stderr
    out = akker("check", "--port", "/dev/ttyUSB97")
    assert out.returncode == 2 and "akker: no port /dev/ttyUSB97" in out.stderr
    with serial.Serial(str(board.tty), exclusive=True):
        out = check(board)
    assert out.returncode == 2 and "is busy: another program holds it" in out.stderr
    (board.root / "lib" / "firmware" / "selftest.mpy").unlink()  # deployed by an akker without the self-test
    out = check(board)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "has no self-test (firmware.selftest): deploy this akker's firmware" in out.stderr
    assert out.stdout == ""


# ---------------------------------------------------------------- the board side on CPython, with faults


@pytest.fixture
def flash(tmp_path: Path) -> Path:
    (tmp_path / "boards").mkdir()
    shutil.copy(REPO / "boards" / "sim.json", tmp_path / "boards")
    (tmp_path / "config.json").write_text(json.dumps(node_config()))
    return tmp_path


def run_report(root: Path) -> dict[str, Any]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        selftest.report(str(root))
    (line,) = buf.getvalue().splitlines()  # one line, whatever happens
    return dict(json.loads(line))


def sensor_checks(board: SimBoard, root: Path) -> dict[str, list[Any]]:
    from firmware import config

    checks: list[list[Any]] = []
    selftest._sensors(board, config.load(str(root / "config.json")), checks)
    return {name: [value, why] for name, value, why in checks}


def test_the_self_test_prints_one_line_of_facts_on_cpython(flash: Path) -> None:
    got = run_report(flash)
    assert got["selftest"] == 1 and got["firmware"] == list(VERSION) and got["heap"] is None  # CPython: no gc.mem_free
    names = [name for name, _value, why in got["checks"] if why is None]
    assert names == ["board", "config", "soil_moisture[0]", "soil_moisture[1]", "soil_temp[0]", "soil_temp[1]", "air",
                     "battery", "radio", "state"]  # fmt: skip
    config = {name: value for name, value, _why in got["checks"]}["config"]
    assert "nwk_skey" not in config and "app_skey" not in config  # never a key


def test_a_nacking_sensor_and_a_missing_probe_are_reasons_not_crashes(flash: Path) -> None:
    board = SimBoard(str(flash), SimClock(), Field())
    board.sht_nack = True
    board.absent_probes = (1, 2, 3)  # the simulated bus carries four; the config counts the first two
    got = sensor_checks(board, flash)
    assert got["air"] == [None, "no device answers (ENODEV)"]
    assert got["soil_temp[1]"] == [None, "1 of 2 probes found on the 1-Wire bus"]
    assert got["soil_temp[0]"][1] is None and got["soil_moisture[0]"][1] is None
    board = SimBoard(str(flash), SimClock(), Field())
    board.corrupt_probes = (0,)  # its scratchpad CRC fails
    got = sensor_checks(board, flash)
    assert got["soil_temp[0]"] == [None, "no valid reading (CRC error, power-on value or out of range)"]


def test_a_board_without_a_board_file_still_reports(flash: Path) -> None:
    shutil.rmtree(flash / "boards")
    got = {name: (value, why) for name, value, why in run_report(flash)["checks"]}
    assert got["board"] == (None, f"no {flash}/boards folder: the firmware is not deployed")
    assert got["config"][1] is None and got["state"] == (None, None)
    assert "radio" not in got


# ---------------------------------------------------------------- the host's verdicts


LINUX = ("linux", "linux [GCC 14.2.1] version")


def report(*checks: list[Any], heap: dict[str, int] | None = None, firmware: list[int] | None = None) -> dict[str, Any]:
    cfg = {"role": "node", "board": "sim", "interval_s": 900, "sf": 9, "channels_khz": [868100],
           "low_battery_v": 3.3, "soil_moisture": [], "soil_temp": 0, "air": "", "traps": 0, "battery": True,
           "dev_addr": "26011bda"}  # fmt: skip
    return {
        "selftest": 1,
        "firmware": firmware or list(VERSION),
        "heap": heap,
        "checks": [["board", "sim", None], ["config", cfg, None], *checks],
    }


@pytest.mark.parametrize(
    ("rep", "name", "expected"),
    [
        (report(["battery", 3.1, None]), "battery", "FAIL battery: 3.10 V, below low_battery_v 3.3 V"),
        (report(["battery", 3.9, None]), "battery", "PASS battery: 3.90 V"),
        (report(["air", [99.0, 50.0], None]), "air", "FAIL air: reads 99.0 °C, 50.0 %RH: outside"),
        (report(["soil_temp[1]", -60.0, None]), "soil_temp[1]", "FAIL soil_temp[1]: reads -60.0 °C"),
        (report(heap={"free": 40000, "total": 110000, "bits": 32}), "heap", "FAIL heap: 39 KB free of 107 KB"),
        (report(heap={"free": 90000, "total": 110000, "bits": 32}), "heap", "PASS heap: 87 KB free of 107 KB"),
        (report(heap={"free": 90000, "total": 110000, "bits": 64}), "heap", "FAIL heap: 87 KB free"),
        (report(firmware=[0, 0, 9]), "firmware", "FAIL firmware: 0.0.9 on the board"),
        (report(["radio", "sx1262", "Invalid initial status (0, 0)."]), "radio", "FAIL radio: Invalid initial"),
        (report(["state", None, "state: no readable state slot on flash"]), "state", "FAIL state: state: no readable"),
        (report(["soil_moisture[1]", None, "soil probe input reads 0"]), "soil_moisture[1]",
         "FAIL soil_moisture[1]: soil probe input reads 0: check probe 1's plug on soil input 1"),
        (report(["state", {"source": "rtc", "boots": 3, "fcnt": 5, "tx_frames": 5, "sensor_errors": 1,
                           "radio_errors": 0, "faults": 0, "traps": [0, 0]}, None]), "state",
         "PASS state: in RTC memory: boot 3, 5 frames sent, next frame counter 5, 1 sensor errors, 0 radio"),
        (report(["lightning", 3, None]), "lightning", "PASS lightning: 3"),  # a newer firmware's check
    ],
)  # fmt: skip
def test_verdicts(rep: dict[str, Any], name: str, expected: str) -> None:
    got = {r.name: r.line() for r in judge(rep, LINUX, "/dev/ttyUSB0")}
    assert got[name].startswith(expected), got[name]


def test_a_board_file_for_another_chip_fails_the_board_check() -> None:
    rep = report()
    rep["checks"][0] = ["board", "heltec_v3", None]
    got = {r.name: r for r in judge(rep, LINUX, "/dev/ttyUSB0")}
    assert not got["board"].ok and "is for esp32s3: check --board" in got["board"].text
    assert not got["config"].ok and "config.json is for board sim" in got["config"].text


# ---------------------------------------------------------------- the field survey (issue 13)


def test_survey_prints_a_verdict_per_data_rate_from_the_board(board: VirtualBoard) -> None:
    none = akker("check", "--port", str(board.tty), "--survey")
    assert none.returncode == 1 and '"survey": true' in none.stdout
    rows = [
        {"dr": 5, "sf": 7, "sent": True, "margin_db": 3, "gw_cnt": 1},
        {"dr": 4, "sf": 8, "sent": True, "margin_db": 7, "gw_cnt": 1},
        {"dr": 3, "sf": 9, "sent": True, "margin_db": 12, "gw_cnt": 2},
        {"dr": 2, "sf": 10, "sent": True, "margin_db": None, "gw_cnt": 0},
    ]
    (board.root / "survey.json").write_text(json.dumps(rows))
    out = akker("check", "--port", str(board.tty), "--survey")
    assert out.returncode == 0, out.stdout + out.stderr
    table = out.stdout.splitlines()
    assert table[0].split() == ["DR", "SF", "margin", "gateways", "verdict"]
    assert table[1].startswith("DR5 SF7") and table[1].endswith("too weak")
    assert table[2].endswith("marginal") and table[3].endswith("good") and " 2 " in table[3]
    assert "no answer" in table[4]
