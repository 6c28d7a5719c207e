"""payload_codec/js/decoder.js under node: the vectors, and the same answers as Python on generated input."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payload_codec import encode_downlink, encode_uplink
from tests import strategies as ms
from tests.micropython import codec_harness
from tests.vectors_check import failures, vector_files

JS_DIR = Path(__file__).parents[1] / "js"
DECODER = Path(__file__).parents[2] / "payload_codec" / "js" / "decoder.js"
JS_OPS = {"decode_uplink", "decode_downlink", "encode_downlink"}


def js_answer_all(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send harness requests to one node process running tests/js/harness.js; return its answers in order."""
    stdin = "".join(json.dumps(r) + "\n" for r in requests)
    result = subprocess.run(
        ["node", str(JS_DIR / "harness.js")], input=stdin, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_is_ecmascript_5_1_and_small() -> None:
    """The Things Stack runs formatters as ECMAScript 5.1 with a size limit of about 40 KB."""
    acorn = JS_DIR / "node_modules" / "acorn" / "bin" / "acorn"
    result = subprocess.run(["node", str(acorn), "--ecma5", "--silent", str(DECODER)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert DECODER.stat().st_size < 40_000


@pytest.mark.parametrize("path", vector_files(), ids=lambda p: p.name)
def test_vectors(path: Path) -> None:
    assert failures(path, js_answer_all, ops=JS_OPS) == []


def test_decodes_what_python_encodes_exactly_as_python_does() -> None:
    """3,000 hypothesis-generated messages: JavaScript and Python decode the same bytes to the same data.

    Hypothesis draws the messages one by one (drawing lists of hundreds is
    slow); they then go to a single node process, as one batch.
    """
    requests: list[dict[str, Any]] = []

    @settings(max_examples=3000, deadline=None, database=None)
    @given(st.one_of(ms.reports(), ms.reports(), ms.statuses(), ms.commands()))
    def collect(m: dict[str, Any]) -> None:
        if "cmd" in m:
            fport, payload = encode_downlink(m)
            requests.append({"op": "decode_downlink", "fPort": fport, "bytes": payload.hex()})
            requests.append({"op": "encode_downlink", "data": m})
        else:
            fport, payload = encode_uplink(m)
            requests.append({"op": "decode_uplink", "fPort": fport, "bytes": payload.hex()})

    collect()
    assert len(requests) >= 3000
    answers = js_answer_all(requests)
    assert len(answers) == len(requests)
    for request, answer in zip(requests, answers, strict=True):
        assert answer == codec_harness.run(request), request


def test_random_bytes_get_the_same_verdict_as_python() -> None:
    """Arbitrary bytes on every FPort: never a crash, and accepted or refused exactly as in Python."""
    rnd = random.Random(11)
    requests = []
    for _ in range(3000):
        payload = rnd.randbytes(rnd.randint(0, 40)).hex()
        requests.append({"op": "decode_uplink", "fPort": rnd.choice((1, 1, 1, 2, 2, 0, 3, 255)), "bytes": payload})
        requests.append({"op": "decode_downlink", "fPort": rnd.randint(19, 26), "bytes": payload[:12]})
    answers = js_answer_all(requests)
    for request, answer in zip(requests, answers, strict=True):
        python = codec_harness.run(request)
        assert "crash" not in answer, (request, answer)
        assert ("errors" in answer) == ("errors" in python), (request, answer, python)
        if "data" in python:
            assert answer == python, request


def test_ts013_shapes() -> None:
    """What The Things Stack and ChirpStack call, with the shapes TS013 asks for."""
    script = f"""
    var c = require({json.dumps(str(DECODER))});
    var ok = c.decodeUplink({{fPort: 1, bytes: [4,118,117,39,8,45,33,65,128,21,93,128], recvTime: new Date()}});
    var bad = c.decodeUplink({{fPort: 1, bytes: [4]}});
    var enc = c.encodeDownlink({{data: {{cmd: "set_batch", samples: 4}}}});
    var dec = c.decodeDownlink({{fPort: 21, bytes: [4]}});
    var junk = c.decodeUplink({{fPort: 1, bytes: [300, -1, "x"]}});
    console.log(JSON.stringify([ok, bad, enc, dec, junk]));
    """
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    ok, bad, enc, dec, junk = json.loads(result.stdout)
    assert ok["errors"] == [] and ok["warnings"] == []
    assert ok["data"]["samples"][0]["battery_v"] == 3.87
    assert "data" not in bad and "truncated" in bad["errors"][0]
    assert enc == {"bytes": [4], "fPort": 21, "warnings": [], "errors": []}
    assert dec["data"] == {"cmd": "set_batch", "samples": 4}
    assert "data" not in junk and junk["errors"]
