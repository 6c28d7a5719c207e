"""Insect-trap pulse counter: cumulative catches modulo 65536, kept by the caller across deep sleep.

pulse() runs in an interrupt handler or once per wake-on-pin, so it neither
allocates nor uses floats. The receiver takes differences modulo 65536, so a
lost frame loses no catches.
"""


class TrapCounter:
    def __init__(self, counts):
        self.counts = counts  # list of ints, one per trap; the caller persists it

    def pulse(self, trap):
        self.counts[trap] = (self.counts[trap] + 1) & 0xFFFF

    def read(self):
        return list(self.counts)

    def reset(self, trap):
        self.counts[trap] = 0
