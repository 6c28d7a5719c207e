"""Node firmware heap: the smallest MicroPython heap in which the node's wake-ups run.

gc.mem_alloc() cannot see a peak between two readings, so the figure is found
from the outside: the interpreter is run with -X heapsize=N and N is bisected
to the smallest value that completes a scenario from a fresh flash:

- ABP: CYCLES full cycles of an ABP node (boot, every sensor of the sim board,
  encode, frame, send, a status at boot), nobody answering;
- OTAA: an OTAA node's join and the uplinks of the OTAA_CYCLES - 1 wake-ups
  after it, a network (bench/class_a.py) answering the JoinRequest;
- downlink: the same node, whose first data uplink gets a downlink with MAC
  commands (LinkADRReq, DevStatusReq, RXTimingSetupReq) in FOpts and a
  set_interval command on its port; the node applies them at its next wake-up,
  whose uplink must carry the MAC answers and a status confirming the command.

Each runs with the code as .mpy files (as `akker deploy` ships it,
gateway/workshop/mpy_build.py) or frozen into the interpreter
(gateway/sim/micropython32_frozen.py). On the 32-bit build of MicroPython
1.28.0 (gateway/sim/micropython32.py) objects are the size they are on a board.
The figure moves with fragmentation and is not monotonic in N, so it is
reported as bisection finds it; tests/firmware/test_heap_32bit.py gates one
run at a cap.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import class_a
from gateway.sim import micropython
from gateway.sim.micropython32_frozen import command as frozen_command
from gateway.sim.nodes import node_config, otaa_config
from gateway.workshop import mpy_build
from payload_codec import decode_uplink, encode_downlink
from payload_codec.mac_commands import build as build_mac
from payload_codec.mac_commands import parse as parse_mac

TARGET_KB = 40  # the issue's target on the 64-bit desktop build
CAP_KB = 64  # the issue's cap for a full cycle
SEARCH_KB = 160  # bisect up to here: today the cycle needs more than the cap
CYCLES = 4
OTAA_CYCLES = 4  # the join's wake-up, then a status and two reports
DOWNLINK_CYCLES = 5  # join, the downlink's, the one that applies it, two more
RUN_TIMEOUT_S = 60.0  # one run takes well under a second
FLASH = "flash"  # the simulated board's flash, in the code's folder (attempt)
# Issue 13, MicroPython 1.28.0 built as a 32-bit unix port: a full ABP cycle as .mpy and frozen; its targets.
ISSUE13_32BIT_KB = 74
ISSUE13_FROZEN_KB = 28
CLASS_A_CAP_KB = 80  # the deployed (.mpy) class A cycle
CLASS_A_AIM_KB = 64  # the ESP32-S3's starting heap
FROZEN_TARGET_KB = 40
SET_INTERVAL = {"cmd": "set_interval", "seconds": 300}
MAC_REQUESTS = [
    ("LinkADRReq", {"data_rate": 5, "tx_power": 1, "ch_mask": 0x0007, "ch_mask_cntl": 0, "nb_trans": 1}),
    ("DevStatusReq", {}),
    ("RXTimingSetupReq", {"rx_delay_s": 1}),
]


@dataclass(frozen=True)
class Code:
    """The firmware as an interpreter gets it: .mpy files in folder, or frozen in (folder: an empty one to run in)."""

    interpreter: str
    folder: Path
    frozen: bool = False

    def command(self, args: list[str], heap_kb: int) -> tuple[list[str], dict[str, str]]:
        if self.frozen:
            return frozen_command(Path(self.interpreter), self.folder, args, f"{heap_kb}k")
        cmd, env = micropython.command(self.folder, args, f"{heap_kb}k")
        # sys.path is only "", the working folder (the .mpy files): the temporary folder's path on sys.path
        # would be a string on the heap, and the figure would move with the length of that path.
        return [self.interpreter, *cmd[1:]], {**env, "MICROPYPATH": ""}


@contextmanager
def code(interpreter: str | None = None, frozen: bool = False) -> Iterator[Code]:
    """The firmware for interpreter, in a temporary folder for the with block (frozen: an empty one).

    interpreter: default mpy_build.tool's (AKKER_MICROPYTHON, else the .venv's); frozen: it carries the code.
    """
    with tempfile.TemporaryDirectory(prefix="akker-bench-fw-") as tmp:
        folder = Path(tmp) / "code"
        if frozen:
            folder.mkdir()
        else:
            mpy_build.build(folder)
        yield Code(interpreter or mpy_build.tool("micropython"), folder, frozen)


@dataclass(frozen=True)
class Scenario:
    name: str
    cycles: int
    config: Callable[[], dict[str, Any]]
    network: Callable[[], class_a.Network] | None = None  # None: nobody answers (no --network)
    check: Callable[[class_a.Network, int], str] | None = None  # why the network's view is wrong, "" if right


def _joined(net: class_a.Network, cycles: int) -> str:
    joins = [u for u in net.uplinks if u.join]
    if net.problems:
        return net.problems[0]
    if len(joins) != 1 or not joins[0].answered:
        return f"{len(joins)} JoinRequests, not one answered"
    if len(net.data_uplinks) < cycles - 1:
        return f"{len(net.data_uplinks)} data uplinks after the join, not {cycles - 1}"
    return ""


def _applied(net: class_a.Network, cycles: int) -> str:
    why = _joined(net, cycles)
    data = net.data_uplinks
    answered = [i for i, u in enumerate(data) if u.answered]
    if why or not answered or answered[0] + 1 == len(data):
        return why or "no uplink after the downlink"
    after = data[answered[0] + 1 :]
    answers = dict(parse_mac(after[0].fopts, True))
    adr_ok = answers.get(0x03) == {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True}  # LinkADRAns
    if not adr_ok or 0x06 not in answers or 0x08 not in answers:  # DevStatusAns, RXTimingSetupAns
        return f"the next uplink's MAC answers are {answers}"
    if not any(decode_uplink(2, u.plaintext).get("last_command") == SET_INTERVAL for u in after if u.fport == 2):
        return "no status confirmed the command"
    return ""


def _downlink_network() -> class_a.Network:
    port, payload = encode_downlink(SET_INTERVAL)
    return class_a.Network(queue=[class_a.Downlink(fport=port, payload=payload, fopts=build_mac(MAC_REQUESTS, False))])


ABP = Scenario(f"ABP cycle ({CYCLES} wake-ups)", CYCLES, node_config)
OTAA = Scenario(f"OTAA join + {OTAA_CYCLES - 1} wake-ups", OTAA_CYCLES, otaa_config, class_a.Network, _joined)
DOWNLINK = Scenario("downlink: MAC + command", DOWNLINK_CYCLES, otaa_config, _downlink_network, _applied)
SCENARIOS = (ABP, OTAA, DOWNLINK)


def attempt(c: Code, scenario: Scenario, heap_kb: int) -> str:
    """Run scenario from a fresh flash in a heap of heap_kb; "" or why it failed.

    Each wake-up runs in a process of its own (`--deep-sleep` keeps RTC memory
    in the flash folder between them), so each starts from an empty heap, as a
    board starts each wake-up from reset. The flash is FLASH in the code's
    folder, named relative to it (the run's working folder): the paths the
    firmware builds are then about as long as a board's ("/config.json" there),
    whatever the temporary folder is called.
    """
    for f in (c.folder / FLASH).glob("*"):
        if f.name != "config.json":
            f.unlink()
    args = ["-m", "firmware.sim.run", FLASH, "1", "1", "--deep-sleep"]
    net = scenario.network() if scenario.network is not None else None
    frames = 0
    for _ in range(scenario.cycles):
        if net is None:
            status, stderr, why, sent = _alone(c, args, heap_kb)
            frames += sent
        else:
            cmd, env = c.command([*args, "--network"], heap_kb)
            run = class_a.run(cmd, env, c.folder, net, RUN_TIMEOUT_S)
            status, stderr, why = run.status, run.stderr, run.why
        if status is None:
            return why
        if status != 0:
            return f"exit status {status}: {(stderr.strip().splitlines() or [''])[-1]}"
        errors = [line for line in stderr.splitlines() if "error" in line]
        if errors:
            return errors[0]
    if net is None:
        # The boot status and every sample must have gone out (the first report carries two samples:
        # the status leaves the band in its duty-cycle off time).
        return "" if frames == scenario.cycles else f"{frames} frames, not {scenario.cycles}"
    return scenario.check(net, scenario.cycles) if scenario.check else ""


def _alone(c: Code, args: list[str], heap_kb: int) -> tuple[int | None, str, str, int]:
    """(exit status or None, stderr, why not, frames sent) of one wake-up that nobody answers."""
    cmd, env = c.command(args, heap_kb)
    try:
        result = subprocess.run(cmd, env=env, cwd=c.folder, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, "", f"no end in {RUN_TIMEOUT_S:.0f} s", 0
    return result.returncode, result.stderr, "", len(result.stdout.splitlines())


def _fresh_flash(c: Code, scenario: Scenario) -> None:
    root = c.folder / FLASH
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    (root / "config.json").write_text(json.dumps(scenario.config()))


def smallest_heap_kb(c: Code, scenario: Scenario) -> tuple[int, str]:
    """(KB, "") bisected between 8 and SEARCH_KB; (SEARCH_KB + 1, why) if even SEARCH_KB fails."""
    _fresh_flash(c, scenario)
    why = attempt(c, scenario, SEARCH_KB)
    if why:
        return SEARCH_KB + 1, why
    lo, hi = 8, SEARCH_KB  # lo fails (or is untested), hi completes
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if attempt(c, scenario, mid):
            lo = mid
        else:
            hi = mid
    return hi, ""


def completes(c: Code, scenario: Scenario, heap_kb: int) -> bool:
    """One run of scenario in heap_kb: the issue's gate (the bisected figure is not monotonic)."""
    _fresh_flash(c, scenario)
    return not attempt(c, scenario, heap_kb)


def describe(interpreter: str | None = None) -> str:
    """The interpreter as "MicroPython 1.28.0, 32-bit" (default as in code)."""
    script = "import sys; print('%d.%d.%d' % sys.implementation.version[:3], 64 if sys.maxsize > 2**31 else 32)"
    out = subprocess.run(
        [interpreter or mpy_build.tool("micropython"), "-c", script], capture_output=True, text=True, timeout=30
    )
    version, bits = out.stdout.split()
    return f"MicroPython {version}, {bits}-bit"
