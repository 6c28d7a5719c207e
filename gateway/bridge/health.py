"""What the running bridge says about itself, for `akker gateway status`: a small file beside the store.

The store cannot say that it is full, locked or damaged, and a sink's worker
that cannot reach its outbox cannot write there why; so the bridge keeps the
state of the store and of every sink (ok, failing or stalled, why, since when)
in `<db>.health.json`. The file has a fixed size and is overwritten in place,
so that it can still be updated when the disk is full; a reader that catches
it half-written reads again. Mode 0600, like everything the bridge writes.

The running bridge holds an exclusive lock on the file: a second bridge on the
same store refuses to start (two would deliver the same outbox twice), and
`akker gateway status` tells a running bridge from a killed one by the lock,
not by a process id that may since belong to another program.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from firmware.version import VERSION_TEXT

log = logging.getLogger("akker.health")

SIZE = 8192  # bytes: room for the store and a dozen sinks with their reasons


def health_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".health.json")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class AlreadyRunning(RuntimeError):
    """Another bridge holds this store; the message names its process."""


class Health:
    def __init__(self, db_path: Path, version: str = VERSION_TEXT) -> None:
        self.path = health_path(db_path)
        self._lock = threading.Lock()
        self._state: dict[str, object] = {"pid": os.getpid(), "version": version, "running": False}
        self._parts: dict[str, dict[str, object]] = {}
        self._fd: int | None = None

    def start(self) -> None:
        """Take the store for this bridge (AlreadyRunning if another has it) and write the first state."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = read(self.path.parent / self.path.name.removesuffix(".health.json"))
            pid = other.get("pid", "?") if other else "?"
            raise AlreadyRunning(f"another bridge (pid {pid}) runs on this store: stop it first") from None
        self._fd = fd
        os.ftruncate(self._fd, 0)
        os.write(self._fd, b" " * SIZE)  # allocate the blocks now, while there is room for them
        with self._lock:
            self._state.update(running=True, started_at=_iso(time.time()))
        self._write()

    def set(self, part: str, state: str, reason: str | None = None, since: float | None = None) -> None:
        """part: "store" or "sink:<name>"; state: ok, failing or stalled."""
        entry: dict[str, object] = {"state": state}
        if state != "ok":
            entry.update(reason=reason or "", since=_iso(since or time.time()))
        with self._lock:
            self._parts[part] = entry
        self._write()

    def stop(self, waiting: dict[str, int]) -> None:
        with self._lock:
            self._state.update(running=False, stopped_at=_iso(time.time()), outbox=waiting)
        self._write()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            body = json.dumps({**self._state, "updated_at": _iso(time.time()), "parts": self._parts}).encode()
            if len(body) > SIZE:
                body = json.dumps({**self._state, "parts": {}, "truncated": True}).encode()
            try:
                os.pwrite(self._fd, body.ljust(SIZE), 0)
            except OSError as err:  # the status file must never stop the bridge
                log.debug("health_not_written detail=%r", str(err))


def read(db_path: Path) -> dict[str, object] | None:
    """The last state the bridge wrote, or None if it never ran on this store."""
    path = health_path(db_path)
    for _ in range(5):
        try:
            text = path.read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None
        with contextlib.suppress(ValueError):
            data = json.loads(text)
            if isinstance(data, dict):
                if data.get("running") and not _locked(path):
                    data["running"] = False  # killed: it never wrote that it stopped
                    data["killed"] = True
                return data
        time.sleep(0.05)  # caught half-written: read again
    return None


def _locked(path: Path) -> bool:
    """True while a bridge holds the file's lock: the kernel drops it when the process ends, however."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
