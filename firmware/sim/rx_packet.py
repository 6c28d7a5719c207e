"""What a simulated receive returns: the driver's RxPacket, bytes with the reception's metadata."""


class RxPacket(bytearray):
    """As lora.RxPacket on a board: snr in dB x 4, as the driver gives it."""

    def __init__(self, data=b"", ticks_ms=0, rssi=-120, snr=0, crc_error=False):
        super().__init__(data)
        self.ticks_ms = ticks_ms
        self.rssi = rssi
        self.snr = snr
        self.crc_error = crc_error
