"""`akker gateway run` and `akker gateway status`: the bridge from the shell (docs/gateway.md)."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

from gateway import logs, store
from gateway.bridge_config import ConfigError, add_arguments, resolve
from gateway.registry import RegistryError

from .errors import CliError


def add_gateway_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="receive, check, store and forward frames until SIGINT or SIGTERM")
    add_arguments(run)
    status = sub.add_parser("status", help="counters, rejections by reason, delivery and backlog per sink")
    status.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database")
    status.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_gateway(args: argparse.Namespace) -> int:
    if args.action == "run":
        return _run(args)
    return _status(args)


def _run(args: argparse.Namespace) -> int:
    from gateway.bridge import Bridge

    try:
        cfg = resolve(args)
    except ConfigError as err:
        raise CliError(str(err)) from None
    logs.setup(cfg.log_level, cfg.log_format)
    try:
        bridge = Bridge.build(cfg)
    except ValueError as err:  # a bad MQTT or webhook URL, an alert config that does not parse
        raise CliError(str(err)) from None
    try:
        bridge.run()
    except (RegistryError, sqlite3.Error) as err:
        raise CliError(f"database {cfg.db}: {err}") from None
    except OSError as err:  # a UDP port in use, a serial port that cannot be opened at start
        if cfg.serial and cfg.serial in str(err):
            from gateway.device import port_error

            raise CliError(f"--serial: {port_error(cfg.serial, err)}") from None
        raise CliError(f"{err}: check --udp (an address of this machine, a port no other program holds)") from None
    return 0


def status_report(db: sqlite3.Connection) -> dict[str, object]:
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'counters'").fetchone():
        db.execute("SELECT COUNT(*) FROM nodes")  # a registry the bridge has not run on yet, or not ours at all
        c: dict[str, int] = {}
        backlog: dict[str, int] = {}
        records = 0
    else:
        c = store.counters(db)
        backlog = store.backlog(db)
        records = store.record_count(db)
    sinks = sorted({k[len("delivered_") :] for k in c if k.startswith("delivered_")} | set(backlog))
    return {
        "records": records,
        "received": c.get("received", 0),
        "accepted": c.get("accepted", 0),
        "duplicates": c.get("duplicate", 0),
        "rejected": {r: c.get(f"rejected_{r}", 0) for r in store.REJECT_REASONS},
        "sinks": {
            name: {"delivered": c.get(f"delivered_{name}", 0), "backlog": backlog.get(name, 0)} for name in sinks
        },
        "sources": {k: v for k, v in c.items() if k.startswith(("udp_", "serial_"))},
        "internal_errors": c.get("internal_error", 0),
    }


def _status(args: argparse.Namespace) -> int:
    try:
        db = store.connect_readonly(args.db)
    except FileNotFoundError:
        raise CliError(f"{args.db} does not exist: give the --db of `akker gateway run`") from None
    try:
        report = status_report(db)
    except sqlite3.Error as err:
        raise CliError(f"{args.db} is not a bridge database ({err}): give the --db of `akker gateway run`") from None
    finally:
        db.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"records stored   {report['records']}")
    print(f"frames received  {report['received']}")
    print(f"  accepted       {report['accepted']}")
    print(f"  duplicates     {report['duplicates']}")
    rejected = report["rejected"]
    assert isinstance(rejected, dict)
    print(f"  rejected       {sum(rejected.values())}")
    for reason, n in rejected.items():
        print(f"    {reason.replace('_', ' '):20} {n}")
    sinks = report["sinks"]
    assert isinstance(sinks, dict)
    for name, s in sinks.items():
        print(f"sink {name:11} delivered {s['delivered']}, backlog {s['backlog']}")
    sources = report["sources"]
    assert isinstance(sources, dict)
    for name, n in sources.items():
        print(f"source {name:22} {n}")
    return 0
