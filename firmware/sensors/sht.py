"""Sensirion SHT4x and SHT3x air temperature and humidity sensors on I2C, every reading CRC-checked.

Datasheets: SHT4x (version 6.6, 2024), sections 4.4-4.6; SHT3x-DIS (version 7,
2022), sections 4.3-4.12. Both answer 6 bytes: temperature MSB, LSB, CRC,
humidity MSB, LSB, CRC, with CRC-8 polynomial 0x31, initial value 0xFF.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_ADDRESS = const(0x44)
_CRC_POLY = const(0x31)
_CRC_INIT = const(0xFF)
_CMD_SHT4X_MEASURE_HIGH = const(0xFD)  # SHT4x 4.5: high repeatability, 8.3 ms max
_SHT4X_WAIT_MS = const(10)
_CMD_SHT3X_SINGLE_HIGH = b"\x24\x00"  # SHT3x 4.3 table 9: single shot, high repeatability, no stretching
_SHT3X_WAIT_MS = const(16)  # 15.5 ms max


def crc8(data, start=0, n=2):
    """Sensirion CRC-8 over data[start:start+n] (SHT4x 4.6: CRC(0xBEEF) = 0x92)."""
    crc = _CRC_INIT
    for i in range(start, start + n):
        crc ^= data[i]
        for _ in range(8):
            crc = ((crc << 1) ^ _CRC_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class _Sensirion:
    def __init__(self, i2c, address=_ADDRESS, sleep_ms=None):
        self.i2c = i2c
        self.address = address
        self.sleep_ms = sleep_ms
        self.buf = bytearray(6)

    def _wait(self, ms):
        if self.sleep_ms:
            self.sleep_ms(ms)
        else:
            import time

            time.sleep_ms(ms)

    def _measure(self, command, wait_ms):
        """Raw (temperature, humidity) words; OSError on NACK (from the bus) or a CRC mismatch."""
        self.i2c.writeto(self.address, command)
        self._wait(wait_ms)
        buf = self.buf
        self.i2c.readfrom_into(self.address, buf)
        if crc8(buf, 0) != buf[2] or crc8(buf, 3) != buf[5]:
            raise OSError(5, "SHT at 0x%02x: CRC mismatch" % self.address)
        return (buf[0] << 8) | buf[1], (buf[3] << 8) | buf[4]


class SHT4x(_Sensirion):
    _CMD = bytes((_CMD_SHT4X_MEASURE_HIGH,))

    def read(self):
        """(°C, %RH); humidity cropped to 0..100 as SHT4x 4.6 asks."""
        st, srh = self._measure(self._CMD, _SHT4X_WAIT_MS)
        rh = -6 + 125 * srh / 65535
        return -45 + 175 * st / 65535, min(100.0, max(0.0, rh))


class SHT3x(_Sensirion):
    def read(self):
        """(°C, %RH), SHT3x 4.13."""
        st, srh = self._measure(_CMD_SHT3X_SINGLE_HIGH, _SHT3X_WAIT_MS)
        return -45 + 175 * st / 65535, 100 * srh / 65535
