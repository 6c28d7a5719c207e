"""The node cycle: read the sensors, queue the sample, send when a report or status is due.

One call of Node.cycle() is one wake-up. It never raises for a sensor or a
radio fault (those are counted, logged and the report goes out without that
reading, or waits for the next cycle); firmware/app.py catches anything else.
docs/firmware.md, "The cycle".
"""

from binascii import crc32

from micropython import const
from payload_codec import CodecError, encode_uplink

from .dutycycle import MAX_PAYLOAD
from .lorawan.session import from_config, sf_of
from .unload import unload
from .version import VERSION

# Loaded for the sensor readings and the report, then unloaded: the radio's part of the wake-up
# (the uplink, its windows, a downlink's commands) needs the heap they held.
_SENSOR_MODULES = ("fitted", "soil_moisture", "ds18b20", "sht", "battery")
_FOLLOW_UPS = 2
# An OTAA node that heard no downlink for this many uplinks joins again (TR007 4.9: the ADR back-off
# has by then tried every data rate down to DR0 with the default channels).
_REJOIN_AFTER = const(64 + 32 * 8)  # uplinks a wake-up adds when a downlink says the network has more (FPending)


class Node:
    def __init__(self, board, cfg, state, log, radio, wdt, config_crc=0):
        self.board = board
        self.cfg = cfg
        self.state = state
        self.log = log
        self._radio = radio  # a Radio, or what makes one at the first frame (firmware/app.py)
        self.wdt = wdt
        self.config_crc = config_crc
        self.reboot = False  # a reboot command: app.py resets the board once the state is kept
        self.uplink_end_ms = 0  # when the last uplink ended, on the node's clock (DeviceTimeAns)
        self.link_check = None  # (margin dB, gateways) from the last LinkCheckAns
        self.fpending = False
        self._session()
        if state.settings:
            _overlay(cfg, state.settings, config_crc)

    @property
    def radio(self):
        if callable(self._radio):
            self._radio = self._radio()
        return self._radio

    def _session(self):
        """Set state.lw: an ABP node's from config.json; an OTAA node's stays None until it joins."""
        st = self.state
        cfg = self.cfg
        if cfg["activation"] == "otaa":
            ident = crc32(cfg["dev_eui"] + cfg["join_eui"] + cfg["app_key"]) & 0x3FFFFFFF
        else:
            ident = self.config_crc & 0x3FFFFFFF
        if st.join_ident != ident or (st.lw is None and cfg["activation"] == "abp"):
            # Another identity or config: an OTAA node joins again (its DevNonce counter goes on).
            st.lw = from_config(cfg, st.lw) if cfg["activation"] == "abp" else None
            st.join_nonce = -1
            st.join_ident = ident

    def _send(self, fport, payload, what):
        """Frame and send one uplink, with its receive windows; True when it went out."""
        # Loaded at the first frame, after the encoders have been and gone: on a board's heap the
        # frame-building and AES code need not sit beside them.
        from .lorawan.uplink import send

        return send(self, fport, payload, what)

    def _status(self, reset_cause, now_ms):
        """The status message as (fport, payload)."""
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
        if st.commands:
            # Confirms the farm office's commands (firmware/lorawan/commands.py).
            from payload_codec.commands import decode

            last = bytes.fromhex(st.last_command)
            message["commands_applied"] = st.commands & 0xFFFFFFFF
            message["last_command"] = decode(last[0], last[1:])
            unload("payload_codec.commands")
        message = encode_uplink(message)
        # A status goes out once a day: its encoder need not hold heap until the next one.
        unload("payload_codec.status")
        unload("payload_codec.commands")
        return message

    def _limit(self):
        """The largest report this uplink can carry: the data rate's, less the MAC answers' room."""
        lw = self.state.lw
        return MAX_PAYLOAD[sf_of(lw.dr)] - lw.fopts_room(self.board.clock.time_ms())

    def _report(self, now_ms):
        """The waiting samples as (fport, payload), the oldest dropped until it fits; None if none can go."""
        st = self.state
        limit = self._limit()
        samples = st.samples(now_ms)
        report = None
        while samples:
            try:
                report = encode_uplink({"type": "report", "samples": samples})
            except CodecError as err:
                # A reading the codec refuses must not block every later report.
                self.log.write("report: %s; dropped the oldest sample" % err)
                samples.pop(0)
                st.pending.pop(0)
                continue
            if len(report[1]) <= limit:
                break
            report = None
            samples.pop(0)  # too long for this data rate: send the newest that fit
        unload("payload_codec.report_encode")
        unload("payload_codec.bits")
        return report

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

    def _uplinks(self, reset_cause, now):
        """A status when due, a report when enough samples wait; an OTAA node joins first."""
        st = self.state
        cfg = self.cfg
        if st.lw is None:
            # A wake-up that joins sends nothing else: its uplinks wait for the next, whose heap
            # the join code does not hold.
            from .lorawan.join import join

            join(self)
            return
        if cfg["survey"]:
            from .lorawan.survey import survey

            survey(self)
            return
        # Both payloads are encoded before either goes out: the encoders load into a heap the
        # radio's part has not yet cut up, and are gone again before it starts.
        status = report = None
        if st.last_status_ms < 0 or now - st.last_status_ms >= cfg["status_interval_s"] * 1000:
            status = self._status(reset_cause, now)
        if len(st.pending) >= cfg["samples_per_uplink"]:
            report = self._report(now)
        if status is not None and self._send(status[0], status[1], "status"):
            st.last_status_ms = now
        if st.inbox:
            # The status's downlink applies at the next wake-up, and its answers must go in the
            # very next uplink: the report waits for that one.
            return
        if report is not None and len(report[1]) > self._limit():
            report = self._report(now)  # the status's downlink lowered the data rate
        if report is not None and self._send(report[0], report[1], "report"):
            st.pending = []
        lw = st.lw
        if lw is not None and cfg["activation"] == "otaa" and lw.adr_ack_cnt >= _REJOIN_AFTER:
            self.log.write("lorawan: no downlink for %d uplinks: joining again" % lw.adr_ack_cnt)
            st.lw = None
            return
        for _ in range(_FOLLOW_UPS):
            # The network has more to send (FPending): an empty uplink opens windows for it, when the
            # duty cycle allows one now; otherwise the next wake-up's uplink does.
            if not self.fpending or st.inbox or not self.radio.ready():
                break
            self.fpending = False
            self._send(None, b"", "follow-up uplink")

    def cycle(self, reset_cause):
        """One wake-up; return how long to sleep, in ms."""
        board = self.board
        st = self.state
        cfg = self.cfg
        clock = board.clock
        now = clock.time_ms()
        self.wdt.feed()
        self.count_traps()
        # A wake-up sends at most a status, a report and the follow-ups, each counted once.
        st.checkpoint(2 + _FOLLOW_UPS)
        # What the last wake-up's downlinks carried applies first: the MAC and command code then loads
        # into an empty heap, and a new calibration is used for this wake-up's reading.
        if st.inbox:
            from .lorawan.inbox import apply_inbox

            apply_inbox(self)
            unload("firmware.lorawan.inbox")
        # The largest module this wake-up will load next, into a heap the sensor drivers and the
        # readings have not yet cut up: the join code, or the report's encoder.
        if st.lw is None:
            import firmware.lorawan.join  # noqa: F401
        elif len(st.pending) + 1 >= cfg["samples_per_uplink"]:
            import payload_codec.report_encode  # noqa: F401
        board.power_sensors(True)
        try:
            from .sensors.fitted import Sensors

            sensors = Sensors(board, cfg, self.log)
            sample = sensors.read(st.traps)
            st.sensor_errors += sensors.errors
        finally:
            board.power_sensors(False)
        sensors = Sensors = None
        for name in _SENSOR_MODULES:
            unload("firmware.sensors." + name)
        self.wdt.feed()
        st.add_sample(now, sample)
        battery = st.battery_v = sample.get("battery_v")
        if battery is not None and battery < cfg["low_battery_v"]:
            if not st.low_battery:
                self.log.write("battery %s V below %s V: transmissions stop" % (battery, cfg["low_battery_v"]))
            st.low_battery = True
        else:
            if st.low_battery:
                self.log.write("battery recovered: transmissions resume")
                st.low_battery = False
                st.last_status_ms = -1  # say so at once, with a status
            self._uplinks(reset_cause, now)
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


def _overlay(cfg, settings, config_crc):
    """Lay the commands' settings over config.json; settings made for another config.json are dropped."""
    if settings.get("crc", config_crc) != config_crc:
        settings.clear()
        return
    for key in ("interval_s", "samples_per_uplink"):
        if key in settings:
            cfg[key] = settings[key]
    probes = cfg["sensors"]["soil_moisture"]
    for probe in settings.get("cal", {}):
        dry, wet = settings["cal"][probe]
        if int(probe) < len(probes):
            probes[int(probe)] = {"dry": dry, "wet": wet}
