"""MAC commands (payload_codec.mac_commands): byte layouts from TS001-1.0.4 section 5, round trips, garbage.

The vectors below were written by hand from the specification's tables (and
../shared/notes/lorawan-mac.md section 5), not from the module's output; so are
the field ranges the round trips draw from.
"""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payload_codec import CodecError
from payload_codec.mac_commands import MacError, build, name, parse
from tests.micropython import codec_harness, runner

UP, DOWN = True, False

# (hex on the wire, direction, [(cid, fields)]): canonical, so build() must give the same bytes back.
VECTORS: list[tuple[str, bool, list[tuple[int, dict[str, Any]]]]] = [
    # Uplink: device -> network.
    ("02", UP, [(0x02, {})]),  # LinkCheckReq
    ("0307", UP, [(0x03, {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True})]),
    ("0304", UP, [(0x03, {"power_ack": True, "data_rate_ack": False, "ch_mask_ack": False})]),
    ("0301", UP, [(0x03, {"power_ack": False, "data_rate_ack": False, "ch_mask_ack": True})]),
    ("04", UP, [(0x04, {})]),  # DutyCycleAns
    ("0501", UP, [(0x05, {"rx1_dr_offset_ack": False, "rx2_data_rate_ack": False, "channel_ack": True})]),
    ("0506", UP, [(0x05, {"rx1_dr_offset_ack": True, "rx2_data_rate_ack": True, "channel_ack": False})]),
    ("06fe3b", UP, [(0x06, {"battery": 254, "snr_db": -5})]),  # -5 in 6 bits: 64 - 5 = 59 = 0x3b
    ("06001f", UP, [(0x06, {"battery": 0, "snr_db": 31})]),
    ("06ff20", UP, [(0x06, {"battery": 255, "snr_db": -32})]),
    ("060100", UP, [(0x06, {"battery": 1, "snr_db": 0})]),
    ("0703", UP, [(0x07, {"data_rate_range_ok": True, "channel_freq_ok": True})]),
    ("0702", UP, [(0x07, {"data_rate_range_ok": True, "channel_freq_ok": False})]),
    ("08", UP, [(0x08, {})]),  # RXTimingSetupAns
    ("09", UP, [(0x09, {})]),  # TxParamSetupAns
    ("0a02", UP, [(0x0A, {"uplink_freq_exists": True, "channel_freq_ok": False})]),
    ("0a01", UP, [(0x0A, {"uplink_freq_exists": False, "channel_freq_ok": True})]),
    ("0d", UP, [(0x0D, {})]),  # DeviceTimeReq
    (  # a typical answer block in FOpts: LinkADRAns, DevStatusAns, RXTimingSetupAns, DeviceTimeReq
        "030706fe3b080d",
        UP,
        [
            (0x03, {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True}),
            (0x06, {"battery": 254, "snr_db": -5}),
            (0x08, {}),
            (0x0D, {}),
        ],
    ),
    ("", UP, []),
    # Downlink: network -> device.
    ("021402", DOWN, [(0x02, {"margin_db": 20, "gw_cnt": 2})]),  # LinkCheckAns
    ("02fe00", DOWN, [(0x02, {"margin_db": 254, "gw_cnt": 0})]),
    # LinkADRReq: DR5/TXPower1 = 0x51, ChMask 0x0007 LE, ChMaskCntl 0 NbTrans 1
    ("0351070001", DOWN, [(0x03, {"data_rate": 5, "tx_power": 1, "ch_mask": 7, "ch_mask_cntl": 0, "nb_trans": 1})]),
    # DR15/TX15 (keep), ChMask 0xff00 LE, ChMaskCntl 6 NbTrans 3 = 0x63
    (
        "03ff00ff63",
        DOWN,
        [(0x03, {"data_rate": 15, "tx_power": 15, "ch_mask": 0xFF00, "ch_mask_cntl": 6, "nb_trans": 3})],
    ),
    ("0407", DOWN, [(0x04, {"max_duty_cycle": 7})]),  # DutyCycleReq: 1/128
    ("0400", DOWN, [(0x04, {"max_duty_cycle": 0})]),
    # RXParamSetupReq: RX1DROffset 2, RX2 DR3 = 0x23; 869.525 MHz = 8695250 x 100 Hz = 0x84add2 LE
    ("0523d2ad84", DOWN, [(0x05, {"rx1_dr_offset": 2, "rx2_data_rate": 3, "freq_hz": 869_525_000})]),
    ("06", DOWN, [(0x06, {})]),  # DevStatusReq
    # NewChannelReq: channel 3, 867.1 MHz = 0x844f18 LE (as in the note's CFList), MaxDR 5 MinDR 0 = 0x50
    ("0703184f8450", DOWN, [(0x07, {"ch_index": 3, "freq_hz": 867_100_000, "max_dr": 5, "min_dr": 0})]),
    ("070f00000000", DOWN, [(0x07, {"ch_index": 15, "freq_hz": 0, "max_dr": 0, "min_dr": 0})]),  # disable ch 15
    ("0805", DOWN, [(0x08, {"rx_delay_s": 5})]),  # RXTimingSetupReq
    ("080f", DOWN, [(0x08, {"rx_delay_s": 15})]),
    # TxParamSetupReq: DownlinkDwellTime b5, UplinkDwellTime b4, MaxEIRP 5
    ("0925", DOWN, [(0x09, {"downlink_dwell_time": True, "uplink_dwell_time": False, "max_eirp": 5})]),
    ("091f", DOWN, [(0x09, {"downlink_dwell_time": False, "uplink_dwell_time": True, "max_eirp": 15})]),
    # DlChannelReq: channel 0, 868.1 MHz = 0x847628 LE
    ("0a00287684", DOWN, [(0x0A, {"ch_index": 0, "freq_hz": 868_100_000})]),
    # DeviceTimeAns: 1234567890 = 0x499602d2 LE, fraction 0x80 = 0.5 s
    ("0dd202964980", DOWN, [(0x0D, {"gps_time_s": 1_234_567_890, "fraction": 128})]),
    ("0dffffffffff", DOWN, [(0x0D, {"gps_time_s": 2**32 - 1, "fraction": 255})]),
    (  # LinkADRReq block of two, then DevStatusReq and RXTimingSetupReq
        "0350ff0000035107000106" + "0801",
        DOWN,
        [
            (0x03, {"data_rate": 5, "tx_power": 0, "ch_mask": 0x00FF, "ch_mask_cntl": 0, "nb_trans": 0}),
            (0x03, {"data_rate": 5, "tx_power": 1, "ch_mask": 7, "ch_mask_cntl": 0, "nb_trans": 1}),
            (0x06, {}),
            (0x08, {"rx_delay_s": 1}),
        ],
    ),
]

# Not canonical: parse reads them, build would write other bytes.
READ_ONLY = [
    (
        "03ff00ffe3",
        DOWN,
        [(0x03, {"data_rate": 15, "tx_power": 15, "ch_mask": 0xFF00, "ch_mask_cntl": 6, "nb_trans": 3})],
    ),
    ("0800", DOWN, [(0x08, {"rx_delay_s": 1})]),  # Del 0 means 1 s
    ("08f3", DOWN, [(0x08, {"rx_delay_s": 3})]),  # RFU bits 7..4 ignored
    ("04f2", DOWN, [(0x04, {"max_duty_cycle": 2})]),
    ("02ff01", DOWN, [(0x02, {"margin_db": 255, "gw_cnt": 1})]),  # reserved margin, reported as sent
    ("06ffff", UP, [(0x06, {"battery": 255, "snr_db": -1})]),  # RFU bits 7..6 ignored
    ("03ff", UP, [(0x03, {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True})]),
    ("05a3d2ad84", DOWN, [(0x05, {"rx1_dr_offset": 2, "rx2_data_rate": 3, "freq_hz": 869_525_000})]),  # RFU b7
    ("09e5", DOWN, [(0x09, {"downlink_dwell_time": True, "uplink_dwell_time": False, "max_eirp": 5})]),
]

# Every command: name -> (cid, direction, length with the CID, field strategies), written from the spec.
FREQ = st.integers(0, 2**24 - 1).map(lambda f: f * 100)
U4 = st.integers(0, 15)
U8 = st.integers(0, 255)
B = st.booleans()
COMMANDS: dict[str, tuple[int, bool, int, dict[str, st.SearchStrategy[Any]]]] = {
    "LinkCheckReq": (0x02, UP, 1, {}),
    "LinkCheckAns": (0x02, DOWN, 3, {"margin_db": st.integers(0, 254), "gw_cnt": U8}),
    "LinkADRReq": (
        0x03,
        DOWN,
        5,
        {
            "data_rate": U4,
            "tx_power": U4,
            "ch_mask": st.integers(0, 0xFFFF),
            "ch_mask_cntl": st.integers(0, 7),
            "nb_trans": U4,
        },
    ),
    "LinkADRAns": (0x03, UP, 2, {"power_ack": B, "data_rate_ack": B, "ch_mask_ack": B}),
    "DutyCycleReq": (0x04, DOWN, 2, {"max_duty_cycle": U4}),
    "DutyCycleAns": (0x04, UP, 1, {}),
    "RXParamSetupReq": (0x05, DOWN, 5, {"rx1_dr_offset": st.integers(0, 7), "rx2_data_rate": U4, "freq_hz": FREQ}),
    "RXParamSetupAns": (0x05, UP, 2, {"rx1_dr_offset_ack": B, "rx2_data_rate_ack": B, "channel_ack": B}),
    "DevStatusReq": (0x06, DOWN, 1, {}),
    "DevStatusAns": (0x06, UP, 3, {"battery": U8, "snr_db": st.integers(-32, 31)}),
    "NewChannelReq": (0x07, DOWN, 6, {"ch_index": U8, "freq_hz": FREQ, "max_dr": U4, "min_dr": U4}),
    "NewChannelAns": (0x07, UP, 2, {"data_rate_range_ok": B, "channel_freq_ok": B}),
    "RXTimingSetupReq": (0x08, DOWN, 2, {"rx_delay_s": st.integers(1, 15)}),
    "RXTimingSetupAns": (0x08, UP, 1, {}),
    "TxParamSetupReq": (0x09, DOWN, 2, {"downlink_dwell_time": B, "uplink_dwell_time": B, "max_eirp": U4}),
    "TxParamSetupAns": (0x09, UP, 1, {}),
    "DlChannelReq": (0x0A, DOWN, 5, {"ch_index": U8, "freq_hz": FREQ}),
    "DlChannelAns": (0x0A, UP, 2, {"uplink_freq_exists": B, "channel_freq_ok": B}),
    "DeviceTimeReq": (0x0D, UP, 1, {}),
    "DeviceTimeAns": (0x0D, DOWN, 6, {"gps_time_s": st.integers(0, 2**32 - 1), "fraction": U8}),
}
LENGTHS = {(cid, up): n for cid, up, n, _ in COMMANDS.values()}


def commands(uplink: bool) -> st.SearchStrategy[list[tuple[str | int, dict[str, Any]]]]:
    one = st.one_of(
        *(
            st.tuples(st.sampled_from([n, cid]), st.fixed_dictionaries(fields))
            for n, (cid, up, _, fields) in COMMANDS.items()
            if up == uplink
        )
    )
    return st.lists(one, max_size=10)


@pytest.mark.parametrize(("wire", "uplink", "expected"), VECTORS + READ_ONLY, ids=lambda v: str(v)[:40])
def test_parse_vector(wire: str, uplink: bool, expected: list[tuple[int, dict[str, Any]]]) -> None:
    assert parse(bytes.fromhex(wire), uplink) == expected
    assert parse(bytearray.fromhex(wire), uplink) == expected
    assert parse(memoryview(bytes.fromhex(wire)), uplink) == expected


@pytest.mark.parametrize(("wire", "uplink", "expected"), VECTORS, ids=lambda v: str(v)[:40])
def test_build_vector(wire: str, uplink: bool, expected: list[tuple[int, dict[str, Any]]]) -> None:
    assert build(expected, uplink).hex() == wire
    by_name = [(name(cid, uplink), fields) for cid, fields in expected]
    assert build(by_name, uplink).hex() == wire


def test_every_command_has_a_vector_and_a_name() -> None:
    seen = {(cid, up) for _, up, cmds in VECTORS for cid, _ in cmds}
    assert seen == set(LENGTHS)
    for n, (cid, up, _, _) in COMMANDS.items():
        assert name(cid, up) == n
    assert name(0x0C, DOWN) is None
    assert name(0x0D, DOWN) == "DeviceTimeAns"


@settings(max_examples=300)
@given(data=st.data(), uplink=st.booleans())
def test_round_trip(data: st.DataObject, uplink: bool) -> None:
    cmds = data.draw(commands(uplink))
    wire = build(cmds, uplink)
    assert len(wire) == sum(LENGTHS[(COMMANDS[k][0] if isinstance(k, str) else k, uplink)] for k, _ in cmds)
    parsed = parse(wire, uplink)
    expected = [(COMMANDS[k][0] if isinstance(k, str) else k, f) for k, f in cmds]
    assert parsed == expected
    assert build(parsed, uplink) == wire


@settings(max_examples=1000)
@given(wire=st.binary(max_size=40), uplink=st.booleans())
def test_garbage_parses_partly_or_raises_mac_error(wire: bytes, uplink: bool) -> None:
    try:
        parsed = parse(wire, uplink)
    except MacError as err:
        assert "truncated" in str(err)
        return
    # What was parsed accounts for every byte: known commands, then at most one unknown rest.
    used = 0
    for i, (cid, fields) in enumerate(parsed):
        assert wire[used] == cid
        if (cid, uplink) in LENGTHS:
            used += LENGTHS[(cid, uplink)]
        else:
            assert i == len(parsed) - 1
            assert fields == {"rest": wire[used:]}
            used = len(wire)
    assert used == len(wire)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(max_size=4),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=500)
@given(
    cmds=st.one_of(
        JSONISH,
        st.lists(
            st.tuples(
                st.sampled_from([*COMMANDS, *range(0, 16), "LinkADR", 3.0]),
                st.dictionaries(st.sampled_from(["data_rate", "freq_hz", "snr_db", "battery", "x"]), JSONISH),
            ),
            max_size=3,
        ),
    ),
    uplink=st.one_of(st.booleans(), JSONISH),
)
def test_garbage_to_build_raises_only_mac_error(cmds: Any, uplink: Any) -> None:
    with contextlib.suppress(MacError):
        build(cmds, uplink)


@pytest.mark.parametrize(
    ("wire", "uplink"),
    [
        ("03510700", DOWN),  # LinkADRReq, Redundancy missing
        ("0523d2ad", DOWN),  # RXParamSetupReq, a frequency byte missing
        ("0dd2029649", DOWN),  # DeviceTimeAns without its fraction
        ("0d", DOWN),  # DeviceTimeReq is 1 byte up, but DeviceTimeAns down is 6
        ("0214", DOWN),
        ("06fe", UP),  # DevStatusAns without RadioStatus
        ("03", UP),
        ("0307" + "05", UP),  # a good LinkADRAns, then a cut RXParamSetupAns: all refused
    ],
)
def test_truncated_command_is_a_mac_error(wire: str, uplink: bool) -> None:
    with pytest.raises(MacError, match="truncated"):
        parse(bytes.fromhex(wire), uplink)
    assert issubclass(MacError, CodecError)
    assert issubclass(MacError, ValueError)


@pytest.mark.parametrize(
    ("wire", "uplink", "expected"),
    [
        ("0c01", DOWN, [(0x0C, {"rest": b"\x0c\x01"})]),  # ADRParamSetupReq: optional, not implemented
        ("021402" + "0b0102", DOWN, [(0x02, {"margin_db": 20, "gw_cnt": 2}), (0x0B, {"rest": b"\x0b\x01\x02"})]),
        (
            "0307" + "80ffff" + "06fe3b",
            UP,
            [
                (0x03, {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True}),
                (0x80, {"rest": bytes.fromhex("80ffff06fe3b")}),
            ],
        ),
        ("01", UP, [(0x01, {"rest": b"\x01"})]),  # ResetInd, 1.1 only
        ("00", DOWN, [(0x00, {"rest": b"\x00"})]),
        # DlChannelAns up is 2 bytes, so 0x28 is the next CID (DlChannelReq's frequency would follow down)
        (
            "0a0128768402",
            UP,
            [
                (0x0A, {"uplink_freq_exists": False, "channel_freq_ok": True}),
                (0x28, {"rest": bytes.fromhex("28768402")}),
            ],
        ),
    ],
)
def test_unknown_cid_stops_parsing(wire: str, uplink: bool, expected: list[tuple[int, dict[str, Any]]]) -> None:
    assert parse(bytes.fromhex(wire), uplink) == expected


OUT_OF_RANGE: list[tuple[list[Any], bool, str]] = [
    ([("LinkCheckAns", {"margin_db": 255, "gw_cnt": 1})], DOWN, "margin_db = 255 is out of range 0..254"),
    ([("LinkCheckAns", {"margin_db": -1, "gw_cnt": 1})], DOWN, "out of range"),
    ([("LinkCheckAns", {"margin_db": 1, "gw_cnt": 256})], DOWN, "gw_cnt = 256 is out of range 0..255"),
    (
        [("LinkADRReq", {"data_rate": 16, "tx_power": 0, "ch_mask": 0, "ch_mask_cntl": 0, "nb_trans": 1})],
        DOWN,
        "data_rate",
    ),
    (
        [("LinkADRReq", {"data_rate": 0, "tx_power": 16, "ch_mask": 0, "ch_mask_cntl": 0, "nb_trans": 1})],
        DOWN,
        "tx_power",
    ),
    (
        [("LinkADRReq", {"data_rate": 0, "tx_power": 0, "ch_mask": 0x10000, "ch_mask_cntl": 0, "nb_trans": 1})],
        DOWN,
        "ch_mask",
    ),
    (
        [("LinkADRReq", {"data_rate": 0, "tx_power": 0, "ch_mask": 0, "ch_mask_cntl": 8, "nb_trans": 1})],
        DOWN,
        "ch_mask_cntl",
    ),
    (
        [("LinkADRReq", {"data_rate": 0, "tx_power": 0, "ch_mask": 0, "ch_mask_cntl": 0, "nb_trans": 16})],
        DOWN,
        "nb_trans",
    ),
    ([("LinkADRReq", {"data_rate": 0, "tx_power": 0, "ch_mask": 0, "ch_mask_cntl": 0})], DOWN, "nb_trans is required"),
    ([("LinkADRAns", {"power_ack": 1, "data_rate_ack": True, "ch_mask_ack": True})], UP, "True or False"),
    ([("DutyCycleReq", {"max_duty_cycle": 16})], DOWN, "max_duty_cycle = 16"),
    ([("RXParamSetupReq", {"rx1_dr_offset": 8, "rx2_data_rate": 0, "freq_hz": 869_525_000})], DOWN, "rx1_dr_offset"),
    ([("RXParamSetupReq", {"rx1_dr_offset": 0, "rx2_data_rate": 0, "freq_hz": 869_525_050})], DOWN, "multiple of 100"),
    ([("RXParamSetupReq", {"rx1_dr_offset": 0, "rx2_data_rate": 0, "freq_hz": 2**24 * 100})], DOWN, "freq_hz"),
    ([("RXParamSetupReq", {"rx1_dr_offset": 0, "rx2_data_rate": 0, "freq_hz": -100})], DOWN, "freq_hz"),
    ([("RXParamSetupReq", {"rx1_dr_offset": 0, "rx2_data_rate": 0, "freq_hz": 8.6e8})], DOWN, "must be an int"),
    ([("DevStatusAns", {"battery": 256, "snr_db": 0})], UP, "battery"),
    ([("DevStatusAns", {"battery": 0, "snr_db": 32})], UP, "snr_db = 32 is out of range -32..31"),
    ([("DevStatusAns", {"battery": 0, "snr_db": -33})], UP, "snr_db"),
    ([("NewChannelReq", {"ch_index": 256, "freq_hz": 0, "max_dr": 0, "min_dr": 0})], DOWN, "ch_index"),
    ([("NewChannelReq", {"ch_index": 3, "freq_hz": 0, "max_dr": 16, "min_dr": 0})], DOWN, "max_dr"),
    ([("RXTimingSetupReq", {"rx_delay_s": 0})], DOWN, "rx_delay_s = 0 is out of range 1..15"),
    ([("RXTimingSetupReq", {"rx_delay_s": 16})], DOWN, "rx_delay_s"),
    ([("RXTimingSetupReq", {"rx_delay_s": True})], DOWN, "must be an int"),
    (
        [("TxParamSetupReq", {"downlink_dwell_time": True, "uplink_dwell_time": False, "max_eirp": 16})],
        DOWN,
        "max_eirp",
    ),
    ([("DlChannelReq", {"ch_index": 0, "freq_hz": 868_100_001})], DOWN, "multiple of 100"),
    ([("DeviceTimeAns", {"gps_time_s": 2**32, "fraction": 0})], DOWN, "gps_time_s"),
    ([("DeviceTimeAns", {"gps_time_s": 0, "fraction": 256})], DOWN, "fraction"),
    ([("DeviceTimeReq", {"now": 1})], UP, "unknown field 'now'"),
    ([("DeviceTimeReq", None)], UP, "fields must be a dict"),
    ([("DeviceTimeAns", {"gps_time_s": 0, "fraction": 0})], UP, "DeviceTimeAns is sent down, not up"),
    ([("LinkADRAns", {})], DOWN, "LinkADRAns is sent up, not down"),
    ([(0x0C, {})], DOWN, "unknown downlink command 12"),
    ([("ResetInd", {})], UP, "unknown uplink command 'ResetInd'"),
    ([(2.0, {})], UP, "name or its CID"),
    ([("LinkCheckReq",)], UP, "pair"),
    ("LinkCheckReq", UP, "must be a list"),
    ([("LinkCheckReq", {})], 1, "uplink must be True or False"),
]


@pytest.mark.parametrize(("cmds", "uplink", "message"), OUT_OF_RANGE, ids=lambda v: str(v)[:50])
def test_out_of_range_is_refused(cmds: list[Any], uplink: bool, message: str) -> None:
    with pytest.raises(MacError, match=message.replace("(", r"\(").replace(".", r"\.")):
        build(cmds, uplink)


def test_parse_refuses_what_is_not_bytes() -> None:
    with pytest.raises(MacError, match="must be bytes"):
        parse("0307", UP)
    with pytest.raises(MacError, match="uplink must be True or False"):
        parse(b"\x03\x07", None)


# --- the same module under the real MicroPython interpreter, 32 KB heap ---------------------------------


def _mac_requests() -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = []
    for wire, uplink, _ in VECTORS + READ_ONLY:
        requests.append({"op": "mac_parse", "bytes": wire, "uplink": uplink})
    for _, uplink, expected in VECTORS:
        cmds = [[name(cid, uplink), fields] for cid, fields in expected]
        requests.append({"op": "mac_build", "commands": cmds, "uplink": uplink})
    for cmds, uplink, _ in OUT_OF_RANGE:
        json_safe = isinstance(cmds, list) and all(
            isinstance(c, tuple) and len(c) == 2 and c[1] is not None for c in cmds
        )
        if json_safe and not any(isinstance(v, float) for _, f in cmds for v in f.values()):
            requests.append({"op": "mac_build", "commands": [list(c) for c in cmds], "uplink": uplink})
    rnd = random.Random(13)
    for _ in range(300):  # garbage, both directions
        requests.append(
            {"op": "mac_parse", "bytes": rnd.randbytes(rnd.randint(0, 20)).hex(), "uplink": rnd.random() < 0.5}
        )
    return requests


def test_micropython_agrees_with_cpython_at_32k(mpy_build: Path) -> None:
    requests = _mac_requests()
    answers = runner.answer_all(mpy_build, requests, heapsize="32k")
    assert len(answers) == len(requests)
    wrong = []
    for request, answer in zip(requests, answers, strict=True):
        expected = codec_harness.run(request)
        assert "crash" not in expected, (request, expected)
        if answer != expected:
            wrong.append((request, answer, expected))
    assert wrong == []


def test_micropython_vectors_give_the_hand_written_bytes(mpy_build: Path) -> None:
    """Not only agreement: the interpreter's bytes are the spec's."""
    requests = [
        {"op": "mac_build", "commands": [[name(cid, up), f] for cid, f in exp], "uplink": up} for _, up, exp in VECTORS
    ]
    answers = runner.answer_all(mpy_build, requests, heapsize="32k")
    assert [a.get("bytes") for a in answers] == [wire for wire, _, _ in VECTORS]


def test_loading_mac_commands_loads_no_other_codec_module() -> None:
    """The node's heap: parsing MAC commands must not pull in the report, frame or crypto modules."""
    code = (
        "import sys, payload_codec.mac_commands; print(sorted(m for m in sys.modules if m.startswith('payload_codec')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=runner.REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['payload_codec', 'payload_codec.errors', 'payload_codec.mac_commands']"
