"""The LoRaWAN frame layer: vectors (lora-packet and RFC 4493) on CPython and MicroPython, errors, tampering."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payload_codec.lorawan import (
    FrameError,
    MicError,
    ReplayError,
    build_downlink,
    build_uplink,
    open_downlink,
    open_uplink,
    parse_frame,
)
from tests.micropython import codec_harness, runner

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "lorawan" / "frames.json").read_text())
NWK = bytes.fromhex("44024241ed4ce9a68c6a8bc055233fd3")
APP = bytes.fromhex("ec925802ae430ca77fd3dd73cb2cc588")


def meets(example: dict[str, Any], answer: dict[str, Any]) -> bool:
    expected = example["expect"]
    if "errors" in expected:
        return "errors" in answer and answer["errors"][0].startswith(expected["errors"][0] + ":")
    return answer == expected


@pytest.mark.parametrize("example", VECTORS, ids=lambda e: e["description"])
def test_vector_on_cpython(example: dict[str, Any]) -> None:
    answer = codec_harness.run({"op": example["op"], "args": example["args"]})
    assert meets(example, answer), answer


def test_vectors_on_micropython_32k_heap(mpy_build: Path) -> None:
    requests = [{"op": e["op"], "args": e["args"]} for e in VECTORS]
    answers = runner.answer_all(mpy_build, requests, heapsize="32k")
    failed = [(e["description"], a) for e, a in zip(VECTORS, answers, strict=True) if not meets(e, a)]
    assert failed == []


def test_parse_frame_fields() -> None:
    phy = build_uplink(0x26011BDA, 0x12345, 10, b"\x01\x02", NWK, APP, confirmed=True, adr=True, fopts=b"\x02")
    info = parse_frame(phy)
    assert info == {
        "mtype": "confirmed_up",
        "dev_addr": 0x26011BDA,
        "adr": True,
        "ack": False,
        "fctrl": 0x81,
        "fopts": b"\x02",
        "fcnt16": 0x2345,
        "fport": 10,
        "frm_payload": phy[10:12],
        "mic": phy[-4:],
    }
    assert info["frm_payload"] != b"\x01\x02"  # still encrypted


def test_frame_without_fport() -> None:
    phy = build_uplink(1, 9, None, b"", NWK, APP, fopts=b"\x02")
    assert len(phy) == 13
    assert parse_frame(phy)["fport"] is None
    assert open_uplink(phy, NWK, APP, last_fcnt=8) == (9, None, b"")


def test_downlink_round_trip_and_direction() -> None:
    phy = build_downlink(0x26011BDA, 70000, 20, b"\x00\x03\x84", NWK, APP, ack=True, fpending=True)
    assert parse_frame(phy)["mtype"] == "unconfirmed_down"
    assert parse_frame(phy)["ack"] is True
    assert open_downlink(phy, NWK, APP, last_fcnt=69999) == (70000, 20, b"\x00\x03\x84")
    with pytest.raises(FrameError, match="expected unconfirmed_up or confirmed_up"):
        open_uplink(phy, NWK, APP)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"nwk_skey": b"short"}, "nwk_skey must be 16 bytes"),
        ({"app_skey": "0" * 32}, "app_skey must be 16 bytes, not str"),
        ({"dev_addr": 2**32}, "dev_addr must be an int"),
        ({"dev_addr": -1}, "dev_addr must be an int"),
        ({"fcnt": 2**32}, "fcnt must be an int"),
        ({"fport": 225}, "reserved"),
        ({"fport": None}, "a payload needs an fport"),
        ({"fport": 0, "fopts": b"\x02"}, "fopts must be empty"),
        ({"fopts": bytes(16)}, "at most 15"),
        ({"payload": bytes(243)}, "more than 255"),
        ({"payload": "text"}, "payload must be bytes"),
    ],
)
def test_build_refuses(kwargs: dict[str, Any], phrase: str) -> None:
    args: dict[str, Any] = {
        "dev_addr": 1,
        "fcnt": 1,
        "fport": 1,
        "payload": b"x",
        "nwk_skey": NWK,
        "app_skey": APP,
    }
    args.update(kwargs)
    with pytest.raises(FrameError, match=phrase):
        build_uplink(**args)


def test_counter_rebuild_and_replay() -> None:
    frames = {n: build_uplink(7, n, 1, b"r", NWK, APP) for n in (5, 65535, 65536, 65540, 131072)}
    assert open_uplink(frames[5], NWK, APP, last_fcnt=None)[0] == 5
    assert open_uplink(frames[65536], NWK, APP, last_fcnt=65535)[0] == 65536
    assert open_uplink(frames[65540], NWK, APP, last_fcnt=5)[0] == 65540
    assert open_uplink(frames[131072], NWK, APP, last_fcnt=65540)[0] == 131072
    for last in (5, 6, 65535):
        with pytest.raises(ReplayError):
            open_uplink(frames[5], NWK, APP, last_fcnt=last)
    with pytest.raises(ReplayError):
        open_uplink(frames[65536], NWK, APP, last_fcnt=65536)
    # The same low 16 bits one epoch later but signed for the old counter: a replay, not a new frame.
    with pytest.raises(ReplayError):
        open_uplink(frames[65535], NWK, APP, last_fcnt=70000)


def test_every_single_bit_flip_is_refused() -> None:
    phy = build_uplink(0x26011BDA, 0x1002A, 1, bytes.fromhex("04767527082d214180155d80"), NWK, APP, fopts=b"\x02")
    assert open_uplink(phy, NWK, APP, last_fcnt=0x10000)[2] == bytes.fromhex("04767527082d214180155d80")
    for bit in range(len(phy) * 8):
        tampered = bytearray(phy)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FrameError):  # MicError and ReplayError are FrameErrors
            open_uplink(bytes(tampered), NWK, APP, last_fcnt=0x10000)


def test_wrong_keys_raise_mic_error() -> None:
    phy = build_uplink(1, 1, 1, b"x", NWK, APP)
    with pytest.raises(MicError):
        open_uplink(phy, APP, APP)


def test_error_classes() -> None:
    assert issubclass(MicError, FrameError)
    assert issubclass(ReplayError, FrameError)
    assert issubclass(FrameError, ValueError)


def _modules_loaded_by(code: str) -> set[str]:
    probe = code + "\nimport sys; print(' '.join(m for m in sys.modules if m.startswith('payload_codec')))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=Path(__file__).parents[2], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_building_a_frame_does_not_load_the_opening_half() -> None:
    loaded = _modules_loaded_by(
        "from payload_codec.lorawan import build_uplink; build_uplink(1, 1, 1, b'x', bytes(16), bytes(16))"
    )
    assert "payload_codec.lorawan_crypto" in loaded
    assert "payload_codec.lorawan_open" not in loaded


def test_the_opening_half_does_not_import_the_building_half() -> None:
    loaded = _modules_loaded_by("import payload_codec.lorawan_open")
    assert "payload_codec.lorawan_crypto" in loaded
    assert "payload_codec.lorawan" not in loaded


@settings(max_examples=1000)
@given(st.binary(max_size=300), st.one_of(st.none(), st.integers(0, 2**32 - 1)))
def test_arbitrary_bytes_raise_only_frame_errors(phy: bytes, last: int | None) -> None:
    for call in (open_uplink, open_downlink):
        with contextlib.suppress(FrameError):
            call(phy, NWK, APP, last_fcnt=last)
    with contextlib.suppress(FrameError):
        parse_frame(phy)


@pytest.mark.parametrize("bad", [None, "40", 5, [1, 2]])
def test_non_bytes_frames(bad: Any) -> None:
    with pytest.raises(FrameError, match="must be bytes"):
        open_uplink(bad, NWK, APP)


def test_keys_never_appear_in_errors() -> None:
    phy = build_uplink(1, 1, 1, b"x", NWK, APP)
    for call in (lambda: open_uplink(phy, APP, NWK), lambda: open_uplink(phy, NWK, APP, last_fcnt=1)):
        with pytest.raises(FrameError) as info:
            call()
        for key in (NWK, APP):
            assert key.hex() not in str(info.value).lower()
            assert repr(key) not in str(info.value)
