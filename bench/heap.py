"""MicroPython heap figures, measured by bench/mpy_alloc.py under the real interpreter.

payload_codec/ is precompiled with mpy-cross, as a deploy ships it: compiling
the sources on the device would cost more heap than the code itself and mix
the compiler's garbage into the figures.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.messages import Message
from gateway.sim.micropython import run
from gateway.workshop import mpy_build


@contextlib.contextmanager
def build(*scripts: str) -> Iterator[Path]:
    """A temporary MICROPYPATH holding the shared packages and the given bench scripts as .mpy files."""
    here = Path(__file__).parent
    with tempfile.TemporaryDirectory(prefix="akker-bench-") as tmp:
        yield mpy_build.build(Path(tmp), extra=tuple(here / s for s in scripts or ("mpy_alloc.py",)))


def run_json(root: Path, module: str, stdin: str = "", heapsize: str = "32k") -> Any:
    """Run a bench script under MicroPython; return the JSON it prints."""
    result = run(root, ["-m", module], stdin, heapsize, timeout=120)
    if result.returncode:
        raise RuntimeError(f"micropython exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)


def measure(root: Path, messages: dict[str, Message], heapsize: str = "32k") -> dict[str, Any]:
    """Run mpy_alloc on messages (the first one warms up and sizes the heap in use); return its answer."""
    answer: dict[str, Any] = run_json(
        root, "mpy_alloc", "".join(json.dumps(pair) + "\n" for pair in messages.items()), heapsize
    )
    return answer
