"""DS18B20 soil temperature probes, several on one 1-Wire bus, every scratchpad CRC-checked.

Datasheet: Maxim DS18B20 "Programmable Resolution 1-Wire Digital Thermometer",
19-7487 rev. 6 (7/19), cited as DS. The bus object follows MicroPython's
onewire.OneWire (reset, writebyte, readinto, select_rom, scan, crc8), so the
driver runs on a board and against firmware/sim/onewire.py alike.
"""

from micropython import const

_FAMILY = const(0x28)  # DS "64-bit lasered ROM code": the DS18B20's family code

# DS "ROM commands" and "function commands"
_CMD_SKIP_ROM = const(0xCC)  # address every device at once
_CMD_CONVERT_T = const(0x44)
_CMD_READ_SCRATCHPAD = const(0xBE)  # 9 bytes, byte 8 the CRC of bytes 0..7

_CONVERT_MS = const(750)  # DS table 2 and electrical characteristics: tCONV max at 12 bits, the factory setting

# DS "Memory": scratchpad bytes
_PAD_CONFIG = const(4)  # DS "Configuration Register": 0 R1 R0 1 1 1 1 1
_PAD_RESERVED_6 = const(6)
_CONFIG_FIXED_MASK = const(0x9F)
_CONFIG_FIXED_BITS = const(0x1F)

# DS "Memory" (scratchpad power-up state): the temperature register holds +85 °C (0x0550)
# from power-up until a conversion. Byte 6 is "reserved" in rev. 6; genuine Maxim parts hold
# 0x0C there at power-up and 0x10 - (LSB & 0x0F) after every 12-bit conversion, so 0x10 after
# a real 85.0 °C (early datasheets; measurements in github.com/cpetrich/counterfeit_DS18B20).
_RAW_POWER_ON = const(0x0550)
_RESERVED_6_POWER_ON = const(0x0C)

# DS table 1 (temperature/data relationship): the measurement range. Outside it the
# conversion failed: genuine parts report 0x07FF (+127.94 °C) when their supply dropped.
_RAW_MIN = const(-55 * 16)
_RAW_MAX = const(125 * 16)

_ENODEV = const(19)


class DS18B20:
    def __init__(self, ow, sleep_ms, roms=None):
        self.ow = ow
        self.sleep_ms = sleep_ms
        # Fixed positions (probe depths) come from a configured ROM list; without one, the
        # first read() scans and keeps that order for the life of this object.
        self.roms = roms
        self.buf = bytearray(9)
        self.errors = 0  # probes that read None since the owner last set this to 0

    def scan(self):
        """The DS18B20s on the bus (family 0x28, ROM CRC valid), sorted by ROM bytes."""
        crc8 = self.ow.crc8
        roms = [r for r in self.ow.scan() if len(r) == 8 and r[0] == _FAMILY and crc8(r) == 0]
        roms.sort(key=bytes)
        return roms

    def read(self):
        """°C per probe in ROM-list order, None for a probe that failed (counted in errors).

        OSError when no device answers on the bus at all (no presence pulse, or a
        scan that finds no DS18B20).
        """
        ow = self.ow
        roms = self.roms
        if roms is None:
            roms = self.scan()
            if not roms:
                raise OSError(_ENODEV, "1-Wire: no DS18B20 found")
            self.roms = roms
        if not ow.reset():
            raise OSError(_ENODEV, "1-Wire: no presence pulse: no DS18B20 on the bus")
        # One conversion for every probe at once: one 750 ms wait, not one per probe.
        ow.writebyte(_CMD_SKIP_ROM)
        ow.writebyte(_CMD_CONVERT_T)
        self.sleep_ms(_CONVERT_MS)
        out = []
        for rom in roms:
            t = self._read_rom(rom)
            if t is None:
                self.errors += 1
            out.append(t)
        return out

    def _read_rom(self, rom):
        ow = self.ow
        buf = self.buf
        ow.select_rom(rom)  # bus reset, MATCH ROM, the 8 ROM bytes
        ow.writebyte(_CMD_READ_SCRATCHPAD)
        ow.readinto(buf)
        # The CRC over all 9 bytes, its own included, is 0. A probe that is gone reads all ones
        # (CRC fails); a bus shorted low reads all zeros, whose CRC is also 0, which the fixed
        # bits of the configuration register refuse.
        if ow.crc8(buf) != 0 or buf[_PAD_CONFIG] & _CONFIG_FIXED_MASK != _CONFIG_FIXED_BITS:
            return None
        raw = buf[0] | (buf[1] << 8)
        # Power-on value: the probe reset after CONVERT T (brown-out, loose contact) and never
        # converted. Clones that keep byte 6 at 0x0C lose a true 85.0 °C this way, which a soil
        # probe never reads.
        if raw == _RAW_POWER_ON and buf[_PAD_RESERVED_6] == _RESERVED_6_POWER_ON:
            return None
        if raw & 0x8000:
            raw -= 0x10000
        # DS "Configuration Register": below 12 bits the lowest bits are undefined.
        raw &= ~((1 << (3 - ((buf[_PAD_CONFIG] >> 5) & 3))) - 1)
        if raw < _RAW_MIN or raw > _RAW_MAX:
            return None
        return raw / 16
