"""The simulated nodes' side of `akker sim` with OTAA: each node's firmware in lockstep with the farm's network.

A node runs in a thread of lockstep.py, its firmware either in this process
(--runtime cpython: field_run's hooks are a NodeLink) or under the MicroPython
interpreter (its hooks are firmware/sim/stdio_net.py, which asks the thread
over the process's stdin and stdout). Either way each uplink goes through
exchange(): the air and the network of network_air.py, and back the downlink
that reaches the node, if one does.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import micropython
from .errors import SimError
from .farm_nodes import NodeTask, failure
from .network_air import Air


class NodeLink:
    """One node's side of the lockstep: the hooks firmware/sim/field_run.py calls (CPython: in this process)."""

    def __init__(self, air: Air, i: int, name: str) -> None:
        self.air, self.i, self.name = air, i, name
        self.board: Any = None
        self.farm: Callable[[int], int] = lambda t: t

    def start(self, board: Any, farm: Callable[[int], int]) -> None:
        self.board, self.farm = board, farm

    def wake(self, t_ms: int) -> None:
        self.air.lockstep.turn(self.i, t_ms)
        try:
            self.air.queue_commands(t_ms)
        except Exception as err:  # the network's fault, not the node's: the run stops (Lockstep.fail)
            raise self.air.lockstep.fail(err) from err

    def sent(self, record: dict[str, Any]) -> None:
        phy = bytes(record["payload"])
        power = self.board.modem().cfg.get("output_power", 14)  # still the transmission's settings
        try:
            got = exchange(self.air, self.i, self.name, self.farm(record["time_ms"]), record["airtime_us"],
                           record["freq_khz"], record["sf"], power, phy)  # fmt: skip
        except Exception as err:  # inside the firmware's send: its `except Exception` must not hide it
            raise self.air.lockstep.fail(err) from err
        if got is not None:  # on the node's clock: its awake clock is a crystal's, exact over a window's seconds
            node_end = record["time_ms"] + math.ceil(record["airtime_us"] / 1000)
            self.board.modem().downlinks.append(dict(got, t_ms=node_end + got.pop("after_ms")))


def exchange(
    air: Air, i: int, name: str, t0: int, airtime_us: int, freq_khz: int, sf: int, power_dbm: float, phy: bytes
) -> dict[str, Any] | None:
    """One uplink of node i through the air and the network: the downlink that reaches it, if one does.

    As firmware/sim/rx_window.py takes it, with "after_ms" (after the uplink's end) instead of "t_ms".
    """
    up = air.put_on_air(name, t0, airtime_us, freq_khz, sf, power_dbm)
    air.lockstep.turn(i, up.t1)  # every frame that overlaps this one is on the air now
    air.queue_commands(up.t1)
    receptions = air.hear(up)
    reply = air.answer(phy, up, receptions) if receptions else None
    if reply is None:
        return None
    down = air.send_down(name, up, receptions, *reply)
    if down is None:
        return None
    event, rssi, snr = down
    if not event["heard"]:
        return None
    # The node receives until this downlink ends: whatever else is sent meanwhile is decided first, so a
    # downlink decided later can still collide with this one. (If it does, the node would have stopped
    # listening sooner: a rare case where its next frame may come before the floor it waited with.)
    air.lockstep.turn(i, int(event["t_ms"]) + (int(event["airtime_us"]) + 999) // 1000)
    if air.collided(event):
        return None
    return {"after_ms": event["t_ms"] - up.t1, "freq_khz": event["freq_khz"], "sf": event["sf"], "bw_khz": 125,
            "phy": reply[0].hex(), "rssi_dbm": rssi, "snr_db": snr}  # fmt: skip


def run_lockstep(air: Air, tasks: Sequence[NodeTask]) -> list[list[dict[str, Any]]]:
    """Every node's whole run against air's network, in turns; each node's events, as field_run gives them."""
    per_node: list[list[dict[str, Any]]] = [[] for _ in tasks]

    def body(i: int, t: NodeTask) -> Callable[[], None]:
        if t.runtime == "micropython":
            return lambda: _micropython_node(air, i, t, per_node[i].append)
        from firmware.sim.field_run import run

        return lambda: run(t.root, t.seed, t.node, t.start_ms, t.end_ms, t.charge, per_node[i].append, t.drift_ppm,
                           NodeLink(air, i, t.name))  # fmt: skip

    air.lockstep.run([body(i, t) for i, t in enumerate(tasks)])
    return per_node


def _micropython_node(air: Air, i: int, t: NodeTask, out: Callable[[dict[str, Any]], None]) -> None:
    """Node i under the MicroPython interpreter, its network hooks over its stdin and stdout (stdio_net.py)."""
    args = ["-m", "firmware.sim.field_run", t.root, str(t.seed), str(t.node), str(t.start_ms), str(t.end_ms),
            repr(t.charge), str(t.drift_ppm), "--network"]  # fmt: skip
    cmd, env = micropython.command(Path(t.build), args, t.heap)
    with (
        tempfile.TemporaryFile("w+") as err,
        subprocess.Popen(
            cmd, env=env, cwd=t.build, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1
        ) as proc,
    ):
        assert proc.stdin is not None and proc.stdout is not None
        lines: list[str] = []
        watchdog = _Watchdog(proc)
        try:
            for line in proc.stdout:
                if not line.startswith("{"):
                    continue
                lines.append(line)
                try:
                    e = json.loads(line)
                    kind = e["kind"]
                except (ValueError, KeyError, TypeError):
                    raise SimError(f"{t.name} printed a line that is not an event: {line[:80]!r}") from None
                if kind == "wake":
                    with watchdog.paused():
                        air.lockstep.turn(i, e["t_ms"])
                    air.queue_commands(e["t_ms"])
                    proc.stdin.write("\n")
                    continue
                out(e)
                if kind == "tx":
                    with watchdog.paused():
                        got = exchange(air, i, t.name, e["t_ms"], e["airtime_us"], e["freq_khz"], e["sf"],
                                       e.get("tx_power_dbm", 14), bytes.fromhex(e["phy"]))  # fmt: skip
                    proc.stdin.write((json.dumps(got) if got else "") + "\n")
                watchdog.alive()
        finally:
            watchdog.stop()
            if proc.poll() is None:
                proc.kill()
        if watchdog.fired:
            raise SimError(f"{t.name} said nothing for {STALL_S} s under MicroPython: stopped it (a hang)")
        if proc.wait():
            err.seek(0)
            raise SimError(failure(t.name, t.heap, "".join(lines[-1:]), err.read()))


STALL_S = 300  # a node process silent this long while it is its turn has hung


class _Watchdog:
    """Kills a node process that prints nothing for STALL_S while it runs (not while it waits its turn)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.fired = False
        self._last = time.monotonic()
        self._waiting = False
        self._done = threading.Event()
        threading.Thread(target=self._watch, name="akker-sim-watchdog", daemon=True).start()

    def alive(self) -> None:
        self._last = time.monotonic()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._waiting = True
        try:
            yield
        finally:
            self._waiting = False
            self._last = time.monotonic()

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(1.0):
            if not self._waiting and time.monotonic() - self._last > STALL_S:
                self.fired = True
                self.proc.kill()
                return
