"""The field simulator's speed: simulated node-days per wall-clock second, on both runtimes.

The whole of `akker sim` is timed, as `make demo` runs it, on a new database
each time: OTAA nodes with the network answering in lockstep (the default, on
both runtimes), and ABP nodes through the gateway firmware (MicroPython).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gateway.sim.runner import SimConfig, run

NODES = 20
DAYS = 7.0


RUNS = (("otaa", "micropython"), ("otaa", "cpython"), ("abp", "micropython"))


def node_days_per_s() -> dict[str, tuple[float, float, float]]:
    """ "activation, runtime" -> (node-days per second, wall seconds, delivery ratio)."""
    out = {}
    for activation, runtime in RUNS:
        with tempfile.TemporaryDirectory(prefix="akker-bench-sim-") as tmp:
            cfg = SimConfig(NODES, DAYS, Path(tmp) / "farm.db", runtime=runtime, activation=activation)
            result = run(cfg, progress=lambda _m: None)
        out[f"{activation}, {runtime}"] = (result.node_days / result.wall_s, result.wall_s, result.delivery_ratio)
    return out
