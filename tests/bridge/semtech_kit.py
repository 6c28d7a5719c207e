"""Datagrams as packet forwarders write them, for the Semtech UDP parser's and source's tests."""

from __future__ import annotations

import base64
import json
import socket

from payload_codec.lorawan import build_uplink

NWK = bytes(range(16))
APP = bytes(range(16, 32))
EUI = bytes.fromhex("AA555A0000000101")
EUI_HEX = "aa555a0000000101"
PHY_A = build_uplink(0x26011BDA, 7, 1, b"\x01\x02\x03", NWK, APP)
PHY_B = build_uplink(0x26011BDB, 65536, 2, b"\x10" * 11, NWK, APP, confirmed=True)

_DROP = object()  # an rxpk override that removes the field


def rxpk(phy: bytes = PHY_A, **fields: object) -> dict[str, object]:
    """An rxpk object as an SX1301 packet forwarder writes it, with fields replaced or (_DROP) removed."""
    item: dict[str, object] = {
        "time": "2024-05-01T06:30:00.123456Z",
        "tmst": 3512348611,
        "chan": 2,
        "rfch": 0,
        "freq": 868.1,
        "stat": 1,
        "modu": "LORA",
        "datr": "SF9BW125",
        "codr": "4/5",
        "rssi": -97,
        "lsnr": 7.5,
        "size": len(phy),
        "data": base64.b64encode(phy).decode(),
    }
    for k, v in fields.items():
        if v is _DROP:
            del item[k]
        else:
            item[k] = v
    return item


STAT = {"time": "2024-05-01 06:30:00 GMT", "rxnb": 2, "rxok": 2, "rxfw": 2, "ackr": 100.0, "dwnb": 0, "txnb": 0}


def header(identifier: int, token: int = 0x1234, version: int = 2) -> bytes:
    return bytes((version,)) + token.to_bytes(2, "big") + bytes((identifier,))


def push(body: object, token: int = 0x1234, version: int = 2, eui: bytes = EUI) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return header(0x00, token, version) + eui + raw


def pull(token: int = 0x4321, version: int = 2) -> bytes:
    return header(0x02, token, version) + EUI


class Forwarder:
    """A UDP client socket playing the packet forwarder: the bridge's answers come back to it."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def recv(self, timeout_s: float = 2.0) -> bytes:
        self.sock.settimeout(timeout_s)
        data, addr = self.sock.recvfrom(65535)
        assert addr == self.server
        return data

    def recv_kind(self, identifier: int, timeout_s: float = 3.0) -> bytes:
        """The next datagram with this identifier (ACKs of other kinds are skipped)."""
        while True:
            data = self.recv(timeout_s)
            if data[3] == identifier:
                return data

    def nothing_within(self, timeout_s: float = 0.15) -> bool:
        try:
            self.recv(timeout_s)
        except TimeoutError:
            return True
        return False
