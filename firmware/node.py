"""The node cycle: read the sensors, queue the sample, send when a report or status is due.

One call of Node.cycle() is one wake-up. It never raises for a sensor or a
radio fault (those are counted, logged and the report goes out without that
reading, or waits for the next cycle); firmware/app.py catches anything else.
docs/firmware.md, "The cycle".
"""

from binascii import crc32

from payload_codec import CodecError, encode_uplink
from payload_codec.lorawan import build_uplink

from .dutycycle import MAX_PAYLOAD
from .unload import unload
from .version import VERSION

# Readings outside the report's ranges are faults (a probe shorted to a rail), except the
# battery, which reads above 4.55 V while a charger is connected.
_RANGES = {"soil_temp_c": (-40.0, 85.0), "air_temp_c": (-40.0, 85.0), "air_rh_pct": (0.0, 100.0)}
_BATTERY_MAX_V = 4.55


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
            from .sensors.soil_moisture import SoilMoisture

            for i in range(len(s["soil_moisture"])):
                cal = s["soil_moisture"][i]
                self.soil.append(SoilMoisture(board.soil_adc(i), cal["dry"], cal["wet"]))
        if self.soil_temp_count:
            from .sensors.ds18b20 import DS18B20

            self.soil_temp = DS18B20(board.onewire(), board.clock.sleep_ms)
        if self.air_fitted:
            from .sensors import sht

            cls = sht.SHT4x if s["air"] == "sht4x" else sht.SHT3x
            self.air = cls(board.i2c(), sleep_ms=board.clock.sleep_ms)
        if self.battery_fitted and board.battery_divider:
            from .sensors.battery import Battery

            self.battery = Battery(board.battery_adc(), board.battery_divider, enable=board.battery_enable())

    def _fault(self, what, err):
        self.errors += 1
        self.log.write("sensor %s: %s" % (what, err))

    def _in_range(self, key, value):
        if value is None:
            return None
        lo, hi = _RANGES[key]
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
                sample["battery_v"] = None if v < 2.0 else min(v, _BATTERY_MAX_V)
                if v < 2.0:
                    self._fault("battery", "reading %s V below 2.0" % v)
            except OSError as err:
                self._fault("battery", err)
                sample["battery_v"] = None
        return sample


class Node:
    def __init__(self, board, cfg, state, log, radio, wdt, config_crc=0):
        self.board = board
        self.cfg = cfg
        self.state = state
        self.log = log
        self.radio = radio
        self.wdt = wdt
        self.config_crc = config_crc

    def _send(self, fport, payload, what):
        """Frame and send one uplink; True when it went out. Counters are persisted first."""
        st = self.state
        cfg = self.cfg
        if not self.radio.ready():
            # Checked before a counter is taken: a frame that cannot go out must not use one.
            self.log.write("radio: %s waits: every band is in its duty-cycle off time" % what)
            return False
        st.before_send()
        fcnt = st.take_fcnt()
        phy = build_uplink(cfg["dev_addr"], fcnt, fport, payload, cfg["nwk_skey"], cfg["app_skey"])
        self.wdt.feed()
        try:
            sent = self.radio.send(phy)
        except OSError as err:
            st.radio_errors += 1
            self.log.write("radio: %s not sent: %s" % (what, err))
            return False
        if sent is None:
            self.log.write("radio: %s waits: every band is in its duty-cycle off time" % what)
            return False
        st.tx_frames += 1
        return True

    def _status(self, reset_cause, now_ms):
        st = self.state
        message = {
            "type": "status",
            "firmware": list(VERSION),
            "board": self.board.id,
            "reset_cause": reset_cause,
            "uptime_s": min(4294967295, max(0, now_ms - st.power_on_ms) // 1000),
            "config_crc": self.config_crc,
            "tx_frames": st.tx_frames & 0xFFFFFFFF,
            "sensor_errors": st.sensor_errors & 0xFFFFFFFF,
            "radio_errors": st.radio_errors & 0xFFFFFFFF,
        }
        fport, payload = encode_uplink(message)
        # A status goes out once a day: its encoder need not hold heap until the next one.
        unload("payload_codec.status")
        if self._send(fport, payload, "status"):
            st.last_status_ms = now_ms

    def _report(self, now_ms):
        st = self.state
        limit = MAX_PAYLOAD[self.cfg["radio"]["sf"]]
        samples = st.samples(now_ms)
        while samples:
            try:
                fport, payload = encode_uplink({"type": "report", "samples": samples})
            except CodecError as err:
                # A reading the codec refuses must not block every later report.
                self.log.write("report: %s; dropped the oldest sample" % err)
                samples.pop(0)
                st.pending.pop(0)
                continue
            if len(payload) <= limit:
                break
            samples.pop(0)  # too long for this data rate: send the newest that fit
        if not samples:
            return
        if self._send(fport, payload, "report"):
            st.pending = []

    def count_traps(self):
        pulses = self.board.trap_pulses()
        for i in range(len(pulses)):
            self.state.traps[i] = (self.state.traps[i] + pulses[i]) & 0xFFFF

    def trap_wake(self):
        """A wake-up by a trap pin between slots: count the catch, sleep on; return the sleep in ms.

        On ESP32 every catch wakes the chip: running the whole cycle for each
        would cost a sensor read (and maybe a frame) per insect.
        """
        self.count_traps()
        return max(1000, self.state.next_slot_ms - self.board.clock.time_ms())

    def cycle(self, reset_cause):
        """One wake-up; return how long to sleep, in ms."""
        board = self.board
        st = self.state
        cfg = self.cfg
        clock = board.clock
        now = clock.time_ms()
        self.wdt.feed()
        self.count_traps()
        board.power_sensors(True)
        try:
            sensors = Sensors(board, cfg, self.log)
            sample = sensors.read(st.traps)
            st.sensor_errors += sensors.errors
        finally:
            board.power_sensors(False)
        self.wdt.feed()
        st.add_sample(now, sample)
        battery = sample.get("battery_v")
        if battery is not None and battery < cfg["low_battery_v"]:
            if not st.low_battery:
                self.log.write("battery %s V below %s V: transmissions stop" % (battery, cfg["low_battery_v"]))
            st.low_battery = True
        else:
            if st.low_battery:
                self.log.write("battery recovered: transmissions resume")
                st.low_battery = False
                st.last_status_ms = -1  # say so at once, with a status
            if st.last_status_ms < 0 or now - st.last_status_ms >= cfg["status_interval_s"] * 1000:
                self._status(reset_cause, now)
            if len(st.pending) >= cfg["samples_per_uplink"]:
                self._report(now)
        # Keep to the grid of slots; start a new grid when behind it or when the clock went back.
        interval = cfg["interval_s"] * 1000
        nxt = st.next_slot_ms + interval
        if nxt <= now or nxt - now > interval:
            nxt = now + interval
        st.next_slot_ms = nxt
        return max(1000, nxt - clock.time_ms())


def config_crc(path):
    """CRC-32 of config.json as deployed, reported in status messages."""
    try:
        with open(path, "rb") as f:
            return crc32(f.read()) & 0xFFFFFFFF
    except OSError:
        return 0
