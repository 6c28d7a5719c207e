"""Build shared code with mpy-cross and run it under the real MicroPython interpreter.

Heap-capped runs use precompiled .mpy files, as a deploy ships them: compiling
source on the device would need more heap than the code itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.sim.micropython import run
from gateway.workshop.mpy_build import build, mpy_cross, shared_sources

REPO = Path(__file__).resolve().parents[2]
__all__ = ["REPO", "answer_all", "answer_by_op", "build", "mpy_cross", "run", "shared_sources"]


def answer_all(path: Path, requests: list[dict[str, Any]], heapsize: str = "32k") -> list[dict[str, Any]]:
    """Send harness requests to one MicroPython process; return its answers in order."""
    stdin = "".join(json.dumps(r) + "\n" for r in requests)
    result = run(path, ["-m", "codec_harness"], stdin, heapsize)
    if result.returncode:
        raise AssertionError(f"micropython exited {result.returncode}: {result.stderr[-2000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def answer_by_op(path: Path, requests: list[dict[str, Any]], heapsize: str = "32k") -> list[dict[str, Any]]:
    """As answer_all, but one process per kind of operation, as on the devices.

    A node loads the report encoder, the bridge the decoder; no device holds
    both, so a 32 KB heap is asked to hold one side at a time.
    """
    answers: list[dict[str, Any]] = [{}] * len(requests)
    for op in sorted({r["op"] for r in requests}):
        index = [i for i, r in enumerate(requests) if r["op"] == op]
        for i, answer in zip(index, answer_all(path, [requests[i] for i in index], heapsize), strict=True):
            answers[i] = answer
    return answers
