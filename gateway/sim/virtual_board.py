"""A virtual gateway board: the real firmware under the MicroPython unix port, on a serial device path.

MicroPython runs firmware/sim/gateway_run.py with its stdin and stdout on the
slave of a raw pty (no signals, no CR/LF translation: the serial protocol's
0x03 and 0x0D bytes pass as they are). A relay thread copies between that
pty's master and a second pty, the host side, whose slave path is published as
the stable symlink ROOT/tty, as udev's /dev/serial/by-id does; pyserial (and
mpremote) open it as a real device. Because the host side is a pty of its own,
it can be pulled and plugged again while the board runs on (unplug/replug),
and noise can be put on the line (write_garbage, damage_next).

The simulated radio hears the lines appended to ROOT/air.jsonl (inject; format
in firmware/sim/air.py). After the firmware leaves its receive loop, the
interpreter's REPL takes the line, as on a board (`micropython -i`).
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import termios
import threading
import tty
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from gateway.sim import micropython

DEFAULT_CONFIG: dict[str, Any] = {"role": "gateway", "board": "sim"}
_POWER_ON = Path(__file__).resolve().parents[2] / "firmware" / "sim" / "power_on.py"
_READ = 4096  # bytes moved per read
_SELECT_S = 0.5  # the longest the relay sleeps; stop() and the other calls wake it at once
_PENDING_MAX = 65536  # lossless: bytes held for a slow host before the board is held back
_STOP_S = 3.0  # how long stop() waits for the interpreter to end before killing it


class VirtualBoardError(RuntimeError):
    """The virtual board could not start, or was used while stopped."""


class VirtualBoard:
    """The gateway firmware on a virtual serial port. start() before use; stop() ends everything it started.

    root: the board's flash (config.json, its log, air.jsonl) and where ROOT/tty
    and ROOT/console.log (the interpreter's stderr) appear. build: the .mpy
    build of payload_codec/ and firmware/ (gateway.workshop.mpy_build.build).
    args: the interpreter's arguments after the heap size; the default runs the
    gateway firmware on root and then the REPL.
    """

    def __init__(
        self,
        root: Path,
        build: Path,
        *,
        config: dict[str, Any] | None = None,
        heapsize: str = "256k",
        args: Sequence[str] | None = None,
        bare: bool = False,
        lossless: bool = False,
    ) -> None:
        self.root = Path(root)
        self.build = Path(build)
        self.config = dict(DEFAULT_CONFIG if config is None else config)
        self.heapsize = heapsize
        self.args = list(args) if args is not None else ["-i", "-m", "firmware.sim.gateway_run", str(self.root)]
        # bare: a board as a technician gets it, MicroPython and its flash (root) only, for mpremote:
        # power_on.py mounts root as /, runs boot.py and main.py, then the REPL; Ctrl-C interrupts
        # (ISIG on), errors go to the port, and when the interpreter ends (a soft reset) it boots again.
        self.bare = bare
        if bare:
            self.args = ["-i", str(_POWER_ON), str(self.root.resolve())]
        self.boots = 0

        # A bare board's flash holds only what is deployed to it: its port and console sit beside it.
        def place(name: str) -> Path:
            return self.root.with_name(f"{self.root.name}.{name}") if bare else self.root / name

        self.tty = place("tty")
        self.air = self.root / "air.jsonl"
        self.console_log = place("console.log")
        self.dropped = 0  # board bytes lost while unplugged or while the host side's buffer was full
        # lossless: while the host reads slower than the board writes, hold the board back (stop reading
        # from it) instead of dropping, as USB flow control does; the field simulator needs every frame.
        self.lossless = lossless
        self._pending = bytearray()
        self._proc: subprocess.Popen[bytes] | None = None
        self._console: BinaryIO | None = None
        self._board: int | None = None  # master of the board's pty
        self._host: int | None = None  # master of the host side's pty
        self._host_slave: int | None = None  # held open, so the master never reads EIO between two opens
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._ops: queue.Queue[tuple[Callable[[], None], threading.Event]] = queue.Queue()
        self._damage = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None:
            raise VirtualBoardError("the virtual board is already started")
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.bare:
            config = self.root / "config.json"
            if not config.exists():
                config.write_text(json.dumps(self.config))
        if not self.bare:
            self.air.touch()
        self._console = self.console_log.open("ab")
        self._launch()
        self._wake_r, self._wake_w = os.pipe()
        self._plug()
        self._stop.clear()
        self._thread = threading.Thread(target=self._relay, name="virtual-board", daemon=True)
        self._thread.start()

    def _launch(self) -> None:
        cmd, env = micropython.command(self.build, self.args, self.heapsize)
        cwd = self.build
        if self.bare:
            env["MICROPYPATH"] = ":/lib"  # the board's own flash, mounted as / by power_on.py
            cwd = self.root
        board, slave = os.openpty()
        try:
            tty.setraw(slave)  # no ISIG, ICANON, ECHO, ICRNL or OPOST: bytes pass unchanged
            if self.bare:  # but Ctrl-C must interrupt a running main.py, as on a board
                attrs = termios.tcgetattr(slave)
                attrs[3] |= termios.ISIG
                termios.tcsetattr(slave, termios.TCSANOW, attrs)
            self._proc = subprocess.Popen(
                cmd,
                stdin=slave,
                stdout=slave,
                stderr=slave if self.bare else self._console,
                cwd=cwd,
                env=env,
                start_new_session=True,  # its own process group and terminal: Ctrl-C on the pty reaches it
            )
        except BaseException:
            os.close(board)
            self._close_console()
            raise
        finally:
            os.close(slave)
        os.set_blocking(board, False)
        self._board = board
        self.boots += 1

    def stop(self) -> None:
        """End the interpreter and the relay, close every descriptor, remove ROOT/tty."""
        self._stop.set()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(_STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._wake()
            self._thread.join()
            self._thread = None
        self._unplug()
        for name in ("_board", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)
        self._close_console()

    def __enter__(self) -> VirtualBoard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the interpreter runs (the firmware's loop, or the REPL after it)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def console(self) -> str:
        """What the interpreter wrote to stderr: the firmware's log lines outside its loop, tracebacks."""
        try:
            return self.console_log.read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------ what a test does to it

    def inject(self, packet: dict[str, Any]) -> None:
        """Put a packet on the air: {freq_khz, sf, bw_khz, rssi_dbm, snr_db, crc_error, phy (bytes or hex)}."""
        line = dict(packet)
        if isinstance(line.get("phy"), bytes | bytearray):
            line["phy"] = bytes(line["phy"]).hex()
        with self.air.open("a") as f:
            f.write(json.dumps(line) + "\n")

    def unplug(self) -> None:
        """Pull the USB cable: the host side's pty closes (an open port errors) and ROOT/tty goes away."""
        self._call(self._unplug)

    def replug(self) -> None:
        """Plug it in again: a new host-side pty behind ROOT/tty. The board has run on meanwhile."""
        self._call(self._plug)

    def write_garbage(self, data: bytes) -> None:
        """Bytes on the line to the host, between the board's own: a noisy cable."""
        self._call(lambda: self._to_host(bytes(data)))

    def damage_next(self, n: int = 1) -> None:
        """Flip one bit in each of the next n pieces the relay passes from the board to the host."""
        with self._lock:
            self._damage += n

    # ------------------------------------------------------------ the relay thread

    def _call(self, op: Callable[[], None]) -> None:
        """Run op on the relay thread, which owns the descriptors, and wait for it."""
        if self._thread is None:
            raise VirtualBoardError("the virtual board is not started")
        done = threading.Event()
        self._ops.put((op, done))
        self._wake()
        if not done.wait(5):
            raise VirtualBoardError("the relay thread did not answer")

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
            if self.bare and not self._stop.is_set() and self._proc is not None:
                self._proc.wait()  # a soft reset ends the unix port: the board boots again
                self._launch()
            return
        with self._lock:
            if self._damage:
                self._damage -= 1
                flipped = bytearray(data)
                flipped[len(flipped) // 2] ^= 0x10
                data = bytes(flipped)
        self._to_host(data)

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

    def _to_host(self, data: bytes) -> None:
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

    def _plug(self) -> None:
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

    def _unplug(self) -> None:
        self.tty.unlink(missing_ok=True)
        for name in ("_host", "_host_slave"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None
