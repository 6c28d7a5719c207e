"""Runs under MicroPython: the sensor drivers against the simulated buses in firmware/sim/; prints "ok N" or raises.

The same scenarios as test_sensors.py, on the interpreter the node runs:
datasheet CRC examples and conversion points, and each failure path.
"""

import micropython
from firmware.sensors.battery import Battery
from firmware.sensors.ds18b20 import DS18B20
from firmware.sensors.sht import SHT3x, SHT4x, crc8
from firmware.sensors.soil_moisture import SoilMoisture
from firmware.sensors.trap import TrapCounter
from firmware.sim.adc import SimADC
from firmware.sim.clock import SimClock
from firmware.sim.i2c import SimI2C, SimSHT3x, SimSHT4x
from firmware.sim.onewire import SimDS18B20, SimOneWire, make_rom, maxim_crc8

checks = [0]


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    checks[0] += 1


def near(a, b, tol=1e-6):
    return a is not None and abs(a - b) <= tol


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as err:
        return err
    return None


def no_wait(ms):
    pass


def crcs():
    check(crc8(b"\xbe\xef") == 0x92, "Sensirion CRC(0xBEEF)")
    check(maxim_crc8(b"\x02\x1c\xb8\x01\x00\x00\x00") == 0xA2, "AN27 ROM example")
    check(maxim_crc8(b"\x50\x05\x4b\x46\x7f\xff\x0c\x10") == 0x1C, "power-up scratchpad CRC")
    check(maxim_crc8(make_rom(0xA1B2C3D4E5F6)) == 0, "make_rom CRC")


def ds18b20():
    for temp, expected in ((125.0, 125.0), (25.0625, 25.0625), (-10.125, -10.125), (-55.0, -55.0), (85.0, 85.0)):
        got = DS18B20(SimOneWire([SimDS18B20(make_rom(1), temp)]), no_wait).read()
        check(len(got) == 1 and near(got[0], expected), "DS18B20 " + str(temp))

    probes = [SimDS18B20(make_rom(s), t) for s, t in ((3, 8.5), (1, 12.25), (2, -3.0))]
    probes[2].corrupt = True
    waited = []
    sensor = DS18B20(SimOneWire(probes), waited.append)
    got = sensor.read()
    check(near(got[0], 12.25) and got[1] is None and near(got[2], 8.5), "DS18B20 ROM order, corrupt one")
    check(sensor.errors == 1, "DS18B20 errors counted")
    check(waited == [750], "DS18B20 conversion wait")

    many = [SimDS18B20(make_rom(0x5DEECE66D * k & 0xFFFFFFFFFFFF), 1.0) for k in range(1, 9)]
    found = SimOneWire(many).scan()
    check(sorted(bytes(r) for r in found) == sorted(d.rom for d in many), "1-Wire search finds all")
    check(DS18B20(SimOneWire(many), no_wait).scan() == sorted(found, key=bytes), "DS18B20 scan sorted")

    gone = SimDS18B20(make_rom(1), 20.0)
    gone.absent = True
    check(isinstance(raises(OSError, DS18B20(SimOneWire([gone]), no_wait).read), OSError), "no presence")
    sensor = DS18B20(SimOneWire([gone]), no_wait, roms=[make_rom(1)])
    check(isinstance(raises(OSError, sensor.read), OSError), "no presence, configured ROMs")

    for genuine, brownout, expected in ((True, True, None), (True, False, 85.0), (False, False, None)):
        probe = SimDS18B20(make_rom(1), 85.0, genuine)
        probe.brownout = brownout
        got = DS18B20(SimOneWire([probe]), no_wait).read()[0]
        check(got == expected, "85 °C genuine=" + str(genuine) + " brownout=" + str(brownout))

    probe = SimDS18B20(make_rom(1), -10.125)
    probe.config = 0x1F
    check(DS18B20(SimOneWire([probe]), no_wait).read() == [-10.5], "9-bit resolution")


def sht():
    for cls, sim in ((SHT4x, SimSHT4x), (SHT3x, SimSHT3x)):
        for temp, rh in ((-40.0, 0.0), (21.37, 64.2), (85.0, 100.0)):
            t, h = cls(SimI2C({0x44: sim(temp, rh)}), sleep_ms=no_wait).read()
            check(near(t, temp, 0.003) and near(h, rh, 0.002), sim.__name__ + " " + str(temp) + " " + str(rh))
        clock = SimClock(0)
        t, h = cls(SimI2C({0x44: sim(18.0, 40.0)}, clock), sleep_ms=clock.sleep_ms).read()
        check(near(t, 18.0, 0.003), "waits for the measurement")
        bad = sim(20.0, 50.0)
        bad.fail_crc = True
        err = raises(OSError, cls(SimI2C({0x44: bad}), sleep_ms=no_wait).read)
        check(err is not None, "CRC mismatch is OSError")
        err = raises(OSError, cls(SimI2C({}), sleep_ms=no_wait).read)
        check(err is not None and err.errno == 19, "absent device is ENODEV")
    err = raises(OSError, SHT3x(SimI2C({0x44: SimSHT4x(20.0, 50.0)}), sleep_ms=no_wait).read)
    check(err is not None, "wrong part refuses the command")


def soil():
    for raw, pct in ((52000, 0.0), (21000, 100.0), (36500, 50.0), (60000, 0.0), (10000, 100.0)):
        check(near(SoilMoisture(SimADC(raw), 52000, 21000).read(), pct), "soil " + str(raw))
    check(near(SoilMoisture(SimADC(30000), 20000, 40000).read(), 50.0), "soil inverted calibration")
    for raw in (0, 65535):
        check(raises(OSError, SoilMoisture(SimADC(raw), 52000, 21000).read) is not None, "soil rail " + str(raw))
    check(raises(ValueError, SoilMoisture, SimADC(1), 30000, 30000) is not None, "dry == wet")


def battery():
    events = []

    class Switch:
        def on(self):
            events.append("on")

        def off(self):
            events.append("off")

    def source():
        events.append("r")
        return 790000

    check(near(Battery(SimADC(source=source), 4.9, Switch()).read(), 3.871), "battery divider")
    check(events == ["on"] + ["r"] * 8 + ["off"], "divider switched around the readings")
    check(raises(OSError, Battery(SimADC(uv=1000), 4.9).read) is not None, "battery divider off")


def traps():
    counts = [65534, 0]
    trap = TrapCounter(counts)
    micropython.heap_lock()  # pulse() runs in an IRQ: any allocation raises MemoryError here
    try:
        for _ in range(3):
            trap.pulse(0)
        trap.pulse(1)
    finally:
        micropython.heap_unlock()
    check(trap.read() == [1, 1], "trap wraps at 65536")
    trap.reset(1)
    check(counts == [1, 0], "trap reset")


crcs()
ds18b20()
sht()
soil()
battery()
traps()
print("ok", checks[0])
