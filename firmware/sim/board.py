"""The `sim` board: boards/sim.json built from simulated parts on virtual time.

It offers exactly what firmware/board.py's Board offers, so firmware/app.py
and the node cycle run on it unchanged. Deep sleep advances the clock and
returns, RTC memory lives in this object (lost when the process dies, like a
power cut), flash is a directory. Faults are injected through the parts
(modem.fail_next, an I2C device's nack, ...). The radio hears what is written
to ROOT/air.jsonl (firmware/sim/modem.py); the gateway role runs this board on
a real-time clock instead (firmware/sim/gateway_run.py).
"""

from micropython import const

from .adc import SimADC
from .clock import SimClock
from .field import Field, noise
from .i2c import SimI2C, SimSHT4x
from .modem import SimModem
from .onewire import SimDS18B20, SimOneWire, make_rom

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
        if now - self.last > self.timeout_ms:
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
        self._sht = SimSHT4x(0.0, 0.0)
        self._i2c = SimI2C({0x44: self._sht})
        self._probes = [SimDS18B20(make_rom(i + 1), 0.0) for i in range(_SOIL_TEMP_PROBES)]
        self._ow = SimOneWire(self._probes)

    # ------------------------------------------------------------ what the field shows

    def _soil_source(self, i):
        def raw():
            return self.field.soil_raw(self.clock.time_ms(), i) if self.powered else 0

        return raw

    def _battery_source(self):
        return int(self.field.battery_v(self.clock.time_ms()) / _BATTERY_DIVIDER * 1000000)

    def _refresh(self):
        """Give the bus devices the field's values now (they latch them as real sensors do)."""
        t = self.clock.time_ms()
        self._sht.temp_c, self._sht.rh_pct = self.field.air(t)
        for i in range(len(self._probes)):
            self._probes[i].temp_c = self.field.soil_temp_c(t, i)

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
        try:
            open(self.root + "/maintenance").close()
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
        if on:
            self._refresh()

    def soil_adc(self, i):
        return self._adcs[i]

    def battery_adc(self):
        return self._battery

    def battery_enable(self):
        return None

    def i2c(self):
        return self._i2c

    def onewire(self):
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
