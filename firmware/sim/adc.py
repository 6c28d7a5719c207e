"""A simulated ADC standing in for machine.ADC: fixed values or a source function, counted reads.

Desktop only, not deployed. The soil-moisture probes and the battery divider
of the sim board read through it; firmware/sim/field.py (or a test) gives the
values.
"""


class SimADC:
    """read_u16() and read_uv() from fixed values (settable attributes) or a callable source.

    With a source, read_u16() returns source() as raw counts and read_uv() as
    microvolts: give each SimADC the one its driver uses. Without uv, read_uv()
    scales value_u16 to a 3.3 V reference.
    """

    def __init__(self, value_u16=0, uv=None, source=None):
        self.value_u16 = value_u16
        self.uv = uv
        self.source = source
        self.reads = 0

    def read_u16(self):
        self.reads += 1
        v = self.source() if self.source else self.value_u16
        return max(0, min(65535, int(v)))

    def read_uv(self):
        self.reads += 1
        if self.source:
            return int(self.source())
        if self.uv is not None:
            return self.uv
        return self.value_u16 * 3300000 // 65535
