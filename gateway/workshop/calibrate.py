"""A soil probe's raw reading in dry air or in water, written into the board's config.json (for `akker calibrate`).

The board reads (firmware/selftest.py's soil_readings(): K averaged raw ADC
counts of soil input N, as the probe's driver takes them); this module checks
the readings and the config, writes the new config beside the old one,
verifies it by sha256 and only then renames it over /config.json, so a cable
pulled half-way leaves the old config, never a broken one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from firmware import config as firmware_config
from gateway.workshop.deploy import remote_sha256
from gateway.workshop.device import Device

CONFIG = "/config.json"
_TMP = "/config.json.new"
DEFAULT_SAMPLES = 16
MAX_SAMPLES = 256
# Readings of one probe held still spread over a few hundred counts (ESP32 ADC noise, read_u16 scale).
# Beyond this the probe moves, is still settling or has a loose contact: about 3 % moisture on a
# typical probe's 31000 counts between dry and wet. Dry and wet closer than this cannot be told apart.
MAX_SPREAD = 1000


class CalibrationError(ValueError):
    """The calibration is refused; the message says why and what to do."""


@dataclass(frozen=True)
class Calibration:
    probe: int
    point: str  # "dry" or "wet"
    old: int
    new: int
    other: int  # the other point's value, unchanged
    low: int
    high: int
    config: bytes  # the whole new config.json

    @property
    def spread(self) -> int:
        return self.high - self.low


def probes(raw: bytes) -> list[dict[str, int]]:
    """The soil probes of a config.json as the board holds it; CalibrationError when it is not valid."""
    try:
        cfg = firmware_config.validate(json.loads(raw))
    except ValueError as err:  # invalid JSON, or ConfigError with its own message
        text = str(err) if isinstance(err, firmware_config.ConfigError) else f"not valid JSON ({err})"
        raise CalibrationError(
            f"the board's {CONFIG} is invalid ({text}): deploy a valid one (akker deploy), then calibrate"
        ) from None
    return list(cfg["sensors"]["soil_moisture"])


def fitted(raw: bytes, probe: int) -> None:
    """CalibrationError unless the config lists soil probe `probe`."""
    n = len(probes(raw))
    if not 0 <= probe < n:
        listed = f"probes 0..{n - 1}" if n > 1 else ("probe 0" if n else "no soil probe")
        raise CalibrationError(f"probe {probe} is not fitted: the board's config lists {listed}")


def calibrate(raw: bytes, probe: int, point: str, readings: list[int]) -> Calibration:
    """The new config.json with the mean of readings as probe's dry or wet value; CalibrationError if refused."""
    fitted(raw, probe)
    if not readings:
        raise CalibrationError("no readings: take at least one (--samples)")
    low, high = min(readings), max(readings)
    mean = round(sum(readings) / len(readings))
    if high - low > MAX_SPREAD:
        raise CalibrationError(
            f"readings too noisy: {low}..{high} spread over {high - low} counts, more than {MAX_SPREAD}: hold the "
            f"probe still {'in dry air' if point == 'dry' else 'in water'}, let it settle a minute, and retry"
        )
    cfg = json.loads(raw)
    entry = cfg["sensors"]["soil_moisture"][probe]
    other_point = "wet" if point == "dry" else "dry"
    other = int(entry[other_point])
    if abs(mean - other) <= MAX_SPREAD:
        where = "dry air (wipe and dry it)" if point == "dry" else "water"
        raise CalibrationError(
            f"the {point} reading {mean} would equal the {other_point} value {other} (within {MAX_SPREAD} counts): "
            f"put the probe in {where} and retry"
        )
    new_cfg = copy.deepcopy(cfg)
    new_cfg["sensors"]["soil_moisture"][probe][point] = mean
    try:
        firmware_config.validate(copy.deepcopy(new_cfg))
    except firmware_config.ConfigError as err:
        raise CalibrationError(f"the calibrated config would be invalid ({err}): nothing was written") from None
    data = json.dumps(new_cfg, indent=1).encode() + b"\n"
    return Calibration(probe, point, int(entry[point]), mean, other, low, high, data)


def write_config(dev: Device, data: bytes) -> None:
    """Write config.json beside the old one, verify it, rename it over; verify again."""
    sha = hashlib.sha256(data).hexdigest()
    dev.transport.fs_writefile(_TMP, data, chunk_size=1024)
    if remote_sha256(dev, _TMP) != sha:
        raise CalibrationError(
            f"the new config did not arrive intact on {dev.port}: check the cable and retry; unchanged"
        )
    dev.exec(f"import os\nos.rename({_TMP!r}, {CONFIG!r})")
    if remote_sha256(dev, CONFIG) != sha:
        raise CalibrationError(f"{CONFIG} on {dev.port} does not read back as written: calibrate again")


def save_local(path: Path, data: bytes) -> None:
    """Replace the local config as deploy reads it: a temporary file (0600, it holds keys), then a rename."""
    tmp = path.with_name(path.name + ".new")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        tmp.replace(path)
    except OSError as err:
        raise CalibrationError(
            f"the board is calibrated, but {path} could not be written ({err.strerror}): copy the board's config "
            f"with `mpremote fs cp :{CONFIG} {path}`"
        ) from None
