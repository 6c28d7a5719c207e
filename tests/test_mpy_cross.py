"""Every file of the shared packages compiles for MicroPython."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.micropython import runner

_PRIVATE_CONST = re.compile(r"^(_[A-Z0-9_]+) = const\(", re.MULTILINE)


@pytest.mark.parametrize("source", runner.shared_sources(), ids=lambda p: str(p.relative_to(runner.REPO)))
def test_compiles_with_mpy_cross(source: Path, tmp_path: Path) -> None:
    result = runner.mpy_cross(source, tmp_path / "out.mpy")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"  # .mpy magic


@pytest.mark.parametrize(
    "source",
    [p for p in runner.shared_sources() if _PRIVATE_CONST.search(p.read_text())],
    ids=lambda p: str(p.relative_to(runner.REPO)),
)
def test_private_constants_are_folded_away(source: Path, tmp_path: Path) -> None:
    # The node's heap counts on it: an inlined `_NAME = const(...)` leaves no global and no qstr behind.
    # CPython imports the same line from the stand-in micropython.py at the repository root.
    result = runner.mpy_cross(source, tmp_path / "out.mpy")
    assert result.returncode == 0, result.stderr
    compiled = (tmp_path / "out.mpy").read_bytes()
    names = _PRIVATE_CONST.findall(source.read_text())
    # A whole name, not a part of another one (_ROM in SEARCH_ROM): .mpy v6 stores a name as its
    # length shifted left by one, its bytes and a NUL.
    left = [n for n in names if bytes([len(n) << 1]) + n.encode() + b"\0" in compiled]
    assert left == []
