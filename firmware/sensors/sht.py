"""Sensirion SHT4x and SHT3x air temperature and humidity sensors on I2C, every reading CRC-checked.

Datasheets: Sensirion "Datasheet SHT4x" (cited by section title: "Command
Overview", "Checksum Calculation", "Conversion of Signal Output") and
"Datasheet SHT3x-DIS" version 5, May 2018 (cited as SHT3x 4.x). Both answer a
measurement with 6 bytes: temperature MSB, LSB, CRC, humidity MSB, LSB, CRC,
each CRC-8 over its 2-byte word.
"""

from micropython import const

_ADDRESS = const(0x44)  # SHT40-AD1B and SHT3x with ADDR low; 0x45 is the other option

# CRC-8 of each data word, SHT3x 4.12 table 20 and SHT4x "Checksum Calculation":
# polynomial 0x31 (x^8 + x^5 + x^4 + 1), init 0xFF, no reflection, no final XOR.
_CRC_POLY = const(0x31)
_CRC_INIT = const(0xFF)

# SHT4x "Command Overview": measure T & RH with high repeatability, 8.3 ms max.
_SHT4X_CMD_MEASURE_HIGH = const(b"\xfd")
_SHT4X_WAIT_MS = const(10)

# SHT3x 4.3 table 9: single shot, high repeatability, clock stretching disabled, so that the
# wait is our own sleep_ms and not a bus held low until the I2C driver's timeout decides.
# Sensirion's own drivers wait 15 ms for it; one more for rounding of the millisecond sleep.
_SHT3X_CMD_SINGLE_HIGH = const(b"\x24\x00")
_SHT3X_WAIT_MS = const(16)

_EIO = const(5)


def crc8(data, start=0, n=2):
    """Sensirion CRC-8 over data[start:start+n] (CRC(0xBEEF) = 0x92, the datasheets' example)."""
    crc = _CRC_INIT
    for i in range(start, start + n):
        crc ^= data[i]
        for _ in range(8):
            if crc & 0x80:
                crc = ((crc << 1) ^ _CRC_POLY) & 0xFF
            else:
                crc = (crc << 1) & 0xFF
    return crc


def _default_sleep_ms():
    import time

    sleep_ms = getattr(time, "sleep_ms", None)  # MicroPython
    if sleep_ms is None:  # CPython

        def sleep_ms(ms):
            time.sleep(ms / 1000)

    return sleep_ms


class _Sensirion:
    """Command, wait, read 6 bytes, check both CRCs; the subclasses hold the command and formulas."""

    _CMD = b""
    _WAIT_MS = 0

    def __init__(self, i2c, address=_ADDRESS, sleep_ms=None):
        self.i2c = i2c
        self.address = address
        self.sleep_ms = sleep_ms or _default_sleep_ms()
        self.buf = bytearray(6)

    def _measure(self):
        """Raw (temperature, humidity) words; OSError on NACK (from the bus) or CRC mismatch."""
        cmd = self._CMD
        # machine.I2C raises OSError(ENODEV) when the address is not acknowledged and returns
        # the number of ACKed bytes otherwise: a command the sensor refused is a fault too.
        if self.i2c.writeto(self.address, cmd) != len(cmd):
            raise OSError(_EIO, "SHT at 0x%02x did not accept its command" % self.address)
        self.sleep_ms(self._WAIT_MS)
        buf = self.buf
        self.i2c.readfrom_into(self.address, buf)
        if crc8(buf, 0) != buf[2] or crc8(buf, 3) != buf[5]:
            raise OSError(_EIO, "SHT at 0x%02x: CRC mismatch" % self.address)
        return (buf[0] << 8) | buf[1], (buf[3] << 8) | buf[4]


class SHT4x(_Sensirion):
    _CMD = _SHT4X_CMD_MEASURE_HIGH
    _WAIT_MS = _SHT4X_WAIT_MS

    def read(self):
        """(°C, %RH). SHT4x "Conversion of Signal Output": RH outside 0..100 is cropped, as it asks."""
        st, srh = self._measure()
        rh = -6 + 125 * srh / 65535
        if rh < 0.0:
            rh = 0.0
        elif rh > 100.0:
            rh = 100.0
        return -45 + 175 * st / 65535, rh


class SHT3x(_Sensirion):
    _CMD = _SHT3X_CMD_SINGLE_HIGH
    _WAIT_MS = _SHT3X_WAIT_MS

    def read(self):
        """(°C, %RH), SHT3x 4.13; the RH formula spans 0..100 by itself."""
        st, srh = self._measure()
        return -45 + 175 * st / 65535, 100 * srh / 65535
