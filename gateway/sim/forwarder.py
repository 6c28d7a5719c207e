"""A Semtech UDP packet forwarder played from the desktop: PUSH_DATA out, PUSH_ACK tokens back.

The tests and `make bench` feed the bridge this way, as a LoRa gateway running
lora_pkt_fwd would (docs/semtech-udp.md).
"""

from __future__ import annotations

import base64
import json
import socket
import time


def udp_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def push_data(token: int, phy: bytes, eui: str = "aa555a0000000001", rssi: int = -97) -> bytes:
    """A PUSH_DATA datagram as a packet forwarder sends it (protocol version 2)."""
    rxpk = {
        "time": "2026-06-01T06:00:00.000000Z",
        "tmst": 3512348611,
        "chan": 0,
        "rfch": 0,
        "freq": 868.1,
        "stat": 1,
        "modu": "LORA",
        "datr": "SF9BW125",
        "codr": "4/5",
        "rssi": rssi,
        "lsnr": 7.5,
        "size": len(phy),
        "data": base64.b64encode(phy).decode(),
    }
    return bytes([2, token >> 8, token & 0xFF, 0]) + bytes.fromhex(eui) + json.dumps({"rxpk": [rxpk]}).encode()


class Forwarder:
    """The gateway's side of Semtech UDP: send datagrams, collect PUSH_ACK tokens."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.05)
        self.port = port
        self.acked: set[int] = set()

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, ("127.0.0.1", self.port))

    def collect(self, timeout_s: float = 0.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                data, _ = self.sock.recvfrom(64)
                if len(data) == 4 and data[3] == 0x01:
                    self.acked.add(data[1] << 8 | data[2])
            except (TimeoutError, ConnectionRefusedError):
                if time.monotonic() >= deadline:
                    return

    def close(self) -> None:
        self.sock.close()
