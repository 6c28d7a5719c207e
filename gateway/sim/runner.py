"""`akker sim`: virtual nodes run the real firmware, the real gateway firmware hears them, the real bridge stores.

1. N nodes are provisioned into the bridge's database (keys derived from the
   seed) and placed on the farm around the gateway boards (farm_nodes.py).
2. Each node runs the firmware on the sim board for D days of virtual time,
   on a FarmField with a battery (firmware/sim/field_run.py), under CPython or
   under the MicroPython interpreter, two at a time (farm_nodes.py).
3. The channel (gateway/sim/channel.py) decides what each gateway hears:
   range, collisions, capture.
4. Each gateway board runs the gateway firmware under MicroPython behind a
   pty; what it hears is written to its air file with the virtual time; the
   bridge reads the boards over serial, with their clocks as reception times,
   and stores and delivers (gateway_boards.py).
5. A summary per node (results.py), and with --truth every transmitted frame
   and every true sensor value as JSON Lines (truth.py).

With OTAA nodes (the default) steps 2 to 4 run together instead: the nodes
take turns in virtual time (lockstep.py), and the channel, the bridge's
pipeline and its network answer each uplink while the node waits for its
receive windows (network_air.py): joins, MAC commands, ADR, the commands of
--command. --activation abp keeps the nodes deaf, as before.

This module is the run itself: its settings, the order of those steps, and
what it counts.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from firmware.sim.energy import CAPACITY_MAH, Battery
from gateway.bridge import store
from gateway.bridge.sinks import Sink
from gateway.sim import channel
from gateway.workshop import mpy_build

from .errors import SimError
from .farm_nodes import HEAP, NodeTask, Provisioned, node_task, provision
from .gateway_boards import deliver, through_gateways
from .lockstep import Lockstep
from .network_air import Air, Command
from .network_nodes import run_lockstep
from .results import NodeResult, SimResult, command_states, joined
from .truth import intact, write_truth

__all__ = ["Command", "SimConfig", "SimError", "SimResult", "run"]  # the run's settings, what it raises and returns

DAY_MS = 86_400_000
Advance = Callable[[float, int], None]  # simulated seconds reached, frames on the air so far (progress.py)
SF = 9  # the default; --sf sets the nodes' and the gateway boards' spreading factor
DRIFT_PPM = 10000  # nodes' sleep clocks: an ESP32's RC oscillator is off by up to about 1 %


@dataclass(frozen=True)
class SimConfig:
    nodes: int
    days: float
    db: Path
    runtime: str = "cpython"
    seed: int = 1
    truth: Path | None = None
    gateways: int = 1
    radius_m: float = 3000.0
    interval_s: int = 900
    sf: int = SF
    end: datetime | None = None  # the simulation ends here (default: now), so the data looks recent
    sinks: tuple[Sink, ...] = ()
    workers: int = 2
    heap: str = HEAP  # each node's MicroPython heap (--runtime micropython)
    activation: str = "otaa"  # or "abp": nodes that only send
    commands: tuple[Command, ...] = ()  # queued for the nodes at their farm times (OTAA only)
    gateway_kind: str | None = None  # "concentrator" (OTAA's default) or "board" (ABP's only kind)


def run(cfg: SimConfig, progress: Callable[[str], None] = print, advance: Advance | None = None) -> SimResult:
    _check(cfg)
    started = time.monotonic()
    rng = random.Random(cfg.seed)  # one stream for placing, switching on and the channel: the same seed, the same run
    end = (cfg.end or datetime.now(timezone.utc)).replace(second=0, microsecond=0)
    total_ms = int(cfg.days * DAY_MS)
    epoch = end - timedelta(milliseconds=total_ms)
    nodes, gws = channel.place(cfg.nodes, cfg.gateways, cfg.radius_m, rng)
    with tempfile.TemporaryDirectory(prefix="akker-sim-") as tmp:
        work = Path(tmp)
        build = mpy_build.build(work / "build")
        otaa = cfg.activation == "otaa"
        provisioned = provision(cfg.db, work / "nodes", [n.name for n in nodes], seed=cfg.seed, sf=cfg.sf,
                                interval_s=cfg.interval_s, otaa=otaa, boards=_boards(cfg))  # fmt: skip
        tasks = _node_tasks(cfg, provisioned, build, total_ms, rng)
        if otaa:
            return _run_with_network(cfg, provisioned, tasks, nodes, gws, rng, epoch, started, progress, advance)
        progress(f"running {cfg.nodes} nodes for {cfg.days:g} days on {cfg.runtime} ...")
        per_node = _each_alone(cfg, tasks, advance or _silent)
        txs, results = _tally(provisioned, per_node)
        heard, lost = channel.receptions(txs, nodes, gws, rng)
        progress(f"{len(txs)} frames sent, {len(heard)} receptions; the gateway boards and the bridge take them ...")
        t_gw = time.monotonic()
        through_gateways(cfg.db, cfg.sinks, cfg.sf, gws, heard, epoch, work, build)
        progress(f"  ... in {time.monotonic() - t_gw:.1f} s")
        if cfg.truth is not None:
            write_truth(cfg.truth, provisioned, per_node, intact(heard), epoch)
    counters = _count_delivered(cfg, results, tasks)
    return SimResult(results, len(heard), lost, time.monotonic() - started, cfg.nodes * cfg.days, counters)


def _run_with_network(
    cfg: SimConfig,
    provisioned: list[Provisioned],
    tasks: list[NodeTask],
    nodes: list[channel.Site],
    gws: list[channel.Site],
    rng: random.Random,
    epoch: datetime,
    started: float,
    progress: Callable[[str], None],
    advance: Advance | None,
) -> SimResult:
    progress(f"running {cfg.nodes} OTAA nodes for {cfg.days:g} days on {cfg.runtime}, with the network answering ...")
    tell = advance or _silent
    air = _CountingAir(nodes, gws, rng, epoch, cfg.db, [s.name for s in cfg.sinks], cfg.commands,
                       Lockstep(lambda floor_ms: tell(floor_ms / 1000, air.sent)),
                       board_sf=cfg.sf if _boards(cfg) else None)  # fmt: skip
    try:
        per_node = run_lockstep(air, tasks)
    except SimError:
        raise
    except Exception as err:  # the network's side failed: never a run that looks fine with nobody answering
        raise SimError(f"the simulated network failed: {type(err).__name__}: {err} (a fault in Akker: please"
                       " report it with the command line)") from err  # fmt: skip
    finally:
        air.close()
    tell(cfg.days * DAY_MS / 1000, air.sent)  # the nodes are done: the last line, whatever the last floor was
    txs, results = _tally(provisioned, per_node)
    for r, events in zip(results, per_node, strict=True):
        r.downlinks = sum(1 for e in air.events if e["node"] == r.name and e["heard"])
        r.final_sf = next((e["sf"] for e in reversed(events) if e["kind"] == "tx"), None)
    joined(cfg.db, results)
    notes = command_states(cfg.db, {c.node for c in cfg.commands})
    moved = sum(1 for r in results if r.final_sf is not None and r.final_sf < cfg.sf)
    notes.append(f"ADR: {moved} of {len(results)} nodes moved from SF{cfg.sf} to a faster data rate"
                 + (f" (the gateway boards hear SF{cfg.sf} only)" if _boards(cfg) else ""))  # fmt: skip
    refused = air.counts.get("downlink_refused_by_board", 0)
    if refused:
        notes.append(f"the gateway boards refused {refused} downlinks (one waits for its tick at a time)")
    if cfg.sinks:
        deliver(cfg.db, cfg.sinks)
    if cfg.truth is not None:
        write_truth(cfg.truth, provisioned, per_node, air.intact, epoch, air.events)
    counters = _count_delivered(cfg, results, tasks)
    lost = {"weak": air.counts.get("weak", 0), "collided": air.counts.get("collided", 0)}
    heard = sum(1 for tx in txs if (tx.node, tx.t_ms) in air.intact)
    wall_s = time.monotonic() - started
    return SimResult(results, heard, lost, wall_s, cfg.nodes * cfg.days, counters, air.counts, notes)


def _silent(_sim_s: float, _frames: int) -> None:
    pass


class _CountingAir(Air):
    """The network's air, counting the uplinks put on it for the progress line."""

    sent = 0

    def put_on_air(self, node: str, t0: int, airtime_us: int, freq_khz: int, sf: int, power_dbm: float) -> Any:
        self.sent += 1
        return super().put_on_air(node, t0, airtime_us, freq_khz, sf, power_dbm)


def _each_alone(cfg: SimConfig, tasks: list[NodeTask], advance: Advance) -> list[list[dict[str, Any]]]:
    """Each node's whole run in a worker process, its events in the tasks' order; advance told as each ends."""
    total_s, frames = cfg.days * DAY_MS / 1000, 0
    advance(0.0, 0)
    with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
        futures = [pool.submit(node_task, t) for t in tasks]
        for done, f in enumerate(as_completed(futures), 1):
            frames += sum(1 for e in f.result() if e["kind"] == "tx")
            advance(total_s * done / len(tasks), frames)  # a node is its whole time: the farm's time moves in steps
    return [f.result() for f in futures]


def _boards(cfg: SimConfig) -> bool:
    """Gateway boards (one channel, one SF) rather than 8-channel concentrators."""
    return cfg.activation == "abp" or cfg.gateway_kind == "board"


def _check(cfg: SimConfig) -> None:
    if cfg.runtime not in ("cpython", "micropython"):
        raise SimError(f"--runtime {cfg.runtime!r}: use cpython or micropython")
    if cfg.sf not in channel.SENSITIVITY_DBM:
        raise SimError(f"--sf {cfg.sf}: use 7..12")
    if cfg.heap != HEAP and cfg.runtime != "micropython":
        raise SimError("--heap sizes MicroPython's heap: give --runtime micropython too")
    if not (cfg.heap[:-1].isdigit() and cfg.heap[-1] in "km" and int(cfg.heap[:-1]) > 0):
        raise SimError(f"--heap {cfg.heap!r}: give a size such as 64k or 1m")
    if cfg.activation not in ("otaa", "abp"):
        raise SimError(f"--activation {cfg.activation!r}: use otaa or abp")
    if cfg.gateway_kind not in (None, "board", "concentrator"):
        raise SimError(f"--gateway-kind {cfg.gateway_kind!r}: use board or concentrator")
    if cfg.gateway_kind == "concentrator" and cfg.activation == "abp":
        raise SimError("--gateway-kind concentrator: ABP nodes run with gateway boards only; leave it out, or use OTAA")
    if cfg.commands and cfg.activation != "otaa":
        raise SimError("--command needs nodes that listen: leave out --activation abp")
    if not 1 <= cfg.nodes <= 500 or not 0 < cfg.days <= 365:
        raise SimError("--nodes must be 1..500 and --days more than 0 and at most 365")
    if not 1 <= cfg.gateways <= 50:
        raise SimError(f"--gateways {cfg.gateways}: a farm needs 1 to 50 gateways")
    if not 60 <= cfg.interval_s <= 86400:
        raise SimError(f"--interval {cfg.interval_s}: the firmware samples every 60 to 86400 s")
    if cfg.truth is not None:  # found out now, not after the whole run
        try:
            cfg.truth.open("w").close()
        except OSError as err:
            why = f"cannot write it ({err.strerror}): give a file in a folder that exists"
            raise SimError(f"--truth {cfg.truth}: {why}") from None
    names = {f"sim-{i + 1:02d}" for i in range(cfg.nodes)}  # as channel.place names them
    for c in cfg.commands:
        if c.node not in names:
            raise SimError(f"--command {c.node}: the farm's nodes are sim-01 to sim-{cfg.nodes:02d}")
        if c.at_ms >= cfg.days * DAY_MS:
            raise SimError(f"--command {c.node}@{c.at_ms // 1000}s: after the simulation's end, give a smaller offset")


def _node_tasks(
    cfg: SimConfig, provisioned: list[Provisioned], build: Path, total_ms: int, rng: random.Random
) -> list[NodeTask]:
    tasks = []
    for i, (name, _ident, root) in enumerate(provisioned):
        start_ms = int(rng.uniform(0, cfg.interval_s * 1000))  # nodes were switched on one by one
        charge = 0.045 if i % 10 == 9 else rng.uniform(0.55, 1.0)  # every tenth node starts nearly flat
        drift_ppm = int(rng.uniform(-DRIFT_PPM, DRIFT_PPM))
        tasks.append(NodeTask(cfg.runtime, name, cfg.heap, str(root), str(build), cfg.seed, i, start_ms, total_ms,
                              charge, drift_ppm))  # fmt: skip
    return tasks


def _tally(
    provisioned: list[Provisioned], per_node: list[list[dict[str, Any]]]
) -> tuple[list[channel.Transmission], list[NodeResult]]:
    """The nodes' events as transmissions for the channel, and each node's sent, airtime and battery."""
    txs = []
    results = []
    for (name, ident, _root), events in zip(provisioned, per_node, strict=True):
        r = NodeResult(name, getattr(ident, "dev_addr", 0))
        frames: set[str] = set()  # NbTrans repeats a frame byte for byte: it is sent once, on the air more
        for e in events:
            e["node"] = name
            if e["kind"] == "tx":
                txs.append(channel.Transmission(name, e["t_ms"], e["airtime_us"], e["freq_khz"], e["sf"],
                                                e["bw_khz"], e["phy"]))  # fmt: skip
                if e["phy"][:2] == "00":  # a JoinRequest: it carries no data, so it is not "sent"
                    r.joins += 1
                elif e["phy"] not in frames:
                    frames.add(e["phy"])
                    r.sent += 1
                r.airtime_ms += e["airtime_us"] // 1000
            elif e["kind"] == "end":
                r.used_mah, r.battery_v, r.charge = e["used_mah"], e["battery_v"], e["charge"]
        results.append(r)
    return txs, results


def _count_delivered(cfg: SimConfig, results: list[NodeResult], tasks: list[NodeTask]) -> dict[str, int]:
    """Each node's records in the store and its battery's days left; the bridge's counters."""
    db = store.connect_readonly(cfg.db)
    try:
        delivered = dict(db.execute("SELECT node, COUNT(*) FROM records GROUP BY node").fetchall())
        counters = store.counters(db)
    finally:
        db.close()
    for r, task in zip(results, tasks, strict=True):
        r.delivered = int(delivered.get(r.name, 0))
        spent_per_day = (r.used_mah - (1 - task.charge) * CAPACITY_MAH) / cfg.days
        r.days_left = Battery(r.charge).days_left(spent_per_day)
    return counters
