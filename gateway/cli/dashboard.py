"""`akker dashboard`: the farm dashboard on a bridge database, read-only, until SIGINT or SIGTERM.

See docs/dashboard.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from gateway.dashboard import alerts
from gateway.dashboard.server import DashboardServer, latest_record_clock, utc_now

from .errors import CliError

DEFAULT_HTTP = "127.0.0.1:8080"


def add_dashboard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database (opened read-only)")
    where = f"where to serve (default {DEFAULT_HTTP}; 0.0.0.0:8080 for the whole network)"
    p.add_argument("--http", default=DEFAULT_HTTP, metavar="HOST:PORT", help=where)
    p.add_argument(
        "--alerts", type=Path, metavar="FILE", help="alert config: fields, their nodes and thresholds (TOML)"
    )
    when = "show the farm as at TIME (ISO 8601), or 'latest': the newest record's time (a simulated farm)"
    p.add_argument("--now", metavar="TIME", help=when)


def parse_http(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CliError(f"--http {text!r}: use HOST:PORT, e.g. {DEFAULT_HTTP}")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_now(text: str | None, db: Path) -> Callable[[], datetime]:
    if text is None:
        return utc_now
    if text == "latest":
        return latest_record_clock(db)
    try:
        fixed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--now {text!r}: use an ISO 8601 time such as 2026-06-01T12:00Z, or 'latest'") from None
    if fixed.tzinfo is None:
        raise CliError(f"--now {text!r}: give the time zone too, e.g. 2026-06-01T12:00Z or +02:00")
    return lambda: fixed


def cmd_dashboard(args: argparse.Namespace) -> int:
    host, port = parse_http(args.http)
    try:
        config = alerts.load(args.alerts) if args.alerts else alerts.default_config()
    except alerts.AlertConfigError as err:
        raise CliError(str(err)) from None
    server = DashboardServer(args.db, host, port, alerts_config=config, now=parse_now(args.now, args.db))
    try:
        server.start()
    except OSError as err:
        raise CliError(f"cannot serve on {args.http}: {err.strerror or err}: is another program using it?") from None
    if not args.db.exists():
        print(
            f"akker: {args.db} does not exist yet: the dashboard shows it once the bridge has made it", file=sys.stderr
        )
    print(f"dashboard of {args.db} on {server.url} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
