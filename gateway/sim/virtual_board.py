"""A virtual gateway board: the real firmware under the MicroPython unix port, on a serial device path.

MicroPython runs firmware/sim/gateway_run.py with its stdin and stdout on a raw
pty (board_process.py). A relay thread (pty_relay.py) copies between that pty
and a second one, the host side, whose slave path is published as the stable
symlink ROOT/tty; pyserial (and mpremote) open it as a real device. Because
the host side is a pty of its own, it can be pulled and plugged again while the
board runs on (unplug/replug), and noise can be put on the line (write_garbage,
damage_next).

The simulated radio hears the lines appended to ROOT/air.jsonl (inject; format
in firmware/sim/air.py). After the firmware leaves its receive loop, the
interpreter's REPL takes the line, as on a board (`micropython -i`).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from gateway.sim import board_process, micropython
from gateway.sim.pty_relay import PtyRelay

DEFAULT_CONFIG: dict[str, Any] = {"role": "gateway", "board": "sim"}
_POWER_ON = Path(__file__).resolve().parents[2] / "firmware" / "sim" / "power_on.py"


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
        # lossless: the host is never outrun, the board is held back instead (pty_relay.PtyRelay)
        self.lossless = lossless
        self._relay = PtyRelay(self.tty, self._board_ended, lossless=lossless)
        self._proc: subprocess.Popen[bytes] | None = None
        self._console: BinaryIO | None = None
        self._stopping = threading.Event()  # set, the board's end is a stop, not a soft reset to boot again from

    @property
    def dropped(self) -> int:
        """Board bytes lost while unplugged or while the host side's buffer was full."""
        return self._relay.dropped

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._relay.started:
            raise VirtualBoardError("the virtual board is already started")
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.bare:
            config = self.root / "config.json"
            if not config.exists():
                config.write_text(json.dumps(self.config))
        if not self.bare:
            self.air.touch()
        self._console = self.console_log.open("ab")
        self._stopping.clear()
        self._relay.start(self._boot())

    def _boot(self) -> int:
        """Start the interpreter; the master of its pty."""
        cmd, env = micropython.command(self.build, self.args, self.heapsize)
        cwd = self.build
        if self.bare:
            env["MICROPYPATH"] = ":/lib"  # the board's own flash, mounted as / by power_on.py
            cwd = self.root
        try:
            self._proc, board = board_process.launch(
                cmd, env, cwd, stderr=None if self.bare else self._console, interrupt=self.bare
            )
        except BaseException:
            self._close_console()
            raise
        self.boots += 1
        return board

    def _board_ended(self) -> int | None:
        """The relay saw the interpreter end: a bare board boots again (a soft reset ends the unix port)."""
        if self.bare and not self._stopping.is_set() and self._proc is not None:
            self._proc.wait()
            return self._boot()
        return None

    def stop(self) -> None:
        """End the interpreter and the relay, close every descriptor, remove ROOT/tty."""
        self._stopping.set()
        proc, self._proc = self._proc, None
        if proc is not None:
            board_process.end(proc)
        self._relay.stop()
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
        self._call(self._relay.unplug)

    def replug(self) -> None:
        """Plug it in again: a new host-side pty behind ROOT/tty. The board has run on meanwhile."""
        self._call(self._relay.plug)

    def write_garbage(self, data: bytes) -> None:
        """Bytes on the line to the host, between the board's own: a noisy cable."""
        self._call(lambda: self._relay.to_host(bytes(data)))

    def damage_next(self, n: int = 1) -> None:
        """Flip one bit in each of the next n pieces the relay passes from the board to the host."""
        self._relay.damage_next(n)

    def _call(self, op: Callable[[], None]) -> None:
        if not self._relay.started:
            raise VirtualBoardError("the virtual board is not started")
        if not self._relay.call(op):
            raise VirtualBoardError("the relay thread did not answer")

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None
