"""`akker calibrate`: a probe's reading becomes its dry or wet value in the board's config.json; bad input is refused.

Against a bare virtual board after `akker provision` and `akker deploy` (the
helpers of test_check.py); the written config is read straight from the
board's flash folder. The refusals that need readings the simulated field does
not give (noisy ones) are tested on the host's calibrate() with the readings
as data.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from firmware import config as firmware_config
from firmware.sim.field import Field
from gateway.sim.virtual_board import VirtualBoard
from gateway.workshop.calibrate import MAX_SPREAD, CalibrationError, calibrate
from tests.workshop.deployed import akker


def cal(board: VirtualBoard, probe: str, point: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return akker("calibrate", "--port", str(board.tty), "--probe", probe, point, *extra)


def test_dry_writes_the_mean_reading_and_changes_nothing_else(board: VirtualBoard) -> None:
    config = board.root / "config.json"
    before = json.loads(config.read_text())
    out = cal(board, "1", "dry", "--samples", "8")
    assert out.returncode == 0, out.stdout + out.stderr
    after = json.loads(config.read_text())
    # The simulated probe 1 at the self-test's time 0 (8 readings 20 virtual ms apart: the same count).
    raw = Field().soil_raw(0, 1)
    assert after["sensors"]["soil_moisture"][1] == {"dry": raw, "wet": 21000}
    before["sensors"]["soil_moisture"][1]["dry"] = raw
    assert after == before  # keys, radio, the other probe: untouched
    firmware_config.validate(after)
    assert f"8 readings {raw}..{raw} (spread 0 counts, limit {MAX_SPREAD}), mean {raw}" in out.stdout
    assert f"sensors.soil_moisture[1].dry: 52000 -> {raw} (wet stays 21000)" in out.stdout
    assert "written and verified by sha256" in out.stdout
    assert not (board.root / "config.json.new").exists()
    # The probe still in the same place cannot be wet too: refused, the config left as it was.
    written = config.read_bytes()
    out = cal(board, "1", "wet")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr == (
        f"akker: the wet reading {raw} would equal the dry value {raw} (within {MAX_SPREAD} counts): "
        "put the probe in water and retry\n"
    )
    assert config.read_bytes() == written
    # --config keeps the local file in step, so that the next deploy does not undo the calibration.
    local = board.root.parent / "local-config.json"
    local.write_bytes(written)
    out = cal(board, "0", "dry", "--config", str(local))
    assert out.returncode == 0, out.stdout + out.stderr
    assert local.read_bytes() == config.read_bytes() and oct(local.stat().st_mode & 0o777) == "0o600"
    assert "the next deploy keeps the calibration" in out.stdout
    # The board's check now reads probe 1 as dry soil.
    out = akker("check", "--port", str(board.tty))
    assert out.returncode == 0 and "PASS soil_moisture[1]: 0.0 % (raw" in out.stdout, out.stdout


def test_what_is_refused_on_the_board(board: VirtualBoard) -> None:
    config = board.root / "config.json"
    good = config.read_bytes()
    out = cal(board, "2", "dry")
    assert out.returncode == 2 and out.stderr == "akker: probe 2 is not fitted: the board's config lists probes 0..1\n"
    out = cal(board, "0", "wet", "--samples", "0")
    assert out.returncode == 2 and "--samples 0: take 1..256 readings" in out.stderr
    config.write_text('{"role": "node"')
    out = cal(board, "0", "dry")
    assert out.returncode == 2 and "the board's /config.json is invalid (not valid JSON" in out.stderr, out.stderr
    assert "deploy a valid one (akker deploy), then calibrate" in out.stderr
    config.unlink()
    out = cal(board, "0", "dry")
    assert out.returncode == 2 and "no /config.json on the board: deploy the node first (akker deploy)" in out.stderr
    assert not config.exists()
    config.write_bytes(good)
    out = akker("calibrate", "--port", str(board.root / "no-such-tty"), "--probe", "0", "dry")
    assert out.returncode == 2 and "akker: no port" in out.stderr
    assert config.read_bytes() == good and "Traceback" not in out.stderr


# ---------------------------------------------------------------- the host's rules, readings as data


def config_bytes(dry: int = 52000, wet: int = 21000) -> bytes:
    from tests.firmware.sim_node import node_config

    cfg = node_config()
    cfg["sensors"]["soil_moisture"] = [{"dry": dry, "wet": wet}, {"dry": 52000, "wet": 21000}]
    return json.dumps(cfg).encode()


@pytest.mark.parametrize(
    ("probe", "point", "readings", "refusal"),
    [
        (0, "dry", [50000, 51001], "readings too noisy: 50000..51001 spread over 1001 counts, more than 1000"),
        (0, "wet", [21000, 24000, 22000], "readings too noisy"),
        (0, "dry", [21400, 21300], "the dry reading 21350 would equal the wet value 21000 (within 1000 counts)"),
        (1, "wet", [52000], "the wet reading 52000 would equal the dry value 52000"),
        (2, "dry", [50000], "probe 2 is not fitted: the board's config lists probes 0..1"),
        (-1, "dry", [50000], "probe -1 is not fitted"),
        (0, "dry", [], "no readings"),
        (0, "dry", [70000], "the calibrated config would be invalid (config: soil_moisture.dry = 70000"),
    ],
)
def test_refusals(probe: int, point: str, readings: list[int], refusal: str) -> None:
    with pytest.raises(CalibrationError) as err:
        calibrate(config_bytes(), probe, point, readings)
    assert str(err.value).startswith(refusal), str(err.value)


def test_spread_at_the_limit_is_accepted_and_the_mean_rounded() -> None:
    got = calibrate(config_bytes(), 0, "dry", [50000, 51000, 50001])
    assert (got.old, got.new, got.other, got.spread) == (52000, 50334, 21000, MAX_SPREAD)
    cfg = json.loads(got.config)
    assert cfg["sensors"]["soil_moisture"][0] == {"dry": 50334, "wet": 21000}
    assert got.config.endswith(b"\n") and firmware_config.validate(cfg)


@pytest.mark.parametrize(
    ("raw", "refusal"),
    [
        (b"{", "the board's /config.json is invalid (not valid JSON"),
        (b'{"role": "node", "board": "sim"}', "the board's /config.json is invalid (config: "),
    ],
)
def test_an_invalid_config_is_refused_before_any_reading(raw: bytes, refusal: str) -> None:
    with pytest.raises(CalibrationError, match=r"^" + refusal.replace("(", r"\(")):
        calibrate(raw, 0, "dry", [40000])
