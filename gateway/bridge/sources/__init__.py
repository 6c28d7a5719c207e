"""Sources: where frames come from (the gateway board on serial, Semtech UDP gateways, the simulator).

A source turns what it receives into `gateway.bridge.frame.UplinkFrame` objects and
hands them to an Intake. It opens its socket or port in start(), not in its
constructor, and stop() returns once its threads have ended. Parsing lives in
pure functions apart from the I/O loop, so it is tested on bytes alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.bridge.frame import UplinkFrame


class Intake(Protocol):
    """What a source hands its frames to: the bridge's pipeline."""

    def submit(self, frames: Sequence[UplinkFrame], on_done: Callable[[], None] | None = None) -> None:
        """Queue frames; on_done runs once every one of them is committed to the store or rejected.

        A source acknowledges to its sender (PUSH_ACK) only from on_done. submit
        may block when the pipeline is full: that is the back-pressure.
        """
        ...

    def count(self, counter: str, n: int = 1) -> None:
        """Add n to a named counter shown by `akker gateway status` (e.g. "udp_malformed")."""
        ...

    def note_board(self, gateway: str, freq_khz: int, sf: int) -> None:
        """A gateway board says what it listens on (its PONG): kept with the farm's gateways (bridge/gateways.py)."""
        ...


class Source(Protocol):
    name: str

    def start(self, intake: Intake) -> None: ...

    def stop(self) -> None: ...
