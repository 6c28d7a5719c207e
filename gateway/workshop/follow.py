"""Following a board's serial port for `akker monitor`: read only, a port that goes away waited for and reopened.

What arrives is split into text lines and serial_link frames
(gateway/workshop/monitor.py) and handed on as one line of text each.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import serial

from gateway.bridge.registry import Registry
from gateway.workshop.device import BAUD
from gateway.workshop.monitor import Damaged, Event, Line, StreamSplitter, describe_rx
from payload_codec import serial_link

READ_TIMEOUT_S = 0.1  # the longest a read blocks: how quickly --seconds and a lost port are noticed
_IDLE_S = 0.5  # a partial text line (a prompt) is shown after this much silence
_RETRY_S = 0.5  # between two attempts to reopen a lost port


class Follower:
    """A board's port read until told to stop or until a time; each event told to show() as one line of text."""

    def __init__(
        self, port: str, ser: serial.SerialBase, registry: Registry | None, show: Callable[[str], None]
    ) -> None:
        self.port = port
        self._show = show
        self.ser: serial.SerialBase | None = ser
        self.registry = registry
        self.splitter = StreamSplitter()
        self.stopping = False  # set by SIGINT or SIGTERM; seen within one read timeout

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def _going(self, until: float | None) -> bool:
        return not self.stopping and (until is None or time.monotonic() < until)

    def show(self, events: list[Event]) -> None:
        """Each event as the line a person reads."""
        for event in events:
            if isinstance(event, Line):
                self._show(event.text)
            elif isinstance(event, Damaged):
                self._show(f"! damaged frame skipped ({event.why}): noise on the cable?")
            elif event.ftype == serial_link.RX:
                try:
                    self._show(describe_rx(serial_link.decode_rx(event.body), self.registry))
                except serial_link.LinkError as err:
                    self._show(f"! RX frame not understood: {err}")
            elif event.ftype == serial_link.LOG:
                self._show(f"log: {event.body.decode('utf-8', 'replace')}")
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
        self._show(f"! {self.port} went away (board reset, deep sleep or cable): waiting for it")
        while self._going(until):
            time.sleep(_RETRY_S)
            try:
                self.ser = serial.serial_for_url(self.port, baudrate=BAUD, exclusive=True, timeout=READ_TIMEOUT_S)
            except (serial.SerialException, OSError, ValueError):
                continue
            self._show(f"! {self.port} is back")
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
