"""Insect-trap pulse counter: cumulative catches modulo 65536, kept by the caller across deep sleep.

No datasheet: electronic traps (light barrier, e-trap) give one pulse per
catch. pulse() runs in a pin interrupt or once per wake-on-pin, so it neither
allocates nor uses floats. The counts are cumulative and the receiver takes
differences modulo 65536, so a lost frame loses no catches.
"""

from micropython import const

_COUNT_MASK = const(0xFFFF)  # 16-bit counters on the wire (payload field insect_count)


class TrapCounter:
    def __init__(self, counts):
        self.counts = counts  # list of ints, one per trap; the caller keeps it in RTC memory / state

    def pulse(self, trap):
        """One catch at `trap`. Small-int arithmetic in place: safe in an IRQ handler."""
        counts = self.counts
        counts[trap] = (counts[trap] + 1) & _COUNT_MASK

    def read(self):
        """A copy, so that a pulse arriving while a report is built cannot change it half-way."""
        return list(self.counts)

    def reset(self, trap):
        """Downlink command: start `trap` from 0 (e.g. after emptying it)."""
        self.counts[trap] = 0
