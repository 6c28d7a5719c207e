"""Capacitive soil-moisture probe on an ADC input, with a two-point calibration.

The analog "v1.2"-type probes read high in dry air and low in water; each
probe has its own raw readings at those two points (`akker calibrate`).
Between them the reading is taken as linear; beyond them it saturates at 0 %
or 100 %, which is what the probe physically does, not a fault.
"""

_ADC_MIN = 0
_ADC_MAX = 65535  # read_u16() full scale


class SoilMoisture:
    def __init__(self, adc, dry, wet, samples=8):
        if dry == wet:
            raise ValueError("soil probe calibration has dry == wet: calibrate it again")
        self.adc = adc
        self.dry = dry
        self.wet = wet
        self.samples = samples

    def raw(self):
        """The averaged raw reading; OSError when the input sits on a rail (probe open or shorted)."""
        total = 0
        stuck = True
        for _ in range(self.samples):
            v = self.adc.read_u16()
            if v != _ADC_MIN and v != _ADC_MAX:
                stuck = False
            total += v
        if stuck:
            raise OSError(5, "soil probe input reads %d on every sample: probe unplugged or shorted" % v)
        return total // self.samples

    def read(self):
        """Volumetric water content, % (0.0..100.0)."""
        pct = (self.dry - self.raw()) * 100 / (self.dry - self.wet)
        if pct < 0.0:
            return 0.0
        if pct > 100.0:
            return 100.0
        return pct
