"""Sinks: where stored records go (MQTT, a JSON Lines file, an HTTP webhook).

Every sink has the same small interface; a delivery worker (gateway/bridge/delivery.py)
feeds it from its outbox in the store, so a sink never sees a frame that is not
stored, and a sink that is down delays only itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gateway.bridge.store import Record


class SinkDown(Exception):
    """The sink cannot take records now (broker away, server error); the worker retries with backoff.

    The message says what is wrong and what to do, naming the option: the worker logs it as it is.
    """


class SinkUnusable(Exception):
    """The sink cannot work as it is set up (a --jsonl path under a file): start() raises it, the bridge refuses."""


class Sink(Protocol):
    name: str  # the outbox key: "mqtt", "jsonl", "webhook"
    # Set by the delivery worker before start(); a sink that knows when it is back (a broker
    # reconnected) calls it, so the worker retries at once instead of at the end of its backoff.
    on_ready: Callable[[], None] | None
    # Also set by the worker: a sink that finds out by itself that it is down (a connection attempt to a
    # broker failed) calls it with why, so that it is told at start, before any record waits for it.
    on_down: Callable[[str], None] | None

    def start(self) -> None:
        """Open connections; must not block for long, nor fail because the far end is down.

        Raise SinkUnusable for a setting that cannot work until someone changes it.
        """
        ...

    def deliver(self, records: Sequence[Record]) -> Sequence[int]:
        """Deliver records in order; return the ids the far end confirmed (a prefix or all of them).

        Raise SinkDown when none could be delivered. Records not confirmed are
        offered again later: delivery is at least once.
        """
        ...

    def stop(self) -> None: ...
