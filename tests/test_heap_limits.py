"""The issues' heap limits on MicroPython, checked on every run (make bench prints the figures).

Allocation counts are deterministic for a given interpreter build, so these
are exact checks, not timings.
"""

from __future__ import annotations

from bench import frames, heap
from bench.messages import messages


def test_encode_of_the_standard_report_allocates_at_most_512_bytes() -> None:
    with heap.build() as root:
        answer = heap.measure(root, {"standard report": messages()["standard report"]}, "32k")
    assert 0 < answer["alloc"]["standard report"] <= 512


def test_build_uplink_allocates_at_most_1_kb() -> None:
    answer = frames.micropython_build()
    assert 0 < answer["alloc"] <= 1024
