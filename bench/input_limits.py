"""The bridge under bad input that costs too much: memory and log against what was sent.

`akker gateway run --udp` runs in its own process at its default log level, its
stderr in a file. This process plays a gateway gone wrong (or an attacker) and
sends, paced by PULL_DATA keep-alives (the bridge handles datagrams in order, so
a PULL_ACK means everything before it was read: nothing is lost in the kernel's
socket buffer, the bridge takes the whole load as fast as it can):

1. BAD_MIC_DATAGRAMS datagrams of BAD_MIC_RXPK frames each with a bad MIC, as the
   audit sent (more rxpk than any forwarder sends);
2. AT_CAP_DATAGRAMS datagrams of MAX_RXPK bad-MIC frames, the most a datagram may
   carry: these go through the pipeline and fill its queue;
3. EMPTY_DATAGRAMS datagrams of EMPTY_RXPK empty rxpk items (63 KB each).

Figures: the bridge's peak RSS (VmHWM) against the 100 MB target, its log's
growth against the bytes sent, and the time one 63 KB datagram takes against a
real forwarder's datagram in the same run.
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.bridge.registry import Registry, open_db
from payload_codec import encode_uplink
from payload_codec.lorawan import build_uplink

RSS_TARGET_MB = 100
BAD_MIC_DATAGRAMS, BAD_MIC_RXPK = 1200, 384
AT_CAP_DATAGRAMS, AT_CAP_RXPK = 600, 255
EMPTY_DATAGRAMS, EMPTY_RXPK = 40, 21_000
POOL = 4096  # distinct bad-MIC frames
PACE = 4  # datagrams sent before waiting for a PULL_ACK: a few large ones fit any socket buffer
TIMED = 5  # datagrams timed one by one, for the median
DEV_ADDR = 0x26011B01
EUI = bytes.fromhex("aa555a0000000001")


def _push(token: int, items: Sequence[object]) -> bytes:
    body = json.dumps({"rxpk": list(items)}, separators=(",", ":")).encode()
    return bytes([2, token >> 8 & 0xFF, token & 0xFF, 0]) + EUI + body


def _push_raw(token: int, items: Sequence[bytes]) -> bytes:
    """A PUSH_DATA of rxpk items already written as JSON."""
    return bytes([2, token >> 8 & 0xFF, token & 0xFF, 0]) + EUI + b'{"rxpk":[' + b",".join(items) + b"]}"


def _rxpk(phy: bytes) -> dict[str, object]:
    data = base64.b64encode(phy).decode()
    return {"freq": 868.1, "stat": 1, "modu": "LORA", "datr": "SF7BW125", "rssi": -90, "lsnr": 5, "data": data}


def _bad_mic(fcnt: int) -> dict[str, object]:
    return _rxpk(build_uplink(DEV_ADDR, fcnt & 0xFFFF, 1, b"\x01" * 12, bytes(16), bytes(16)))


class _Gateway:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = port
        self.sent = 0  # bytes
        self._token = 0

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, ("127.0.0.1", self.port))
        self.sent += len(datagram)

    def sync(self, timeout_s: float = 60.0) -> float:
        """Send a PULL_DATA and wait for its PULL_ACK: every datagram sent before it has been read."""
        self._token = (self._token + 1) & 0xFFFF
        started = time.perf_counter()
        self.sock.sendto(bytes([2, self._token >> 8, self._token & 0xFF, 2]) + EUI, ("127.0.0.1", self.port))
        self.sock.settimeout(timeout_s)
        while True:
            data, _ = self.sock.recvfrom(64)
            if data == bytes([2, self._token >> 8, self._token & 0xFF, 4]):
                return time.perf_counter() - started

    def flood(self, count: int, build: Callable[[int], bytes]) -> float:
        """Send build(0) ... build(count - 1), a sync after every PACE of them; seconds taken."""
        started = time.perf_counter()
        for i in range(count):
            self.send(build(i))
            if i % PACE == PACE - 1:
                self.sync()
        self.sync()
        return time.perf_counter() - started


def _kb(path: Path) -> int:
    return path.stat().st_size


def _status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/{pid}/status")


def run(akker: Sequence[str] | None = None) -> dict[str, float]:
    """Run the three loads against one bridge; figures by name (MB, bytes, seconds, ms)."""
    cmd = list(akker) if akker else [str(Path(sys.executable).parent / "akker")]
    _fport, payload = encode_uplink({"type": "report", "samples": [{"age_s": 0, "soil_moisture_pct": [23.4]}]})
    with tempfile.TemporaryDirectory(prefix="akker-bench-limits-") as tmp_name:
        tmp = Path(tmp_name)
        db_path = tmp / "farm.db"
        db = open_db(db_path)
        Registry(db).add("north-1", DEV_ADDR, bytes(range(16)), bytes(range(16, 32)))
        db.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        log_path = tmp / "bridge.log"
        with open(log_path, "wb") as log:
            bridge = subprocess.Popen(
                [*cmd, "gateway", "run", "--db", str(db_path), "--udp", f"127.0.0.1:{port}"], stdout=log, stderr=log
            )
        gw = _Gateway(port)
        r: dict[str, float] = {}
        try:
            deadline = time.monotonic() + 30
            while b" running " not in log_path.read_bytes():
                if bridge.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the bridge did not start: " + log_path.read_text()[-2000:])
                time.sleep(0.05)
            r["rss_start_mb"] = _status_kb(bridge.pid, "VmRSS") / 1024
            start_log = _kb(log_path)

            # A real forwarder's datagram, for reference: three frames from a registered node.
            real = [
                _push(0x8000 + i, [_rxpk(build_uplink(DEV_ADDR, 3 * i + j, 1, payload, bytes(range(16)),
                                                      bytes(range(16, 32)))) for j in range(3)])
                for i in range(TIMED)
            ]  # fmt: skip
            r["real_ms"] = 1000 * statistics.median(_timed(gw, d) for d in real)

            # Distinct frames, each sent again after POOL others: the bridge stores none, so each is
            # checked in full every time, as a new one would be.
            pool = [json.dumps(_bad_mic(k), separators=(",", ":")).encode() for k in range(POOL)]
            for name, count, per in (
                ("bad_mic", BAD_MIC_DATAGRAMS, BAD_MIC_RXPK),
                ("at_cap", AT_CAP_DATAGRAMS, AT_CAP_RXPK),
            ):
                sent, log_before = gw.sent, _kb(log_path)

                def build(i: int, per: int = per) -> bytes:
                    return _push_raw(i, [pool[(i * per + j) % POOL] for j in range(per)])

                r[f"{name}_s"] = gw.flood(count, build)
                r[f"{name}_in"] = gw.sent - sent
                r[f"{name}_log"] = _kb(log_path) - log_before
                r[f"{name}_hwm_mb"] = _status_kb(bridge.pid, "VmHWM") / 1024

            empty = _push(0x4000, [{}] * EMPTY_RXPK)
            r["empty_size"] = len(empty)
            sent, log_before = gw.sent, _kb(log_path)
            r["empty_ms"] = 1000 * statistics.median(_timed(gw, empty) for _ in range(TIMED))
            r["empty_s"] = gw.flood(EMPTY_DATAGRAMS - TIMED, lambda _: empty)
            r["empty_in"] = gw.sent - sent
            r["empty_log"] = _kb(log_path) - log_before
            r["hwm_mb"] = _status_kb(bridge.pid, "VmHWM") / 1024
            r["input"] = gw.sent
        finally:
            gw.sock.close()
            bridge.terminate()
            bridge.wait(60)
        r["log"] = _kb(log_path) - start_log  # with the summaries written at stop
        counters = _counters(db_path)
        r["rejected_bad_mic"] = counters.get("rejected_bad_mic", 0)
        r["udp_oversize"] = counters.get("udp_oversize", 0)
        return r


def _timed(gw: _Gateway, datagram: bytes) -> float:
    """Seconds from sending datagram to the PULL_ACK of the keep-alive right behind it, less a bare round trip."""
    bare = gw.sync()
    gw.send(datagram)
    return max(0.0, gw.sync() - bare)


def _counters(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return {str(k): int(v) for k, v in db.execute("SELECT name, value FROM counters")}
    finally:
        db.close()
