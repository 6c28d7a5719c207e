"""The cable between a virtual board and the host: a thread copying bytes between the board's pty and a host-side pty.

The host side is a pty of its own whose slave path is published as a stable
symlink (as udev's /dev/serial/by-id does), so pyserial and mpremote open it
as a real device, and it can be pulled and plugged again while the board runs
on (unplug, plug). Noise can be put on the line (to_host, damage_next). One
thread owns every descriptor: other threads hand it work through call().
"""

from __future__ import annotations

import os
import queue
import select
import threading
import tty
from collections.abc import Callable
from pathlib import Path

_READ = 4096  # bytes moved per read
_SELECT_S = 0.5  # the longest the relay sleeps; stop() and call() wake it at once
_PENDING_MAX = 65536  # lossless: bytes held for a slow host before the board is held back
_CALL_S = 5.0  # how long call() waits for the relay thread


class PtyRelay:
    """Bytes between the master of a board's pty and a host-side pty behind the symlink tty.

    board_ended runs on the relay thread when the board's side closes (the
    interpreter ended): it returns the master of a new board's pty (a board
    that boots again), or None. dropped counts board bytes lost while unplugged
    or while the host side's buffer was full.
    """

    def __init__(self, tty_link: Path, board_ended: Callable[[], int | None], *, lossless: bool = False) -> None:
        self.tty = tty_link
        self.board_ended = board_ended
        # lossless: while the host reads slower than the board writes, hold the board back (stop reading
        # from it) instead of dropping, as USB flow control does; the field simulator needs every frame.
        self.lossless = lossless
        self.dropped = 0
        self._board: int | None = None  # master of the board's pty
        self._host: int | None = None  # master of the host side's pty
        self._host_slave: int | None = None  # held open, so the master never reads EIO between two opens
        self._pending = bytearray()
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._ops: queue.Queue[tuple[Callable[[], None], threading.Event]] = queue.Queue()
        self._damage = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self, board: int) -> None:
        """Relay for the board whose pty master is board (now the relay's to close), with the host side plugged."""
        self._board = board
        self._wake_r, self._wake_w = os.pipe()
        self.plug()
        self._stop.clear()
        self._thread = threading.Thread(target=self._relay, name="virtual-board", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread, close every descriptor, remove the tty link."""
        self._stop.set()
        if self._thread is not None:
            self._wake()
            self._thread.join()
            self._thread = None
        self.unplug()
        for name in ("_board", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def call(self, op: Callable[[], None]) -> bool:
        """Run op on the relay thread, which owns the descriptors, and wait for it; False if it did not answer."""
        done = threading.Event()
        self._ops.put((op, done))
        self._wake()
        return done.wait(_CALL_S)

    def damage_next(self, n: int = 1) -> None:
        """Flip one bit in each of the next n pieces passed from the board to the host."""
        with self._lock:
            self._damage += n

    # ------------------------------------------------------------ on the relay thread only (through call())

    def plug(self) -> None:
        """A new host-side pty behind the tty link (nothing if one is plugged)."""
        if self._host is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._host, self._host_slave = master, slave
        link = self.tty.with_name(self.tty.name + ".new")
        link.unlink(missing_ok=True)
        link.symlink_to(os.ttyname(slave))
        os.replace(link, self.tty)

    def unplug(self) -> None:
        """The host side's pty closed (an open port errors) and the tty link gone."""
        self.tty.unlink(missing_ok=True)
        for name in ("_host", "_host_slave"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def to_host(self, data: bytes) -> None:
        if self.lossless and self._host is not None:
            self._pending += data
            self._flush_pending()
            return
        if self._host is None:
            self.dropped += len(data)
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._host, view)
            except (BlockingIOError, OSError):
                self.dropped += len(view)  # nobody reads the port and its buffer is full
                return
            view = view[n:]

    # ------------------------------------------------------------ the loop

    def _wake(self) -> None:
        if self._wake_w is not None:
            os.write(self._wake_w, b"x")

    def _relay(self) -> None:
        assert self._wake_r is not None
        while not self._stop.is_set():
            board = self._board if len(self._pending) < _PENDING_MAX else None
            fds = [self._wake_r] + [fd for fd in (board, self._host) if fd is not None]
            wfds = [self._host] if self._pending and self._host is not None else []
            ready, writable, _ = select.select(fds, wfds, [], _SELECT_S)
            if self._wake_r in ready:
                os.read(self._wake_r, _READ)
                self._run_ops()
            if writable:
                self._flush_pending()
            if self._board is not None and self._board in ready:
                self._from_board()
            if self._host is not None and self._host in ready:
                self._from_host()
        self._run_ops()

    def _run_ops(self) -> None:
        while True:
            try:
                op, done = self._ops.get_nowait()
            except queue.Empty:
                return
            try:
                op()
            finally:
                done.set()

    def _from_board(self) -> None:
        assert self._board is not None
        try:
            data = os.read(self._board, _READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: the interpreter has ended and closed its end
        if not data:
            os.close(self._board)
            self._board = None
            if not self._stop.is_set():
                self._board = self.board_ended()
            return
        with self._lock:
            if self._damage:
                self._damage -= 1
                flipped = bytearray(data)
                flipped[len(flipped) // 2] ^= 0x10
                data = bytes(flipped)
        self.to_host(data)

    def _from_host(self) -> None:
        assert self._host is not None
        try:
            data = os.read(self._host, _READ)
        except BlockingIOError:
            return
        except OSError:
            return  # no client has the port open: nothing to read
        view = memoryview(data)
        while view and self._board is not None:
            try:
                n = os.write(self._board, view)
            except OSError:
                return  # the board is not reading (or has ended): its input is lost, as on a full USB buffer
            view = view[n:]

    def _flush_pending(self) -> None:
        assert self._host is not None
        try:
            n = os.write(self._host, self._pending)
        except (BlockingIOError, OSError):
            return
        del self._pending[:n]
