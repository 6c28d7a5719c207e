"""The class A node under MicroPython 1.28.0 built as a 32-bit unix port, at the heap cap, against lora-packet.

The firmware runs as `akker node` runs it (`micropython -m firmware.sim.run`, code as .mpy as `akker deploy`
ships it) with --network: after each frame it waits for a line of packets for its receive windows, which the
scripted network (tests/firmware/scripted_network.py) builds with lora-packet. A killed process is a power cut.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sim import micropython
from gateway.sim.nodes import APP_KEY, otaa_config
from gateway.workshop import mpy_build
from payload_codec import decode_uplink, encode_downlink
from payload_codec.mac_commands import build, parse
from tests.firmware.scripted_network import Downlink, ScriptedNetwork
from tests.lora_packet_peer import LoraPacketPeer
from tests.processes import kill, spawn

# Issue 13: the deployed (.mpy) class A cycle runs at 80 KB on the 32-bit build. Each wake-up runs in a fresh
# process, as a board starts each from reset; the one that applies MAC and application commands needs the most.
CAP_KB = 80


@pytest.fixture(scope="module")
def peer() -> Iterator[LoraPacketPeer]:
    p = LoraPacketPeer()
    yield p
    p.close()


@pytest.fixture(scope="module")
def build32(micropython32: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setenv(mpy_build.INTERPRETER_VARIABLE, str(micropython32))
    try:
        return mpy_build.build(tmp_path_factory.mktemp("class-a") / "build")
    finally:
        mp.undo()


def short_paths(interpreter: Path, build_dir: Path, root: Path, extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """One wake-up's command, with paths as short as a board's: the flash is `flash` in the working folder.

    The paths the firmware builds (root + "/config.json") and sys.path are strings on the heap; a test's
    long temporary paths would cost the node a few KB that a board, whose flash is "/", never spends.
    """
    link = build_dir / "flash"
    link.unlink(missing_ok=True)
    link.symlink_to(root.resolve())
    cmd, env = micropython.command(build_dir, ["-m", "firmware.sim.run", "flash", "1", "1", *extra], f"{CAP_KB}k")
    return [str(interpreter), *cmd[1:]], {**env, "MICROPYPATH": ""}


def wake_up(
    interpreter: Path, build_dir: Path, root: Path, net: ScriptedNetwork, kill_after: float | None = None
) -> tuple[int | None, str]:
    """One wake-up in a fresh process (RTC memory kept in ROOT/rtc.bin), the network answering each frame.

    Returns (exit status, stderr), or (None, "") when killed: a power cut, so RTC memory is gone too.
    """
    cmd, env = short_paths(interpreter, build_dir, root, ["--network", "--deep-sleep"])
    proc = spawn(cmd, env=env, cwd=build_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True, bufsize=1)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    # A power cut at any moment: a timer kills the whole process group, wherever the firmware is.
    timer = None
    if kill_after is not None:
        timer = threading.Timer(kill_after, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
    try:
        for line in proc.stdout:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(json.dumps(net.downlinks_for(json.loads(line))) + "\n")
                proc.stdin.flush()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        status = proc.wait(60)
        err = proc.stderr.read()
    finally:
        if timer is not None:
            timer.cancel()
        kill(proc)
    if status == -signal.SIGKILL:
        (root / "rtc.bin").unlink(missing_ok=True)
        return None, ""
    return status, err


def run_node(interpreter: Path, build_dir: Path, root: Path, wakes: int, net: ScriptedNetwork) -> str:
    """`wakes` wake-ups, each in its own process; their stderr. Each must end well and log no error."""
    logs = ""
    for _ in range(wakes):
        status, err = wake_up(interpreter, build_dir, root, net)
        logs += err
        assert status == 0 and "error" not in err, logs[-3000:]
    return logs


def test_join_mac_commands_and_a_command_at_the_heap_cap(
    micropython32: Path, build32: Path, tmp_path: Path, peer: LoraPacketPeer
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(otaa_config(interval_s=600)))
    net = ScriptedNetwork(peer, APP_KEY, rx2_dr=3, cflist_hz=[867100000])
    net.queue += [
        Downlink(
            fopts=build(
                [
                    (
                        "LinkADRReq",
                        {"data_rate": 5, "tx_power": 1, "ch_mask": 0x000F, "ch_mask_cntl": 0, "nb_trans": 1},
                    ),
                    ("DevStatusReq", {}),
                    ("RXTimingSetupReq", {"rx_delay_s": 1}),
                ],
                False,
            )
        ),
        Downlink(fport=20, payload=encode_downlink({"cmd": "set_interval", "seconds": 300})[1], confirmed=True),
    ]
    run_node(micropython32, build32, tmp_path, 8, net)
    data = net.data_uplinks
    answered = [i for i, u in enumerate(data) if u.answered]
    assert len(answered) == 2
    first = dict(parse(data[answered[0] + 1].fopts, True))  # the answers go in the very next uplink
    assert first[0x03] == {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True}
    assert 0x06 in first and 0x08 in first
    assert data[answered[0] + 1].sf == 7  # the data rate the LinkADRReq set
    statuses = [decode_uplink(2, u.plaintext) for u in data if u.fport == 2]
    assert statuses[-1]["last_command"] == {"cmd": "set_interval", "seconds": 300}


def test_sigkill_at_random_points_never_reuses_a_devnonce_or_fcnt_nor_loses_an_applied_command(
    micropython32: Path, build32: Path, tmp_path: Path, peer: LoraPacketPeer
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(otaa_config(interval_s=300)))
    rng = random.Random(13)
    net = ScriptedNetwork(peer, APP_KEY)
    seconds = [600 + 60 * i for i in range(12)]
    for s in seconds:
        net.queue.append(Downlink(fport=20, payload=encode_downlink({"cmd": "set_interval", "seconds": s})[1]))
    killed = 0
    for _ in range(80):
        # A wake-up takes about 20-40 ms here: about half the kills cut one short, each at another point.
        status, _err = wake_up(micropython32, build32, tmp_path, net, kill_after=rng.uniform(0.0, 0.05))
        killed += status is None
    assert killed >= 20, "the kills came too late to cut a wake-up short"
    run_node(micropython32, build32, tmp_path, 4, net)
    nonces = [u.dev_nonce for u in net.uplinks if u.join]
    assert nonces == sorted(set(nonces)), f"a DevNonce was sent twice: {nonces}"
    # Within each session (between two joins) the node's FCnt only goes up.
    session: list[int] = []
    for u in net.uplinks:
        if u.join:
            session = []
        else:
            assert u.fcnt is not None and (not session or u.fcnt > session[-1]), (u.fcnt, session)
            session.append(u.fcnt)
    # Every command the node confirmed stays applied: confirmations never go back.
    applied = [decode_uplink(2, u.plaintext).get("commands_applied", 0) for u in net.data_uplinks if u.fport == 2]
    assert applied == sorted(applied) and applied[-1] > 0
