"""The board layer: turns boards/<id>.json into machine objects. The only module that imports machine.

Everything else receives what this builds (buses, pins, the modem, the clock),
which is how the same cycle runs here and on firmware/sim/board.py's SimBoard.
Board facts and sources: docs/boards.md.
"""

import json
import os
import time

import machine

from micropython import const

# machine.reset_cause() values by name; a port lacks some of them.
_CAUSES = (
    ("PWRON_RESET", "power_on"),
    ("DEEPSLEEP_RESET", "deep_sleep"),
    ("WDT_RESET", "watchdog"),
    ("SOFT_RESET", "soft"),
    ("HARD_RESET", "hard"),
    ("BROWNOUT_RESET", "brownout"),
)
# The resets after which a person may be at the board: power on, its RST button (MicroPython on ESP32 reports
# that as a power-on too) and machine.reset() or a crash ("hard"). Never a deep-sleep wake-up: that is the node's
# routine, every few minutes, and must not stay awake for the window; nor a watchdog (a fault, unattended), a
# soft reset (Ctrl-D from a computer at the REPL, as a deploy ends: it can write the flag instead) or a brownout
# (a flat battery; ESP32 ports report one as a power-on, and then the window costs 3 s once).
_WINDOW_AFTER = ("power_on", "hard")
_WINDOW_MS = const(3000)  # the maintenance window after a reset: LED lit, a press of the button asks for maintenance
_POLL_MS = const(20)  # the button read every 20 ms in the window; a press counts when seen twice in a row
_SURVEY_HOLD_MS = const(5000)  # the button held on this long past its press in the window asks for a survey
_RP2040_WDT_MAX_MS = 8388
_ATTEN = {"0dB": "ATTN_0DB", "2.5dB": "ATTN_2_5DB", "6dB": "ATTN_6DB", "11dB": "ATTN_11DB"}


def _print(line):
    print(line, end="")


class _Clock:
    """Time as the firmware sees it: ticks for intervals, RTC milliseconds across deep sleep."""

    ticks_ms = staticmethod(time.ticks_ms)
    ticks_diff = staticmethod(time.ticks_diff)
    sleep_ms = staticmethod(time.sleep_ms)

    def time_ms(self):
        # time.time_ns() comes from the RTC, which keeps running in deep sleep.
        return time.time_ns() // 1000000


class _NoWatchdog:
    def feed(self):
        pass


class _Switch:
    """A power rail or divider switch: on() and off() whatever its polarity."""

    def __init__(self, pin, active):
        self.pin = machine.Pin(pin, machine.Pin.OUT)
        self.active = active
        self.off()

    def on(self):
        self.pin.value(self.active)

    def off(self):
        self.pin.value(1 - self.active)


class _Microvolts:
    """read_uv() for ADCs that only have read_u16 (RP2040: 3.3 V reference)."""

    def __init__(self, adc):
        self.adc = adc

    def read_u16(self):
        return self.adc.read_u16()

    def read_uv(self):
        return self.adc.read_u16() * 3300000 // 65535


class Board:
    def __init__(self, board_id, root="", boards_dir="/boards"):
        with open("%s/%s.json" % (boards_dir, board_id)) as f:
            self.spec = json.load(f)
        self.id = board_id
        self.root = root
        self.clock = _Clock()
        self.echo = _print  # log lines also go to the REPL, where `akker monitor` reads them
        self._vext = None
        p = self.spec["power"]
        if p["vext"]:
            self._vext = _Switch(p["vext"]["pin"], p["vext"]["active"])
        self.battery_divider = self.spec["battery"]["divider"]
        self._i2c = None
        self._ow = None
        self._trap_pins = []

    # ------------------------------------------------------------ lifecycle

    def reset_cause(self):
        cause = machine.reset_cause()
        for name, text in _CAUSES:
            if getattr(machine, name, None) == cause:
                return text
        return "unknown"

    def rtc_read(self):
        try:
            return machine.RTC().memory()
        except (AttributeError, OSError):
            return self._file_read("rtc.bin")  # RP2040: no RTC memory, a file stands in

    def rtc_write(self, blob):
        try:
            machine.RTC().memory(blob)
        except (AttributeError, OSError):
            self._file_write("rtc.bin", blob)

    def _file_read(self, name):
        try:
            with open(self.root + "/" + name, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def _file_write(self, name, blob):
        with open(self.root + "/" + name, "wb") as f:
            f.write(blob)

    def watchdog(self, timeout_ms):
        """The hardware watchdog, armed for timeout_ms; 0: none (a survey at the REPL), an object that only feeds."""
        if not timeout_ms:
            return _NoWatchdog()
        # The RP2040's watchdog counts to at most 8388 ms (its 24-bit counter at 2 ticks per µs);
        # asking for more raises. A cycle's longest stretch between feeds (a DS18B20 conversion,
        # an SF12 frame) stays well under that.
        if self.spec["mcu"] == "rp2040":
            timeout_ms = min(timeout_ms, _RP2040_WDT_MAX_MS)
        return machine.WDT(timeout=timeout_ms)

    def maintenance(self):
        """A file named `maintenance`, or the button pressed in the window after a reset: stay awake at the REPL.

        The window (_WINDOW_MS, the LED lit) opens once per reset a person may have caused (_WINDOW_AFTER: power
        on, RST, machine.reset(), a crash), never after a deep-sleep wake-up. It comes after the reset, once
        MicroPython runs: on the ESP32 boards the button is GPIO0, a strapping pin, and held *during* the reset
        it starts the ROM bootloader instead (docs/workshop.md, The buttons).
        """
        try:
            open(self.root + "/maintenance").close()
            return True
        except OSError:
            pass
        b = self.spec["button"]
        if not b or self.reset_cause() not in _WINDOW_AFTER:
            return False
        return self._window(machine.Pin(b["pin"], machine.Pin.IN, machine.Pin.PULL_UP), b["active"])

    def _window(self, button, active):
        """True as soon as the button is seen pressed twice in a row within _WINDOW_MS; the LED lit meanwhile."""
        led = self.spec["led"]
        pin = machine.Pin(led["pin"], machine.Pin.OUT) if led else None
        if pin is not None:
            pin.value(led["active"])
        seen = 0
        pressed = False
        for _ in range(_WINDOW_MS // _POLL_MS):
            seen = seen + 1 if button.value() == active else 0
            if seen == 2:
                pressed = True
                break
            time.sleep_ms(_POLL_MS)
        if pin is not None:
            pin.value(1 - led["active"])  # out at once on a press: the technician sees it was taken
        return pressed

    def survey_requested(self):
        """In maintenance: the button still held 5 s past its press in the window, or a file named `survey`."""
        try:
            open(self.root + "/survey").close()
            return True
        except OSError:
            pass
        b = self.spec["button"]
        if not b:
            return False
        pin = machine.Pin(b["pin"], machine.Pin.IN, machine.Pin.PULL_UP)
        for _ in range(_SURVEY_HOLD_MS // 100):
            if pin.value() != b["active"]:
                return False  # let go: maintenance only
            time.sleep_ms(100)
        return True

    def blink(self, pattern):
        """Blink the LED `pattern` times, three rounds: the error code a farmer can read off."""
        led = self.spec["led"]
        if not led:
            return
        pin = machine.Pin(led["pin"], machine.Pin.OUT)
        for _ in range(3):
            for _ in range(pattern):
                pin.value(led["active"])
                time.sleep_ms(150)
                pin.value(1 - led["active"])
                time.sleep_ms(250)
            time.sleep_ms(800)

    def random(self, n):
        """A number in 0..n-1 (n below 2**16) from the chip's random generator: join jitter and back-off."""
        return int.from_bytes(os.urandom(2), "big") * n >> 16

    def reset(self):
        machine.reset()

    def deepsleep(self, ms):
        self._arm_traps()
        if self._vext:
            self._vext.off()
        machine.deepsleep(ms)

    # ------------------------------------------------------------ sensors

    def power_sensors(self, on):
        if self._vext:
            if on:
                self._vext.on()
                time.sleep_ms(50)  # let the probes settle after the rail comes up
            else:
                self._vext.off()

    def _adc(self, pin, atten=None):
        adc = machine.ADC(machine.Pin(pin))
        if atten and hasattr(machine.ADC, _ATTEN[atten]):
            adc.atten(getattr(machine.ADC, _ATTEN[atten]))
        if not hasattr(adc, "read_uv"):
            adc = _Microvolts(adc)
        return adc

    def soil_adc(self, i):
        return self._adc(self.spec["soil_adc"][i], "11dB")

    def battery_adc(self):
        b = self.spec["battery"]
        return self._adc(b["adc"], b["atten"])

    def battery_enable(self):
        ctrl = self.spec["power"]["adc_ctrl"]
        if not ctrl:
            return None
        active = ctrl["active"]
        if type(active) is list:
            return self._detect_divider(ctrl["pin"], active)
        return _Switch(ctrl["pin"], active)

    def _detect_divider(self, pin, levels):
        """Heltec V3: the divider switch is active LOW on V3.0/3.1 and HIGH on V3.2.

        The level at which the ADC sees a battery (more than 0.3 V at the pin)
        is the enabling one; both are tried once per wake-up.
        """
        adc = self.battery_adc()
        for level in levels:
            switch = _Switch(pin, level)
            switch.on()
            time.sleep_ms(5)
            seen = adc.read_uv()
            switch.off()
            if seen > 300000:
                return switch
        return _Switch(pin, levels[0])

    def i2c(self):
        if self._i2c is None:
            c = self.spec["i2c"]
            self._i2c = machine.I2C(c["id"], sda=machine.Pin(c["sda"]), scl=machine.Pin(c["scl"]), freq=100000)
        return self._i2c

    def onewire(self):
        if self._ow is None:
            import onewire

            self._ow = onewire.OneWire(machine.Pin(self.spec["onewire"]))
        return self._ow

    def _wake_trap(self):
        """Which trap woke the chip from deep sleep (ext0: trap 0, ext1: trap 1), or -1."""
        if not self.spec["trap_pins"] or machine.reset_cause() != machine.DEEPSLEEP_RESET:
            return -1
        reason = machine.wake_reason()
        if reason == getattr(machine, "EXT0_WAKE", -1):
            return 0
        if reason == getattr(machine, "EXT1_WAKE", -1) and len(self.spec["trap_pins"]) > 1:
            return 1
        return -1

    def woke_by_trap(self):
        return self._wake_trap() >= 0

    def trap_pulses(self):
        """Catches since the last wake-up: on ESP32 a wake by a trap pin is one catch."""
        pulses = [0] * len(self.spec["trap_pins"])
        trap = self._wake_trap()
        if trap >= 0:
            pulses[trap] = 1
        return pulses

    def _arm_traps(self):
        pins = self.spec["trap_pins"]
        if not pins:
            return
        try:
            import esp32
        except ImportError:
            return  # RP2040: deepsleep is lightsleep plus reset; traps are not counted asleep
        esp32.wake_on_ext0(machine.Pin(pins[0], machine.Pin.IN, machine.Pin.PULL_UP), esp32.WAKEUP_ALL_LOW)
        if len(pins) > 1:
            esp32.wake_on_ext1((machine.Pin(pins[1], machine.Pin.IN, machine.Pin.PULL_UP),), esp32.WAKEUP_ALL_LOW)

    # ------------------------------------------------------------ radio

    def modem(self):
        """The micropython-lib lora modem for this board's chip (installed at deploy)."""
        r = self.spec["radio"]
        spi_cfg = r["spi"]
        spi = machine.SPI(
            spi_cfg["id"],
            baudrate=spi_cfg.get("baudrate", 2000000),
            sck=machine.Pin(spi_cfg["sck"]),
            mosi=machine.Pin(spi_cfg["mosi"]),
            miso=machine.Pin(spi_cfg["miso"]),
        )
        cs = machine.Pin(r["cs"], machine.Pin.OUT, value=1)
        reset = machine.Pin(r["reset"]) if r["reset"] is not None else None
        ant_sw = None
        if r.get("ant_sw"):
            ant_sw = _Switch(r["ant_sw"]["pin"], r["ant_sw"]["active"])
            ant_sw.on()
        if r["chip"] == "sx1262":
            from lora import SX1262

            return SX1262(
                spi,
                cs,
                busy=machine.Pin(r["busy"]),
                dio1=machine.Pin(r["dio1"]),
                dio2_rf_sw=bool(r["dio2_rf_sw"]),
                dio3_tcxo_millivolts=r["dio3_tcxo_millivolts"],
                reset=reset,
            )
        from lora import SX1276

        modem = SX1276(spi, cs, dio0=machine.Pin(r["dio0"]), dio1=machine.Pin(r["dio1"]), reset=reset)
        if r["tx_ant"]:
            modem.configure({"tx_ant": r["tx_ant"]})
        return modem
