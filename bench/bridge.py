"""The bridge's whole pipeline under load: Semtech UDP in, SQLite store (fsync), MQTT QoS 1 out.

`akker gateway run` runs in its own process against a real Mosquitto on a free
loopback port. This process plays the gateways (PUSH_DATA datagrams) and a
subscriber that timestamps every message on `akker/+/up`. Two runs:

- throughput: frames sent as fast as the bridge acknowledges them (at most
  WINDOW unacknowledged, as a burst of gateways would), timed from the first
  datagram to the last MQTT message;
- latency: a steady 200 frames per second; per frame, datagram sent to MQTT
  message received, p50 and p99.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.bridge.registry import Registry, open_db
from gateway.sim.broker import Mosquitto
from gateway.sim.forwarder import push_data, udp_free_port
from payload_codec import encode_uplink
from payload_codec.lorawan import build_uplink

TARGET_FPS = 1000
TARGET_P99_MS = 50.0
THROUGHPUT_FRAMES = 6000
STEADY_FPS = 200
STEADY_S = 10
WINDOW = 128
NODES = 50


def _frames(n: int, first_fcnt: int) -> list[tuple[str, int, bytes]]:
    """n standard reports spread over NODES nodes: (node name, fcnt, PHYPayload)."""
    _fport, payload = encode_uplink(
        {"type": "report", "samples": [{"age_s": 0, "soil_moisture_pct": [23.4, 31.2], "soil_temp_c": [12.3],
                                        "air_temp_c": 17.8, "air_rh_pct": 65.5, "insect_count": [42],
                                        "battery_v": 3.87}]}
    )  # fmt: skip
    out = []
    for i in range(n):
        node = i % NODES
        fcnt = first_fcnt + i // NODES
        out.append((f"n{node}", fcnt, build_uplink(0x26000000 + node, fcnt, 1, payload, _key(node, 1), _key(node, 2))))
    return out


def _key(node: int, which: int) -> bytes:
    return bytes([which, node]) * 8


class _Subscriber:
    def __init__(self, port: int) -> None:
        self.arrived: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-sub")
        self.client.on_connect = lambda c, *_: c.subscribe("akker/+/up", qos=1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        ready.wait(10)

    def _on_message(self, _c: object, _u: object, m: paho.MQTTMessage) -> None:
        t = time.perf_counter()
        body = json.loads(m.payload)
        with self.lock:
            self.arrived.setdefault((body["node"], body["fcnt"]), t)

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="akker-bench-bridge-") as tmp_name:
        tmp = Path(tmp_name)
        broker = Mosquitto(tmp)
        broker.start()
        db_path = tmp / "farm.db"
        db = open_db(db_path)
        for node in range(NODES):
            Registry(db).add(f"n{node}", 0x26000000 + node, _key(node, 1), _key(node, 2))
        db.close()
        port = udp_free_port()
        log = open(tmp / "bridge.log", "wb")  # noqa: SIM115 - open for the bridge's whole life
        akker = str(Path(sys.executable).parent / "akker")
        bridge = subprocess.Popen(
            [akker, "gateway", "run", "--db", str(db_path), "--udp", f"127.0.0.1:{port}", "--mqtt", broker.url,
             "--log-level", "warning"],
            stdout=log, stderr=log,
        )  # fmt: skip
        sub = _Subscriber(broker.port)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.settimeout(0.001)
        try:
            time.sleep(1.0)  # the bridge opens its socket and connects to the broker
            result = _throughput(sock, port, sub)
            time.sleep(2.0)  # the burst's last checkpoints settle before the steady run
            result.update(_latency(sock, port, sub))
        finally:
            sock.close()
            sub.close()
            bridge.terminate()
            bridge.wait(30)
            log.close()
            broker.stop()
        return result


def _acks(sock: socket.socket, acked: set[int]) -> None:
    while True:
        try:
            data, _ = sock.recvfrom(16)
        except (TimeoutError, BlockingIOError):
            return
        if len(data) == 4 and data[3] == 1:
            acked.add(data[1] << 8 | data[2])


def _throughput(sock: socket.socket, port: int, sub: _Subscriber) -> dict[str, float]:
    frames = _frames(THROUGHPUT_FRAMES, 0)
    acked: set[int] = set()
    waiting: dict[int, float] = {}  # token -> when sent, for datagrams not yet acknowledged
    resent = 0
    sent = 0
    start = time.perf_counter()
    while len(acked) < len(frames):
        _acks(sock, acked)
        for token in [t for t in waiting if t in acked]:
            del waiting[token]
        now = time.perf_counter()
        for token, t in list(waiting.items()):
            if now - t > 1.0:  # lost on the way (a full socket buffer): a careful forwarder sends it again
                sock.sendto(push_data(token, frames[token][2]), ("127.0.0.1", port))
                waiting[token] = now
                resent += 1
        while sent < len(frames) and len(waiting) < WINDOW:
            sock.sendto(push_data(sent, frames[sent][2]), ("127.0.0.1", port))
            waiting[sent] = time.perf_counter()
            sent += 1
        if time.perf_counter() - start > 120:
            break
    done = _wait(lambda: sub.count() >= len(frames), 60)
    elapsed = time.perf_counter() - start
    return {"fps": len(frames) / elapsed if done else 0.0, "resent": float(resent)}


def _latency(sock: socket.socket, port: int, sub: _Subscriber) -> dict[str, float]:
    frames = _frames(STEADY_FPS * STEADY_S, THROUGHPUT_FRAMES // NODES + 1)
    sent_at: dict[tuple[str, int], float] = {}
    start = time.perf_counter()
    for i, (node, fcnt, phy) in enumerate(frames):
        due = start + i / STEADY_FPS
        while time.perf_counter() < due:
            _acks(sock, set())
        sent_at[(node, fcnt)] = time.perf_counter()
        sock.sendto(push_data(i & 0xFFFF, phy), ("127.0.0.1", port))
    _wait(lambda: all(k in sub.arrived for k in sent_at), 30)
    with sub.lock:
        lat = sorted((sub.arrived[k] - t) * 1000 for k, t in sent_at.items() if k in sub.arrived)
    lost = len(sent_at) - len(lat)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {"p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] if lat else float("nan"), "lost": lost}
