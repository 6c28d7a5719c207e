"""`akker monitor`: follow a board's serial output, a node's log lines or a gateway board's frames, decoded.

Read-only: it never writes to the board, so it neither stops a node's
application nor takes a gateway board out of its receive loop (unlike the
REPL-based commands, which interrupt both). Each line gets the local time it
arrived. A port that goes away (a board that resets or deep-sleeps on native
USB, a cable pulled) is waited for and reopened; Ctrl-C (SIGINT), SIGTERM or
--seconds ends it with exit status 0.

It handles SIGINT and SIGTERM itself, as `akker gateway run` and `akker
dashboard` do, even when it inherited SIGINT ignored: a shell script's
`akker monitor ... &` (and so a test suite run in the background) starts it
that way, and `kill -INT` must still end it with its summary rather than be
lost. Python would otherwise leave an inherited SIG_IGN in place.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import serial

from gateway.bridge.registry import Registry, RegistryError, open_db
from gateway.workshop.device import BAUD, port_error
from gateway.workshop.follow import READ_TIMEOUT_S, Follower

from .errors import CliError


def add_monitor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--db", type=Path, help="the bridge's database: name each frame's node and decode its payload")
    p.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")


def _show(text: str) -> None:
    print(f"{_now()}  {text}", flush=True)


def _open(port: str) -> serial.SerialBase:
    try:
        return serial.serial_for_url(port, baudrate=BAUD, exclusive=True, timeout=READ_TIMEOUT_S)
    except (serial.SerialException, OSError, ValueError) as err:
        raise CliError(str(port_error(port, err))) from None


def _registry(path: Path | None) -> tuple[Registry, sqlite3.Connection] | tuple[None, None]:
    if path is None:
        return None, None
    if not path.is_file():
        raise CliError(f"no database at {path}: give the bridge's --db (the one akker provision registers nodes in)")
    try:
        db = open_db(path)
    except (sqlite3.Error, RegistryError) as err:
        raise CliError(f"cannot read {path}: {err}") from None
    return Registry(db), db


def cmd_monitor(args: argparse.Namespace) -> int:
    if args.seconds is not None and args.seconds <= 0:
        raise CliError(f"--seconds {args.seconds}: give a positive number of seconds")
    registry, db = _registry(args.db)
    try:
        ser = _open(args.port)
    except CliError:
        if db is not None:
            db.close()
        raise
    start = time.monotonic()
    until = None if args.seconds is None else start + args.seconds
    mon = Follower(args.port, ser, registry, _show)
    # Before the first line: whoever waits for it may signal at once.
    previous = {sig: signal.signal(sig, mon.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"monitoring {args.port} since {datetime.now():%Y-%m-%d %H:%M:%S} (Ctrl-C ends)", flush=True)
    try:
        mon.follow(until)
    finally:
        mon.close()
        if db is not None:
            db.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(mon.summary(time.monotonic() - start), flush=True)
    return 0
