"""Turns the examples in tests/vectors/ into harness requests and checks the answers.

The Python, MicroPython and JavaScript tests all go through here, so the three
implementations are held to exactly the same examples and the same rules
(docs/payload-format.md, section 6).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

VECTOR_DIR = Path(__file__).parent / "vectors"
FLOAT_TOLERANCE = 1e-6

Request = dict[str, Any]
Expected = dict[str, Any]


def vector_files() -> list[Path]:
    return sorted(VECTOR_DIR.glob("*.json"))


def examples(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())


def checks(example: dict[str, Any]) -> list[tuple[Request, Expected]]:
    """The (request, expected answer) pairs one example stands for."""
    direction = example["direction"]
    given, output = example["input"], example["output"]
    pairs: list[tuple[Request, Expected]] = []
    if "bytes" in given:
        pairs.append(({"op": f"decode_{direction}", "fPort": given["fPort"], "bytes": given["bytes"]}, output))
        if "data" in output and example.get("canonical", True):
            again = {"fPort": given["fPort"], "bytes": given["bytes"]}
            pairs.append(({"op": f"encode_{direction}", "data": output["data"]}, again))
    else:
        pairs.append(({"op": f"encode_{direction}", "data": given["data"]}, output))
    return pairs


def same(a: Any, b: Any) -> bool:
    """Equality with a tolerance for floats (MicroPython parses them slightly differently)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=0, abs_tol=FLOAT_TOLERANCE)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def mismatch(expected: Expected, answer: dict[str, Any]) -> str | None:
    """None when the answer meets the expectation, else what is wrong."""
    if "crash" in answer:
        return f"crashed: {answer['crash']}"
    if "errors" in expected:
        if "errors" not in answer:
            return f"expected an error containing {expected['errors']}, got {answer}"
        message = " ".join(answer["errors"])
        missing = [p for p in expected["errors"] if p not in message]
        return f"error {message!r} lacks {missing}" if missing else None
    if "errors" in answer:
        return f"unexpected error {answer['errors']}"
    if "data" in expected:
        return None if same(expected["data"], answer.get("data")) else f"decoded {answer.get('data')}"
    if (answer.get("fPort"), answer.get("bytes")) != (expected["fPort"], expected["bytes"]):
        return f"encoded fPort {answer.get('fPort')} bytes {answer.get('bytes')}"
    return None


def failures(path: Path, answer_all: Any, ops: set[str] | None = None) -> list[str]:
    """Run every check of one vector file through answer_all(requests) -> answers; list what failed."""
    pairs = [
        (ex["description"], req, exp)
        for ex in examples(path)
        for req, exp in checks(ex)
        if ops is None or req["op"] in ops
    ]
    answers = answer_all([req for _d, req, _e in pairs])
    assert len(answers) == len(pairs), f"{len(pairs)} requests, {len(answers)} answers"
    out = []
    for (description, request, expected), answer in zip(pairs, answers, strict=True):
        problem = mismatch(expected, answer)
        if problem:
            out.append(f"{path.name}: {description}: {request['op']}: {problem}")
    return out
