"""The desktop MicroPython interpreter, run on a build from gateway/workshop/mpy_build.py.

Used by `akker node`, the simulator, the virtual boards and the tests.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gateway.workshop.mpy_build import tool


def command(path: Path, args: list[str], heapsize: str) -> tuple[list[str], dict[str, str]]:
    """The micropython command line and environment that import from the build in path.

    MicroPython searches its working directory first: run it in path, or it
    compiles the repository's .py sources instead of importing the .mpy build.
    HOME is private because the REPL writes its history there.
    """
    env = {**os.environ, "MICROPYPATH": str(path), "HOME": str(path)}
    return [tool("micropython"), "-X", f"heapsize={heapsize}", *args], env


def run(
    path: Path, args: list[str], stdin: str = "", heapsize: str = "32k", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run micropython on the build in path, in path (see command), with stdin; its output as text."""
    cmd, env = command(path, args, heapsize)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, cwd=path, timeout=timeout)
