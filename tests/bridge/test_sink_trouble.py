"""A sink that cannot take records, as the technician meets it (gateway/bridge/sinks/, delivery.py).

Seen: `akker gateway run --mqtt` at a broker that was not running, or `--jsonl` under a file, said
nothing at all: the bridge ran, frames were acknowledged, and nothing told why the broker or the file
stayed empty. Now a broker that is away is told at start, reminded of while it lasts and its return
told, while the frames wait in the store; a --jsonl path that can never be written refuses the start.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.bridge import health, store
from gateway.bridge.delivery import Worker
from gateway.bridge.sinks.jsonl import JsonlSink
from gateway.sim.forwarder import Forwarder, push_data, udp_free_port
from tests.bridge.broker import Mosquitto, Subscriber
from tests.bridge.fieldkit import register, report_phy, sample
from tests.bridge.test_sinks import backlog, stored
from tests.processes import running, wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")


def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_broker_that_is_away_is_told_at_start_and_its_return_delivers_what_waited(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    broker.start()  # once, so that the subscriber's session (persistent, QoS 1) outlives the outage
    sub = Subscriber(broker)
    broker.stop()
    db = tmp_path / "farm.db"
    register(db)
    log = tmp_path / "bridge.log"
    udp = udp_free_port()
    gw = Forwarder(udp)
    cmd = [AKKER, "gateway", "run", "--db", str(db), "--udp", f"127.0.0.1:{udp}", "--mqtt", broker.url,
           "--gateway-id", "barn", "--no-network"]  # fmt: skip
    try:
        with open(log, "wb") as out, running(cmd, stdout=out, stderr=out) as proc:
            said = f"sink=mqtt down: cannot reach broker {broker.url} (connection refused): start the broker"
            wait_for_log(log, said, proc, timeout_s=10)
            assert "check --mqtt; records are kept and delivered when it is back" in log.read_text()
            gw.send(push_data(1, report_phy("north-1", 0, [sample([3])])))
            gw.collect(5.0)
            assert 1 in gw.acked  # stored and acknowledged while the broker is away
            shown = subprocess.run([AKKER, "gateway", "status", "--db", str(db)], capture_output=True, text=True,
                                   timeout=30)  # fmt: skip
            assert shown.returncode == 0, shown.stderr
            line = next(x for x in shown.stdout.splitlines() if x.startswith("sink mqtt"))
            assert "backlog 1, stalled since" in line and "cannot reach broker" in line, line
            assert proc.poll() is None

            broker.start()
            wait_for_log(log, "sink=mqtt back after", proc, timeout_s=15)
            assert sub.wait(lambda: sub.on("akker/north-1/up"), 10)
            assert json.loads(sub.on("akker/north-1/up")[0])["fcnt"] == 0
            wait_for(lambda: store.backlog(store.connect_readonly(db)) == {})
            text = log.read_text()
            assert text.count("sink=mqtt down: cannot reach") == 1  # one line, however many tries
            assert "Traceback" not in text
    finally:
        gw.close()
        sub.close()
        broker.stop()


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("notes.txt/records.jsonl", "(Not a directory): a part of the path is a file, not a folder"),
        ("out", "(Is a directory): that is a folder; give a file name in it"),
        ("missing/records.jsonl", "(No such file or directory): its folder does not exist; create it"),
    ],
)
def test_a_jsonl_path_that_can_never_be_written_refuses_the_start(tmp_path: Path, path: str, says: str) -> None:
    # Each needs a person to act: said at once, it is a typo found, not a file that silently stays empty.
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    (tmp_path / "out").mkdir()
    db = tmp_path / "farm.db"
    register(db)
    out = subprocess.run([AKKER, "gateway", "run", "--db", str(db), "--udp", "127.0.0.1:0", "--no-network",
                          "--jsonl", str(tmp_path / path)], capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.returncode == 2, out.stderr
    (error,) = [x for x in out.stderr.splitlines() if x.startswith("akker:")]
    assert error.startswith(f"akker: --jsonl {tmp_path / path}: cannot append to it {says}"), error
    assert "Traceback" not in out.stderr and "running" not in out.stderr


def test_a_file_that_fails_while_running_is_retried_reminded_of_and_told_when_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "akker")
    out = tmp_path / "records.jsonl"
    out.symlink_to("/dev/full")  # opens, then every write fails as on a full disk: ENOSPC from the kernel
    stored(tmp_path, ["jsonl"], 3)
    db = tmp_path / "bridge.db"
    state = health.Health(db)
    state.start()
    worker = Worker(JsonlSink(out), db, health=state, remind_s=1.0)
    worker.start()
    try:
        wait_for(lambda: "sink=jsonl down: count=" in caplog.text)  # the reminder: tries summed up, not one each
        first = next(r.getMessage() for r in caplog.records if "sink=jsonl down:" in r.getMessage())
        assert first == (
            f"sink=jsonl down: --jsonl {out}: cannot append to it (No space left on device): the disk is full;"
            " free space on it; records are kept and delivered when it is back"
        )
        parts = health.read(db)["parts"]  # type: ignore[index]
        assert parts["sink:jsonl"]["state"] == "stalled" and "disk is full" in parts["sink:jsonl"]["reason"]
        out.unlink()  # space again: a plain file where the next try opens it
        worker.wake()
        wait_for(lambda: backlog(tmp_path) == {})
    finally:
        worker.stop(drain_s=1.0)
        state.stop({})
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sink=jsonl")]
    assert sum("back after" in x for x in lines) == 1 and lines[-1].startswith("sink=jsonl back after")
    assert [json.loads(x)["fcnt"] for x in out.read_text().splitlines()] == [0, 1, 2]
    assert health.read(db)["parts"]["sink:jsonl"] == {"state": "ok"}  # type: ignore[index]
