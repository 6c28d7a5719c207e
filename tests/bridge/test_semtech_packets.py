"""Semtech UDP datagrams parsed on bytes: what forwarders send is read, anything else refused in words."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.bridge.frame import Reception
from gateway.bridge.sources.semtech_packets import (
    MAX_RXPK,
    LimitError,
    PacketError,
    PullData,
    PushData,
    RxPacket,
    TxAck,
    parse_datagram,
    pull_ack,
    push_ack,
)
from gateway.bridge.sources.semtech_rxpk import MAX_PHY, MAX_TEXT
from tests.bridge.semtech_kit import _DROP, EUI, EUI_HEX, PHY_A, PHY_B, STAT, header, pull, push, rxpk

# ------------------------------------------------------------------ parsing: good datagrams


def test_push_data_with_two_rxpk_and_stat() -> None:
    second = rxpk(PHY_B, freq=867.9, datr="SF12BW125", rssis=-110, rssi=-95, lsnr=-12.25, stat=-1, time=_DROP)
    p = parse_datagram(push({"rxpk": [rxpk(), second], "stat": STAT}, token=0xBEEF))
    assert p == PushData(
        version=2,
        token=0xBEEF,
        gateway=EUI_HEX,
        rxpk=(
            RxPacket(
                PHY_A,
                Reception(
                    gateway=EUI_HEX,
                    rssi_dbm=-97.0,
                    snr_db=7.5,
                    freq_hz=868_100_000,
                    sf=9,
                    bw_khz=125,
                    crc_ok=True,
                    gateway_time="2024-05-01T06:30:00.123456Z",
                    counter_us=3512348611,
                ),
            ),
            RxPacket(
                PHY_B,
                Reception(
                    gateway=EUI_HEX,
                    rssi_dbm=-110.0,  # rssis, the signal's own, over rssi, the channel's
                    snr_db=-12.25,
                    freq_hz=867_900_000,
                    sf=12,
                    bw_khz=125,
                    crc_ok=False,
                    gateway_time=None,
                    counter_us=3512348611,
                ),
            ),
        ),
        stat=STAT,
    )


@pytest.mark.parametrize(
    ("body", "rxpk_count", "stat"),
    [
        ({"stat": STAT}, 0, STAT),
        ({"rxpk": [], "stat": STAT}, 0, STAT),
        ({"rxpk": []}, 0, None),
        ({}, 0, None),
        ({"rxpk": [rxpk()], "future": {"x": 1}}, 1, None),  # unknown keys are the forwarder's business
    ],
    ids=["stat-only", "empty-rxpk-and-stat", "empty-rxpk", "empty-object", "unknown-key"],
)
def test_push_data_without_packets(body: dict[str, object], rxpk_count: int, stat: object) -> None:
    p = parse_datagram(push(body))
    assert isinstance(p, PushData)
    assert len(p.rxpk) == rxpk_count
    assert p.stat == stat


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pull(0x4321), PullData(2, 0x4321, EUI_HEX)),
        (pull(0x0001, version=1), PullData(1, 0x0001, EUI_HEX)),
        (header(0x05, 0x7777) + EUI, TxAck(2, 0x7777, EUI_HEX, None)),
        (header(0x05, 0x7777) + EUI + b'{"txpk_ack":{"error":"NONE"}}', TxAck(2, 0x7777, EUI_HEX, None)),
        (header(0x05, 0x7777) + EUI + b'{"txpk_ack":{"error":"TOO_LATE"}}', TxAck(2, 0x7777, EUI_HEX, "TOO_LATE")),
    ],
    ids=["pull-v2", "pull-v1", "tx-ack-bare", "tx-ack-none", "tx-ack-error"],
)
def test_pull_data_and_tx_ack(data: bytes, expected: object) -> None:
    assert parse_datagram(data) == expected


def test_version_1_push_data_has_the_same_layout() -> None:
    p = parse_datagram(push({"rxpk": [rxpk()]}, token=0x0102, version=1))
    assert isinstance(p, PushData)
    assert (p.version, p.token, p.gateway) == (1, 0x0102, EUI_HEX)
    assert isinstance(p.rxpk[0], RxPacket) and p.rxpk[0].phy == PHY_A


@pytest.mark.parametrize(
    ("item", "check"),
    [
        (rxpk(data=base64.b64encode(PHY_A).decode().rstrip("=")), "phy"),  # PROTOCOL.md's own examples are unpadded
        (rxpk(size=_DROP), "phy"),
        (rxpk(tmst=_DROP, time=_DROP), "no-times"),
        (rxpk(stat=0), "crc-ok"),
        (rxpk(freq=867.899999), "freq-rounded"),
        (rxpk(datr="SF7BW250"), "bw-250"),
    ],
    ids=["unpadded-base64", "no-size", "no-times", "stat-0-no-crc", "freq-rounding", "sf7bw250"],
)
def test_rxpk_variants_accepted(item: dict[str, object], check: str) -> None:
    p = parse_datagram(push({"rxpk": [item]}))
    assert isinstance(p, PushData)
    (r,) = p.rxpk
    assert isinstance(r, RxPacket), r
    assert r.phy == PHY_A
    if check == "no-times":
        assert (r.rx.gateway_time, r.rx.counter_us) == (None, None)
    if check == "crc-ok":
        assert r.rx.crc_ok is True
    if check == "freq-rounded":
        assert r.rx.freq_hz == 867_899_999
    if check == "bw-250":
        assert (r.rx.sf, r.rx.bw_khz) == (7, 250)


def test_nul_terminated_json_is_accepted() -> None:
    p = parse_datagram(push(json.dumps({"rxpk": [rxpk()]}).encode() + b"\x00"))
    assert isinstance(p, PushData) and isinstance(p.rxpk[0], RxPacket)


# ------------------------------------------------------------------ parsing: refused datagrams


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short: 0 bytes"),
        (b"\x02\x12\x34", "too short: 3 bytes"),
        (header(0x00, version=3) + EUI + b"{}", "unknown protocol version 3"),
        (header(0x00, version=0) + EUI + b"{}", "unknown protocol version 0"),
        (header(0x01), "PUSH_ACK (0x01) is sent by servers"),
        (header(0x03) + b"{}", "PULL_RESP (0x03) is sent by servers"),
        (header(0x04), "PULL_ACK (0x04) is sent by servers"),
        (header(0x06) + EUI, "unknown identifier 0x06"),
        (header(0xFF) + EUI, "unknown identifier 0xff"),
        (header(0x00) + EUI[:7], "PUSH_DATA too short: 11 bytes"),
        (header(0x02) + EUI[:4], "PULL_DATA too short: 8 bytes"),
        (header(0x05), "TX_ACK too short: 4 bytes"),
        (pull() + b"\x00", "PULL_DATA is 12 bytes, this one has 1 more"),
        (push(b""), "PUSH_DATA carries no JSON"),
        (push(b"\x00"), "PUSH_DATA carries no JSON"),
        (push(b'{"rxpk":['), "PUSH_DATA JSON: "),
        (push(b"\xff\xfe{}"), "PUSH_DATA JSON: "),
        (push(b'{"stat": NaN}'), "NaN is not a JSON number"),
        (push(b"[" * 100_000 + b"]" * 100_000), "PUSH_DATA JSON: "),
        (push([]), "PUSH_DATA JSON is an array, not an object"),
        (push("rxpk"), "PUSH_DATA JSON is a string, not an object"),
        (push({"rxpk": {}}), "rxpk is an object, not an array"),
        (push({"rxpk": rxpk()}), "rxpk is an object, not an array"),
        (push({"rxpk": None}), "rxpk is null, not an array"),
        (push({"stat": 5}), "stat is a number, not an object"),
        (push({"stat": [STAT]}), "stat is an array, not an object"),
        (header(0x05) + EUI + b"{oops", "TX_ACK JSON: "),
    ],
    ids=lambda v: None if isinstance(v, bytes) else v.split(":")[0].split(" (")[0].replace(" ", "-"),
)
def test_malformed_datagrams_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(PacketError) as err:
        parse_datagram(data)
    assert message in str(err.value)
    assert "\n" not in str(err.value)  # it goes into one log line


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (5, "is a number, not an object"),
        ([rxpk()], "is an array, not an object"),
        (rxpk(modu="FSK", datr=50000, lsnr=_DROP), "modu 'FSK' is not supported"),
        (rxpk(modu=_DROP), "modu None, not 'LORA'"),
        (rxpk(modu="lora"), "modu 'lora', not 'LORA'"),
        (rxpk(datr=_DROP), "datr None, not like 'SF9BW125'"),
        (rxpk(datr="SF9"), "datr 'SF9', not like"),
        (rxpk(datr=9), "datr 9, not like"),
        (rxpk(datr="SF9BW125 "), "datr 'SF9BW125 ', not like"),
        (rxpk(datr="SF13BW125"), "SF13 or BW125 is not a LoRa setting"),
        (rxpk(datr="SF4BW125"), "SF4 or BW125 is not a LoRa setting"),
        (rxpk(datr="SF9BW126"), "SF9 or BW126 is not a LoRa setting"),
        (rxpk(freq=_DROP), "freq missing"),
        (rxpk(freq="868.1"), "freq '868.1', not a number"),
        (rxpk(freq=True), "freq True, not a number"),
        (rxpk(freq=0), "freq 0.0 is not a LoRa frequency in MHz"),
        (rxpk(freq=-868.1), "is not a LoRa frequency in MHz"),
        (rxpk(freq=868100000), "freq 868100000.0 is not a LoRa frequency in MHz"),  # Hz, not MHz
        (rxpk(freq=1e308), "is not a LoRa frequency in MHz"),
        (rxpk(stat=_DROP), "stat None, not 1, 0 or -1"),
        (rxpk(stat=2), "stat 2, not 1, 0 or -1"),
        (rxpk(stat="1"), "stat '1', not 1, 0 or -1"),
        (rxpk(stat=1.0), "stat 1.0, not 1, 0 or -1"),
        (rxpk(stat=True), "stat True, not 1, 0 or -1"),
        (rxpk(stat=[1]), "stat [1], not 1, 0 or -1"),
        (rxpk(rssi=_DROP), "rssi missing"),
        (rxpk(rssi="-97"), "rssi '-97', not a number"),
        (rxpk(rssis=None), "rssis missing"),
        (rxpk(rssi=10**400), "is out of range"),
        (rxpk(lsnr=_DROP), "lsnr missing"),
        (rxpk(tmst=-1), "tmst -1, not a 32-bit unsigned counter"),
        (rxpk(tmst=2**32), "tmst 4294967296, not a 32-bit"),
        (rxpk(tmst=1.5), "tmst 1.5, not a 32-bit"),
        (rxpk(time=5), "time 5, not a string"),
        (rxpk(data=_DROP), "data missing"),
        (rxpk(data=5), "data is a number, not a base64 string"),
        (rxpk(data="not base64!"), "data is not base64"),
        (rxpk(data="-_-_"), "data is not base64"),  # the URL-safe alphabet is not what forwarders send
        (rxpk(data="AAAAA"), "data is not base64"),
        (rxpk(data="é"), "data is not base64"),
        (rxpk(data="", size=0), "data is empty"),
        (rxpk(size=len(PHY_A) + 1), f"size {len(PHY_A) + 1} but data decodes to {len(PHY_A)} bytes"),
        (rxpk(size=str(len(PHY_A))), "but data decodes to"),
    ],
)
def test_bad_rxpk_items_become_error_strings(item: object, message: str) -> None:
    p = parse_datagram(push({"rxpk": [rxpk(PHY_B), item]}))
    assert isinstance(p, PushData)
    good, bad = p.rxpk
    assert isinstance(good, RxPacket) and good.phy == PHY_B  # the bad one spoils nothing else
    assert isinstance(bad, str)
    assert bad.startswith("rxpk[1]: ")
    assert message in bad, bad
    assert "\n" not in bad


def test_as_many_rxpk_as_lora_pkt_fwd_sends_at_most() -> None:
    p = parse_datagram(push({"rxpk": [rxpk()] * MAX_RXPK}))
    assert isinstance(p, PushData) and len(p.rxpk) == MAX_RXPK and p.oversize == 0
    with pytest.raises(LimitError, match=f"^{MAX_RXPK + 1} rxpk items, at most {MAX_RXPK}$"):
        parse_datagram(push({"rxpk": [rxpk()] * (MAX_RXPK + 1)}))
    with pytest.raises(LimitError, match=r"^21000 rxpk items"):  # refused before any item is looked at
        parse_datagram(push({"rxpk": [{}] * 21_000}))


@pytest.mark.parametrize("field", ["time", "modu", "datr", "codr"])
def test_text_fields_are_refused_beyond_their_limit(field: str) -> None:
    at_limit = {"time": "2024-05-01T06:30:00.123456789Z".ljust(MAX_TEXT, "0")}.get(field, "x" * MAX_TEXT)
    p = parse_datagram(push({"rxpk": [rxpk(**{field: at_limit}), rxpk(**{field: at_limit + "x"})]}))
    assert isinstance(p, PushData)
    first, second = p.rxpk
    if field in ("time", "codr"):  # kept as sent or ignored: 64 characters are still fine
        assert isinstance(first, RxPacket)
        assert first.rx.gateway_time == (at_limit if field == "time" else "2024-05-01T06:30:00.123456Z")
    else:  # refused for what it says, not for its length
        assert isinstance(first, str) and "at most" not in first and len(first) < 120
    assert second == f"rxpk[1]: {field} is {MAX_TEXT + 1} characters, at most {MAX_TEXT}"
    assert p.oversize == 1


def test_data_longer_than_a_lora_packet_is_refused() -> None:
    biggest = bytes(range(MAX_PHY))
    p = parse_datagram(push({"rxpk": [rxpk(biggest), rxpk(biggest + b"\x00"), rxpk(data="A" * 10_000)]}))
    assert isinstance(p, PushData)
    assert isinstance(p.rxpk[0], RxPacket) and p.rxpk[0].phy == biggest
    assert p.rxpk[1:] == (
        "rxpk[1]: data is 344 characters of base64, more than a LoRa packet's 255 bytes",
        "rxpk[2]: data is 10000 characters of base64, more than a LoRa packet's 255 bytes",
    )
    assert p.oversize == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"modu": ["L" * 5_000]},
        {"datr": {"x": "SF9" * 5_000}},
        {"stat": "1" * 5_000},
        {"rssi": "-9" * 5_000},
        {"lsnr": 10**4000},
        {"tmst": [0] * 5_000},
        {"time": ["2024-05-01T06:30:00Z"] * 5_000},
        {"size": "9" * 5_000},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_refused_value_is_quoted_only_in_part(changes: dict[str, object]) -> None:
    """The reason for a refusal goes into the log: it must stay a line, however large the value."""
    p = parse_datagram(push({"rxpk": [rxpk(**changes)]}))
    assert isinstance(p, PushData)
    (bad,) = p.rxpk
    assert isinstance(bad, str) and len(bad) < 120, bad
    assert "characters)" in bad


def test_tx_ack_error_is_kept_short() -> None:
    p = parse_datagram(header(0x05, 0x7777) + EUI + json.dumps({"txpk_ack": {"error": "E" * 10_000}}).encode())
    assert isinstance(p, TxAck) and p.error == "E" * MAX_TEXT


def test_infinite_lsnr_is_refused() -> None:
    # json.dumps cannot write 1e400, but a forwarder's printf could: Python parses it as infinity.
    body = json.dumps({"rxpk": [rxpk()]}).replace('"lsnr": 7.5', '"lsnr": 1e400').encode()
    p = parse_datagram(push(body))
    assert isinstance(p, PushData)
    assert p.rxpk == ("rxpk[0]: lsnr inf is out of range",)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([b"", header(0x00) + EUI, header(0x05) + EUI, pull()]))
def test_arbitrary_bytes_raise_only_packet_error(tail: bytes, head: bytes) -> None:
    with contextlib.suppress(PacketError):
        parse_datagram(head + tail)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(rxpk())) | st.text(max_size=4).filter(lambda k: k != "phy"), _JSON, max_size=8
    ),
    _JSON,
)
def test_arbitrary_rxpk_fields_give_a_packet_or_an_error_string(changes: dict[str, object], stat: object) -> None:
    body = json.dumps({"rxpk": [rxpk(**changes)], "stat": stat}).encode()
    try:
        p = parse_datagram(push(body))
    except PacketError:
        assert not isinstance(stat, dict) and stat is not None  # only the envelope can refuse the whole datagram
        return
    assert isinstance(p, PushData)
    (r,) = p.rxpk
    assert isinstance(r, (RxPacket, str))


@pytest.mark.parametrize(
    ("build", "token", "version", "expected"),
    [
        (push_ack, 0x1234, 2, b"\x02\x12\x34\x01"),
        (push_ack, 0xABCD, 1, b"\x01\xab\xcd\x01"),
        (push_ack, 0, 2, b"\x02\x00\x00\x01"),
        (pull_ack, 0x4321, 2, b"\x02\x43\x21\x04"),
        (pull_ack, 0xFFFF, 1, b"\x01\xff\xff\x04"),
    ],
)
def test_acks(build: Callable[[int, int], bytes], token: int, version: int, expected: bytes) -> None:
    assert build(token, version) == expected


def test_ack_echoes_the_token_bytes_as_received() -> None:
    p = parse_datagram(b"\x02\xfe\x01\x02" + EUI)
    assert isinstance(p, PullData)
    assert pull_ack(p.token, p.version)[1:3] == b"\xfe\x01"
