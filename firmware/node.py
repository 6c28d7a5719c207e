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
from .sensors.fitted import Sensors
from .unload import unload
from .version import VERSION


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
