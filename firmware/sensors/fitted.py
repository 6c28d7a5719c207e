"""The sensors a node has fitted, built from its config and the board's buses, read into one report sample.

One reading per wake-up, in payload units: a sensor that fails gives None
(a list keeps its length), is logged and counted, and the rest of the sample
still goes out (docs/firmware.md, "The cycle", step 5). Drivers are imported
only when the config fits them: every loaded module costs the node heap.
"""

# Readings outside the report's ranges (the field table's LO..HI) are faults (a probe shorted to a
# rail), except the battery, which reads above its HI (4.55 V) while a charger is connected.
# The node encodes reports with that table anyway, so importing it costs no heap.
from payload_codec.report_layout import HI, KEY, LO


class Sensors:
    """The fitted sensors, built from the config and the board's buses."""

    def __init__(self, board, cfg, log):
        s = cfg["sensors"]
        self.log = log
        self.soil = []
        self.soil_temp = None
        self.soil_temp_count = s["soil_temp"]
        self.air = None
        self.air_fitted = bool(s["air"])
        self.traps = s["traps"]
        self.battery = None
        self.battery_fitted = s["battery"]
        self.errors = 0
        if s["soil_moisture"]:
            from .soil_moisture import SoilMoisture

            for i in range(len(s["soil_moisture"])):
                cal = s["soil_moisture"][i]
                self.soil.append(SoilMoisture(board.soil_adc(i), cal["dry"], cal["wet"]))
        if self.soil_temp_count:
            from .ds18b20 import DS18B20

            self.soil_temp = DS18B20(board.onewire(), board.clock.sleep_ms)
        if self.air_fitted:
            from . import sht

            cls = sht.SHT4x if s["air"] == "sht4x" else sht.SHT3x
            self.air = cls(board.i2c(), sleep_ms=board.clock.sleep_ms)
        if self.battery_fitted and board.battery_divider:
            from .battery import Battery

            self.battery = Battery(board.battery_adc(), board.battery_divider, enable=board.battery_enable())

    def _fault(self, what, err):
        self.errors += 1
        self.log.write("sensor %s: %s" % (what, err))

    def _in_range(self, key, value):
        if value is None:
            return None
        i = KEY.index(key)
        lo, hi = LO[i], HI[i]
        if value < lo or value > hi:
            self._fault(key, "reading %s outside %s..%s" % (value, lo, hi))
            return None
        return value

    def read(self, traps):
        """One report sample (without age_s); a failed sensor gives None, the rest still counts."""
        sample = {}
        if self.soil:
            values = []
            for i in range(len(self.soil)):
                try:
                    values.append(self.soil[i].read())
                except OSError as err:
                    self._fault("soil_moisture[%d]" % i, err)
                    values.append(None)
            sample["soil_moisture_pct"] = values
        if self.soil_temp is not None:
            try:
                temps = self.soil_temp.read()
                if self.soil_temp.errors:
                    self._fault("soil_temp", "%d probe(s) failed" % self.soil_temp.errors)
                    self.soil_temp.errors = 0
            except OSError as err:
                self._fault("soil_temp", err)
                temps = []
            # The config says how many probes are fitted: a missing one reads as failed.
            temps = list(temps[: self.soil_temp_count])
            while len(temps) < self.soil_temp_count:
                temps.append(None)
            sample["soil_temp_c"] = [self._in_range("soil_temp_c", t) for t in temps]
        if self.air is not None:
            try:
                t, rh = self.air.read()
            except OSError as err:
                self._fault("air", err)
                t = rh = None
            sample["air_temp_c"] = self._in_range("air_temp_c", t)
            sample["air_rh_pct"] = self._in_range("air_rh_pct", rh)
        if self.traps:
            sample["insect_count"] = list(traps[: self.traps])
        if self.battery_fitted and self.battery is None:
            self._fault("battery", "the board's divider ratio is unknown (boards/<id>.json)")
            sample["battery_v"] = None
        if self.battery is not None:
            try:
                v = self.battery.read()
                i = KEY.index("battery_v")
                sample["battery_v"] = None if v < LO[i] else min(v, HI[i])
                if v < LO[i]:
                    self._fault("battery", "reading %s V below %s" % (v, LO[i]))
            except OSError as err:
                self._fault("battery", err)
                sample["battery_v"] = None
        return sample
