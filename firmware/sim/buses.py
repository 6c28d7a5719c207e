"""Simulated buses and devices that answer as the datasheets say, CRCs included.

SimADC stands for machine.ADC, SimI2C for machine.I2C with Sensirion SHT4x /
SHT3x devices on it, SimOneWire for onewire.OneWire with DS18B20 devices.
Each device has fault switches (nack, fail_crc, absent, corrupt) for tests.
"""

from ..sensors.sht import crc8 as sensirion_crc8


def maxim_crc8(data):
    """Dallas/Maxim 1-Wire CRC-8 (x^8 + x^5 + x^4 + 1, reflected: 0x8C)."""
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
    """A valid DS18B20 ROM: family 0x28, 6-byte serial (LSB first), CRC."""
    rom = bytearray(8)
    rom[0] = 0x28
    for i in range(6):
        rom[1 + i] = (serial >> (8 * i)) & 0xFF
    rom[7] = maxim_crc8(rom[:7])
    return rom


class SimADC:
    """read_u16() and read_uv() from a fixed value or a callable source (raw u16, or µV for read_uv)."""

    def __init__(self, value_u16=0, uv=None, source=None):
        self.value_u16 = value_u16
        self.uv = uv
        self.source = source

    def read_u16(self):
        v = self.source() if self.source else self.value_u16
        return max(0, min(65535, int(v)))

    def read_uv(self):
        if self.source:
            return int(self.source())
        return self.uv if self.uv is not None else self.value_u16 * 3300000 // 65535


class _SimSensirion:
    def __init__(self, temp_c, rh_pct):
        self.temp_c = temp_c
        self.rh_pct = rh_pct
        self.nack = False
        self.fail_crc = False
        self._out = b"\xff" * 6

    def _words(self):
        raise NotImplementedError

    def write(self, buf):
        if bytes(buf) != self.COMMAND:
            self._out = b"\xff" * 6
            return
        st, srh = self._words()
        out = bytearray(6)
        out[0], out[1] = st >> 8, st & 0xFF
        out[2] = sensirion_crc8(out, 0)
        out[3], out[4] = srh >> 8, srh & 0xFF
        out[5] = sensirion_crc8(out, 3) ^ (0x01 if self.fail_crc else 0)
        self._out = bytes(out)

    def read_into(self, buf):
        for i in range(len(buf)):
            buf[i] = self._out[i] if i < 6 else 0xFF


def _word(x):
    return max(0, min(65535, round(x)))


class SimSHT4x(_SimSensirion):
    COMMAND = b"\xfd"

    def _words(self):
        return _word((self.temp_c + 45) * 65535 / 175), _word((self.rh_pct + 6) * 65535 / 125)


class SimSHT3x(_SimSensirion):
    COMMAND = b"\x24\x00"

    def _words(self):
        return _word((self.temp_c + 45) * 65535 / 175), _word(self.rh_pct * 65535 / 100)


class SimI2C:
    """machine.I2C's writeto / readfrom_into / scan over simulated devices at their addresses."""

    def __init__(self, devices):
        self.devices = devices

    def _device(self, addr):
        dev = self.devices.get(addr)
        if dev is None or dev.nack:
            raise OSError(19, "ENODEV")  # what machine.I2C raises on a NACK
        return dev

    def writeto(self, addr, buf):
        self._device(addr).write(buf)
        return len(buf)

    def readfrom_into(self, addr, buf):
        self._device(addr).read_into(buf)

    def scan(self):
        return sorted(a for a, d in self.devices.items() if not d.nack)


class SimDS18B20:
    """One DS18B20: latches its temperature at CONVERT T; powers up holding 85 °C (datasheet p. 9)."""

    def __init__(self, rom, temp_c):
        self.rom = bytes(rom)
        self.temp_c = temp_c
        self.absent = False
        self.corrupt = False
        self._raw = 0x0550  # +85 °C, the power-on reset value

    def convert(self):
        self._raw = round(self.temp_c * 16) & 0xFFFF

    def scratchpad(self):
        pad = bytearray((self._raw & 0xFF, self._raw >> 8, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10, 0))
        pad[8] = maxim_crc8(pad[:8])
        if self.corrupt:
            pad[0] ^= 0x04  # a bit flipped on the wire after the CRC was computed
        return pad


class SimOneWire:
    """onewire.OneWire's interface over simulated devices: ROM and function commands as on a real bus."""

    def __init__(self, devices):
        self.devices = list(devices)
        self._mode = "idle"
        self._selected = []
        self._match = bytearray()
        self._out = b""
        self._pos = 0  # next byte of _out to read (MicroPython's bytearray has no pop)

    def _present(self):
        return [d for d in self.devices if not d.absent]

    def reset(self, required=False):
        self._mode = "rom"
        self._selected = []
        self._out = b""
        self._pos = 0
        present = bool(self._present())
        if required and not present:
            raise OSError(19, "1-Wire: no presence pulse")
        return present

    def writebyte(self, b):
        if self._mode == "rom":
            if b == 0xCC:  # SKIP ROM
                self._selected = self._present()
                self._mode = "function"
            elif b == 0x55:  # MATCH ROM
                self._match = bytearray()
                self._mode = "match"
        elif self._mode == "match":
            self._match.append(b)
            if len(self._match) == 8:
                self._selected = [d for d in self._present() if d.rom == bytes(self._match)]
                self._mode = "function"
        elif self._mode == "function":
            if b == 0x44:  # CONVERT T
                for d in self._selected:
                    d.convert()
            elif b == 0xBE:  # READ SCRATCHPAD: with several devices selected the bus ANDs their bits
                out = bytearray(b"\xff" * 9)
                for d in self._selected:
                    pad = d.scratchpad()
                    for i in range(9):
                        out[i] &= pad[i]
                self._out = out
                self._pos = 0

    def write(self, buf):
        for b in buf:
            self.writebyte(b)

    def readbyte(self):
        if self._pos < len(self._out):
            self._pos += 1
            return self._out[self._pos - 1]
        return 0xFF  # an idle bus reads ones

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = self.readbyte()

    def select_rom(self, rom):
        self.reset()
        self.writebyte(0x55)
        self.write(rom)

    def scan(self):
        return [bytearray(d.rom) for d in self._present()]

    def crc8(self, data):
        return maxim_crc8(data)
