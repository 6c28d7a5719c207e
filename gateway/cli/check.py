"""`akker check`: one PASS or FAIL line per check (gateway/workshop/check.py judges).

Exit status 0 when every check passes, 1 when one fails, 2 (CliError) when
the board cannot be reached or has no self-test.
"""

from __future__ import annotations

import argparse

from gateway.workshop.check import SELFTEST, judge, run_selftest
from gateway.workshop.device import Device, DeviceError

from .errors import CliError


def add_check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0")


def cmd_check(args: argparse.Namespace) -> int:
    try:
        with Device(args.port) as dev:
            platform = dev.platform()
            report = run_selftest(dev, SELFTEST)
    except DeviceError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"the connection to {args.port} broke off ({err}): reconnect and check again") from None
    results = judge(report, platform, args.port)
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} checks failed: {', '.join(r.name for r in failed)}")
        return 1
    print(f"all {len(results)} checks passed")
    return 0
