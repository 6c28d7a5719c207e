"""`akker sim --gateway-kind board`: OTAA nodes answered through the gateway firmware's own transmit path.

A gateway board hears one channel at one SF, so the network must keep every node there (no CFList, ADR
holding the board's SF), and every downlink is a TRANSMIT that firmware/gateway_board.py accepts, holds
until its tick (across the 30-bit ticks wrap) and sends with inverted IQ.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.registry import Registry
from gateway.network.commands import CommandQueue
from gateway.sim.board_downlink import TICKS_PERIOD, BoardTransmitter
from payload_codec.lorawan import open_uplink, parse_frame

AKKER = str(Path(sys.executable).parent / "akker")
HOUR_MS = 3_600_000
COMMAND = 'sim-02@2h={"cmd": "set_interval", "seconds": 600}'


@pytest.fixture(scope="module")
def board_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], str]:
    tmp = tmp_path_factory.mktemp("sim-boards")
    db, truth = tmp / "f.db", tmp / "t.jsonl"
    args = ["sim", "--nodes", "5", "--days", "0.5", "--seed", "4", "--radius", "2000", "--gateway-kind", "board",
            "--db", str(db), "--truth", str(truth), "--command", COMMAND]  # fmt: skip
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return db, [json.loads(line) for line in truth.read_text().splitlines()], out.stdout


def end_ms(e: dict[str, Any]) -> int:
    return int(e["t_ms"]) + math.ceil(int(e["airtime_us"]) / 1000)


def test_nodes_join_and_stay_on_the_boards_channel_and_sf(board_run: tuple[Path, list[dict[str, Any]], str]) -> None:
    db_path, ev, stdout = board_run
    ups = [e for e in ev if e["kind"] == "tx" and e["dir"] == "up"]
    registry = Registry(sqlite3.connect(db_path))
    for node in sorted({e["node"] for e in ups}):
        session = registry.by_name(node)
        assert session is not None, f"{node} never joined"
        mine = [e for e in ups if e["node"] == node and e["heard"] and e["phy"][:2] != "00"]
        assert len(mine) > 20
        open_uplink(bytes.fromhex(mine[-1]["phy"]), session.nwk_skey, session.app_skey)
    # Provisioned for the board and never moved off it: ADR holds the one SF the board hears.
    assert {(e["freq_khz"], e["sf"]) for e in ups if e["heard"]} == {(868100, 9)}
    assert "(the gateway boards hear SF9 only)" in stdout


def test_every_downlink_left_the_board_at_its_window_across_the_ticks_wrap(
    board_run: tuple[Path, list[dict[str, Any]], str],
) -> None:
    _, ev, _ = board_run
    ups = [e for e in ev if e["kind"] == "tx" and e["dir"] == "up"]
    downs = [e for e in ev if e["kind"] == "tx" and e["dir"] == "down"]
    assert {d["gateway"] for d in downs} == {"board:gw1"}
    # Board 0's ticks wrap an hour into the run: downlinks on both sides of it.
    assert any(d["t_ms"] < HOUR_MS for d in downs) and sum(d["t_ms"] > HOUR_MS for d in downs) > 10
    for d in downs:
        answered = max((u for u in ups if u["node"] == d["node"] and end_ms(u) <= d["t_ms"]), key=end_ms)
        delay_s = 5 if answered["phy"][:2] == "00" else 1
        assert d["t_ms"] - end_ms(answered) == 1000 * (delay_s + d["window"] - 1), (d, answered)
        if d["phy"][:2] == "20":  # a JoinAccept: no CFList, the board hears none of those channels
            assert len(d["phy"]) // 2 == 17, d["phy"]


def test_a_command_reaches_its_node_through_the_board(board_run: tuple[Path, list[dict[str, Any]], str]) -> None:
    db_path, ev, _ = board_run
    (command,) = CommandQueue(sqlite3.connect(db_path)).for_node("sim-02")
    assert command.state == "applied"
    samples = [e["t_ms"] for e in ev if e["kind"] == "sample" and e["node"] == "sim-02"]
    late = [b - a for a, b in itertools.pairwise(samples) if a > 4 * HOUR_MS]
    assert late and all(abs(d - 600_000) < 20_000 for d in late), late


def test_the_firmware_holds_one_downlink_and_sends_it_at_its_tick_with_inverted_iq() -> None:
    board = BoardTransmitter(0, 868100, 9)
    now = HOUR_MS - 400  # 400 ms before board 0's ticks wrap
    at = board.counter_us(now) // 1000 + 1000
    assert at > TICKS_PERIOD  # the tick is past the wrap: the bridge sends it modulo 2**30
    sent = board.send(now, at, 868100, 9, 125, b"\x60" + bytes(15))
    assert sent["time_ms"] == now + 1000 and sent["inverted"] and (sent["freq_khz"], sent["sf"]) == (868100, 9)
    assert board.send(now + 200, at + 300, 868100, 9, 125, bytes(16)) == {
        "refused": "another downlink is waiting for its tick"
    }
    later = now + 5000
    too_far = board.send(later, board.counter_us(later) // 1000 + 20_000, 868100, 9, 125, bytes(16))
    assert "TRANSMIT refused: due in 20000 ms" in too_far["refused"]
    not_lorawan = board.send(later, board.counter_us(later) // 1000 + 1000, 868100, 6, 125, bytes(16))
    assert "not a LoRaWAN data rate" in not_lorawan["refused"]
    rx2 = board.send(later, board.counter_us(later) // 1000 + 2000, 869525, 12, 125, bytes(16))
    assert rx2["time_ms"] == later + 2000 and rx2["sf"] == 12
    assert "gateway: downlink of 16 bytes sent at its tick" in board.log[-1]


def test_gateway_boards_are_the_only_kind_for_abp(tmp_path: Path) -> None:
    args = ["sim", "--nodes", "2", "--days", "0.1", "--db", str(tmp_path / "f.db"), "--activation", "abp",
            "--gateway-kind", "concentrator"]  # fmt: skip
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "ABP nodes run with gateway boards only" in out.stderr, out.stderr
    assert not (tmp_path / "f.db").exists()


def test_the_frame_the_board_sent_is_the_one_the_network_built(
    board_run: tuple[Path, list[dict[str, Any]], str],
) -> None:
    db_path, ev, _ = board_run
    downs = [e for e in ev if e["kind"] == "tx" and e["dir"] == "down" and e["phy"][:2] in ("60", "a0")]
    sessions = {n: Registry(sqlite3.connect(db_path)).by_name(n) for n in {d["node"] for d in downs}}
    assert downs
    for d in downs:
        frame = parse_frame(bytes.fromhex(d["phy"]))
        session = sessions[d["node"]]
        assert session is not None and frame["dev_addr"] == session.dev_addr
