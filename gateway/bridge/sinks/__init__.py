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
    """The sink cannot take records now (broker away, server error); the worker retries with backoff."""


class Sink(Protocol):
    name: str  # the outbox key: "mqtt", "jsonl", "webhook"
    # Set by the delivery worker before start(); a sink that knows when it is back (a broker
    # reconnected) calls it, so the worker retries at once instead of at the end of its backoff.
    on_ready: Callable[[], None] | None

    def start(self) -> None:
        """Open connections; must not block for long, nor fail because the far end is down."""
        ...

    def deliver(self, records: Sequence[Record]) -> Sequence[int]:
        """Deliver records in order; return the ids the far end confirmed (a prefix or all of them).

        Raise SinkDown when none could be delivered. Records not confirmed are
        offered again later: delivery is at least once.
        """
        ...

    def stop(self) -> None: ...
