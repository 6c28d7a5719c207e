"""Runs under MicroPython: a day of frames as fast as the duty cycle allows; prints frames and worst share."""

from firmware.dutycycle import DutyCycle
from firmware.radio import Radio
from firmware.sim.clock import SimClock
from firmware.sim.modem import SimModem

DAY_MS = 86400000


def main():
    clock = SimClock(0)
    modem = SimModem(clock)
    modem.keep_sent = False
    per_band = {}
    duty = DutyCycle()

    def count(rec):
        b = duty.band(rec["freq_khz"])
        per_band[b] = per_band.get(b, 0) + rec["airtime_us"]

    modem.on_send = count
    radio = Radio(modem, clock, [868100, 868300, 868500], sf=9)
    frames = 0
    while clock.time_ms() < DAY_MS:
        if radio.send(bytes(25)) is None:
            clock.sleep_ms(1000)
        else:
            frames += 1
    worst = max(per_band.values()) / 1000 / clock.time_ms()
    print(frames, worst)


main()
