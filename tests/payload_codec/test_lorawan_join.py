"""OTAA frames (payload_codec/lorawan_join.py): the note's vectors, lora-packet both ways, every bit flip refused.

Vectors from ../shared/notes/lorawan-mac.md section 3 (V1: a TTN JoinRequest and JoinAccept with CFList;
V2: a zero-key JoinAccept from lora-packet's own tests; V3: key derivation).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payload_codec.lorawan import FrameError, MicError
from payload_codec.lorawan_join import build_join_request, open_join_accept, parse_cflist, session_keys
from payload_codec.lorawan_join_server import build_join_accept, cflist_bytes, open_join_request, parse_join_request
from tests.lora_packet_peer import LoraPacketPeer
from tests.micropython import runner

V1_KEY = bytes.fromhex("B6B53F4A168A7A88BDF7EA135CE9CFCA")
V1_JOIN_EUI = bytes.fromhex("70B3D57ED00000DC")
V1_DEV_EUI = bytes.fromhex("00AFEE7CF5ED6F1E")
V1_DEV_NONCE = 0xCC85
V1_REQUEST = bytes.fromhex("00DC0000D07ED5B3701E6FEDF57CEEAF0085CC587FE913")
V1_ACCEPT = bytes.fromhex("204DD85AE608B87FC4889970B7D2042C9E72959B0057AED6094B16003DF12DE145")
V1_FIELDS = {
    "join_nonce": 0xE5063A,
    "net_id": 0x000013,
    "dev_addr": 0x26012E43,
    "rx1_dr_offset": 0,
    "rx2_data_rate": 3,
    "rx_delay_s": 1,
    "cflist": [867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000],
    "nwk_skey": bytes.fromhex("2C96F7028184BB0BE8AA49275290D4FC"),
    "app_skey": bytes.fromhex("F3A5C8F0232A38C144029C165865802C"),
}
SCRIPT = Path(__file__).parents[1] / "micropython" / "join_check.py"


@pytest.fixture(scope="module")
def peer() -> Iterator[LoraPacketPeer]:
    p = LoraPacketPeer()
    try:
        yield p
    finally:
        p.close()


def test_v1_the_device_side() -> None:
    assert build_join_request(V1_JOIN_EUI, V1_DEV_EUI, V1_DEV_NONCE, V1_KEY) == V1_REQUEST
    assert open_join_accept(V1_ACCEPT, V1_KEY, V1_DEV_NONCE) == V1_FIELDS


def test_v1_the_network_side() -> None:
    assert parse_join_request(V1_REQUEST) == (V1_JOIN_EUI, V1_DEV_EUI, V1_DEV_NONCE)
    assert open_join_request(V1_REQUEST, V1_KEY) == (V1_JOIN_EUI, V1_DEV_EUI, V1_DEV_NONCE)
    f = V1_FIELDS
    cflist = f["cflist"]
    assert isinstance(cflist, list)
    built = build_join_accept(V1_KEY, f["join_nonce"], f["net_id"], f["dev_addr"], 0, 3, 1, cflist)  # type: ignore[arg-type]
    assert built == V1_ACCEPT


def test_v2_zero_key_without_cflist() -> None:
    built = build_join_accept(bytes(16), 0, 0, 0, rx1_dr_offset=0, rx2_data_rate=0, rx_delay_s=0)
    assert built.hex() == "20e3de108795f776b8037610ef7869b5b3"
    got = open_join_accept(built, bytes(16), 0)
    assert got["cflist"] is None and got["rx_delay_s"] == 1  # RxDelay 0 means 1 s


def test_v3_session_keys() -> None:
    nwk, app = session_keys(bytes.fromhex("98929b92c49edba9676d646d3b612456"), 0x376338, 0xAABBCC, 0xF18E)
    assert (nwk.hex(), app.hex()) == ("4e3d6e6afbcc67af2ba3c8e8ec4acf4b", "610897aa6f1460623443b527d3ac6a9d")


@pytest.mark.parametrize("frame", [V1_REQUEST, V1_ACCEPT], ids=["JoinRequest", "JoinAccept"])
def test_every_single_bit_flip_is_refused(frame: bytes) -> None:
    for bit in range(8 * len(frame)):
        bad = bytearray(frame)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FrameError):  # MicError is one
            if frame is V1_REQUEST:
                open_join_request(bytes(bad), V1_KEY)
            else:
                open_join_accept(bytes(bad), V1_KEY, V1_DEV_NONCE)


def test_the_wrong_key_is_a_mic_error() -> None:
    with pytest.raises(MicError):
        open_join_request(V1_REQUEST, bytes(16))
    with pytest.raises(MicError):
        open_join_accept(V1_ACCEPT, bytes(16), V1_DEV_NONCE)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_join_request(V1_REQUEST[:-1]), "23 bytes"),
        (lambda: parse_join_request(b"\x40" + V1_REQUEST[1:]), "not a LoRaWAN 1.0 JoinRequest"),
        (lambda: open_join_accept(V1_ACCEPT[:20], V1_KEY, 1), "17 or 33 bytes"),
        (lambda: open_join_accept(b"\x00" + V1_ACCEPT[1:], V1_KEY, 1), "not a LoRaWAN 1.0 JoinAccept"),
        (lambda: build_join_request(V1_JOIN_EUI[:7], V1_DEV_EUI, 1, V1_KEY), "JoinEUI must be 8 bytes"),
        (lambda: build_join_request(V1_JOIN_EUI, V1_DEV_EUI, 65536, V1_KEY), "DevNonce must be an int"),
        (lambda: build_join_accept(V1_KEY, 1 << 24, 0, 0), "JoinNonce"),
        (lambda: build_join_accept(V1_KEY, 0, 0, 0, rx1_dr_offset=8), "RX1DROffset"),
        (lambda: cflist_bytes([867_100_050]), "multiple of 100"),
        (lambda: cflist_bytes([1] * 6), "at most five"),
        (lambda: parse_cflist(bytes(15) + b"\x01"), "CFListType 1"),
    ],
)
def test_mistakes_are_frame_errors_that_say_what(call: object, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        call()  # type: ignore[operator]


euis = st.binary(min_size=8, max_size=8)
keys = st.binary(min_size=16, max_size=16)
cflists = st.none() | st.lists(st.integers(0, 0xFFFFFF).map(lambda f: f * 100), max_size=5)


@settings(max_examples=60, deadline=None)
@given(euis, euis, st.integers(0, 0xFFFF), keys)
def test_join_requests_agree_with_lora_packet(
    peer: LoraPacketPeer, join_eui: bytes, dev_eui: bytes, dev_nonce: int, app_key: bytes
) -> None:
    ours = build_join_request(join_eui, dev_eui, dev_nonce, app_key)
    theirs = peer.ask({"op": "join_request", "join_eui": join_eui.hex(), "dev_eui": dev_eui.hex(),
                       "dev_nonce": dev_nonce, "app_key": app_key.hex()})  # fmt: skip
    assert theirs == {"phy": ours.hex()}
    opened = peer.ask({"op": "open_join_request", "phy": ours.hex(), "app_key": app_key.hex()})
    assert opened == {"mic_ok": True, "join_eui": join_eui.hex(), "dev_eui": dev_eui.hex(), "dev_nonce": dev_nonce}
    assert open_join_request(bytes.fromhex(theirs["phy"]), app_key) == (join_eui, dev_eui, dev_nonce)


@settings(max_examples=60, deadline=None)
@given(keys, st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 7),
       st.integers(0, 15), st.integers(1, 15), cflists, st.integers(0, 0xFFFF))  # fmt: skip
def test_join_accepts_agree_with_lora_packet_both_ways(
    peer: LoraPacketPeer, app_key: bytes, join_nonce: int, net_id: int, dev_addr: int, rx1: int, rx2: int,
    delay: int, cflist: list[int] | None, dev_nonce: int,
) -> None:  # fmt: skip
    ours = build_join_accept(app_key, join_nonce, net_id, dev_addr, rx1, rx2, delay, cflist)
    theirs = peer.ask({
        "op": "join_accept", "app_key": app_key.hex(), "join_nonce": join_nonce, "net_id": net_id,
        "dev_addr": f"{dev_addr:08x}", "dl_settings": rx1 << 4 | rx2, "rx_delay": delay,
        "cflist": "" if cflist is None else cflist_bytes(cflist).hex(),
    })  # fmt: skip
    assert theirs == {"phy": ours.hex()}
    read = peer.ask({"op": "open_join_accept", "phy": ours.hex(), "app_key": app_key.hex(), "dev_nonce": dev_nonce})
    got = open_join_accept(ours, app_key, dev_nonce)
    assert read["mic_ok"] is True
    assert (read["join_nonce"], read["net_id"], int(read["dev_addr"], 16)) == (join_nonce, net_id, dev_addr)
    assert (got["join_nonce"], got["net_id"], got["dev_addr"]) == (join_nonce, net_id, dev_addr)
    assert (got["rx1_dr_offset"], got["rx2_data_rate"], got["rx_delay_s"]) == (rx1, rx2, delay)
    assert got["cflist"] == (None if cflist is None else cflist + [0] * (5 - len(cflist)))
    assert (got["nwk_skey"].hex(), got["app_skey"].hex()) == (read["nwk_skey"], read["app_skey"])  # type: ignore[union-attr]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_garbage_raises_only_frame_errors(data: bytes) -> None:
    for call in (lambda: open_join_request(data, V1_KEY), lambda: open_join_accept(data, V1_KEY, 0)):
        with contextlib.suppress(FrameError):
            call()


def test_the_device_side_on_micropython_with_32_kb(tmp_path: Path) -> None:
    root = runner.build(tmp_path, extra=(SCRIPT,))
    result = runner.run(root, ["-m", "join_check"], heapsize="32k")
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got.pop("request") == V1_REQUEST.hex()
    expected = {**V1_FIELDS, "nwk_skey": V1_FIELDS["nwk_skey"].hex(), "app_skey": V1_FIELDS["app_skey"].hex()}  # type: ignore[union-attr]
    assert got == expected
