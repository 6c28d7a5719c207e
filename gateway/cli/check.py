"""`akker check`: one PASS or FAIL line per check (gateway/workshop/check.py judges).

Exit status 0 when every check passes, 1 when one fails, 2 (CliError) when
the board cannot be reached or has no self-test.
"""

from __future__ import annotations

import argparse

from gateway.workshop import survey
from gateway.workshop.check import SELFTEST, judge, run_selftest
from gateway.workshop.device import Device, DeviceError

from .errors import CliError


def add_check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0")
    p.add_argument(
        "--survey",
        action="store_true",
        help='show the node\'s last field survey (config "survey": true) with a verdict per data rate',
    )


def cmd_survey(args: argparse.Namespace) -> int:
    """The last survey's table; exit 1 when no data rate got an answer."""
    try:
        with Device(args.port) as dev:
            rows = survey.read(dev)
    except DeviceError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"the connection to {args.port} broke off ({err}): reconnect and check again") from None
    if not rows:
        print(
            f'no survey on the board at {args.port}: set "survey": true in its config.json, deploy it, and let '
            "it wake up once where it is to stand"
        )
        return 1
    for line in survey.table(rows):
        print(line)
    heard = [r for r in rows if r.get("margin_db") is not None]
    return 0 if heard else 1


def cmd_check(args: argparse.Namespace) -> int:
    if args.survey:
        return cmd_survey(args)
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
