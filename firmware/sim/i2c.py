"""A simulated I2C bus standing in for machine.I2C, with Sensirion SHT4x / SHT3x models on it.

Desktop only, not deployed. The devices decode the real commands, compute the
real CRCs, NACK a read that comes before their measurement is done, and have
fault switches for tests (nack, fail_crc). A test or firmware/sim/field.py sets
the values they measure.

Sources: Sensirion "Datasheet SHT4x" and "Datasheet SHT3x-DIS" (v5, 2018).
"""

from micropython import const

from ..sensors.sht import crc8

# const(): inlined, so no global name (nor its qstr) is left at run time; see sim/modem.py for why it matters.
_ENODEV = const(19)  # what machine.I2C raises when the address is not acknowledged


def _word(x):
    return max(0, min(65535, round(x)))


# What each command leaves to be read, and its longest duration in ms.
# SHT4x "Command Overview": measurements at high, medium and low repeatability (max 8.3, 4.5,
# 1.6 ms, rounded up), serial number, soft reset.
_SHT4X_COMMANDS = {
    b"\xfd": ("measure", 9),
    b"\xf6": ("measure", 5),
    b"\xe0": ("measure", 2),
    b"\x89": ("serial", 1),
    b"\x94": ("reset", 1),
}
# SHT3x 4.3 table 9: single shot at high, medium, low repeatability, without and with clock
# stretching (max 15, 6, 4 ms; a stretched clock holds the read until the data is there, so
# those answer at once); 4.9 soft reset; 4.11 status register read and clear.
_SHT3X_COMMANDS = {
    b"\x24\x00": ("measure", 15),
    b"\x24\x0b": ("measure", 6),
    b"\x24\x16": ("measure", 4),
    b"\x2c\x06": ("measure", 0),
    b"\x2c\x0d": ("measure", 0),
    b"\x2c\x10": ("measure", 0),
    b"\x30\xa2": ("reset", 1),
    b"\xf3\x2d": ("status", 0),
    b"\x30\x41": ("clear", 0),
}


class _SimSensirion:
    """A command, then a read of the answer; a read with nothing to answer is NACKed.

    _COMMANDS maps a command's bytes to (what, max duration in ms); with a
    clock on the bus, a read before the duration has passed is NACKed too.
    """

    _COMMANDS = None

    def __init__(self, temp_c, rh_pct):
        self.temp_c = temp_c
        self.rh_pct = rh_pct
        self.nack = False  # the device does not answer its address (unplugged, no power)
        self.fail_crc = False  # the humidity CRC arrives wrong (noise on the bus)
        self.measurements = 0
        self.serial = 0x12345678
        self._out = None  # bytes waiting for a read header
        self._ready_ms = 0

    def _words(self):
        raise NotImplementedError

    def _answer(self, what):
        """The bytes a command leaves to be read, or None."""
        if what == "measure":
            self.measurements += 1
            st, srh = self._words()
            return self._frame(st, srh, self.fail_crc)
        if what == "serial":
            return self._frame(self.serial >> 16, self.serial & 0xFFFF, False)
        return None  # reset and other commands without an answer

    def _frame(self, w0, w1, bad_crc):
        out = bytearray(6)
        out[0], out[1] = w0 >> 8, w0 & 0xFF
        out[2] = crc8(out, 0)
        out[3], out[4] = w1 >> 8, w1 & 0xFF
        out[5] = crc8(out, 3) ^ (0x01 if bad_crc else 0)
        return bytes(out)

    def write(self, buf, now_ms):
        """One I2C write; returns the number of data bytes the device acknowledged."""
        entry = self._COMMANDS.get(bytes(buf))
        if entry is None:
            self._out = None
            return 0  # an unknown command is not acknowledged
        what, duration_ms = entry
        self._out = self._answer(what)
        self._ready_ms = now_ms + duration_ms if now_ms is not None else None
        return len(buf)

    def read_into(self, buf, now_ms):
        if self._out is None or (now_ms is not None and self._ready_ms is not None and now_ms < self._ready_ms):
            raise OSError(_ENODEV, "ENODEV")  # the read header is NACKed: no data, or still measuring
        out = self._out
        for i in range(len(buf)):
            buf[i] = out[i] if i < len(out) else 0xFF
        self._out = None  # data is read once, then cleared


class SimSHT4x(_SimSensirion):
    _COMMANDS = _SHT4X_COMMANDS

    def _words(self):
        return _word((self.temp_c + 45) * 65535 / 175), _word((self.rh_pct + 6) * 65535 / 125)


class SimSHT3x(_SimSensirion):
    _COMMANDS = _SHT3X_COMMANDS

    def __init__(self, temp_c, rh_pct):
        super().__init__(temp_c, rh_pct)
        self.status = 0x8010  # after power-up: alert pending, system reset detected

    def _answer(self, what):
        if what == "status":
            out = bytearray(3)
            out[0], out[1] = self.status >> 8, self.status & 0xFF
            out[2] = crc8(out, 0)
            return bytes(out)
        if what == "clear":
            self.status = 0
        elif what == "reset":
            self.status = 0x8010
        return super()._answer(what)

    def _words(self):
        return _word((self.temp_c + 45) * 65535 / 175), _word(self.rh_pct * 65535 / 100)


class SimI2C:
    """machine.I2C's writeto / readfrom_into / scan over device models at their addresses.

    clock (optional, anything with ticks_ms()) makes the devices NACK a read
    that comes before their measurement is done, as real ones do.
    """

    def __init__(self, devices=None, clock=None):
        self.devices = devices if devices is not None else {}
        self.clock = clock

    def _device(self, addr):
        dev = self.devices.get(addr)
        if dev is None or dev.nack:
            raise OSError(_ENODEV, "ENODEV")
        return dev

    def _now(self):
        return self.clock.ticks_ms() if self.clock is not None else None

    def writeto(self, addr, buf, stop=True):
        return self._device(addr).write(buf, self._now())

    def readfrom_into(self, addr, buf, stop=True):
        self._device(addr).read_into(buf, self._now())

    def scan(self):
        return sorted(a for a, d in self.devices.items() if not d.nack)
