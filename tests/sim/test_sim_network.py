"""`akker sim` with OTAA nodes (the default) against the bridge's own network, end to end.

Every node joins, every frame after its join verifies under the keys the join server derived, a command
given with --command changes the node's sampling interval, ADR moves nodes near the gateway to a faster
data rate, and every downlink in the truth file starts exactly RxDelay (or a second more, in RX2) after
the end of the uplink it answers. Both runtimes run the same farm.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge import store
from gateway.bridge.registry import Registry
from gateway.network.commands import CommandQueue
from gateway.sim import network_air, network_nodes
from gateway.sim.channel import Site
from gateway.sim.runner import SimConfig, SimError, run
from payload_codec.lorawan import open_uplink, parse_frame

AKKER = str(Path(sys.executable).parent / "akker")
COMMAND = 'sim-01@6h={"cmd": "set_interval", "seconds": 600}'
SIX_HOURS_MS = 6 * 3600_000


def sim(tmp: Path, runtime: str, *extra: str) -> tuple[Path, list[dict[str, Any]], str]:
    db, truth = tmp / f"{runtime}.db", tmp / f"{runtime}.jsonl"
    args = ["sim", "--nodes", "6", "--days", "1", "--runtime", runtime, "--seed", "3", "--radius", "2500",
            "--db", str(db), "--truth", str(truth), "--command", COMMAND, *extra]  # fmt: skip
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return db, [json.loads(line) for line in truth.read_text().splitlines()], out.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict[str, Any]], str]]:
    tmp = tmp_path_factory.mktemp("sim-network")
    return {runtime: sim(tmp, runtime) for runtime in ("cpython", "micropython")}


def uplinks(ev: list[dict[str, Any]], node: str) -> list[dict[str, Any]]:
    return [e for e in ev if e["kind"] == "tx" and e["dir"] == "up" and e["node"] == node]


def end_ms(e: dict[str, Any]) -> int:
    return int(e["t_ms"]) + math.ceil(int(e["airtime_us"]) / 1000)


def test_every_node_joins_and_every_frame_after_verifies_under_the_derived_keys(
    runs: dict[str, tuple[Path, list[dict[str, Any]], str]],
) -> None:
    db_path, ev, stdout = runs["cpython"]
    registry = Registry(sqlite3.connect(db_path))
    nodes = sorted({e["node"] for e in ev})
    assert len(nodes) == 6
    for node in nodes:
        session = registry.by_name(node)
        assert session is not None, f"{node} never joined"
        ups = uplinks(ev, node)
        assert ups[0]["phy"][:2] == "00"  # a JoinRequest first
        data = [e for e in ups if e["phy"][:2] != "00"]
        assert len(data) > 50
        last = None
        for e in data:  # MIC and decryption under the session's keys, counters rising
            phy = bytes.fromhex(e["phy"])
            assert parse_frame(phy)["dev_addr"] == session.dev_addr
            fcnt, _fport, _plain = open_uplink(phy, session.nwk_skey, session.app_skey, last_fcnt=last)
            assert last is None or fcnt >= last  # NbTrans repeats a frame with the same FCnt
            last = fcnt
    db = sqlite3.connect(db_path)
    heard_data = {(e["node"], e["phy"]) for e in ev if e.get("dir") == "up" and e["heard"] and e["phy"][:2] != "00"}
    stored = {(r.node, r.fcnt) for r in store.records(db, limit=100000)}
    assert len(stored) == len({(n, parse_frame(bytes.fromhex(p))["fcnt16"]) for n, p in heard_data})
    assert "joins" in stdout and "downlinks" in stdout


def test_a_command_given_to_the_simulation_changes_the_nodes_interval(
    runs: dict[str, tuple[Path, list[dict[str, Any]], str]],
) -> None:
    db_path, ev, _ = runs["cpython"]
    samples = [e["t_ms"] for e in ev if e["kind"] == "sample" and e["node"] == "sim-01"]
    before = [b - a for a, b in itertools.pairwise(samples) if b < SIX_HOURS_MS]
    after = [b - a for a, b in itertools.pairwise(samples) if a > SIX_HOURS_MS + 3600_000]
    assert before and after
    assert all(abs(d - 900_000) < 20_000 for d in before), before  # 900 s, give or take its clock's drift
    assert all(abs(d - 600_000) < 20_000 for d in after), after
    (command,) = CommandQueue(sqlite3.connect(db_path)).for_node("sim-01")
    assert command.state == "applied"  # the node's status message named it


def test_adr_moves_nodes_near_the_gateway_to_a_faster_data_rate(
    runs: dict[str, tuple[Path, list[dict[str, Any]], str]],
) -> None:
    _, ev, _ = runs["cpython"]
    final = {node: uplinks(ev, node)[-1]["sf"] for node in {e["node"] for e in ev}}
    assert all(uplinks(ev, node)[0]["sf"] == 9 for node in final)  # every node started at SF9
    assert sum(1 for sf in final.values() if sf < 9) >= 3, final


def test_downlinks_start_exactly_rx_delay_after_the_uplink_they_answer(
    runs: dict[str, tuple[Path, list[dict[str, Any]], str]],
) -> None:
    _, ev, _ = runs["cpython"]
    downs = [e for e in ev if e["kind"] == "tx" and e["dir"] == "down"]
    assert len(downs) > 20 and any(d["phy"][:2] == "20" for d in downs)  # JoinAccepts and data downlinks
    for d in downs:
        answered = max((u for u in uplinks(ev, d["node"]) if end_ms(u) <= d["t_ms"]), key=end_ms)
        delay_s = 5 if answered["phy"][:2] == "00" else 1  # JOIN_ACCEPT_DELAY1, or the JoinAccept's RxDelay
        assert d["t_ms"] - end_ms(answered) == 1000 * (delay_s + d["window"] - 1), (d, answered)
        if d["window"] == 1:
            assert (d["freq_khz"], d["sf"]) == (answered["freq_khz"], answered["sf"])
        else:
            assert (d["freq_khz"], d["sf"]) == (869525, 12)
        assert set(d) >= {"node", "gateway", "time", "bw_khz", "airtime_us", "phy", "heard"}


def test_both_runtimes_run_the_same_farm(runs: dict[str, tuple[Path, list[dict[str, Any]], str]]) -> None:
    # Each run ends at its own "now" (to the minute): times of day and the GPS time a DeviceTimeAns carries
    # may differ by that; what the nodes and the network did, when on the farm's clock, may not.
    def same(e: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in e.items() if k != "time" and not (k == "phy" and e["dir"] == "down")}

    cp, mp = runs["cpython"][1], runs["micropython"][1]
    assert [same(e) for e in cp if e["kind"] == "tx"] == [same(e) for e in mp if e["kind"] == "tx"]


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("sim-01=6h", "give NAME@OFFSET=JSON"),
        ('sim-01@6x={"cmd": "reboot"}', "offset '6x'"),
        ('sim-01@6h={"cmd": "fly"}', "is not a command the nodes take"),
        ('sim-09@6h={"cmd": "reboot"}', "the farm's nodes are sim-01 to sim-02"),
        ('sim-01@3d={"cmd": "reboot"}', "after the simulation's end"),
    ],
)
def test_a_bad_command_is_refused_before_anything_runs(tmp_path: Path, command: str, says: str) -> None:
    args = ["sim", "--nodes", "2", "--days", "1", "--db", str(tmp_path / "f.db"), "--command", command]
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "f.db").exists()


def test_a_fault_in_the_network_stops_the_run_instead_of_looking_like_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen in review: the firmware's own `except Exception` (a node sleeps and retries after any fault)
    # swallowed an error raised by the network inside the node's send, and the run "finished normally".
    def broken(*_args: object) -> None:
        raise RuntimeError("join server broken")

    monkeypatch.setattr(network_air.answer, "join", broken)
    with pytest.raises(SimError, match="the simulated network failed: RuntimeError: join server broken"):
        run(SimConfig(2, 0.2, tmp_path / "f.db"), progress=lambda _m: None)


def test_a_node_process_that_hangs_is_stopped_but_not_while_it_waits_its_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network_nodes, "STALL_S", 1)
    waiting = subprocess.Popen(["sleep", "30"])
    dog = network_nodes._Watchdog(waiting)
    with dog.paused():  # waiting for its turn may take as long as the other nodes need
        time.sleep(2.5)
    assert waiting.poll() is None and not dog.fired
    assert waiting.wait(10) != 0 and dog.fired  # running and silent: a hang
    dog.stop()


def test_nodes_list_shows_what_the_network_did(runs: dict[str, tuple[Path, list[dict[str, Any]], str]]) -> None:
    # Seen in review: fcnt_down was always null, and adr showed SF12 at full power for nodes ADR never touched.
    db_path, ev, _ = runs["cpython"]
    out = subprocess.run([AKKER, "nodes", "list", "--db", str(db_path), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for row in json.loads(out.stdout):
        downs = [e for e in ev if e.get("dir") == "down" and e["node"] == row["name"] and e["phy"][:2] != "20"]
        assert row["fcnt_down"] == len(downs) - 1  # counted from 0 in the session; every one was sent
        final_sf = uplinks(ev, row["name"])[-1]["sf"]
        assert row["adr"] is not None and row["adr"]["dr"] == 12 - final_sf, row
        adr = row["adr"]  # the decision and its inputs (issue 14)
        assert adr["margin_db"] == 10.0 and adr["nb_trans"] in (1, 2, 3) and 0 <= adr["tx_power"] <= 7, adr
        assert adr["acknowledged"] is True and adr["asked"] is None and isinstance(adr["best_snr_db"], float), adr
        assert 0 <= adr["lost"] < 0.5, adr


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--gateways", "0"], "a farm needs 1 to 50 gateways"),
        (["--interval", "10"], "the firmware samples every 60 to 86400 s"),
        (["--truth", "/nonexistent-folder/t.jsonl"], "--truth /nonexistent-folder/t.jsonl: cannot write it"),
        (["--jsonl", "/nonexistent-folder/r.jsonl"], "give a file in a folder that exists"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_the_run(tmp_path: Path, extra: list[str], says: str) -> None:
    # Seen when a reviewer tried them: tracebacks after the whole run, or a run that waited for ever.
    args = ["sim", "--nodes", "2", "--days", "0.1", "--db", str(tmp_path / "f.db"), *extra]
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "f.db").exists()


def test_a_downlink_decided_later_still_collides_with_one_decided_earlier(tmp_path: Path) -> None:
    # Seen in review: only downlinks decided before a new one were checked, so the earlier of two overlapping
    # downlinks from two gateways always got through. The node now waits until its downlink has ended.
    air = network_air.Air([Site("sim-01", 0, 0)], [Site("gw1", 0, 0), Site("gw2", 9, 9)], random.Random(1),
                          datetime(2026, 12, 1, tzinfo=timezone.utc), tmp_path / "f.db")  # fmt: skip
    air.counts["downlinks"] = 1
    event = {"t_ms": 1000, "airtime_us": 400_000, "gateway": "gw1", "freq_khz": 869525, "sf": 12, "heard": True}
    air.downlinks_on_air = [("gw1", 1000, 1400, 869525, 12), ("gw2", 1300, 1700, 869525, 11)]
    assert not air.collided(event)  # another SF: no collision
    air.downlinks_on_air.append(("gw2", 1200, 1600, 869525, 12))  # decided later, overlapping
    assert air.collided(event) and event["heard"] is False
    assert air.counts == {"downlinks": 0, "downlinks_lost": 1}
    air.close()
