from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.micropython import runner


@pytest.fixture(scope="session")
def mpy_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """payload_codec/ and firmware/ as .mpy files, with the codec harness, ready for MICROPYPATH."""
    harness = Path(__file__).parent / "micropython" / "codec_harness.py"
    return runner.build(tmp_path_factory.mktemp("mpy"), extra=(harness,))


@pytest.fixture(scope="session")
def micropython32() -> Path:
    """MicroPython 1.28.0 built as a 32-bit unix port (gateway/sim/micropython32.py): the heap as a board sees it.

    Built once into the user's cache (about 70 s of two cores, from the mirror's archive); the pytest
    workers that ask at the same time wait for the one that builds it.
    """
    import platform

    from gateway.sim import micropython32

    if platform.machine() != "x86_64":
        pytest.skip("the 32-bit MicroPython is built with gcc -m32 (gcc-multilib): x86-64 hosts only")
    return micropython32.ensure()


def _descendants() -> dict[int, str]:
    """This process's live descendants (zombies excluded: they have ended), pid: command line. Linux's /proc."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name in parentheses may itself hold spaces and parentheses: split after the last one.
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
        if state != "Z":
            parent[int(stat.parent.name)] = int(ppid)
    found: dict[int, str] = {}
    frontier = [os.getpid()]
    while frontier:
        pid = frontier.pop()
        for child in (c for c, p in parent.items() if p == pid):
            try:
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            frontier.append(child)
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_running() -> Iterator[None]:
    """Fail the run if a test or fixture left a process running (tests/processes.py: running() reaps).

    Set up before every other fixture, so torn down after them all: whatever is still a child
    of this process (one xdist worker, or pytest itself) then was never stopped.
    """
    if not Path("/proc/self/stat").exists():
        yield
        return
    before = set(_descendants())
    yield
    left = {pid: cmd for pid, cmd in _descendants().items() if pid not in before}
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    assert not left, "processes left running by the tests (killed now): " + "; ".join(
        f"{pid} {cmd}" for pid, cmd in sorted(left.items())
    )


@pytest.fixture(scope="session")
def farm_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test farm's store (tests/farm/farm.py), built once per worker; nothing may change it."""
    from tests.farm import farm

    return farm.build(tmp_path_factory.mktemp("farm") / "bridge.db")
