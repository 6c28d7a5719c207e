"""Downlink scheduling latency: from an uplink's PUSH_DATA to the PULL_RESP that answers it.

The real pipeline, Semtech UDP source and network service on loopback; a UDP
socket plays the packet forwarders of many gateways, pushing confirmed uplinks
from many ABP nodes (each needs an ACK, so each gets a downlink) at RATE a
second, one rxpk per datagram, each through another gateway: one gateway's
duty cycle allows a downlink every few seconds, and this measures the
scheduling, not the law. Latency: the PUSH_DATA's send time to the PULL_RESP's
arrival.
"""

from __future__ import annotations

import base64
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path

from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from gateway.bridge.sources.semtech_udp import SemtechUdpSource
from gateway.network.service import NetworkService
from payload_codec import encode_uplink
from payload_codec.lorawan import build_uplink

RATE = 200  # uplinks a second
SECONDS = 3.0
NODES = 600  # enough that the ten-a-day limit never bites within the run


def _eui(i: int) -> bytes:
    return (0xAA555A0000000000 + i).to_bytes(8, "big")


def _rxpk(phy: bytes, tmst: int) -> dict[str, object]:
    return {"tmst": tmst, "freq": 868.1, "stat": 1, "modu": "LORA", "datr": "SF7BW125", "codr": "4/5",
            "rssi": -90, "lsnr": 7.5, "size": len(phy), "data": base64.b64encode(phy).decode()}  # fmt: skip


def latencies(rate: int = RATE, seconds: float = SECONDS) -> list[float]:
    """Milliseconds from each PUSH_DATA to its PULL_RESP."""
    with tempfile.TemporaryDirectory(prefix="akker-bench-dl-") as tmp:
        db = Path(tmp) / "farm.db"
        registry = Registry(open_db(db))
        keys = (bytes(range(16)), bytes(range(16, 32)))
        for i in range(NODES):
            registry.add(f"n{i}", 0x01000000 + i, *keys)
        pipeline = Pipeline(db, [])
        source = SemtechUdpSource("127.0.0.1", 0)
        service = NetworkService(db, source, pipeline.count)
        pipeline.on_batch = service.on_batch
        pipeline.start()
        source.start(pipeline)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        try:
            return _run(sock, source.address, rate, seconds, keys)
        finally:
            sock.close()
            source.stop()
            pipeline.stop()
            service.stop()


def _run(
    sock: socket.socket, server: tuple[str, int], rate: int, seconds: float, keys: tuple[bytes, bytes]
) -> list[float]:
    n = int(rate * seconds)
    sock.settimeout(2.0)
    for g in range(n):  # every gateway's PULL_DATA first: the routes back are known
        sock.sendto(b"\x02" + (g % 65536).to_bytes(2, "big") + b"\x02" + _eui(g), server)
        sock.recvfrom(64)
    sock.settimeout(0.0)
    fport, payload = encode_uplink({"type": "report", "samples": [{"age_s": 0, "battery_v": 3.9}]})
    sent: dict[int, float] = {}  # tmst -> send time
    got: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        phy = build_uplink(0x01000000 + i % NODES, i // NODES, fport, payload, *keys, confirmed=True)
        tmst = 1_000_000 * (i + 1)
        body = json.dumps({"rxpk": [_rxpk(phy, tmst)]}).encode()
        while time.perf_counter() < start + i / rate:
            _drain(sock, sent, got)
        sent[tmst + 1_000_000] = time.perf_counter()  # its RX1 tmst, which the PULL_RESP carries
        sock.sendto(b"\x02" + (i % 65536).to_bytes(2, "big") + b"\x00" + _eui(i) + body, server)
    deadline = time.perf_counter() + 3.0
    while len(got) < n and time.perf_counter() < deadline:
        _drain(sock, sent, got)
    return got


def _drain(sock: socket.socket, sent: dict[int, float], got: list[float]) -> None:
    try:
        data, _ = sock.recvfrom(65535)
    except BlockingIOError:
        return
    if data[3] == 0x03:
        tmst = json.loads(data[4:])["txpk"]["tmst"]
        if tmst in sent:
            got.append((time.perf_counter() - sent.pop(tmst)) * 1000)


def summary(got: list[float], rate: int = RATE, seconds: float = SECONDS) -> dict[str, float]:
    cuts = statistics.quantiles(got, n=100) if len(got) > 1 else [got[0]] * 99 if got else [0.0] * 99
    return {"answered": len(got) / (rate * seconds), "p50": cuts[49], "p99": cuts[98]}
