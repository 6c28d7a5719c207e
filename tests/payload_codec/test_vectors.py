"""Every example in tests/vectors/ on CPython and on MicroPython with a 32 KB heap."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.micropython import codec_harness, runner
from tests.vectors_check import failures, vector_files

FILES = vector_files()


def test_the_vector_files_are_there() -> None:
    names = {p.name for p in FILES}
    assert {"report.json", "report-batch.json", "report-errors.json", "status.json", "downlink.json"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_cpython(path: Path) -> None:
    assert failures(path, lambda requests: [codec_harness.run(r) for r in requests]) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_micropython_32k_heap(path: Path, mpy_build: Path) -> None:
    assert failures(path, lambda requests: runner.answer_by_op(mpy_build, requests, heapsize="32k")) == []
