"""The field simulator's farm: weather, soil and insects over days, the same for a given seed.

A richer Field (firmware/sim/field.py) for `akker sim`: rain or irrigation
events wet the soil, which then dries faster when it is warm, deeper probes
slower and later; soil temperature follows the air with damping and lag by
depth; air temperature and humidity follow a daily cycle on weather that
changes day to day; insects are caught as a random process whose rate grows
with temperature inside a flight period; sensors fail now and then. Every
value is a pure function of (seed, node, time), so the simulator's ground
truth is what the firmware's sensors saw. Runs on CPython and MicroPython.
"""

import math

from .field import DAY_MS, PROBE_DRY, PROBE_WET, Field, noise

_HOUR_MS = 3600000
_FLIGHT_PEAK_DAY = 4.0  # the pest's flight period peaks on this day of the run...
_FLIGHT_WIDTH_DAYS = 2.5  # ...and lasts about this long either side


class FarmField(Field):
    def __init__(self, seed, node, battery):
        Field.__init__(self, seed)
        self.node = node
        self.battery = battery
        self.offset_c = 1.5 * (noise(seed, 50, node) - 0.5)  # a node's own microclimate

    def air(self, t_ms):
        day = t_ms // DAY_MS
        frac = (t_ms % DAY_MS) / DAY_MS
        # Weather drifts from day to day: interpolate the daily mean between noise points.
        m0 = 11.0 + 9.0 * noise(self.seed, 11, day)
        m1 = 11.0 + 9.0 * noise(self.seed, 11, day + 1)
        mean = m0 + (m1 - m0) * frac + self.offset_c
        swing = math.cos(2 * math.pi * (frac - 0.625))  # warmest at 15:00
        temp = mean + 6.5 * swing
        rh = min(100.0, max(25.0, 78.0 - 18.0 * swing - 1.5 * (mean - 15.0)))
        return temp, rh

    def soil_temp_c(self, t_ms, probe):
        """Damped and lagged air: 3 h later and a third of the swing per 10 cm of depth."""
        depth = probe + 1
        lag = 3 * _HOUR_MS * depth
        temp, _ = self.air(t_ms - lag)
        daily_mean = 0.0
        for k in range(4):  # the mean of the last day, sampled every 6 h
            daily_mean += self.air(t_ms - lag - k * 6 * _HOUR_MS)[0]
        daily_mean /= 4
        return daily_mean + (temp - daily_mean) / (1.0 + 2.0 * depth)

    def _wetting(self, day):
        """mm of rain or irrigation on a day: about one day in four."""
        n = noise(self.seed, 21, day)
        return 0.0 if n < 0.72 else 8.0 + 30.0 * (n - 0.72) / 0.28

    def soil_moisture_pct(self, t_ms, probe):
        """Each wetting raises the soil; it then dries exponentially, deeper probes slower and later."""
        depth = probe + 1
        t_day = t_ms / DAY_MS - 0.1 * depth  # water reaches deeper probes later
        pct = 16.0 + 4.0 * depth
        day = int(t_day)
        for d in range(day - 12, day + 1):
            mm = self._wetting(d)
            if mm and d + 0.25 <= t_day:  # rain at 06:00
                pct += 0.6 * mm / depth * math.exp(-(t_day - d - 0.25) / (2.5 * depth))
        return min(48.0, pct)

    def _rate_per_hour(self, hour):
        temp, _ = self.air(hour * _HOUR_MS + _HOUR_MS // 2)
        flight = math.exp(-(((hour / 24.0) - _FLIGHT_PEAK_DAY) ** 2) / (2 * _FLIGHT_WIDTH_DAYS**2))
        return 1.2 * flight * max(0.0, temp - 8.0) / 10.0

    def catches(self, t0_ms, t1_ms, trap):
        """Whole catches at fixed times: a Poisson-like count per hour from the rate, spread in the hour."""
        total = 0
        hour = t0_ms // _HOUR_MS
        while hour * _HOUR_MS < t1_ms:
            rate = self._rate_per_hour(hour) * (1.0 + 0.3 * trap)
            events = int(rate + noise(self.seed, 30 + 7 * self.node + trap, hour))
            for k in range(events):
                at = hour * _HOUR_MS + (2 * k + 1) * (_HOUR_MS // 2) // events
                if t0_ms <= at < t1_ms:
                    total += 1
            hour += 1
        return total

    def battery_v(self, t_ms):
        return self.battery.voltage()

    def fault(self, t_ms, sensor):
        """True while a sensor is faulty: a few hours now and then (a wet connector, a loose probe)."""
        return noise(self.seed, 40 + 5 * self.node + sensor, t_ms // (6 * _HOUR_MS)) < 0.02

    def soil_raw(self, t_ms, probe):
        pct = self.soil_moisture_pct(t_ms, probe)
        return int(PROBE_DRY - pct / 100 * (PROBE_DRY - PROBE_WET))
