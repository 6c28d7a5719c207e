"""The gateway-board serial link: frames survive garbage, damage is caught, both runtimes agree."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payload_codec.serial_link import (
    CONFIGURE,
    PING,
    FrameReader,
    LinkError,
    cobs_decode,
    cobs_encode,
    decode_ack,
    decode_configure,
    decode_frame,
    decode_pong,
    decode_rx,
    encode_ack,
    encode_configure,
    encode_frame,
    encode_pong,
    encode_rx,
)
from tests.micropython import runner, serial_link_check

SCRIPT = Path(__file__).parents[1] / "micropython" / "serial_link_check.py"

rx_packets = st.fixed_dictionaries(
    {
        "ticks_ms": st.integers(0, 2**32 - 1),
        "freq_khz": st.integers(863000, 870000),
        "sf": st.integers(5, 12),
        "bw_khz": st.sampled_from([125, 250, 500]),
        "rssi_dbm": st.integers(-150, 10),
        "snr_db": st.integers(-3000, 2000).map(lambda c: c / 100),
        "crc_error": st.booleans(),
        "phy": st.binary(max_size=255),
    }
)
frames = st.tuples(st.integers(0, 255), st.integers(0, 65535), st.binary(max_size=271))


@given(st.binary(max_size=700))
def test_cobs_round_trip_without_zero_bytes(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert len(encoded) <= len(data) + len(data) // 254 + 1
    assert cobs_decode(encoded) == data


@given(frames)
def test_frame_round_trip(frame: tuple[int, int, bytes]) -> None:
    wire = encode_frame(*frame)
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert decode_frame(wire[1:-1]) == frame


@given(rx_packets)
def test_rx_round_trip(packet: dict) -> None:
    assert decode_rx(encode_rx(packet)) == packet


def test_other_messages_round_trip() -> None:
    assert decode_configure(encode_configure(869525, 12, 125, 0x34, -4)) == {
        "freq_khz": 869525,
        "sf": 12,
        "bw_khz": 125,
        "sync_word": 0x34,
        "tx_power_dbm": -4,
    }
    assert decode_pong(encode_pong((1, 2, 3), "lilygo_t3s3")) == {
        "firmware": [1, 2, 3],
        "board": "lilygo_t3s3",
        "radio": None,  # firmware before the radio was added, or a board not listening yet
    }
    radio = {"freq_khz": 868300, "sf": 10, "bw_khz": 125}
    assert decode_pong(encode_pong((1, 2, 3), "sim", radio))["radio"] == radio
    assert decode_ack(encode_ack(70000, False)) == {"seq": 70000 & 0xFFFF, "ok": False}


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (decode_rx, bytes(15)),
        (decode_rx, bytes(15) + b"\x80"),
        (decode_configure, bytes(8)),
        (decode_pong, b"\x00\x01"),
        (decode_pong, b"\x00\x01\x00\x03sim\x00"),  # neither a board id alone nor one with a radio
    ],
)
def test_malformed_bodies_are_link_errors(call: object, body: bytes) -> None:
    with pytest.raises(LinkError):
        call(body)  # type: ignore[operator]


@settings(max_examples=200)
@given(st.lists(frames, min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_a_stream_with_garbage_and_bit_flips(sent: list[tuple[int, int, bytes]], rnd: random.Random) -> None:
    """Every intact frame comes out, every damaged one is counted, none is made up."""
    stream = bytearray(b"MicroPython v1.29 on 2026-07-05\r\n>>> ")
    intact = []
    damaged = 0
    for frame in sent:
        wire = bytearray(encode_frame(*frame))
        if rnd.random() < 0.3:
            wire[rnd.randrange(1, len(wire) - 1)] ^= 1 << rnd.randrange(8)  # a flipped bit inside the frame
            damaged += 1
        else:
            intact.append(frame)
        stream += wire
        if rnd.random() < 0.3:
            stream += bytes(rnd.randrange(1, 256) for _ in range(rnd.randrange(1, 40)))  # line noise
    reader = FrameReader()
    got = []
    for i in range(0, len(stream), 7):  # as a serial port delivers it, in pieces
        got.extend(reader.feed(stream[i : i + 7]))
    # A flip can turn a byte into 0x00 and split a frame in two: both halves are refused.
    assert got == intact
    assert reader.damaged >= damaged


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_and_stay_bounded(data: bytes) -> None:
    reader = FrameReader()
    reader.feed(data)
    assert len(reader.buf) <= 600


def test_lost_frames_are_counted_from_sequence_numbers() -> None:
    reader = FrameReader()
    reader.feed(encode_frame(PING, 65534) + encode_frame(PING, 65535) + encode_frame(PING, 2))
    assert (reader.frames, reader.lost) == (3, 2)


def test_micropython_frames_the_same_bytes(tmp_path: Path) -> None:
    root = runner.build(tmp_path, extra=(SCRIPT,))
    result = runner.run(root, ["-m", "serial_link_check"], heapsize="32k")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    expected = serial_link_check.frames()
    assert lines[:5] == [f.hex() for f in expected]
    assert lines[5] == f"5 1 0 {PING}"  # the REPL text before the first frame is one damaged chunk
    assert CONFIGURE != PING
