"""Node firmware heap: the smallest MicroPython heap in which full cycles run.

A full cycle is boot, every sensor of the sim board, encode, frame and send
(plus a status at boot). gc.mem_alloc() cannot see a peak between two
readings, so the figure is found from the outside: the interpreter is run
with -X heapsize=N and N is bisected to the smallest value that completes.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from gateway.sim import micropython
from gateway.sim.nodes import node_config
from gateway.workshop import mpy_build

TARGET_KB = 40  # the target on the 64-bit desktop build
CAP_KB = 64  # the cap for a full cycle
SEARCH_KB = 160  # bisect up to here: today the cycle needs more than the cap
CYCLES = 4


def _completes(build: Path, root: Path, heap_kb: int) -> bool:
    for f in root.glob("*"):
        if f.name != "config.json":
            f.unlink()
    cmd, env = micropython.command(build, ["-m", "firmware.sim.run", str(root), str(CYCLES)], f"{heap_kb}k")
    result = subprocess.run(cmd, env=env, cwd=build, capture_output=True, text=True, timeout=120)
    # The boot status and every sample must have gone out (the first report carries two samples:
    # the status leaves the band in its duty-cycle off time), and no cycle may have hit an error.
    return result.returncode == 0 and len(result.stdout.splitlines()) == CYCLES and "error" not in result.stderr


def smallest_heap_kb() -> int:
    """Bisect the heap size (KB) between 8 and SEARCH_KB; SEARCH_KB + 1 if even that fails."""
    with tempfile.TemporaryDirectory(prefix="akker-bench-fw-") as tmp:
        build = mpy_build.build(Path(tmp) / "build")
        root = Path(tmp) / "flash"
        root.mkdir()
        (root / "config.json").write_text(json.dumps(node_config()))
        if not _completes(build, root, SEARCH_KB):
            return SEARCH_KB + 1
        lo, hi = 8, SEARCH_KB  # lo fails (or is untested), hi completes
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _completes(build, root, mid):
                hi = mid
            else:
                lo = mid
        return hi
