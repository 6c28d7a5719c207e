"""`akker sim`: virtual nodes run the real firmware, the real gateway firmware hears them, the real bridge stores.

1. N nodes are provisioned into the bridge's database (keys derived from the
   seed) and placed on the farm around the gateway boards.
2. Each node runs the firmware on the sim board for D days of virtual time,
   on a FarmField with a battery (firmware/sim/field_run.py), under CPython or
   under the MicroPython interpreter, two at a time.
3. The channel (gateway/sim/channel.py) decides what each gateway hears:
   range, collisions, capture.
4. Each gateway board runs the gateway firmware under MicroPython behind a
   pty (gateway/sim/virtual_board.py); what it hears is written to its air file
   with the virtual time; the bridge (gateway/bridge/wiring.py) reads the boards over
   serial, with their clocks as reception times, and stores and delivers.
5. A summary per node, and with --truth every transmitted frame and every true
   sensor value as JSON Lines.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from firmware.sim.energy import CAPACITY_MAH, Battery
from gateway.bridge import store
from gateway.bridge.registry import Registry, RegistryError, open_db
from gateway.bridge.sinks import Sink
from gateway.bridge.sources.serial_board import SerialBoardSource
from gateway.bridge.wiring import Bridge
from gateway.sim import channel, micropython
from gateway.sim.virtual_board import VirtualBoard
from gateway.workshop import mpy_build
from gateway.workshop.provision import Identity, Radio, Sensors, node_config

DAY_MS = 86_400_000
CHANNEL_KHZ = 868_100  # a gateway board listens on one channel: its nodes use that one
SF = 9  # the default; --sf sets the nodes' and the gateway boards' spreading factor
HEAP = "512k"  # the MicroPython runtime's heap per node: a board's, not the 64 KB test cap
DRIFT_PPM = 10000  # nodes' sleep clocks: an ESP32's RC oscillator is off by up to about 1 %


class SimError(Exception):
    """The simulation cannot run as asked; the message says what to change."""


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


@dataclass
class NodeResult:
    name: str
    dev_addr: int
    sent: int = 0
    airtime_ms: int = 0
    used_mah: float = 0.0
    battery_v: float = 0.0
    charge: float = 0.0
    days_left: float | None = None
    delivered: int = 0


@dataclass
class SimResult:
    nodes: list[NodeResult]
    heard: int
    lost: dict[str, int]
    wall_s: float
    node_days: float
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def delivery_ratio(self) -> float:
        sent = sum(n.sent for n in self.nodes)
        return sum(n.delivered for n in self.nodes) / sent if sent else 0.0


def _identity(seed: int, i: int) -> Identity:
    def key(what: str) -> bytes:
        return hashlib.sha256(f"akker-sim:{seed}:{i}:{what}".encode()).digest()[:16]

    return Identity(0x00A00000 + (seed % 256) * 1024 + i, key("nwk"), key("app"))


def _node_task(args: tuple[str, str, str, int, int, int, int, float, int]) -> list[dict[str, Any]]:
    """One node's whole run, in a worker process: its events."""
    runtime, root, build, seed, node, start_ms, end_ms, charge, drift_ppm = args
    if runtime == "cpython":
        from firmware.sim.field_run import run

        events: list[dict[str, Any]] = []
        run(root, seed, node, start_ms, end_ms, charge, events.append, drift_ppm)
        return events
    cmd, env = micropython.command(
        Path(build),
        [
            "-m",
            "firmware.sim.field_run",
            root,
            str(seed),
            str(node),
            str(start_ms),
            str(end_ms),
            repr(charge),
            str(drift_ppm),
        ],
        HEAP,
    )
    result = subprocess.run(cmd, env=env, cwd=build, capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SimError(f"node {node} under MicroPython failed: {result.stderr.strip().splitlines()[-1:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _provision(cfg: SimConfig, work: Path, names: list[str]) -> list[tuple[str, Identity, Path]]:
    db = open_db(cfg.db)
    registry = Registry(db)
    out = []
    try:
        for i, name in enumerate(names):
            if registry.by_name(name):
                raise SimError(f"{cfg.db} already has a node named {name}: give a new --db for each simulation")
            ident = _identity(cfg.seed, i)
            traps = 2 if i % 3 == 0 else 1
            conf = node_config("sim", ident, Sensors(2, 2, "sht4x", traps, True), Radio((CHANNEL_KHZ,), cfg.sf),
                               interval_s=cfg.interval_s)  # fmt: skip
            root = work / name
            root.mkdir(parents=True)
            (root / "config.json").write_text(json.dumps(conf))
            registry.add(name, ident.dev_addr, ident.nwk_skey, ident.app_skey, "sim")
            out.append((name, ident, root))
    except RegistryError as err:
        raise SimError(str(err)) from None
    finally:
        db.close()
    return out


def run(cfg: SimConfig, progress: Callable[[str], None] = print) -> SimResult:
    if cfg.runtime not in ("cpython", "micropython"):
        raise SimError(f"--runtime {cfg.runtime!r}: use cpython or micropython")
    if cfg.sf not in channel.SENSITIVITY_DBM:
        raise SimError(f"--sf {cfg.sf}: use 7..12")
    if not 1 <= cfg.nodes <= 500 or not 0 < cfg.days <= 365:
        raise SimError("--nodes must be 1..500 and --days more than 0 and at most 365")
    started = time.monotonic()
    rng = random.Random(cfg.seed)
    end = (cfg.end or datetime.now(timezone.utc)).replace(second=0, microsecond=0)
    total_ms = int(cfg.days * DAY_MS)
    epoch = end - timedelta(milliseconds=total_ms)
    nodes, gws = channel.place(cfg.nodes, cfg.gateways, cfg.radius_m, rng)
    with tempfile.TemporaryDirectory(prefix="akker-sim-") as tmp:
        work = Path(tmp)
        build = mpy_build.build(work / "build")
        provisioned = _provision(cfg, work / "nodes", [n.name for n in nodes])
        tasks = []
        for i, (_name, _ident, root) in enumerate(provisioned):
            start_ms = int(rng.uniform(0, cfg.interval_s * 1000))  # nodes were switched on one by one
            charge = 0.045 if i % 10 == 9 else rng.uniform(0.55, 1.0)  # every tenth node starts nearly flat
            drift_ppm = int(rng.uniform(-DRIFT_PPM, DRIFT_PPM))
            tasks.append((cfg.runtime, str(root), str(build), cfg.seed, i, start_ms, total_ms, charge, drift_ppm))
        progress(f"running {cfg.nodes} nodes for {cfg.days:g} days on {cfg.runtime} ...")
        with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
            per_node = list(pool.map(_node_task, tasks))
        txs = []
        results = []
        for (name, ident, _root), events in zip(provisioned, per_node, strict=True):
            r = NodeResult(name, ident.dev_addr)
            for e in events:
                e["node"] = name
                if e["kind"] == "tx":
                    txs.append(channel.Transmission(name, e["t_ms"], e["airtime_us"], e["freq_khz"], e["sf"],
                                                    e["bw_khz"], e["phy"]))  # fmt: skip
                    r.sent += 1
                    r.airtime_ms += e["airtime_us"] // 1000
                elif e["kind"] == "end":
                    r.used_mah, r.battery_v, r.charge = e["used_mah"], e["battery_v"], e["charge"]
            results.append(r)
        heard, lost = channel.receptions(txs, nodes, gws, rng)
        progress(f"{len(txs)} frames sent, {len(heard)} receptions; the gateway boards and the bridge take them ...")
        t_gw = time.monotonic()
        _through_gateways(cfg, work, build, gws, heard, epoch, progress)
        progress(f"  ... in {time.monotonic() - t_gw:.1f} s")
        if cfg.truth is not None:
            _write_truth(cfg.truth, provisioned, per_node, heard, epoch)
    db = store.connect_readonly(cfg.db)
    try:
        delivered = dict(db.execute("SELECT node, COUNT(*) FROM records GROUP BY node").fetchall())
        counters = store.counters(db)
    finally:
        db.close()
    for r, task in zip(results, tasks, strict=True):
        r.delivered = int(delivered.get(r.name, 0))
        spent_per_day = (r.used_mah - (1 - task[7]) * CAPACITY_MAH) / cfg.days
        r.days_left = Battery(r.charge).days_left(spent_per_day)
    return SimResult(results, len(heard), lost, time.monotonic() - started, cfg.nodes * cfg.days, counters)


def _air_line(rx: channel.Reception) -> str:
    tx = rx.tx
    return json.dumps({"t_ms": tx.t_ms + tx.airtime_us // 1000, "freq_khz": tx.freq_khz, "sf": tx.sf,
                       "bw_khz": tx.bw_khz, "rssi_dbm": rx.rssi_dbm, "snr_db": rx.snr_db,
                       "crc_error": rx.crc_error, "phy": tx.phy})  # fmt: skip


def _through_gateways(
    cfg: SimConfig,
    work: Path,
    build: Path,
    gws: list[channel.Site],
    heard: list[channel.Reception],
    epoch: datetime,
    progress: Callable[[str], None],
) -> None:
    boards = []
    sources = []
    gw_config = {"role": "gateway", "board": "sim", "radio": {"channels_khz": [CHANNEL_KHZ], "sf": cfg.sf}}
    for gw in gws:
        vb = VirtualBoard(work / gw.name, build, config=gw_config, lossless=True)
        boards.append(vb)
        sources.append(SerialBoardSource(str(vb.tty), board_epoch=epoch, gateway_id=gw.name))
    bridge = Bridge(cfg.db, sources, list(cfg.sinks))
    try:
        for vb in boards:
            vb.start()
        bridge.start()
        for src in sources:
            _wait(lambda src=src: src.board is not None, 20, "a gateway board did not answer its PING")  # type: ignore[misc]
        for vb, gw in zip(boards, gws, strict=True):
            mine = sorted(
                (rx for rx in heard if rx.gateway == gw.name), key=lambda rx: rx.tx.t_ms + rx.tx.airtime_us // 1000
            )
            lines = [_air_line(rx) for rx in mine]  # in the order their receptions end
            with vb.air.open("a") as f:
                f.write("".join(line + "\n" for line in lines))
        want = len(heard)
        last = -1
        deadline = time.monotonic() + 60 + want / 50
        while True:
            got = _received(bridge)
            if got >= want:
                break
            if got != last:
                last = got
                deadline = max(deadline, time.monotonic() + 30)  # still moving
            if time.monotonic() > deadline:
                raise SimError(f"the bridge got {got} of {want} frames from the gateway boards and stalled")
            time.sleep(0.2)
        if cfg.sinks:  # every record delivered before the bridge stops (what is not stays in the outbox)
            _wait(lambda: not _backlog(bridge), 120, "the sinks did not take every record within 2 minutes")
    finally:
        bridge.stop()
        for vb in boards:
            vb.stop()


def _received(bridge: Bridge) -> int:
    """Frames the pipeline has committed (the counter is written with each batch)."""
    db = store.connect_readonly(bridge.db_path)
    try:
        return store.counters(db).get("received", 0)
    finally:
        db.close()


def _backlog(bridge: Bridge) -> int:
    db = store.connect_readonly(bridge.db_path)
    try:
        return sum(store.backlog(db).values())
    finally:
        db.close()


def _wait(predicate: Callable[[], bool], timeout_s: float, why: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SimError(why)
        time.sleep(0.05)


def _iso(epoch: datetime, t_ms: int) -> str:
    return (epoch + timedelta(milliseconds=t_ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _write_truth(
    path: Path,
    provisioned: list[tuple[str, Identity, Path]],
    per_node: list[list[dict[str, Any]]],
    heard: list[channel.Reception],
    epoch: datetime,
) -> None:
    intact = {(rx.tx.node, rx.tx.t_ms) for rx in heard if not rx.crc_error}
    with path.open("w") as f:
        for (name, ident, _root), events in zip(provisioned, per_node, strict=True):
            for e in events:
                e = dict(e, node=name, time=_iso(epoch, e["t_ms"]))
                if e["kind"] == "tx":
                    e["dev_addr"] = f"{ident.dev_addr:08x}"
                    e["heard"] = (name, e["t_ms"]) in intact
                f.write(json.dumps(e) + "\n")


def summary_table(result: SimResult, days: float) -> str:
    rows = [["node", "sent", "delivered", "lost", "airtime s/day", "battery V", "battery life, days"]]
    for n in result.nodes:
        life = "-" if n.days_left is None else f"{n.days_left:.0f}"
        rows.append([n.name, str(n.sent), str(n.delivered), str(n.sent - n.delivered),
                     f"{n.airtime_ms / 1000 / days:.1f}", f"{n.battery_v:.2f}", life])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    sent = sum(n.sent for n in result.nodes)
    lines.append("")
    lines.append(
        f"delivery ratio {result.delivery_ratio:.1%} ({sum(n.delivered for n in result.nodes)} of {sent});"
        f" lost below sensitivity {result.lost['weak']}, collided {result.lost['collided']} (receptions);"
        f" {result.node_days / result.wall_s:.1f} node-days per second"
    )
    return "\n".join(lines)
