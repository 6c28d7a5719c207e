"""Every file of the shared packages compiles for MicroPython."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.micropython import runner


@pytest.mark.parametrize("source", runner.shared_sources(), ids=lambda p: str(p.relative_to(runner.REPO)))
def test_compiles_with_mpy_cross(source: Path, tmp_path: Path) -> None:
    result = runner.mpy_cross(source, tmp_path / "out.mpy")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"  # .mpy magic
