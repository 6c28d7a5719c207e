"""Battery voltage through the board's resistor divider (boards/<id>.json: battery.divider)."""

_SAMPLES = 8
_MIN_PLAUSIBLE_V = 1.0  # below this the divider is switched off or the pin is wrong, not the cell


class Battery:
    def __init__(self, adc, divider, enable=None):
        self.adc = adc  # read_uv(): microvolts at the pin (factory-calibrated on ESP32)
        self.divider = divider
        self.enable = enable  # on()/off(): the divider's switch on boards that have one (Heltec V3)

    def read(self):
        """Battery volts, averaged over 8 readings."""
        if self.enable:
            self.enable.on()
        try:
            total = 0
            for _ in range(_SAMPLES):
                total += self.adc.read_uv()
        finally:
            if self.enable:
                self.enable.off()
        volts = total * self.divider / _SAMPLES / 1000000
        if volts < _MIN_PLAUSIBLE_V:
            raise OSError(5, "battery reads %s V: divider off or wrong pin" % volts)
        return volts
