"""Capacitive soil-moisture probe on an ADC input, with a two-point calibration.

No maker's datasheet exists for the unbranded "Capacitive Soil Moisture Sensor
v1.2" (a TLC555 oscillator, an RC filter and a 3.3 V regulator); the ADC side
follows MicroPython's machine.ADC (read_u16: 0..65535 full scale).

The probe reads high in dry air and low in water; each probe has its own raw
readings at those two points (`akker calibrate` records them with raw()).
Between them the reading is taken as linear. Beyond them it saturates at 0 %
or 100 %: drier than air or wetter than water is what a probe in dusty dry
soil or in saturated, salty soil physically shows, not a fault.
"""

from micropython import const

# machine.ADC.read_u16(): a reading pinned to either end of the scale on every
# sample means the input is open or shorted, not a soil.
_U16_MIN = const(0)
_U16_MAX = const(65535)

_EIO = const(5)


class SoilMoisture:
    def __init__(self, adc, dry, wet, samples=8):
        if dry == wet:
            # Fails here rather than as a division by zero in the field.
            raise ValueError("soil probe calibration has dry == wet: calibrate it again")
        if samples < 1:
            raise ValueError("soil probe needs at least one sample per reading")
        self.adc = adc  # read_u16()
        self.dry = dry  # raw reading in dry air: 0 %
        self.wet = wet  # raw reading in water: 100 %
        self.samples = samples

    def _total(self):
        """Sum of `samples` readings; OSError when every one sits on a rail."""
        total = 0
        stuck = True
        v = 0
        for _ in range(self.samples):
            v = self.adc.read_u16()
            if v != _U16_MIN and v != _U16_MAX:
                stuck = False
            total += v
        if stuck:
            raise OSError(_EIO, "soil probe input reads %d on every sample: probe unplugged or shorted" % v)
        return total

    def raw(self):
        """The averaged raw reading (int), as the calibration stores it."""
        n = self.samples
        return (self._total() + n // 2) // n

    def read(self):
        """Volumetric water content, % (0.0..100.0)."""
        # The mean as a float: rounding it to a count first would cost resolution on narrow calibrations.
        pct = (self.dry - self._total() / self.samples) * 100 / (self.dry - self.wet)
        if pct < 0.0:
            return 0.0
        if pct > 100.0:
            return 100.0
        return pct
