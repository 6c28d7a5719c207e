"""Build shared code with mpy-cross and run it under the real MicroPython interpreter.

Heap-capped runs use precompiled .mpy files, as a deploy ships them: compiling
source on the device would need more heap than the code itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the .venv that runs pytest has micropython and mpy-cross
MICROPYTHON = str(BIN / "micropython")
MPY_CROSS = str(BIN / "mpy-cross")
SHARED_PACKAGES = ("payload_codec", "firmware")


def shared_sources() -> list[Path]:
    return sorted(p for pkg in SHARED_PACKAGES for p in (REPO / pkg).rglob("*.py"))


def mpy_cross(source: Path, target: Path) -> subprocess.CompletedProcess[str]:
    """Compile source to target, naming it by its path in the repository, as a deploy would.

    The name is kept in the .mpy and loaded with it: an absolute path would make
    the heap a module needs depend on where the checkout lives.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    name = source.relative_to(REPO) if source.is_relative_to(REPO) else source.name
    return subprocess.run(
        [MPY_CROSS, "-s", str(name), "-o", str(target), str(source)], capture_output=True, text=True, timeout=60
    )


def build(dest: Path, extra: tuple[Path, ...] = ()) -> Path:
    """Compile the shared packages (and extra top-level scripts) into dest; return dest."""
    for source in shared_sources():
        result = mpy_cross(source, dest / source.relative_to(REPO).with_suffix(".mpy"))
        if result.returncode:
            raise RuntimeError(f"mpy-cross {source}: {result.stderr.strip()}")
    for source in extra:
        result = mpy_cross(source, dest / (source.stem + ".mpy"))
        if result.returncode:
            raise RuntimeError(f"mpy-cross {source}: {result.stderr.strip()}")
    return dest


def run(
    path: Path, args: list[str], stdin: str = "", heapsize: str = "32k", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run micropython in path, with MICROPYPATH=path and a private HOME (the REPL writes its history there).

    The working directory matters: MicroPython searches it first, and from the
    repository root it would compile the .py sources instead of importing the
    .mpy build, which needs far more heap.
    """
    env = {**os.environ, "MICROPYPATH": str(path), "HOME": str(path)}
    return subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={heapsize}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=path,
        timeout=timeout,
    )


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
