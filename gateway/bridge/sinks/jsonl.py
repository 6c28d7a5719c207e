"""The JSON Lines sink: one line per record appended to a file, fsynced before it counts as delivered.

Each line is the record's message (the same JSON as on MQTT). Delivery is at
least once: after a crash between the write and the outbox update, a record
can appear twice; (dev_addr, fcnt) identifies it.

The file is opened at start, and a path that cannot be opened refuses the
start (docs/gateway.md, "When a sink is down"): a folder that does not exist,
a file where a folder should be, a folder given as the file, no permission.
Each needs a person to act, and said at once it is a typo found; said later it
is a file that silently stays empty. Trouble after the start (the disk full,
the folder removed) is retried: the records wait in the outbox.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Sequence
from pathlib import Path

from gateway.bridge.sinks import SinkDown, SinkUnusable
from gateway.bridge.store import Record


class JsonlSink:
    name = "jsonl"
    on_ready = None  # a file that is back is noticed by the worker's next try: its backoff suffices
    on_down = None  # trouble shows when a record is written, and is raised from deliver()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def start(self) -> None:
        try:
            self._open()
        except OSError as err:
            raise SinkUnusable(self._trouble(err)) from None

    def _open(self) -> int:
        if self._fd is None:
            # Non-blocking only to open: a named pipe without a reader would otherwise hold the start for good.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
            os.set_blocking(fd, True)
            self._fd = fd
        return self._fd

    def _trouble(self, err: OSError) -> str:
        """What is wrong with the path, in a technician's words, and what to do."""
        advice = _ADVICE.get(err.errno or 0, "check that path")
        return f"--jsonl {self.path}: cannot append to it ({err.strerror or err}): {advice}"

    def deliver(self, records: Sequence[Record]) -> Sequence[int]:
        data = "".join(json.dumps(r.message(), separators=(",", ":")) + "\n" for r in records).encode()
        try:
            fd = self._open()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as err:
            self.stop()
            raise SinkDown(self._trouble(err)) from None
        return [r.id for r in records]

    def stop(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_ADVICE = {
    errno.ENOENT: "its folder does not exist; create it or give a file in a folder that exists",
    errno.ENOTDIR: "a part of the path is a file, not a folder; give a file in a folder that exists",
    errno.EISDIR: "that is a folder; give a file name in it, e.g. records.jsonl",
    errno.EACCES: "make it and its folder writable by the bridge's user, or give another path",
    errno.EPERM: "make it and its folder writable by the bridge's user, or give another path",
    errno.EROFS: "that disk is mounted read-only; remount it or give another path",
    errno.ENXIO: "a named pipe that nothing reads; start its reader first",
    errno.ENOSPC: "the disk is full; free space on it",
    errno.EDQUOT: "the disk quota is used up; free space or raise the quota",
}
