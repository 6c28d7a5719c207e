"""Decode throughput on CPython: ours and pycayennelpp timed in the same run, interleaved.

Interleaving the repeats spreads a burst of machine noise over both decoders
instead of handing it to one; the best repeat is the least disturbed one.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable

REPEATS = 3
REPEAT_S = 0.5  # per repeat and decoder: about 1.5 s each in all


def _iterations(fn: Callable[[], object]) -> int:
    """Calls that take about REPEAT_S."""
    number, elapsed = timeit.Timer(fn).autorange()  # grows number until one run takes >= 0.2 s
    return max(1, round(number * REPEAT_S / elapsed))


def _run(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def best_rates(decoders: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Name -> calls per second, best of REPEATS."""
    numbers = {name: _iterations(fn) for name, fn in decoders.items()}
    best = dict.fromkeys(decoders, float("inf"))
    for _ in range(REPEATS):
        for name, fn in decoders.items():
            best[name] = min(best[name], _run(fn, numbers[name]) / numbers[name])
    return {name: 1.0 / seconds for name, seconds in best.items()}
