"""`akker sim --activation abp` end to end: the truth matches the store, on both runtimes, and the physics hold.

ABP nodes only send, and the gateway boards (the gateway firmware under MicroPython behind a pty) and the
bridge over serial store what they hear. OTAA nodes against the network: tests/sim/test_sim_network.py.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from firmware.sim.energy import Battery
from gateway.bridge import store
from gateway.sim import channel
from payload_codec.lorawan import parse_frame

AKKER = str(Path(sys.executable).parent / "akker")
# Half the codec's resolution (docs/payload-format.md), plus the DS18B20's own 1/16 °C step.
TOLERANCE = {"soil_moisture_pct": 0.051, "soil_temp_c": 0.05 + 0.0625, "air_temp_c": 0.051, "air_rh_pct": 0.251,
             "battery_v": 0.0051}  # fmt: skip


def sim(tmp: Path, runtime: str, nodes: int = 3, days: str = "1", seed: str = "3") -> tuple[Path, Path, str]:
    db, truth = tmp / f"{runtime}.db", tmp / f"{runtime}.jsonl"
    args = ["sim", "--nodes", str(nodes), "--days", days, "--runtime", runtime, "--seed", seed, "--db", str(db),
            "--truth", str(truth), "--jsonl", str(tmp / f"{runtime}.records.jsonl"), "--activation", "abp"]  # fmt: skip
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return db, truth, out.stdout


def events(truth: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in truth.read_text().splitlines()]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str]]:
    tmp = tmp_path_factory.mktemp("sim")
    return {runtime: sim(tmp, runtime) for runtime in ("micropython", "cpython")}


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_every_frame_heard_is_stored_once_with_the_true_values(
    runs: dict[str, tuple[Path, Path, str]], runtime: str
) -> None:
    db_path, truth, stdout = runs[runtime]
    ev = events(truth)
    heard = [e for e in ev if e["kind"] == "tx" and e["heard"]]
    db = sqlite3.connect(db_path)
    recs = store.records(db, limit=100000)
    stored = {(r.dev_addr, r.fcnt) for r in recs}
    assert len(stored) == len(recs)  # one record per (DevAddr, FCnt)
    fed = [json.loads(line) for line in db_path.with_suffix(".records.jsonl").read_text().splitlines()]
    assert sorted((m["node"], m["fcnt"]) for m in fed) == sorted((r.node, r.fcnt) for r in recs)  # the sink got all
    sent = {(parse_frame(bytes.fromhex(str(e["phy"])))["dev_addr"], parse_frame(bytes.fromhex(str(e["phy"])))["fcnt16"])
            for e in heard}  # fmt: skip
    assert {(a, f & 0xFFFF) for a, f in stored} == sent  # every intact frame, nothing else
    # Each record is stamped with the gateway board's (virtual) clock: when that frame ended on the air.
    sent_at = {}
    for e in heard:
        f = parse_frame(bytes.fromhex(str(e["phy"])))
        sent_at[(f["dev_addr"], f["fcnt16"])] = when(str(e["time"])) + timedelta(microseconds=int(str(e["airtime_us"])))
    for r in recs:
        assert abs(when(r.received_at) - sent_at[(r.dev_addr, r.fcnt & 0xFFFF)]) < timedelta(seconds=0.1)
    # Decoded samples against what the sensors saw at that moment.
    truth_samples: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in ev:
        if e["kind"] == "sample":
            truth_samples[str(e["node"])].append(e)
    compared = 0
    for r in recs:
        if r.data.get("type") != "report":
            continue
        for s in r.data["samples"]:  # type: ignore[union-attr]
            t = when(r.received_at) - timedelta(seconds=s["age_s"])
            best = min(truth_samples[r.node], key=lambda e: abs(when(str(e["time"])) - t))
            # The node measures age_s on its own clock, which runs up to 1 % fast or slow (DRIFT_PPM).
            assert abs(when(str(best["time"])) - t) < timedelta(seconds=5 + 0.011 * s["age_s"])
            for key, tol in TOLERANCE.items():
                got, want = s.get(key), best[key]
                if got is None:
                    continue  # the sensor failed (a simulated fault): the codec sends None
                if isinstance(got, list):
                    for g, w in zip(got, want, strict=True):  # type: ignore[call-overload]
                        assert g is None or abs(g - w) <= tol, (key, g, w)
                else:
                    assert abs(got - want) <= tol, (key, got, want)  # type: ignore[operator]
            compared += 1
    assert compared > 150
    # Trap totals: what the bridge derived equals what the traps caught, for nodes that lost nothing.
    lost_nodes = {e["node"] for e in ev if e["kind"] == "tx" and not e["heard"]}
    for node in {r.node for r in recs} - lost_nodes:
        derived = sum(c for r in recs if r.node == node for row in r.derived.get("catches", []) if row for c in row)
        last = max(when(r.received_at) for r in recs if r.node == node and r.data.get("type") == "report")
        caught = sum(sum(e["catches"]) for e in truth_samples[node] if when(str(e["time"])) <= last)  # type: ignore[arg-type]
        assert derived == caught, node
    assert "delivery ratio" in stdout and "node-days per second" in stdout


def test_both_runtimes_run_the_same_farm(runs: dict[str, tuple[Path, Path, str]]) -> None:
    mp = [e for e in events(runs["micropython"][1]) if e["kind"] == "tx"]
    cp = [e for e in events(runs["cpython"][1]) if e["kind"] == "tx"]
    assert [(e["node"], e["t_ms"], e["phy"]) for e in mp] == [(e["node"], e["t_ms"], e["phy"]) for e in cp]


def test_collisions_and_capture() -> None:
    import random

    a, b = channel.Site("sim-01", 100, 0), channel.Site("sim-02", 2900, 0)
    gw = channel.Site("gw1", 0, 0)

    def tx(node: str, t: int) -> channel.Transmission:
        return channel.Transmission(node, t, 226_304, 868_100, 9, 125, "00")

    # Overlapping on one channel and SF: the near node is far stronger and captures; the far one is lost.
    heard, lost = channel.receptions([tx("sim-01", 0), tx("sim-02", 100)], [a, b], [gw], random.Random(1))
    assert [(r.tx.node, r.crc_error) for r in heard] == [("sim-01", False), ("sim-02", True)]
    assert lost["collided"] == 1
    # Apart in time: both heard.
    heard, _ = channel.receptions([tx("sim-01", 0), tx("sim-02", 1000)], [a, b], [gw], random.Random(1))
    assert [r.crc_error for r in heard] == [False, False]
    # Out of range at SF9.
    far = channel.Site("sim-03", 60_000, 0)
    heard, lost = channel.receptions([tx("sim-03", 0)], [far], [gw], random.Random(1))
    assert heard == [] and lost["weak"] == 1


def test_the_battery_follows_its_curve_and_empties_by_use() -> None:
    b = Battery(1.0)
    assert 4.1 < b.voltage() <= 4.15
    b.spend(awake_ms=3_600_000, tx_ms=0, sleep_ms=0)  # an hour awake: 40 mAh
    assert b.used_mah == pytest.approx(40.0)
    assert Battery(0.045).voltage() < 3.35
    assert Battery(0.5).days_left(2.0) == pytest.approx((0.5 - Battery(0.5).charge() + 0.5 - 0.078) * 1000, rel=0.1)


def short_sim(tmp_path: Path, db: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["sim", "--days", "0.05", "--db", str(tmp_path / db), *extra]
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=120)


def test_a_node_out_of_memory_ends_the_simulation_naming_it(tmp_path: Path) -> None:
    # Issue 13: `akker sim --runtime micropython --heap SIZE` caps every node's heap, as `akker node --heap`
    # does; a node that runs out of memory makes the run exit non-zero, naming the node and where.
    out = short_sim(tmp_path, "f.db", "--nodes", "2", "--runtime", "micropython", "--heap", "24k")
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("akker: sim-0") and "ran out of memory with a 24k MicroPython heap in " in line, line
    assert "give a larger --heap" in line and "Traceback" not in out.stderr
    enough = short_sim(tmp_path, "g.db", "--nodes", "1", "--runtime", "micropython", "--heap", "512k")
    assert enough.returncode == 0, enough.stderr
    wrong = short_sim(tmp_path, "h.db", "--nodes", "1", "--heap", "64k")
    assert wrong.returncode == 2 and "--runtime micropython" in wrong.stderr, wrong.stderr
