"""Stopping `akker gateway run`: within 10 s whatever the store does, and a last line that tells the truth.

The bridge runs as a person starts it (its own process, SIGTERM), fed by a
packet forwarder played over real UDP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.sim.forwarder import Forwarder, push_data, udp_free_port
from tests.bridge.broker import free_port
from tests.bridge.fieldkit import register, report_phy
from tests.bridge.test_bridge_run import AKKER
from tests.processes import wait_for_log


class Running:
    """`akker gateway run` in the background, its stderr in a file; always killed and reaped at the end."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        self.db = tmp / "farm.db"
        self.port = udp_free_port()
        self.log = tmp / "bridge.log"
        args = [AKKER, "gateway", "run", "--db", str(self.db), "--udp", f"127.0.0.1:{self.port}", *extra]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)

    def wait_running(self) -> None:
        wait_for_log(self.log, " running ", self.proc)

    def terminate(self) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            code = -999
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def three_frames(bridge: Running) -> set[int]:
    """Frames 0..2 of north-1 sent as a forwarder does; the tokens the bridge acknowledged."""
    forwarder = Forwarder(bridge.port)
    try:
        for token in range(3):
            forwarder.send(push_data(token, report_phy("north-1", token)))
        forwarder.collect(2.0)
    finally:
        forwarder.close()
    return forwarder.acked


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Running]]:
    started: list[Running] = []
    try:
        yield started
    finally:
        for r in started:
            r.close()


def test_sigterm_stops_within_10_s_while_the_store_is_locked_and_acknowledges_nothing_unstored(
    tmp_path: Path, running: list[Running]
) -> None:
    # Seen: the pipeline's retry loop never looked at stop, so a store that refused frames held
    # SIGTERM for as long as it refused them.
    register(tmp_path / "farm.db")
    bridge = Running(tmp_path, "--jsonl", str(tmp_path / "out.jsonl"))
    running.append(bridge)
    bridge.wait_running()
    forwarder = Forwarder(bridge.port)
    try:
        forwarder.send(push_data(1, report_phy("north-1", 1)))
        forwarder.collect(2.0)
        assert forwarder.acked == {1}
        blocker = sqlite3.connect(bridge.db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another program's write lock, held past the stop
        for token in range(2, 6):
            forwarder.send(push_data(token, report_phy("north-1", token)))
        deadline = time.monotonic() + 20
        while "store locked" not in bridge.log.read_text():
            assert time.monotonic() < deadline, bridge.log.read_text()
            time.sleep(0.1)
        code, took = bridge.terminate()
        forwarder.collect(0.5)
        blocker.close()
    finally:
        forwarder.close()
    log = bridge.log.read_text()
    assert code == 0 and took < 10, (code, took, log)
    assert forwarder.acked == {1}, "frames the store refused were acknowledged"
    last = log.strip().splitlines()[-1]
    assert "stopped: every frame acknowledged is stored (4 frames the store refused were not acknowledged)" in last, log
    assert "Traceback" not in log


def test_the_last_line_says_what_waits_in_the_outbox(tmp_path: Path, running: list[Running]) -> None:
    register(tmp_path / "farm.db")
    nobody = free_port()  # a broker that is not there: records stay in the outbox
    bridge = Running(tmp_path, "--mqtt", f"mqtt://127.0.0.1:{nobody}", "--jsonl", str(tmp_path / "out.jsonl"))
    running.append(bridge)
    bridge.wait_running()
    assert three_frames(bridge) == {0, 1, 2}
    code, took = bridge.terminate()
    last = bridge.log.read_text().strip().splitlines()[-1]
    assert code == 0 and took < 10, (code, took)
    assert last.endswith("waiting in the outbox: 3 for mqtt (delivered at the next start)"), last


def test_a_start_that_fails_never_says_every_frame_is_stored(tmp_path: Path) -> None:
    register(tmp_path / "farm.db")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        out = subprocess.run(
            [AKKER, "gateway", "run", "--db", str(tmp_path / "farm.db"), "--udp", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "stored" not in out.stderr and "stopped" not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("akker: "), out.stderr


class Silent:
    """A TCP server that accepts and never answers (a hung web hook); as an MQTT broker it answers CONNECT only."""

    def __init__(self, connack: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connack = connack
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.connack:
                conn.recv(4096)  # CONNECT
                conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted; then silence: no PUBACK ever

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_sigterm_stops_within_10_s_while_every_sink_hangs(tmp_path: Path, running: list[Running]) -> None:
    # Seen in review: a broker that never acknowledges and a web hook that never answers held SIGTERM for
    # 11.6 s (workers stopped one after another), and the alert publisher for 21 s (a join without limit).
    register(tmp_path / "farm.db")
    broker, hook = Silent(connack=True), Silent(connack=False)
    try:
        bridge = Running(
            tmp_path, "--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--webhook", f"http://127.0.0.1:{hook.port}/",
            "--alerts-every-s", "1",
        )  # fmt: skip
        running.append(bridge)
        bridge.wait_running()
        assert three_frames(bridge) == {0, 1, 2}
        time.sleep(1.5)  # deliveries and an alert publish under way, each waiting on a silent peer
        code, took = bridge.terminate()
    finally:
        broker.close()
        hook.close()
    log = bridge.log.read_text()
    assert code == 0 and took < 10, (code, took, log)
    assert "waiting in the outbox: 3 for mqtt, 3 for webhook" in log.strip().splitlines()[-1], log


def test_one_bridge_per_store_and_status_knows_a_killed_one(tmp_path: Path, running: list[Running]) -> None:
    # Seen in review: a second bridge on the same store (another port) overwrote the first one's state, so
    # status said "stopped" of a running bridge; and a killed bridge whose pid was reused read as running.
    register(tmp_path / "farm.db")
    first = Running(tmp_path)
    running.append(first)
    first.wait_running()
    second = subprocess.run(
        [AKKER, "gateway", "run", "--db", str(first.db), "--udp", f"127.0.0.1:{udp_free_port()}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert second.returncode == 2, second.stderr
    assert f"another bridge (pid {first.proc.pid}) runs on this store" in second.stderr.splitlines()[-1]
    status = subprocess.run([AKKER, "gateway", "status", "--db", str(first.db)], capture_output=True, text=True)
    assert f"running (pid {first.proc.pid}," in status.stdout, status.stdout
    first.proc.kill()
    first.proc.wait()
    health = tmp_path / "farm.db.health.json"
    state = json.loads(health.read_text())
    state["pid"] = os.getpid()  # a live process of another program under the dead bridge's pid
    health.write_text(json.dumps(state))
    status = subprocess.run([AKKER, "gateway", "status", "--db", str(first.db)], capture_output=True, text=True)
    assert "not running: it was killed" in status.stdout, status.stdout
