"""What the simulated node's sensors see: a field over virtual time, the same for a given seed.

Soil dries slowly and jumps after rain, soil temperature lags the air's daily
curve, the battery sags over weeks, and insects arrive mostly at dusk. The
values are smooth functions of time, so a test can ask what a sensor saw at
the moment a sample was taken and compare it with what the bridge decoded.
"""

import math

DAY_MS = 86400000
# The simulated probes' own characteristics (raw ADC in air and in water): a
# config calibrated with these reads the field's moisture back exactly.
PROBE_DRY = 52000
PROBE_WET = 21000


def noise(seed, a, b):
    """A fixed pseudo-random fraction in [0, 1) for (seed, a, b): no state, same on every runtime."""
    x = (seed * 1103515245 + a * 12345 + b * 2654435761) & 0x7FFFFFFF
    x = (x ^ (x >> 13)) * 1103515245 & 0x7FFFFFFF
    return (x & 0xFFFF) / 65536


class Field:
    def __init__(self, seed=1):
        self.seed = seed

    def _day_phase(self, t_ms):
        """0 at midnight, 0.5 at noon."""
        return (t_ms % DAY_MS) / DAY_MS

    def air(self, t_ms):
        """(temperature °C, relative humidity %) of the air above the crop."""
        day = t_ms // DAY_MS
        mean = 12.0 + 6.0 * noise(self.seed, 1, day)
        swing = math.cos(2 * math.pi * (self._day_phase(t_ms) - 0.625))  # warmest at 15:00
        temp = mean + 7.0 * swing
        rh = min(100.0, max(20.0, 75.0 - 20.0 * swing))
        return temp, rh

    def soil_temp_c(self, t_ms, probe):
        """Deeper probes (higher index) swing less and later than the air."""
        depth = 1 + probe
        mean, _ = self.air(t_ms - 3 * 3600000 * depth)
        return mean * (1.0 - 0.15 * depth) + 2.0 * depth * 0.5

    def soil_moisture_pct(self, t_ms, probe):
        """Dries by about 1 % a day after each weekly rain, deeper probes stay wetter."""
        week = t_ms // (7 * DAY_MS)
        since_rain = (t_ms % (7 * DAY_MS)) / DAY_MS
        wet = 30.0 + 10.0 * noise(self.seed, 2, week)
        return max(5.0, wet - 1.1 * since_rain + 3.0 * probe)

    def battery_v(self, t_ms):
        """A Li-ion cell sagging slowly from 4.1 V."""
        return max(3.0, 4.1 - 0.004 * (t_ms / DAY_MS))

    def catches(self, t0_ms, t1_ms, trap):
        """Insects that entered the trap in [t0, t1): whole events at fixed times, mostly at dusk.

        Events, not rates, so that counting over any split of an interval gives the same total.
        """
        total = 0
        hour = t0_ms // 3600000
        while hour * 3600000 < t1_ms:
            rate = 6 if 18 <= hour % 24 <= 21 else 1
            events = int(rate * 2 * noise(self.seed, 3 + trap, hour))
            for k in range(events):
                at = hour * 3600000 + (2 * k + 1) * 1800000 // events
                if t0_ms <= at < t1_ms:
                    total += 1
            hour += 1
        return total

    def soil_raw(self, t_ms, probe):
        """The raw ADC reading of capacitive probe `probe`: high in air, low in water."""
        pct = self.soil_moisture_pct(t_ms, probe)
        return int(PROBE_DRY - pct / 100 * (PROBE_DRY - PROBE_WET))
