"""A LoRaWAN network that answers a node in lockstep, for the class A heap figures of section 6.

`micropython -m firmware.sim.run ROOT CYCLES SEED --network` prints a JSON line
for every frame it sends and then reads one line: a JSON list of packets for its
receive windows (firmware/sim/rx_window.py). Network.answer() is that line: a
JoinAccept for a JoinRequest (RX1 of the join, 5 s after the request's end, on
its channel and spreading factor), and for a data uplink the next queued
downlink in RX1 (RxDelay after the uplink's end; RX1DROffset is 0). Every frame
is built and opened with the project's own codec (payload_codec), so the bench
needs neither lora-packet nor tests/. run() drives one process and never hangs:
a timer kills it, and it is killed on any error.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.sim.nodes import APP_KEY
from payload_codec.lorawan import build_downlink, open_uplink, parse_frame
from payload_codec.lorawan_join import session_keys
from payload_codec.lorawan_join_server import build_join_accept, open_join_request

JOIN_ACCEPT_DELAY_MS = 5000  # JOIN_ACCEPT_DELAY1 (TS001-1.0.4)
RUN_TIMEOUT_S = 60.0  # a run takes well under a second; past this the node is stuck and is killed


@dataclass
class Downlink:
    """A data downlink to send in RX1 of the next data uplink: MAC commands in FOpts and/or a port's payload."""

    fport: int | None = None
    payload: bytes = b""
    fopts: bytes = b""
    confirmed: bool = False


@dataclass
class Uplink:
    """A frame the node sent, as the network opened it (fcnt is None for a JoinRequest)."""

    t_ms: int
    sf: int
    join: bool
    fcnt: int | None = None
    fport: int | None = None
    fopts: bytes = b""
    plaintext: bytes = b""
    answered: bool = False


@dataclass
class Network:
    """One node's network server: joins it with OTAA, opens its uplinks, sends it the queued downlinks."""

    queue: list[Downlink] = field(default_factory=list)
    app_key: bytes = APP_KEY
    dev_addr: int = 0x26012E43
    net_id: int = 0x000013
    rx_delay_s: int = 1
    join_nonce: int = 0x000100
    keys: tuple[bytes, bytes] | None = None  # (NwkSKey, AppSKey) once joined
    fcnt_down: int = 0
    uplinks: list[Uplink] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # frames the network could not open

    def answer(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The packets for the receive windows of one frame the node printed."""
        phy = bytes.fromhex(record["phy"])
        end_ms = record["t_ms"] + math.ceil(record["airtime_us"] / 1000)
        up = Uplink(t_ms=record["t_ms"], sf=record["sf"], join=bool(phy) and phy[0] == 0x00)
        self.uplinks.append(up)
        try:
            reply = self._join(phy) if up.join else self._data(phy, up)
        except ValueError as err:  # the codec's FrameError, MicError, ReplayError
            self.problems.append(f"uplink {len(self.uplinks)}: {type(err).__name__}: {err}")
            return []
        if reply is None:
            return []
        up.answered = True
        delay_ms = JOIN_ACCEPT_DELAY_MS if up.join else self.rx_delay_s * 1000
        return [{"t_ms": end_ms + delay_ms, "freq_khz": record["freq_khz"], "sf": record["sf"], "phy": reply.hex()}]

    def _join(self, phy: bytes) -> bytes:
        _join_eui, _dev_eui, dev_nonce = open_join_request(phy, self.app_key)
        self.join_nonce += 1
        self.keys = session_keys(self.app_key, self.join_nonce, self.net_id, dev_nonce)
        self.fcnt_down = 0
        return build_join_accept(self.app_key, self.join_nonce, self.net_id, self.dev_addr, rx_delay_s=self.rx_delay_s)

    def _data(self, phy: bytes, up: Uplink) -> bytes | None:
        if self.keys is None:
            raise ValueError("a data uplink before any JoinAccept")
        nwk, app = self.keys
        last = next((u.fcnt for u in reversed(self.uplinks) if u.fcnt is not None), None)
        up.fcnt, up.fport, up.plaintext = open_uplink(phy, nwk, app, last)
        up.fopts = bytes(parse_frame(phy)["fopts"])
        if not self.queue:
            return None
        d = self.queue.pop(0)
        frame = build_downlink(
            self.dev_addr, self.fcnt_down, d.fport, d.payload, nwk, app, confirmed=d.confirmed, fopts=d.fopts
        )
        self.fcnt_down += 1
        return frame

    @property
    def data_uplinks(self) -> list[Uplink]:
        return [u for u in self.uplinks if not u.join]


@dataclass
class Run:
    status: int | None  # None: killed (it took longer than the timeout, or the exchange broke)
    stderr: str
    why: str = ""  # what went wrong on the host's side, if anything


def run(cmd: list[str], env: dict[str, str], cwd: Path, net: Network, timeout_s: float = RUN_TIMEOUT_S) -> Run:
    """Run the node's command (firmware.sim.run ... --network) in lockstep with net; it is always reaped."""
    with tempfile.TemporaryFile("w+") as err:  # a file, not a pipe: a full stderr pipe cannot stall the node
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1
        )
        assert proc.stdin is not None and proc.stdout is not None
        timer = threading.Timer(timeout_s, proc.kill)  # EOF on stdout then ends the loop below
        timer.start()
        why = ""
        try:
            for line in proc.stdout:
                packets = net.answer(json.loads(line))
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(json.dumps(packets) + "\n")
                    proc.stdin.flush()
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            status: int | None = proc.wait(timeout_s)
        except (ValueError, KeyError, subprocess.TimeoutExpired) as exc:  # a line that is not a frame, or no end
            why = f"{type(exc).__name__}: {exc}"
            status = None
        finally:
            timer.cancel()
            proc.kill()  # nothing if it has ended; by its id, never by name
            proc.wait()
            proc.stdout.close()
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        if status is not None and status < 0:
            why, status = f"killed by signal {-status} (timeout {timeout_s:.0f} s?)", None
        err.seek(0)
        return Run(status, err.read(), why)
