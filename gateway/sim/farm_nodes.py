"""The simulated farm's nodes: provisioned into the bridge's database, then each run alone in a worker process.

A node's address and keys come from the seed and its number, so the same seed
gives the same farm. A node runs the real firmware on the sim board
(firmware/sim/field_run.py) for the whole simulated time, under CPython in the
worker itself or under the MicroPython interpreter as the worker's child;
either way its events (transmissions, the battery at the end) come back as dicts.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

from gateway.bridge.registry import Registry, RegistryError, open_db
from gateway.sim import micropython
from gateway.workshop.provision import Identity, OtaaIdentity, ProvisionError, Radio, Sensors, node_config

from .errors import SimError

CHANNEL_KHZ = 868_100  # a gateway board listens on one channel: its nodes use that one
HEAP = "512k"  # the MicroPython runtime's heap per node: a board's, not the 64 KB test cap

Provisioned = tuple[str, Identity | OtaaIdentity, Path]  # a node's name, its identity, its flash (config.json)
SIM_JOIN_EUI = b"AKKERSIM"  # every simulated node's JoinEUI


class NodeTask(NamedTuple):
    """One node's run, as handed to a worker process (so only plain values)."""

    runtime: str  # cpython or micropython
    name: str  # for messages: which node ran out of memory
    heap: str  # the MicroPython heap, as -X heapsize takes it
    root: str  # the node's flash
    build: str  # the .mpy build, for micropython
    seed: int
    node: int  # its number on the farm
    start_ms: int  # when it is switched on
    end_ms: int  # when the simulation ends
    charge: float  # its battery's charge at power-on, 0..1
    drift_ppm: int  # how fast or slow its sleep clock runs


def identity(seed: int, i: int) -> Identity:
    def key(what: str) -> bytes:
        return hashlib.sha256(f"akker-sim:{seed}:{i}:{what}".encode()).digest()[:16]

    return Identity(0x00A00000 + (seed % 256) * 1024 + i, key("nwk"), key("app"))


def otaa_identity(seed: int, i: int) -> OtaaIdentity:
    digest = hashlib.sha256(f"akker-sim:{seed}:{i}:otaa".encode()).digest()
    return OtaaIdentity(digest[:8], SIM_JOIN_EUI, digest[8:24])


def provision(
    db_path: Path,
    work: Path,
    names: list[str],
    *,
    seed: int,
    sf: int,
    interval_s: int,
    otaa: bool = False,
    boards: bool = True,
) -> list[Provisioned]:
    """Each node into the registry, with its config.json in work/<name>; a name already there is a SimError.

    With gateway boards (boards), nodes use the boards' one channel, as `akker provision` sets them; with
    concentrators, EU868's three default channels and what the network's JoinAccept adds.
    """
    db = open_db(db_path)
    registry = Registry(db)
    out = []
    try:
        for i, name in enumerate(names):
            if registry.by_name(name) or registry.otaa_by_name(name):
                raise SimError(f"{db_path} already has a node named {name}: give a new --db for each simulation")
            ident: Identity | OtaaIdentity = otaa_identity(seed, i) if otaa else identity(seed, i)
            traps = 2 if i % 3 == 0 else 1
            radio = Radio((CHANNEL_KHZ,), sf) if boards else Radio(sf=sf)
            conf = node_config("sim", ident, Sensors(2, 2, "sht4x", traps, True), radio, interval_s=interval_s)
            root = work / name
            root.mkdir(parents=True)
            (root / "config.json").write_text(json.dumps(conf))
            if isinstance(ident, OtaaIdentity):
                registry.add_otaa(name, ident.dev_eui, ident.join_eui, ident.app_key, "sim")
            else:
                registry.add(name, ident.dev_addr, ident.nwk_skey, ident.app_skey, "sim")
            out.append((name, ident, root))
    except (RegistryError, ProvisionError) as err:
        raise SimError(str(err)) from None
    finally:
        db.close()
    return out


def node_task(task: NodeTask) -> list[dict[str, Any]]:
    """One node's whole run, in a worker process: its events."""
    runtime, name, heap, root, build, seed, node, start_ms, end_ms, charge, drift_ppm = task
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
        heap,
    )
    result = subprocess.run(cmd, env=env, cwd=build, capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SimError(failure(name, heap, result.stdout, result.stderr))
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def failure(name: str, heap: str, stdout: str, stderr: str) -> str:
    """The node, what it was doing (the innermost frame of its traceback) and when (its last event)."""
    frames = [line.strip() for line in stderr.splitlines() if line.strip().startswith("File ")]
    where = f" {frames[-1].replace('File ', 'in ', 1)}" if frames else ""
    events = [line for line in stdout.splitlines() if line.startswith("{")]
    when = f", after its event at t={json.loads(events[-1]).get('t_ms')} ms" if events else ", before its first frame"
    if "MemoryError" in stderr:
        return f"{name} ran out of memory with a {heap} MicroPython heap{where}{when}: give a larger --heap"
    last = (stderr.strip().splitlines() or ["no output"])[-1]
    return f"{name} failed under MicroPython{where}{when}: {last}"
