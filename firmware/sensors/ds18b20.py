"""DS18B20 soil temperature probes, several on one 1-Wire bus, every scratchpad CRC-checked.

Datasheet: Maxim DS18B20 (19-7487, rev. 6, 2019). The bus object follows
MicroPython's onewire.OneWire (reset, writebyte, readinto, select_rom, scan,
crc8), so the driver runs on a board and against firmware/sim/buses.py alike.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_FAMILY = const(0x28)  # ROM family code of the DS18B20
_CMD_SKIP_ROM = const(0xCC)  # all devices on the bus (ROM commands, p. 11)
_CMD_CONVERT_T = const(0x44)  # function commands, p. 12
_CMD_READ_SCRATCHPAD = const(0xBE)
_CONVERT_MS = const(750)  # 12-bit conversion time, table 2


class DS18B20:
    def __init__(self, ow, sleep_ms, roms=None):
        self.ow = ow
        self.sleep_ms = sleep_ms
        self.roms = roms
        self.buf = bytearray(9)
        self.errors = 0  # probes that failed in the last read()

    def scan(self):
        """The DS18B20s on the bus (family 0x28, ROM CRC valid), in ROM order."""
        roms = [r for r in self.ow.scan() if r[0] == _FAMILY and self.ow.crc8(r[:7]) == r[7]]
        roms.sort()
        return roms

    def read(self):
        """°C per probe (None for a probe that failed); OSError when nothing answers on the bus.

        85.0 °C is the power-on value of the scratchpad, but also a legal
        reading; as every read starts a conversion first, it is taken as real.
        """
        ow = self.ow
        if not ow.reset():
            raise OSError(19, "1-Wire: no presence pulse: no DS18B20 on the bus")
        if self.roms is None:
            self.roms = self.scan()
            if not self.roms:
                raise OSError(19, "1-Wire: no DS18B20 found")
            ow.reset()
        ow.writebyte(_CMD_SKIP_ROM)
        ow.writebyte(_CMD_CONVERT_T)
        self.sleep_ms(_CONVERT_MS)
        self.errors = 0
        out = []
        buf = self.buf
        for rom in self.roms:
            ow.select_rom(rom)
            ow.writebyte(_CMD_READ_SCRATCHPAD)
            ow.readinto(buf)
            # The CRC over all 9 bytes, its own included, is 0; the config register (byte 4) reads
            # 0 R1 R0 1 1 1 1 1 (p. 9), which also refuses a shorted bus's all-zero bytes.
            if ow.crc8(buf) != 0 or buf[4] & 0x9F != 0x1F:
                self.errors += 1
                out.append(None)
                continue
            raw = buf[0] | (buf[1] << 8)
            if raw & 0x8000:
                raw -= 0x10000
            out.append(raw / 16)
        return out
