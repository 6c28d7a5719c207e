"""A virtual board's interpreter: MicroPython on the slave of a raw pty, as a board sits behind its USB serial.

Raw: no signals, no CR/LF translation, so the serial protocol's 0x03 and 0x0D
bytes pass as they are. The caller keeps the pty's master and reads and writes
the board through it (pty_relay.py does).
"""

from __future__ import annotations

import os
import subprocess
import termios
import tty
from pathlib import Path
from typing import BinaryIO

_STOP_S = 3.0  # how long end() waits for the interpreter to end before killing it


def launch(
    cmd: list[str], env: dict[str, str], cwd: Path, *, stderr: BinaryIO | None, interrupt: bool
) -> tuple[subprocess.Popen[bytes], int]:
    """Start cmd on a new raw pty; the process and the pty's master (non-blocking).

    stderr: a file for the interpreter's stderr, or None for the pty itself (errors go to the port).
    interrupt: Ctrl-C on the pty interrupts the program (ISIG on), as on a board's REPL.
    """
    board, slave = os.openpty()
    try:
        tty.setraw(slave)  # no ISIG, ICANON, ECHO, ICRNL or OPOST: bytes pass unchanged
        if interrupt:
            attrs = termios.tcgetattr(slave)
            attrs[3] |= termios.ISIG
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
        proc = subprocess.Popen(
            cmd,
            stdin=slave,
            stdout=slave,
            stderr=slave if stderr is None else stderr,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group and terminal: Ctrl-C on the pty reaches it
        )
    except BaseException:
        os.close(board)
        raise
    finally:
        os.close(slave)
    os.set_blocking(board, False)
    return proc, board


def end(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the interpreter if it still runs; kill it if it has not ended within _STOP_S."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(_STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
