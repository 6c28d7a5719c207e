"""The JSON Lines sink: one line per record appended to a file, fsynced before it counts as delivered.

Each line is the record's message (the same JSON as on MQTT). Delivery is at
least once: after a crash between the write and the outbox update, a record
can appear twice; (dev_addr, fcnt) identifies it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from gateway.bridge.sinks import SinkDown
from gateway.bridge.store import Record


class JsonlSink:
    name = "jsonl"
    on_ready = None  # never down for long enough to matter: the worker's backoff suffices

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def start(self) -> None:
        pass  # opened on first delivery, so a missing folder is retried rather than fatal

    def deliver(self, records: Sequence[Record]) -> Sequence[int]:
        data = "".join(json.dumps(r.message(), separators=(",", ":")) + "\n" for r in records).encode()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as err:
            self.stop()
            raise SinkDown(f"cannot append to {self.path}: {err.strerror}") from None
        return [r.id for r in records]

    def stop(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
