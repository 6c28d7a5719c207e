"""Node firmware heap: the smallest MicroPython heap in which full cycles run.

A full cycle is boot, every sensor of the sim board, encode, frame and send
(plus a status at boot). gc.mem_alloc() cannot see a peak between two
readings, so the figure is found from the outside: the interpreter is run
with -X heapsize=N and N is bisected to the smallest value that completes.

The same search runs on the 32-bit build of MicroPython 1.28.0
(gateway/sim/micropython32.py): its objects are the size they are on a board.
The figure moves with fragmentation and is not monotonic in N, so it is
reported here; tests/firmware/test_heap_32bit.py gates one run at a cap.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from gateway.sim import micropython
from gateway.sim.nodes import node_config
from gateway.workshop import mpy_build

TARGET_KB = 40  # the issue's target on the 64-bit desktop build
CAP_KB = 64  # the issue's cap for a full cycle
SEARCH_KB = 160  # bisect up to here: today the cycle needs more than the cap
CYCLES = 4
ISSUE13_32BIT_KB = 74  # issue 13: a full ABP cycle, .mpy, on MicroPython 1.28.0 built as a 32-bit unix port


def completes(build: Path, root: Path, heap_kb: int, interpreter: str | None = None) -> bool:
    """CYCLES full cycles run from a fresh flash (root, keeping its config.json) in a heap of heap_kb.

    interpreter: the micropython binary (default: mpy_build.tool's, AKKER_MICROPYTHON or the .venv's).
    """
    for f in root.glob("*"):
        if f.name != "config.json":
            f.unlink()
    cmd, env = micropython.command(build, ["-m", "firmware.sim.run", str(root), str(CYCLES)], f"{heap_kb}k")
    if interpreter:
        cmd[0] = interpreter
    result = subprocess.run(cmd, env=env, cwd=build, capture_output=True, text=True, timeout=120)
    # The boot status and every sample must have gone out (the first report carries two samples:
    # the status leaves the band in its duty-cycle off time), and no cycle may have hit an error.
    return result.returncode == 0 and len(result.stdout.splitlines()) == CYCLES and "error" not in result.stderr


def describe(interpreter: str | None = None) -> str:
    """The interpreter as "MicroPython 1.28.0, 32-bit" (default as in completes)."""
    script = "import sys; print('%d.%d.%d' % sys.implementation.version[:3], 64 if sys.maxsize > 2**31 else 32)"
    out = subprocess.run(
        [interpreter or mpy_build.tool("micropython"), "-c", script], capture_output=True, text=True, timeout=30
    )
    version, bits = out.stdout.split()
    return f"MicroPython {version}, {bits}-bit"


def smallest_heap_kb(interpreter: str | None = None) -> int:
    """Bisect the heap size (KB) between 8 and SEARCH_KB; SEARCH_KB + 1 if even that fails.

    interpreter: the micropython binary to measure (default as in completes).
    """
    with tempfile.TemporaryDirectory(prefix="akker-bench-fw-") as tmp:
        build = mpy_build.build(Path(tmp) / "build")
        root = Path(tmp) / "flash"
        root.mkdir()
        (root / "config.json").write_text(json.dumps(node_config()))
        if not completes(build, root, SEARCH_KB, interpreter):
            return SEARCH_KB + 1
        lo, hi = 8, SEARCH_KB  # lo fails (or is untested), hi completes
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if completes(build, root, mid, interpreter):
                hi = mid
            else:
                lo = mid
        return hi
