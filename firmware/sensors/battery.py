"""Battery voltage through the board's resistor divider (boards/<id>.json: battery.divider).

No chip datasheet applies: the divider ratio comes from the board's schematic
(Heltec V3: 390 kOhm over 100 kOhm, x4.9) and the pin voltage from MicroPython's
machine.ADC.read_uv(), which applies the ESP32's factory eFuse calibration.
"""

from micropython import const

_SAMPLES = const(8)  # the ESP32 ADC has a few mV of noise per reading
_UV_PER_V = const(1000000)
# A Li-ion/LiFePO4 cell never sits below this while the node still runs: a lower
# reading means the divider is switched off or the pin is the wrong one.
_MIN_PLAUSIBLE_V = const(1.0)

_EIO = const(5)


class Battery:
    def __init__(self, adc, divider, enable=None):
        self.adc = adc  # read_uv(): microvolts at the pin
        self.divider = divider  # battery volts per pin volt
        self.enable = enable  # on()/off(): the divider's switch on boards that have one (Heltec V3 ADC_Ctrl)

    def read(self):
        """Battery volts, averaged over 8 readings; OSError for an implausibly low reading."""
        enable = self.enable
        if enable is not None:
            # A divider left on drains the cell (Heltec V3: 4.2 V / 490 kOhm, about 9 µA, as much as
            # the chip in deep sleep): on just for the reading.
            enable.on()
        try:
            total = 0
            for _ in range(_SAMPLES):
                total += self.adc.read_uv()
        finally:
            if enable is not None:
                enable.off()
        volts = total * self.divider / (_SAMPLES * _UV_PER_V)
        if volts < _MIN_PLAUSIBLE_V:
            raise OSError(_EIO, "battery reads %s V: divider off or wrong pin" % volts)
        return volts
