"""Sensor drivers against simulated buses that answer as the datasheets say, failures included.

Expected values come from the datasheets' own examples and formulas (cited per
test), not from what the drivers print. The last test runs the same drivers
under the real MicroPython interpreter (tests/firmware/sensors_micropython.py).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware.sensors.battery import Battery
from firmware.sensors.ds18b20 import DS18B20
from firmware.sensors.fitted import Sensors
from firmware.sensors.sht import SHT3x, SHT4x, crc8
from firmware.sensors.soil_moisture import SoilMoisture
from firmware.sensors.trap import TrapCounter
from firmware.sim.adc import SimADC
from firmware.sim.clock import SimClock
from firmware.sim.i2c import SimI2C, SimSHT3x, SimSHT4x
from firmware.sim.onewire import SimDS18B20, SimOneWire, make_rom, maxim_crc8
from tests.micropython import runner


def no_wait(ms: int) -> None:
    pass


# ---------------------------------------------------------------- CRCs from the datasheets


def test_sensirion_crc_example() -> None:
    assert crc8(b"\xbe\xef") == 0x92  # SHT3x-DIS 4.12 table 20; SHT4x "Checksum Calculation"
    assert crc8(b"\x00\xbe\xef", start=1) == 0x92


def test_maxim_crc_examples() -> None:
    # Application note 27, example 2: ROM A2 00 00 00 01 B8 1C 02 (CRC first, family code last).
    assert maxim_crc8(bytes.fromhex("021cb801000000")) == 0xA2
    assert maxim_crc8(bytes.fromhex("021cb801000000a2")) == 0
    # The power-up scratchpad of a genuine DS18B20 as read off real parts (+85 °C, TH 75, TL 70,
    # 12 bits, reserved FF 0C 10), published in github.com/cpetrich/counterfeit_DS18B20.
    assert maxim_crc8(bytes.fromhex("50054b467fff0c10")) == 0x1C


def test_simulated_probe_powers_up_with_the_recorded_scratchpad() -> None:
    assert bytes(SimDS18B20(make_rom(1), 20.0).scratchpad()) == bytes.fromhex("50054b467fff0c101c")


@pytest.mark.parametrize("serial", [0, 1, 0xA1B2C3D4E5F6, 0xFFFFFFFFFFFF])
def test_make_rom_is_a_valid_ds18b20_rom(serial: int) -> None:
    rom = make_rom(serial)
    assert len(rom) == 8
    assert rom[0] == 0x28
    assert int.from_bytes(bytes(rom[1:7]), "little") == serial
    assert maxim_crc8(rom) == 0


# ---------------------------------------------------------------- DS18B20


@pytest.mark.parametrize(
    ("temp_c", "raw", "expected"),
    [  # DS18B20 datasheet, table 1 (temperature/data relationship)
        (125.0, 0x07D0, 125.0),
        (85.0, 0x0550, 85.0),  # a real conversion at +85 °C: byte 6 shows it is not the power-on value
        (25.0625, 0x0191, 25.0625),
        (10.125, 0x00A2, 10.125),
        (0.5, 0x0008, 0.5),
        (0.0, 0x0000, 0.0),
        (-0.5, 0xFFF8, -0.5),
        (-10.125, 0xFF5E, -10.125),
        (-25.0625, 0xFE6F, -25.0625),
        (-55.0, 0xFC90, -55.0),
    ],
)
def test_ds18b20_datasheet_table(temp_c: float, raw: int, expected: float) -> None:
    probe = SimDS18B20(make_rom(1), temp_c)
    probe.convert()
    pad = probe.scratchpad()
    assert pad[0] | (pad[1] << 8) == raw
    sensor = DS18B20(SimOneWire([probe]), no_wait)
    assert sensor.read() == [expected]
    assert sensor.errors == 0


@pytest.mark.parametrize(
    ("config", "temp_c", "expected"),
    [  # datasheet "Configuration Register": at lower resolutions the lowest bits are undefined
        (0x7F, 25.0625, 25.0625),  # 12 bits
        (0x5F, 25.0625, 25.0),  # 11 bits: bit 0 undefined
        (0x3F, 25.1875, 25.0),  # 10 bits: bits 1 and 0 undefined
        (0x1F, -10.125, -10.5),  # 9 bits: rounds towards minus infinity, as the register does
    ],
)
def test_ds18b20_ignores_the_undefined_bits_below_12_bits(config: int, temp_c: float, expected: float) -> None:
    probe = SimDS18B20(make_rom(1), temp_c)
    probe.config = config
    assert DS18B20(SimOneWire([probe]), no_wait).read() == [expected]


def test_ds18b20_several_on_one_bus_in_rom_order_and_one_corrupt() -> None:
    probes = [SimDS18B20(make_rom(s), t) for s, t in ((3, 8.5), (1, 12.25), (2, -3.0))]
    probes[2].corrupt = True  # serial 2: a bit flips on the wire
    sensor = DS18B20(SimOneWire(probes), no_wait)
    assert sensor.read() == [12.25, None, 8.5]
    assert sensor.errors == 1
    assert sensor.read() == [12.25, None, 8.5]
    assert sensor.errors == 2  # counted until the owner clears it


def test_ds18b20_one_conversion_for_all_probes_and_the_wait() -> None:
    probes = [SimDS18B20(make_rom(s), 20.0 + s) for s in (1, 2, 3)]
    waited: list[int] = []
    assert DS18B20(SimOneWire(probes), waited.append).read() == [21.0, 22.0, 23.0]
    assert waited == [750]  # datasheet table 2: 12-bit conversion
    assert [p.conversions for p in probes] == [1, 1, 1]


def test_ds18b20_configured_roms_keep_their_positions() -> None:
    a, b, gone = make_rom(10), make_rom(20), make_rom(30)
    ow = SimOneWire([SimDS18B20(a, 5.0), SimDS18B20(b, 6.0)])
    sensor = DS18B20(ow, no_wait, roms=[b, gone, a])
    assert sensor.read() == [6.0, None, 5.0]
    assert sensor.errors == 1


def test_ds18b20_scan_keeps_only_ds18b20_with_a_valid_rom_crc() -> None:
    good = [make_rom(s) for s in (0x0000AA, 0x000055, 0x123456)]
    ds18s20 = bytearray(make_rom(7))
    ds18s20[0] = 0x10
    ds18s20[7] = maxim_crc8(ds18s20[:7])
    bad_crc = bytearray(make_rom(8))
    bad_crc[7] ^= 0xFF
    ow = SimOneWire([SimDS18B20(r, 1.0) for r in [*good, ds18s20, bad_crc]])
    assert len(ow.scan()) == 5  # the search finds every device; the driver filters
    assert DS18B20(ow, no_wait).scan() == sorted(good, key=bytes)


@pytest.mark.parametrize(
    "serials",
    [
        [1],
        [1, 2],
        [0x800000000000, 0x000000000000],  # differ only in the last serial bit
        [0x0F0F0F0F0F0F, 0x0F0F0F0F0F0E, 0x0F0F0F0F0F0D, 0x1F0F0F0F0F0F],
        list(range(1, 17)),
        [0x5DEECE66D * k & 0xFFFFFFFFFFFF for k in range(1, 9)],
    ],
)
def test_simulated_search_finds_exactly_the_devices_present(serials: list[int]) -> None:
    roms = [make_rom(s) for s in serials]
    devices = [SimDS18B20(r, 0.0) for r in roms]
    devices.append(SimDS18B20(make_rom(0x424242), 0.0))
    devices[-1].absent = True
    found = SimOneWire(devices).scan()
    assert sorted(bytes(r) for r in found) == sorted(bytes(r) for r in roms)


def test_ds18b20_no_presence_pulse_is_an_oserror() -> None:
    probe = SimDS18B20(make_rom(1), 20.0)
    probe.absent = True
    with pytest.raises(OSError, match="no DS18B20"):
        DS18B20(SimOneWire([probe]), no_wait).read()
    with pytest.raises(OSError, match="no presence"):
        DS18B20(SimOneWire([probe]), no_wait, roms=[make_rom(1)]).read()
    with pytest.raises(OSError):
        DS18B20(SimOneWire([]), no_wait).read()


def test_ds18b20_probe_that_leaves_the_bus_reads_none() -> None:
    probes = [SimDS18B20(make_rom(1), 20.0), SimDS18B20(make_rom(2), 21.0)]
    sensor = DS18B20(SimOneWire(probes), no_wait)
    assert sensor.read() == [20.0, 21.0]
    probes[1].absent = True  # a cut cable: the bus reads ones, the CRC fails
    assert sensor.read() == [20.0, None]
    assert sensor.errors == 1


@pytest.mark.parametrize(
    ("genuine", "brownout", "expected"),
    [
        (True, True, None),  # reset during the conversion: the power-on 85 °C with byte 6 = 0x0C
        (False, True, None),
        (True, False, 85.0),  # a genuine part that measured 85 °C: byte 6 = 0x10
        (False, False, None),  # a clone keeps byte 6 at 0x0C: its true 85 °C is given up
    ],
)
def test_ds18b20_power_on_value_is_a_failure(genuine: bool, brownout: bool, expected: float | None) -> None:
    probe = SimDS18B20(make_rom(1), 85.0, genuine=genuine)
    probe.brownout = brownout
    sensor = DS18B20(SimOneWire([probe, SimDS18B20(make_rom(2), 19.5)]), no_wait)
    assert sensor.read() == [expected, 19.5]
    assert sensor.errors == (expected is None)


def test_ds18b20_brownout_at_other_temperatures_is_caught_too() -> None:
    probe = SimDS18B20(make_rom(1), 12.0, genuine=False)
    probe.brownout = True
    assert DS18B20(SimOneWire([probe]), no_wait).read() == [None]


class ShortedBus(SimOneWire):
    """Data line shorted to ground: presence seen, every byte reads 0, and a CRC of zeros is 0."""

    def readbyte(self) -> int:
        return 0


def test_ds18b20_all_zero_scratchpad_is_refused_although_its_crc_matches() -> None:
    assert maxim_crc8(bytes(9)) == 0
    sensor = DS18B20(ShortedBus([SimDS18B20(make_rom(1), 20.0)]), no_wait, roms=[make_rom(1)])
    assert sensor.read() == [None]
    assert sensor.errors == 1


def test_ds18b20_out_of_range_conversion_is_refused() -> None:
    probe = SimDS18B20(make_rom(1), 127.9375)  # 0x07FF: what a failed conversion reports
    assert DS18B20(SimOneWire([probe]), no_wait).read() == [None]


# ---------------------------------------------------------------- SHT4x / SHT3x


@pytest.mark.parametrize(("cls", "sim"), [(SHT4x, SimSHT4x), (SHT3x, SimSHT3x)])
@pytest.mark.parametrize(("temp_c", "rh_pct"), [(-40.0, 0.0), (0.0, 50.0), (21.37, 64.2), (85.0, 100.0)])
def test_sht_reads_back_what_the_device_measured(cls: type, sim: type, temp_c: float, rh_pct: float) -> None:
    t, rh = cls(SimI2C({0x44: sim(temp_c, rh_pct)}), sleep_ms=no_wait).read()
    # 16-bit words: 175 / 65535 °C and 125 / 65535 %RH per step.
    assert t == pytest.approx(temp_c, abs=0.003)
    assert rh == pytest.approx(rh_pct, abs=0.002)


class FixedI2C:
    """Answers every read with one fixed frame, whatever the command."""

    def __init__(self, frame: bytes) -> None:
        self.frame = frame
        self.commands: list[bytes] = []

    def writeto(self, addr: int, buf: bytes) -> int:
        self.commands.append(bytes(buf))
        return len(buf)

    def readfrom_into(self, addr: int, buf: bytearray) -> None:
        buf[:] = self.frame


def frame(st: int, srh: int) -> bytes:
    a, b = st.to_bytes(2, "big"), srh.to_bytes(2, "big")
    return a + bytes([crc8(a)]) + b + bytes([crc8(b)])


@pytest.mark.parametrize(
    ("st", "srh", "temp_c", "rh_pct"),
    [  # SHT4x "Conversion of Signal Output": T = -45 + 175 St/65535, RH = -6 + 125 Srh/65535, cropped
        (0, 0, -45.0, 0.0),  # RH -6 cropped to 0
        (65535, 65535, 130.0, 100.0),  # RH 119 cropped to 100
        (0x6666, 0x8000, -45 + 175 * 0x6666 / 65535, -6 + 125 * 0x8000 / 65535),
        (0, 3146, -45.0, -6 + 125 * 3146 / 65535),  # the lowest word that gives RH > 0
        (0, 55574, -45.0, 100.0),  # 100.0006 cropped
    ],
)
def test_sht4x_conversion_at_known_words(st: int, srh: int, temp_c: float, rh_pct: float) -> None:
    bus = FixedI2C(frame(st, srh))
    t, rh = SHT4x(bus, sleep_ms=no_wait).read()
    assert (t, rh) == (pytest.approx(temp_c, abs=1e-9), pytest.approx(rh_pct, abs=1e-9))
    assert bus.commands == [b"\xfd"]


@pytest.mark.parametrize(
    ("st", "srh", "temp_c", "rh_pct"),
    [  # SHT3x-DIS 4.13: T = -45 + 175 St/65535, RH = 100 Srh/65535
        (0, 0, -45.0, 0.0),
        (65535, 65535, 130.0, 100.0),
        (0x6666, 0x8000, -45 + 175 * 0x6666 / 65535, 100 * 0x8000 / 65535),
    ],
)
def test_sht3x_conversion_at_known_words(st: int, srh: int, temp_c: float, rh_pct: float) -> None:
    bus = FixedI2C(frame(st, srh))
    t, rh = SHT3x(bus, sleep_ms=no_wait).read()
    assert (t, rh) == (pytest.approx(temp_c, abs=1e-9), pytest.approx(rh_pct, abs=1e-9))
    assert bus.commands == [b"\x24\x00"]


@pytest.mark.parametrize(("cls", "sim", "wait_ms"), [(SHT4x, SimSHT4x, 10), (SHT3x, SimSHT3x, 16)])
def test_sht_waits_long_enough_for_a_device_that_nacks_early_reads(cls: type, sim: type, wait_ms: int) -> None:
    clock = SimClock(1000)
    dev = sim(18.0, 40.0)
    t, _ = cls(SimI2C({0x44: dev}, clock=clock), sleep_ms=clock.sleep_ms).read()
    assert t == pytest.approx(18.0, abs=0.003)
    assert clock.ticks_ms() == 1000 + wait_ms
    assert dev.measurements == 1


@pytest.mark.parametrize(("command", "ready_ms"), [(b"\x24\x00", 15), (b"\xfd", 9)])
def test_simulated_sht_nacks_a_read_before_the_measurement_is_done(command: bytes, ready_ms: int) -> None:
    clock = SimClock(0)
    dev = SimSHT3x(20.0, 50.0) if len(command) == 2 else SimSHT4x(20.0, 50.0)
    i2c = SimI2C({0x44: dev}, clock=clock)
    buf = bytearray(6)
    assert i2c.writeto(0x44, command) == len(command)
    clock.sleep_ms(ready_ms - 1)
    with pytest.raises(OSError) as err:
        i2c.readfrom_into(0x44, buf)
    assert err.value.errno == errno.ENODEV
    clock.sleep_ms(1)
    i2c.readfrom_into(0x44, buf)
    assert crc8(buf) == buf[2]
    with pytest.raises(OSError):  # read once: the data is gone
        i2c.readfrom_into(0x44, buf)


def test_simulated_sht3x_status_register_and_sht4x_serial() -> None:
    buf = bytearray(3)
    i2c = SimI2C({0x44: SimSHT3x(20.0, 50.0), 0x45: SimSHT4x(20.0, 50.0)})
    i2c.writeto(0x44, b"\xf3\x2d")
    i2c.readfrom_into(0x44, buf)
    assert (buf[0] << 8 | buf[1], crc8(buf)) == (0x8010, buf[2])  # SHT3x 4.11: alert pending, reset seen
    serial = bytearray(6)
    i2c.writeto(0x45, b"\x89")
    i2c.readfrom_into(0x45, serial)
    assert crc8(serial) == serial[2] and crc8(serial, 3) == serial[5]
    assert serial[0] << 24 | serial[1] << 16 | serial[3] << 8 | serial[4] == 0x12345678


@pytest.mark.parametrize(("cls", "sim"), [(SHT4x, SimSHT4x), (SHT3x, SimSHT3x)])
def test_sht_crc_mismatch_is_an_oserror(cls: type, sim: type) -> None:
    dev = sim(20.0, 50.0)
    dev.fail_crc = True
    with pytest.raises(OSError, match="CRC"):
        cls(SimI2C({0x44: dev}), sleep_ms=no_wait).read()


@pytest.mark.parametrize(("cls", "sim"), [(SHT4x, SimSHT4x), (SHT3x, SimSHT3x)])
def test_sht_nack_and_absent_device_are_enodev(cls: type, sim: type) -> None:
    dev = sim(20.0, 50.0)
    dev.nack = True
    for i2c in (SimI2C({0x44: dev}), SimI2C({}), SimI2C({0x45: sim(20.0, 50.0)})):
        with pytest.raises(OSError) as err:
            cls(i2c, sleep_ms=no_wait).read()
        assert err.value.errno == errno.ENODEV


def test_sht_at_the_other_address() -> None:
    t, rh = SHT3x(SimI2C({0x45: SimSHT3x(7.5, 81.0)}), address=0x45, sleep_ms=no_wait).read()
    assert (t, rh) == (pytest.approx(7.5, abs=0.003), pytest.approx(81.0, abs=0.002))


@pytest.mark.parametrize(("cls", "sim"), [(SHT3x, SimSHT4x), (SHT4x, SimSHT3x)])
def test_sht_driver_for_the_wrong_part_fails_with_oserror(cls: type, sim: type) -> None:
    # The config names one family and the other is fitted: the part refuses the command.
    with pytest.raises(OSError, match="did not accept"):
        cls(SimI2C({0x44: sim(20.0, 50.0)}), sleep_ms=no_wait).read()


def test_sht_default_sleep_works_on_cpython() -> None:
    t, rh = SHT4x(SimI2C({0x44: SimSHT4x(22.0, 45.0)})).read()
    assert (t, rh) == (pytest.approx(22.0, abs=0.003), pytest.approx(45.0, abs=0.002))


# ---------------------------------------------------------------- soil moisture


@pytest.mark.parametrize(
    ("raw", "dry", "wet", "pct"),
    [
        (52000, 52000, 21000, 0.0),  # dry point
        (21000, 52000, 21000, 100.0),  # wet point
        (36500, 52000, 21000, 50.0),  # half way
        (45800, 52000, 21000, 20.0),
        (60000, 52000, 21000, 0.0),  # drier than the air calibration: clamped
        (10000, 52000, 21000, 100.0),  # wetter than water: clamped
        (30000, 20000, 40000, 50.0),  # a probe wired the other way round (reads high when wet)
        (40000, 20000, 40000, 100.0),
        (45000, 20000, 40000, 100.0),
        (15000, 20000, 40000, 0.0),
    ],
)
def test_soil_two_point_calibration(raw: int, dry: int, wet: int, pct: float) -> None:
    assert SoilMoisture(SimADC(raw), dry=dry, wet=wet).read() == pytest.approx(pct)


def alternating(*values: int) -> Callable[[], int]:
    seq = list(values)
    state = {"i": 0}

    def source() -> int:
        v = seq[state["i"] % len(seq)]
        state["i"] += 1
        return v

    return source


def test_soil_averages_its_samples() -> None:
    adc = SimADC(source=alternating(36000, 37001))
    probe = SoilMoisture(adc, dry=52000, wet=21000, samples=8)
    assert probe.read() == pytest.approx((52000 - 36500.5) * 100 / 31000)
    assert adc.reads == 8
    assert probe.raw() == 36501  # the mean 36500.5, rounded half up
    assert SoilMoisture(SimADC(source=alternating(100, 200, 300)), 1, 2, samples=3).raw() == 200


@pytest.mark.parametrize("values", [(0,), (65535,), (0, 65535)])
def test_soil_probe_on_a_rail_is_an_oserror(values: tuple[int, ...]) -> None:
    with pytest.raises(OSError, match="unplugged or shorted"):
        SoilMoisture(SimADC(source=alternating(*values)), dry=52000, wet=21000).read()
    with pytest.raises(OSError):
        SoilMoisture(SimADC(source=alternating(*values)), dry=52000, wet=21000).raw()


def test_soil_one_sample_off_the_rail_is_a_reading() -> None:
    source = alternating(65535, 65535, 65535, 65535, 65535, 65535, 65535, 52000)
    assert SoilMoisture(SimADC(source=source), dry=52000, wet=21000).read() == 0.0


@pytest.mark.parametrize(("dry", "wet", "samples"), [(30000, 30000, 8), (52000, 21000, 0)])
def test_soil_calibration_that_cannot_work_is_refused(dry: int, wet: int, samples: int) -> None:
    with pytest.raises(ValueError):
        SoilMoisture(SimADC(100), dry=dry, wet=wet, samples=samples)


def test_soil_dry_equal_wet_says_so() -> None:
    with pytest.raises(ValueError, match="dry == wet"):
        SoilMoisture(SimADC(100), dry=30000, wet=30000)


# ---------------------------------------------------------------- battery


class Switch:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def on(self) -> None:
        self.events.append("on")

    def off(self) -> None:
        self.events.append("off")


@pytest.mark.parametrize(
    ("uv", "divider", "volts"),
    [
        (790000, 4.9, 3.871),  # Heltec V3: 390k/100k
        (1300000, 3.2, 4.16),  # Heltec V2
        (2100000, 2.0, 4.2),  # LilyGO T3-S3
        (500000, 2.0, 1.0),  # the lowest plausible reading
    ],
)
def test_battery_through_the_divider(uv: int, divider: float, volts: float) -> None:
    assert Battery(SimADC(uv=uv), divider).read() == pytest.approx(volts)


def test_battery_switches_the_divider_on_only_for_its_readings() -> None:
    events: list[str] = []

    def source() -> int:
        events.append("read")
        return 790000 if len(events) % 2 else 810000

    assert Battery(SimADC(source=source), 4.9, enable=Switch(events)).read() == pytest.approx(0.8 * 4.9)
    assert events == ["on"] + ["read"] * 8 + ["off"]


def test_battery_switch_goes_off_when_the_adc_fails() -> None:
    events: list[str] = []

    def broken() -> int:
        raise OSError(errno.EIO, "adc")

    with pytest.raises(OSError):
        Battery(SimADC(source=broken), 4.9, enable=Switch(events)).read()
    assert events == ["on", "off"]


@pytest.mark.parametrize("uv", [0, 1000, 204000])
def test_battery_implausibly_low_is_an_oserror(uv: int) -> None:
    with pytest.raises(OSError, match="divider off"):
        Battery(SimADC(uv=uv), 4.9).read()


# ---------------------------------------------------------------- traps


@pytest.mark.parametrize(
    ("start", "pulses", "expected"),
    [(0, 1, 1), (65534, 1, 65535), (65535, 1, 0), (65534, 3, 1), (100, 65536, 100)],
)
def test_trap_counts_wrap_at_65536(start: int, pulses: int, expected: int) -> None:
    counts = [start, 7]
    trap = TrapCounter(counts)
    for _ in range(pulses):
        trap.pulse(0)
    assert trap.read() == [expected, 7]
    assert counts == [expected, 7]  # the caller's list (RTC memory) is the state


def test_trap_read_is_a_copy_and_reset_clears_one_trap() -> None:
    counts = [5, 9]
    trap = TrapCounter(counts)
    seen = trap.read()
    trap.pulse(1)
    assert seen == [5, 9]
    trap.reset(1)
    assert counts == [5, 0]


# ---------------------------------------------------------------- the fitted sensors: one report sample


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


class Board:
    """What Sensors asks of a board, on the simulated buses: an SHT4x, one DS18B20 and a 2:1 battery divider."""

    battery_divider = 2.0

    def __init__(self, air_c: float, soil_c: float, battery_v: float) -> None:
        self.clock = SimClock()
        self._i2c = SimI2C({0x44: SimSHT4x(air_c, 50.0)})
        self._onewire = SimOneWire([SimDS18B20(make_rom(1), soil_c)])
        self._battery = SimADC(uv=round(battery_v / self.battery_divider * 1_000_000))

    def i2c(self) -> SimI2C:
        return self._i2c

    def onewire(self) -> SimOneWire:
        return self._onewire

    def battery_adc(self) -> SimADC:
        return self._battery

    def battery_enable(self) -> None:
        return None


@pytest.mark.parametrize(
    ("air_c", "soil_c", "battery_v", "expected", "faults"),
    [
        # docs/payload-format.md 3.1: temperatures -40.0..85.0 °C, battery 2.00..4.55 V; docs/firmware.md,
        # "The cycle": a reading outside is a fault, except the battery, which reads above 4.55 V on a
        # charger and is reported as 4.55.
        (84.9, 84.5, 4.5, (84.9, 84.5, 4.5), 0),
        (-39.9, -39.5, 2.0, (-39.9, -39.5, 2.0), 0),
        (85.2, 90.0, 4.6, (None, None, 4.55), 2),
        (-40.2, -45.0, 1.9, (None, None, None), 3),
    ],
)
def test_fitted_sensors_refuse_readings_outside_the_report_ranges(
    air_c: float, soil_c: float, battery_v: float, expected: tuple[float | None, ...], faults: int
) -> None:
    cfg = {"sensors": {"soil_moisture": [], "soil_temp": 1, "air": "sht4x", "traps": 0, "battery": True}}
    log = Log()
    sensors = Sensors(Board(air_c, soil_c, battery_v), cfg, log)
    sample = sensors.read([0, 0])
    air, soil, battery = expected
    assert sample["air_temp_c"] == (None if air is None else pytest.approx(air, abs=0.01))
    assert sample["soil_temp_c"] == [None if soil is None else pytest.approx(soil)]
    assert sample["battery_v"] == (None if battery is None else pytest.approx(battery))
    assert sample["air_rh_pct"] == pytest.approx(50.0, abs=0.01)
    assert sensors.errors == faults and len(log.lines) == faults, log.lines


# ---------------------------------------------------------------- the same drivers under MicroPython


def test_sensor_drivers_under_micropython(tmp_path: Path) -> None:
    script = Path(__file__).with_name("sensors_micropython.py")
    root = runner.build(tmp_path, extra=(script,))
    result = runner.run(root, ["-m", "sensors_micropython"], heapsize="64k")
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    assert result.stdout.splitlines()[-1] == "ok 47"
