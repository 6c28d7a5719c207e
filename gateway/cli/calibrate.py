"""`akker calibrate`: a soil probe's dry or wet reading into the board's config (gateway/workshop/calibrate.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.workshop.calibrate import (
    CONFIG,
    DEFAULT_SAMPLES,
    MAX_SAMPLES,
    MAX_SPREAD,
    CalibrationError,
    calibrate,
    fitted,
    save_local,
    write_config,
)
from gateway.workshop.check import run_selftest
from gateway.workshop.device import Device, DeviceError

from .errors import CliError


def add_calibrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--probe", required=True, type=int, metavar="N", help="the soil probe, 0 for the first")
    p.add_argument("point", choices=("dry", "wet"), help="dry: the probe in dry air; wet: the probe in water")
    p.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, metavar="K", help=f"readings (default {DEFAULT_SAMPLES})"
    )
    p.add_argument(
        "--config", type=Path, metavar="FILE", help="also write the new config here (the node's local config.json), "
        "so that the next deploy keeps the calibration"
    )  # fmt: skip


def cmd_calibrate(args: argparse.Namespace) -> int:
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise CliError(f"--samples {args.samples}: take 1..{MAX_SAMPLES} readings")
    try:
        with Device(args.port) as dev:
            try:
                raw = bytes(dev.transport.fs_readfile(CONFIG))
            except OSError:
                raise CliError(f"no {CONFIG} on the board: deploy the node first (akker deploy)") from None
            fitted(raw, args.probe)
            got = run_selftest(dev, f"from firmware.selftest import soil_readings; soil_readings({args.probe}, "
                                    f"{args.samples})")  # fmt: skip
            if "error" in got:
                raise CliError(f"probe {args.probe} cannot be read: {got['error']}: check its plug and cable")
            readings = [int(r) for r in got["readings"]]
            cal = calibrate(raw, args.probe, args.point, readings)
            print(
                f"probe {args.probe} {args.point}: {len(readings)} readings {cal.low}..{cal.high} "
                f"(spread {cal.spread} counts, limit {MAX_SPREAD}), mean {cal.new}"
            )
            write_config(dev, cal.config)
    except CalibrationError as err:
        raise CliError(str(err)) from None
    except DeviceError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"the connection to {args.port} broke off ({err}): reconnect and calibrate again") from None
    print(
        f"sensors.soil_moisture[{args.probe}].{args.point}: {cal.old} -> {cal.new} "
        f"({'wet' if args.point == 'dry' else 'dry'} stays {cal.other}); {CONFIG} written and verified by sha256"
    )
    if (cal.new < cal.other) if args.point == "dry" else (cal.new > cal.other):
        print("note: a capacitive probe reads higher dry than wet: if dry and wet were swapped, calibrate both again")
    if args.config is not None:
        try:
            save_local(args.config, cal.config)
        except CalibrationError as err:
            raise CliError(str(err)) from None
        print(f"{args.config} written too: the next deploy keeps the calibration")
    else:
        print(
            f"note: the board's {CONFIG} now differs from the file you deployed: give --config nodes/NAME/config.json "
            "next time, or the next deploy puts the old values back"
        )
    return 0
