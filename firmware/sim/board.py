"""The `sim` board: boards/sim.json built from simulated parts on virtual time.

It offers exactly what firmware/board.py's Board offers, so firmware/app.py
and the node cycle run on it unchanged. Deep sleep advances the clock and
returns, RTC memory lives in this object (lost when the process dies, like a
power cut), flash is a directory. The radio hears what is written to
ROOT/air.jsonl (firmware/sim/modem.py); the gateway role runs this board on
a real-time clock instead (firmware/sim/gateway_run.py).

The sensors on the buses exist while the sensor rail is on, as on a board,
where Vext powers them and they start afresh at every power-up: i2c() and
onewire() build them then, with the field's values, and power_sensors(False)
drops them and (on MicroPython) their modules. Their code is the simulation
of parts outside the chip, which a board's heap never holds. Faults are
switches on the board (sht_nack, absent_probes, corrupt_probes) or on the
modem (fail_next, hang).
"""

from micropython import const

from ..unload import unload
from .adc import SimADC
from .clock import SimClock
from .field import Field, noise
from .modem import SimModem

# const(): inlined, so no global name (nor its qstr) is left at run time; see sim/modem.py for why it matters.
_BATTERY_DIVIDER = const(2.0)  # boards/sim.json
_SOIL_PROBES = const(4)
_SOIL_TEMP_PROBES = const(4)


class SimWatchdog:
    """Counts the times the firmware went longer than timeout_ms between feeds."""

    def __init__(self, board, timeout_ms):
        self.board = board
        self.timeout_ms = timeout_ms
        self.last = board.clock.ticks_ms()

    def feed(self):
        now = self.board.clock.ticks_ms()
        if self.timeout_ms and now - self.last > self.timeout_ms:  # 0: not armed
            self.board.watchdog_overruns += 1
        self.last = now


class SimBoard:
    id = "sim"

    def __init__(self, root, clock=None, field=None, echo=None):
        self.root = root
        self.clock = clock or SimClock()
        self.field = field or Field()
        self.echo = echo
        self.battery_divider = _BATTERY_DIVIDER
        self.rtc = b""
        self.cause = "power_on"
        self.powered = False  # Vext: the sensors read nothing while it is off
        self.blinks = []
        self.watchdog_overruns = 0
        self.last_sleep_ms = 0
        self._modem = SimModem(self.clock, air=root + "/air.jsonl")
        self._last_trap_ms = self.clock.time_ms()
        self._adcs = [SimADC(source=self._soil_source(i)) for i in range(_SOIL_PROBES)]
        self._battery = SimADC(source=self._battery_source)
        self._i2c = None  # the buses and their sensors while the rail is on
        self._ow = None
        self.sht_nack = False  # the SHT41 does not answer its address
        self.absent_probes = ()  # DS18B20 indices gone from the bus (a cut cable)
        self.corrupt_probes = ()  # DS18B20 indices whose scratchpad CRC fails

    # ------------------------------------------------------------ what the field shows

    def _soil_source(self, i):
        def raw():
            return self.field.soil_raw(self.clock.time_ms(), i) if self.powered else 0

        return raw

    def _battery_source(self):
        return int(self.field.battery_v(self.clock.time_ms()) / _BATTERY_DIVIDER * 1000000)

    # ------------------------------------------------------------ Board interface

    def reset_cause(self):
        return self.cause

    def rtc_read(self):
        return self.rtc

    def rtc_write(self, blob):
        self.rtc = blob if type(blob) is str else bytes(blob)

    def watchdog(self, timeout_ms):
        return SimWatchdog(self, timeout_ms)

    def maintenance(self):
        """A file named `maintenance` is the button held at boot; one named `survey`, held on for 5 s."""
        return self._file("maintenance") or self._file("survey")

    def survey_requested(self):
        return self._file("survey")

    def _file(self, name):
        try:
            open(self.root + "/" + name).close()
            return True
        except OSError:
            return False

    def blink(self, pattern):
        self.blinks.append(pattern)

    def deepsleep(self, ms):
        self.powered = False
        self._modem.sleep()
        self.last_sleep_ms = ms
        self.clock.sleep_ms(ms)
        self.cause = "deep_sleep"

    def random(self, n):
        """A number in 0..n-1, the same for a seed and a moment: runs stay reproducible."""
        return int(noise(self.field.seed, 7, self.clock.time_ms()) * n)

    def reset(self):
        """machine.reset(): RTC memory survives a soft reset on ESP32, but the firmware starts from flash."""
        self.rtc = b""
        self.cause = "soft"

    def power_sensors(self, on):
        self.powered = on
        if not on:
            self._i2c = self._ow = None
            unload("firmware.sim.i2c")
            unload("firmware.sim.onewire")

    def soil_adc(self, i):
        return self._adcs[i]

    def battery_adc(self):
        return self._battery

    def battery_enable(self):
        return None

    def i2c(self):
        """The I2C bus with the SHT41 on it, reading the field's air now (it latches, as the sensor does)."""
        if self._i2c is None:
            from .i2c import SimI2C, SimSHT4x

            sht = SimSHT4x(*self.field.air(self.clock.time_ms()))
            sht.nack = self.sht_nack
            self._i2c = SimI2C({0x44: sht})
        return self._i2c

    def onewire(self):
        """The 1-Wire bus with its DS18B20 probes, at the field's soil temperatures now."""
        if self._ow is None:
            from .onewire import SimDS18B20, SimOneWire, make_rom

            t = self.clock.time_ms()
            probes = []
            for i in range(_SOIL_TEMP_PROBES):
                probe = SimDS18B20(make_rom(i + 1), self.field.soil_temp_c(t, i))
                probe.absent = i in self.absent_probes
                probe.corrupt = i in self.corrupt_probes
                probes.append(probe)
            self._ow = SimOneWire(probes)
        return self._ow

    def woke_by_trap(self):
        """The simulated traps count during sleep (as a ULP counter would): they never wake the chip."""
        return False

    def trap_pulses(self):
        """Catches since the last call, as a pulse counter that runs during sleep would see them."""
        now = self.clock.time_ms()
        pulses = [self.field.catches(self._last_trap_ms, now, trap) for trap in range(2)]
        self._last_trap_ms = now
        return pulses

    def modem(self):
        return self._modem

    def power_loss(self):
        """What a flat battery does: RTC memory and the radio's state are gone."""
        self.rtc = b""
        self.cause = "power_on"
