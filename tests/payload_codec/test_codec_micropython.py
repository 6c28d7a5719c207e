"""The codec under the real MicroPython interpreter agrees with CPython, byte for byte.

These runs mix all message types, so all three message modules are loaded at
once (about 24 KB on the 64-bit desktop port): they get a 64 KB heap. The
vectors run one message type per process with 32 KB (tests/payload_codec/test_vectors.py).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payload_codec import CodecError, decode_uplink, encode_downlink, encode_uplink
from tests import strategies as ms
from tests.micropython import codec_harness, runner
from tests.vectors_check import same

BATCH = st.lists(st.one_of(ms.reports(on_step=True), ms.statuses(), ms.commands()), min_size=60, max_size=60)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(messages=BATCH)
def test_micropython_encodes_and_decodes_like_cpython(messages: list[dict[str, Any]], mpy_build: Path) -> None:
    requests = []
    for m in messages:
        if "cmd" in m:
            fport, payload = encode_downlink(m)
            requests.append({"op": "encode_downlink", "data": m})
            requests.append({"op": "decode_downlink", "fPort": fport, "bytes": payload.hex()})
        else:
            fport, payload = encode_uplink(m)
            requests.append({"op": "encode_uplink", "data": m})
            requests.append({"op": "decode_uplink", "fPort": fport, "bytes": payload.hex()})
    answers = runner.answer_all(mpy_build, requests, heapsize="64k")
    for request, answer in zip(requests, answers, strict=True):
        assert same(answer, codec_harness.run(request)), (request, answer)


def test_micropython_decodes_random_bytes_without_crashing(mpy_build: Path) -> None:
    """3,000 random payloads: every answer is data or a CodecError, as on CPython."""
    rnd = random.Random(7)
    requests = []
    for _ in range(1500):
        payload = rnd.randbytes(rnd.randint(0, 30)).hex()
        requests.append({"op": "decode_uplink", "fPort": rnd.choice((1, 1, 2)), "bytes": payload})
        requests.append({"op": "decode_downlink", "fPort": rnd.randint(19, 26), "bytes": payload[:10]})
    answers = runner.answer_all(mpy_build, requests, heapsize="64k")
    assert len(answers) == len(requests)
    for request, answer in zip(requests, answers, strict=True):
        assert "crash" not in answer, (request, answer)
        assert same(answer, codec_harness.run(request)), (request, answer)


def test_large_counters_survive_micropython(mpy_build: Path) -> None:
    """Counters above 2**30 are long ints on a 32-bit board: they must still round-trip exactly."""
    values = [2**30 - 1, 2**30, 2**31 - 1, 2**31, 2**32 - 1]
    status = {
        "type": "status",
        "firmware": [1, 2, 3],
        "board": "sim",
        "reset_cause": "watchdog",
        "uptime_s": values[0],
        "config_crc": values[4],
        "tx_frames": values[1],
        "sensor_errors": values[2],
        "radio_errors": values[3],
    }
    fport, payload = encode_uplink(status)
    answers = runner.answer_all(
        mpy_build,
        [{"op": "encode_uplink", "data": status}, {"op": "decode_uplink", "fPort": fport, "bytes": payload.hex()}],
    )
    assert answers == [{"fPort": 2, "bytes": payload.hex()}, {"data": status}]
    assert decode_uplink(fport, payload) == status
    try:
        encode_uplink({**status, "tx_frames": 2**32})
    except CodecError as err:
        assert "out of range" in str(err)
    else:
        raise AssertionError("2**32 must not encode")
