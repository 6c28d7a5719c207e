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
import contextlib
import signal
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import serial

from gateway.bridge.registry import Registry, RegistryError, open_db
from gateway.workshop.device import BAUD, port_error
from gateway.workshop.monitor import Damaged, Event, Line, StreamSplitter, describe_rx
from payload_codec import serial_link

from .errors import CliError

_READ_TIMEOUT_S = 0.1  # the longest a read blocks: how quickly --seconds and a lost port are noticed
_IDLE_S = 0.5  # a partial text line (a prompt) is shown after this much silence
_RETRY_S = 0.5  # between two attempts to reopen a lost port


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
        return serial.serial_for_url(port, baudrate=BAUD, exclusive=True, timeout=_READ_TIMEOUT_S)
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


class _Monitor:
    def __init__(self, port: str, ser: serial.SerialBase, registry: Registry | None) -> None:
        self.port = port
        self.ser: serial.SerialBase | None = ser
        self.registry = registry
        self.splitter = StreamSplitter()
        self.stopping = False  # set by SIGINT or SIGTERM; seen within one read timeout

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def _going(self, until: float | None) -> bool:
        return not self.stopping and (until is None or time.monotonic() < until)

    def show(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Line):
                _show(event.text)
            elif isinstance(event, Damaged):
                _show(f"! damaged frame skipped ({event.why}): noise on the cable?")
            elif event.ftype == serial_link.RX:
                try:
                    _show(describe_rx(serial_link.decode_rx(event.body), self.registry))
                except serial_link.LinkError as err:
                    _show(f"! RX frame not understood: {err}")
            elif event.ftype == serial_link.LOG:
                _show(f"log: {event.body.decode('utf-8', 'replace')}")
            # PONG and ACK answer another program's commands: nothing to show

    def follow(self, until: float | None) -> None:
        """Show what the board sends until the monotonic time until (None: until Ctrl-C)."""
        quiet_since = time.monotonic()
        while self.ser is not None and self._going(until):
            try:
                data = self.ser.read(self.ser.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError):
                # pyserial raises TypeError or AttributeError when the device vanishes under a read
                self.close()
                self.show(self.splitter.flush())
                self._reopen(until)
                continue
            if data:
                self.show(self.splitter.feed(data))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > _IDLE_S:
                self.show(self.splitter.flush())
        self.show(self.splitter.flush())

    def _reopen(self, until: float | None) -> None:
        _show(f"! {self.port} went away (board reset, deep sleep or cable): waiting for it")
        while self._going(until):
            time.sleep(_RETRY_S)
            try:
                self.ser = serial.serial_for_url(self.port, baudrate=BAUD, exclusive=True, timeout=_READ_TIMEOUT_S)
            except (serial.SerialException, OSError, ValueError):
                continue
            _show(f"! {self.port} is back")
            return

    def close(self) -> None:
        ser, self.ser = self.ser, None
        if ser is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                ser.close()

    def summary(self, seconds: float) -> str:
        s = self.splitter
        text = f"monitor: {seconds:.0f} s, {s.lines} lines, {s.frames} frames"
        if s.damaged or s.noise:
            text += f", {s.damaged} damaged frames and {s.noise} bytes of noise skipped"
        return text


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
    mon = _Monitor(args.port, ser, registry)
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
