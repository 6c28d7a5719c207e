"""A node's battery for the field simulator: charge spent from what each wake-up did, voltage from a curve.

The currents are datasheet figures, in one table; the simulator (firmware/sim/
field_run.py) charges each wake-up with its awake time, its time on air and its
sleep, so a node that sends more, or at a higher SF, empties sooner, and the
firmware's low-battery behaviour happens for real in long runs.
"""

# Currents in mA. ESP32-S3: datasheet (v1.2) table 5-6, CPU at 80 MHz with the radio modems off
# about 25 mA, deep sleep with the RTC timer 8 uA; a Heltec V3's regulator and charger add
# about 12 uA asleep (Heltec measures ~20 uA for the whole board). SX1262: datasheet (rev 2.1)
# table 3-5, TX at +14 dBm 45 mA (DC-DC), sleep with warm start 0.6 uA. Sensors (two capacitive
# probes, DS18B20, SHT41) on Vext while awake: about 15 mA. Class A's receive windows: the MCU
# waits awake with the sensors off (25 mA), then listens with the SX1262 in RX (datasheet table
# 3-5: 4.6 mA with the DC-DC regulator, boosted gain off).
CURRENT_MA = {
    "awake": 25.0 + 15.0,
    "tx": 45.0,
    "wait": 25.0,
    "rx": 25.0 + 4.6,
    "sleep": 0.008 + 0.012 + 0.0006,
}
CAPACITY_MAH = 2000.0  # a common 18650-size Li-ion cell

# Open-circuit voltage of a Li-ion cell against the charge left (fraction), from full to empty.
_CURVE = ((1.0, 4.15), (0.9, 4.05), (0.8, 3.96), (0.6, 3.82), (0.4, 3.72), (0.2, 3.62), (0.1, 3.50),
          (0.05, 3.35), (0.0, 3.0))  # fmt: skip


def wake_up_mah(awake_ms, tx_ms, sleep_ms, wait_ms=0, rx_ms=0):
    """The charge one wake-up and the sleep after it take, in mAh: the simulator's Battery.spend and the
    dashboard's forecast (gateway/farm/battery.py) both charge a wake-up with this.

    awake_ms includes tx_ms (the radio's current adds to the MCU's) and the class A part: wait_ms before
    and between the receive windows and rx_ms listening in them."""
    c = CURRENT_MA
    active = awake_ms - wait_ms - rx_ms
    mas = active * c["awake"] + tx_ms * c["tx"] + wait_ms * c["wait"] + rx_ms * c["rx"] + sleep_ms * c["sleep"]
    return mas / 3600000.0


def voltage_at(charge):
    """The cell's open-circuit voltage at a charge fraction (0..1), on the curve."""
    for i in range(1, len(_CURVE)):
        q1, v1 = _CURVE[i - 1]
        q0, v0 = _CURVE[i]
        if charge >= q0:
            return v0 + (v1 - v0) * (charge - q0) / (q1 - q0)
    return _CURVE[-1][1]


def charge_at(volts):
    """The charge fraction (0..1) at an open-circuit voltage: the curve read backwards, clamped to its ends."""
    if volts >= _CURVE[0][1]:
        return 1.0
    for i in range(1, len(_CURVE)):
        q1, v1 = _CURVE[i - 1]
        q0, v0 = _CURVE[i]
        if volts >= v0:
            return q0 + (q1 - q0) * (volts - v0) / (v1 - v0)
    return 0.0


class Battery:
    def __init__(self, charge=1.0, capacity_mah=CAPACITY_MAH):
        self.capacity_mah = capacity_mah
        self.used_mah = (1.0 - charge) * capacity_mah

    def spend(self, awake_ms, tx_ms, sleep_ms, wait_ms=0, rx_ms=0):
        """Charge one wake-up (wake_up_mah says what each time includes)."""
        self.used_mah += wake_up_mah(awake_ms, tx_ms, sleep_ms, wait_ms, rx_ms)

    def charge(self):
        return max(0.0, 1.0 - self.used_mah / self.capacity_mah)

    def voltage(self):
        return voltage_at(self.charge())

    def days_left(self, mah_per_day, floor_v=3.3):
        """Days until the voltage reaches floor_v at this rate of use (None when nothing is used)."""
        if mah_per_day <= 0:
            return None
        return max(0.0, (self.charge() - charge_at(floor_v)) * self.capacity_mah / mah_per_day)
