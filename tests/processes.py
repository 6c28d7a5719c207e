"""Processes a test starts in the background: the same signal handling however pytest was launched, always reaped.

A process inherits ignored signals through fork and exec. pytest started from
a script's `cmd &` (or from a CI job doing the same) ignores SIGINT and
SIGQUIT, `nohup` adds SIGHUP, and so would everything the tests start:
a Ctrl-C sent by a test would then do nothing, and the test would hang until
its timeout with the process left running. So every process started here gets
the default disposition (and an unblocked mask) for the signals a test sends,
set in the child between fork and the command's exec by a tiny Python
trampoline rather than by `preexec_fn`, which is unsafe in a process with
threads (virtual boards, MQTT clients). A test that needs a signal ignored,
to check what a command does when launched that way, asks for it.

Each process leads its own session, so killing its process group at the end
takes whatever it started too, and the terminal's Ctrl-C on the test run
reaches pytest only, whose clean-up then kills it.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, AnyStr

# The signals tests send to the processes they start, and those a launching shell or nohup may have ignored.
DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP)

_TRAMPOLINE = """\
import os, signal, sys
default = [int(s) for s in sys.argv[1].split(",") if s]
ignore = [int(s) for s in sys.argv[2].split(",") if s]
for s in default:
    signal.signal(s, signal.SIG_DFL)
for name in ("SIGPIPE", "SIGXFSZ"):  # Python ignores them at start; Popen's restore_signals, lost by our exec
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
for s in ignore:
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_UNBLOCK, default)
os.execv(sys.argv[3], sys.argv[3:])
"""


def spawn(cmd: Sequence[str], *, ignore: Iterable[int] = (), **popen: Any) -> subprocess.Popen[Any]:
    """Start cmd with DEFAULT_SIGNALS at their default (those in ignore ignored), leading a new session.

    Prefer running(), which also kills and reaps it; popen: Popen's keyword arguments.
    """
    if "preexec_fn" in popen or "start_new_session" in popen or "process_group" in popen:
        raise TypeError("spawn() sets the child's session and signals itself")
    env = popen.get("env")
    path = os.environ.get("PATH") if env is None else env.get("PATH")
    program = shutil.which(cmd[0], path=path) if os.sep not in cmd[0] else cmd[0]
    if program is None or not os.access(program, os.X_OK):
        raise FileNotFoundError(f"{cmd[0]}: not found, or not executable")
    ignored = {int(s) for s in ignore}
    default = ",".join(str(int(s)) for s in DEFAULT_SIGNALS if int(s) not in ignored)
    trampoline = [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, default, ",".join(map(str, sorted(ignored)))]
    proc = subprocess.Popen([*trampoline, program, *cmd[1:]], start_new_session=True, **popen)
    proc.args = list(cmd)  # what a timeout or a failure names: the command, not the trampoline
    return proc


def kill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL proc's whole process group (its children too), then reap proc and close its pipes."""
    # The group outlives a leader that has exited; its children may still be running in it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with proc:  # closes stdin, stdout and stderr, then waits
        pass


@contextlib.contextmanager
def running(cmd: Sequence[str], *, ignore: Iterable[int] = (), **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """cmd started as spawn() does, and killed and reaped on the way out, whether the test passed or not."""
    proc = spawn(cmd, ignore=ignore, **popen)
    try:
        yield proc
    finally:
        kill(proc)


def first_line(stream: IO[AnyStr], timeout: float) -> AnyStr:
    """The first line from a process's pipe, or AssertionError after timeout seconds without one starting.

    Only for the first read: after it, Python's buffer may hold bytes that select() cannot see.
    """
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise AssertionError(f"no output within {timeout:g} s")
    return stream.readline()


def wait_for_log(log: Path, text: str, proc: subprocess.Popen[Any], timeout_s: float = 20.0) -> None:
    """Until text appears in the log file a started process writes; AssertionError (with the log) if the
    process ends first or timeout_s passes. For `akker gateway run`, whose ' running ' line means ready."""
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text():
        assert proc.poll() is None, f"exited with {proc.returncode} before {text!r}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout_s:g} s:\n{log.read_text()}"
        time.sleep(0.05)
