"""The field simulator's speed: simulated node-days per wall-clock second, on both runtimes.

The whole of `akker sim` is timed (nodes, channel, gateway firmware, bridge,
store), as `make demo` runs it, on a new database each time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gateway.sim.runner import SimConfig, run

NODES = 20
DAYS = 7.0


def node_days_per_s() -> dict[str, tuple[float, float, float]]:
    """runtime -> (node-days per second, wall seconds, delivery ratio)."""
    out = {}
    for runtime in ("micropython", "cpython"):
        with tempfile.TemporaryDirectory(prefix="akker-bench-sim-") as tmp:
            result = run(SimConfig(NODES, DAYS, Path(tmp) / "farm.db", runtime=runtime), progress=lambda _m: None)
        out[runtime] = (result.node_days / result.wall_s, result.wall_s, result.delivery_ratio)
    return out
