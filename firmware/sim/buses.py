"""Simulated buses and devices that answer as the datasheets say, CRCs included.

Desktop only, not deployed. SimADC stands for machine.ADC, SimI2C for
machine.I2C with Sensirion SHT4x / SHT3x models on it, SimOneWire for
onewire.OneWire with DS18B20 models. The devices decode the real commands,
compute the real CRCs and have fault switches for tests (nack, fail_crc on
I2C; absent, corrupt, brownout on 1-Wire). A test or firmware/sim/field.py
sets the values they measure.

Sources: Sensirion "Datasheet SHT4x" and "Datasheet SHT3x-DIS" (v5, 2018);
Maxim DS18B20 datasheet 19-7487 rev. 6 and application notes 27 (CRC) and
187 (1-Wire search algorithm).
"""

from ..sensors.sht import crc8 as sensirion_crc8

_ENODEV = 19  # what machine.I2C raises when the address is not acknowledged


def maxim_crc8(data):
    """Dallas/Maxim 1-Wire CRC-8: x^8 + x^5 + x^4 + 1, shifted LSB first (0x8C), init 0 (AN27)."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


def make_rom(serial):
    """A valid DS18B20 ROM: family 0x28, the 48-bit serial LSB first, CRC."""
    rom = bytearray(8)
    rom[0] = 0x28
    for i in range(6):
        rom[1 + i] = (serial >> (8 * i)) & 0xFF
    rom[7] = maxim_crc8(rom[:7])
    return rom


# ---------------------------------------------------------------- ADC


class SimADC:
    """read_u16() and read_uv() from fixed values (settable attributes) or a callable source.

    With a source, read_u16() returns source() as raw counts and read_uv() as
    microvolts: give each SimADC the one its driver uses. Without uv, read_uv()
    scales value_u16 to a 3.3 V reference.
    """

    def __init__(self, value_u16=0, uv=None, source=None):
        self.value_u16 = value_u16
        self.uv = uv
        self.source = source
        self.reads = 0

    def read_u16(self):
        self.reads += 1
        v = self.source() if self.source else self.value_u16
        return max(0, min(65535, int(v)))

    def read_uv(self):
        self.reads += 1
        if self.source:
            return int(self.source())
        if self.uv is not None:
            return self.uv
        return self.value_u16 * 3300000 // 65535


# ---------------------------------------------------------------- I2C: Sensirion SHT4x / SHT3x


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
        out[2] = sensirion_crc8(out, 0)
        out[3], out[4] = w1 >> 8, w1 & 0xFF
        out[5] = sensirion_crc8(out, 3) ^ (0x01 if bad_crc else 0)
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
            out[2] = sensirion_crc8(out, 0)
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


# ---------------------------------------------------------------- 1-Wire: DS18B20


class SimDS18B20:
    """One DS18B20. The temperature is latched at CONVERT T; until then it reads +85 °C.

    Fault switches: absent (no presence, reads nothing), corrupt (a bit flips on
    the wire after the CRC), brownout (the part resets during the conversion and
    keeps its power-on scratchpad). genuine=False models the common clones whose
    reserved byte 6 stays 0x0C instead of following the conversion.
    """

    def __init__(self, rom, temp_c, genuine=True):
        self.rom = bytes(rom)
        self.temp_c = temp_c
        self.genuine = genuine
        self.absent = False
        self.corrupt = False
        self.brownout = False
        self.conversions = 0
        self.th, self.tl, self.config = 0x4B, 0x46, 0x7F  # factory EEPROM values, 12-bit
        self.power_on()

    def power_on(self):
        self._raw = 0x0550  # +85 °C
        self._byte6 = 0x0C

    def convert(self):
        self.conversions += 1
        if self.brownout:
            self.power_on()
            return
        self._raw = round(self.temp_c * 16) & 0xFFFF
        if self.genuine:
            self._byte6 = 0x10 - (self._raw & 0x0F)

    def scratchpad(self):
        """The 9 bytes READ SCRATCHPAD sends (datasheet "Memory")."""
        pad = bytearray(9)
        pad[0], pad[1] = self._raw & 0xFF, self._raw >> 8
        pad[2], pad[3], pad[4] = self.th, self.tl, self.config
        pad[5], pad[6], pad[7] = 0xFF, self._byte6, 0x10
        pad[8] = maxim_crc8(pad[:8])
        if self.corrupt:
            pad[0] ^= 0x04
        return pad

    def rom_bit(self, i):
        """Bit i (0..63) of the ROM, in the order the search sends it: LSB of byte 0 first."""
        return (self.rom[i >> 3] >> (i & 7)) & 1


class OneWireError(Exception):
    """What onewire.OneWire.reset(required=True) raises (not an OSError there either)."""


# Bus states after a reset: waiting for a ROM command, reading ROM bytes for MATCH ROM,
# in a search, waiting for a function command, sending the scratchpad.
_ROM, _MATCH, _SEARCH, _FUNCTION, _READ, _IDLE = 0, 1, 2, 3, 4, 5


class SimOneWire:
    """onewire.OneWire's interface over device models: ROM and function commands as on a real bus.

    Several devices answering at once are wired-AND, as the open-drain bus is.
    """

    SEARCH_ROM = 0xF0
    MATCH_ROM = 0x55
    SKIP_ROM = 0xCC

    def __init__(self, devices):
        self.devices = list(devices)
        self.resets = 0
        self._state = _IDLE
        self._selected = []
        self._match = bytearray()
        self._bit = 0  # search: next ROM bit, and which of its three slots comes next
        self._slot = 0
        self._out = b""
        self._pos = 0  # next byte of _out to read (MicroPython's bytearray has no pop)

    def _present(self):
        return [d for d in self.devices if not d.absent]

    def reset(self, required=False):
        self.resets += 1
        self._state = _ROM
        self._selected = []
        self._out = b""
        self._pos = 0
        present = bool(self._present())
        if required and not present:
            raise OneWireError()
        return present

    def writebyte(self, b):
        state = self._state
        if state == _ROM:
            if b == self.SKIP_ROM:
                self._selected = self._present()
                self._state = _FUNCTION
            elif b == self.MATCH_ROM:
                self._match = bytearray()
                self._state = _MATCH
            elif b == self.SEARCH_ROM:
                self._selected = self._present()
                self._bit = 0
                self._slot = 0
                self._state = _SEARCH
            else:
                self._state = _IDLE
        elif state == _MATCH:
            self._match.append(b)
            if len(self._match) == 8:
                self._selected = [d for d in self._present() if d.rom == bytes(self._match)]
                self._state = _FUNCTION
        elif state == _FUNCTION:
            if b == 0x44:  # CONVERT T
                for d in self._selected:
                    d.convert()
                self._state = _IDLE
            elif b == 0xBE:  # READ SCRATCHPAD
                out = bytearray(b"\xff" * 9)
                for d in self._selected:
                    pad = d.scratchpad()
                    for i in range(9):
                        out[i] &= pad[i]
                self._out = out
                self._pos = 0
                self._state = _READ
            else:
                self._state = _IDLE

    def write(self, buf):
        for b in buf:
            self.writebyte(b)

    def readbyte(self):
        if self._state == _READ and self._pos < len(self._out):
            self._pos += 1
            return self._out[self._pos - 1]
        return 0xFF  # nobody drives the bus: the pull-up reads ones

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = self.readbyte()

    def readbit(self):
        """Search: each remaining device sends its ROM bit, then its complement (wired-AND)."""
        if self._state != _SEARCH or self._slot > 1:
            return 1
        bit = 1
        for d in self._selected:
            bit &= d.rom_bit(self._bit) ^ self._slot
        self._slot += 1
        return bit

    def writebit(self, value):
        """Search: the master's choice; the devices whose bit differs drop out until the next reset."""
        if self._state != _SEARCH or self._slot != 2:
            return
        i = self._bit
        self._selected = [d for d in self._selected if d.rom_bit(i) == value]
        self._bit += 1
        self._slot = 0
        if self._bit == 64:
            self._state = _FUNCTION  # the one device left is selected, as after MATCH ROM

    def select_rom(self, rom):
        self.reset()
        self.writebyte(self.MATCH_ROM)
        self.write(rom)

    def scan(self):
        """The ROMs on the bus by the 1-Wire search algorithm (AN187), as onewire.OneWire.scan does.

        Each pass follows the previous ROM's bits up to the last fork where it took
        0, takes 1 there, and 0 at every later fork.
        """
        found = []
        rom = bytearray(8)
        last_fork = 0  # 1-based bit number of the last fork that took 0; 0 when none is left
        for _ in range(len(self.devices) + 1):
            if not self.reset():
                break
            self.writebyte(self.SEARCH_ROM)
            fork = 0
            for i in range(64):
                b = self.readbit()
                nb = self.readbit()
                if b and nb:
                    return found  # nobody answered: a device left the bus mid-search
                if not b and not nb:  # devices differ at this bit
                    n = i + 1
                    if n < last_fork:
                        b = (rom[i >> 3] >> (i & 7)) & 1
                    else:
                        b = 1 if n == last_fork else 0
                    if not b:
                        fork = n
                self.writebit(b)
                if b:
                    rom[i >> 3] |= 1 << (i & 7)
                else:
                    rom[i >> 3] &= ~(1 << (i & 7)) & 0xFF
            found.append(bytearray(rom))
            last_fork = fork
            if not last_fork:
                break
        return found

    def crc8(self, data):
        return maxim_crc8(data)
