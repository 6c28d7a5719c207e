"""Sensor drivers against simulated buses that answer as the datasheets say, failures included."""

from __future__ import annotations

import pytest

from firmware.sensors.battery import Battery
from firmware.sensors.ds18b20 import DS18B20
from firmware.sensors.sht import SHT3x, SHT4x, crc8
from firmware.sensors.soil_moisture import SoilMoisture
from firmware.sensors.trap import TrapCounter
from firmware.sim.buses import (
    SimADC,
    SimDS18B20,
    SimI2C,
    SimOneWire,
    SimSHT3x,
    SimSHT4x,
    make_rom,
    maxim_crc8,
)


def no_wait(ms: int) -> None:
    pass


# ---------------------------------------------------------------- CRCs from the datasheets


def test_sensirion_crc_example() -> None:
    assert crc8(b"\xbe\xef") == 0x92  # SHT4x datasheet 4.6, SHT3x datasheet 4.12


def test_maxim_crc_over_a_rom_with_its_crc_is_zero() -> None:
    rom = make_rom(0xA1B2C3D4E5F6)
    assert rom[0] == 0x28
    assert maxim_crc8(rom) == 0
    assert maxim_crc8(b"\x02\x1c\xb8\x01\x00\x00\x00") == 0xA2  # Maxim application note 27, worked example


# ---------------------------------------------------------------- DS18B20


@pytest.mark.parametrize(
    ("temp_c", "raw", "expected"),
    [  # DS18B20 datasheet, table 1 (temperature/data relationship)
        (125.0, 0x07D0, 125.0),
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
    assert DS18B20(SimOneWire([probe]), no_wait).read() == [expected]


def test_ds18b20_several_on_one_bus_in_rom_order_and_one_corrupt() -> None:
    probes = [SimDS18B20(make_rom(s), t) for s, t in ((3, 8.5), (1, 12.25), (2, -3.0))]
    probes[2].corrupt = True  # serial 2: a bit flips on the wire
    sensor = DS18B20(SimOneWire(probes), no_wait)
    assert sensor.read() == [12.25, None, 8.5]
    assert sensor.errors == 1


def test_ds18b20_waits_for_the_conversion() -> None:
    waited = []
    DS18B20(SimOneWire([SimDS18B20(make_rom(1), 20.0)]), waited.append).read()
    assert waited == [750]


def test_ds18b20_no_presence_pulse_is_an_oserror() -> None:
    probe = SimDS18B20(make_rom(1), 20.0)
    probe.absent = True
    with pytest.raises(OSError):
        DS18B20(SimOneWire([probe]), no_wait).read()


def test_ds18b20_probe_that_leaves_the_bus_reads_none() -> None:
    probes = [SimDS18B20(make_rom(1), 20.0), SimDS18B20(make_rom(2), 21.0)]
    sensor = DS18B20(SimOneWire(probes), no_wait)
    assert sensor.read() == [20.0, 21.0]
    probes[1].absent = True  # a cut cable: the bus reads ones, the CRC fails
    assert sensor.read() == [20.0, None]


# ---------------------------------------------------------------- SHT4x / SHT3x


@pytest.mark.parametrize("cls, sim", [(SHT4x, SimSHT4x), (SHT3x, SimSHT3x)])
@pytest.mark.parametrize(("temp_c", "rh_pct"), [(-40.0, 0.0), (0.0, 50.0), (21.37, 64.2), (85.0, 100.0)])
def test_sht_reads_back_what_the_device_measured(cls: type, sim: type, temp_c: float, rh_pct: float) -> None:
    t, rh = cls(SimI2C({0x44: sim(temp_c, rh_pct)}), sleep_ms=no_wait).read()
    assert t == pytest.approx(temp_c, abs=0.01)
    assert rh == pytest.approx(rh_pct, abs=0.01)


def test_sht4x_conversion_at_known_words() -> None:
    """SHT4x 4.6: T = -45 + 175 * St / 65535; RH = -6 + 125 * Srh / 65535, cropped to 0..100."""

    class Fixed:
        nack = False

        def __init__(self, words: bytes) -> None:
            self.words = words

        def write(self, buf: bytes) -> None:
            pass

        def read_into(self, buf: bytearray) -> None:
            buf[:] = self.words

    def frame(st: int, srh: int) -> bytes:
        a, b = st.to_bytes(2, "big"), srh.to_bytes(2, "big")
        return a + bytes([crc8(a)]) + b + bytes([crc8(b)])

    assert SHT4x(SimI2C({0x44: Fixed(frame(0, 0))}), sleep_ms=no_wait).read() == (-45.0, 0.0)
    t, rh = SHT4x(SimI2C({0x44: Fixed(frame(65535, 65535))}), sleep_ms=no_wait).read()
    assert (t, rh) == (130.0, 100.0)


def test_sht_crc_mismatch_and_nack_are_oserrors() -> None:
    dev = SimSHT4x(20.0, 50.0)
    dev.fail_crc = True
    with pytest.raises(OSError, match="CRC"):
        SHT4x(SimI2C({0x44: dev}), sleep_ms=no_wait).read()
    with pytest.raises(OSError):
        SHT4x(SimI2C({}), sleep_ms=no_wait).read()


# ---------------------------------------------------------------- soil moisture, battery, traps


@pytest.mark.parametrize(
    ("raw", "pct"),
    [(52000, 0.0), (21000, 100.0), (36500, 50.0), (60000, 0.0), (10000, 100.0), (45800, 20.0)],
)
def test_soil_two_point_calibration(raw: int, pct: float) -> None:
    assert SoilMoisture(SimADC(raw), dry=52000, wet=21000).read() == pytest.approx(pct)


def test_soil_calibration_works_the_other_way_round() -> None:
    assert SoilMoisture(SimADC(30000), dry=20000, wet=40000).read() == pytest.approx(50.0)


@pytest.mark.parametrize("raw", [0, 65535])
def test_soil_probe_on_a_rail_is_an_oserror(raw: int) -> None:
    with pytest.raises(OSError, match="unplugged or shorted"):
        SoilMoisture(SimADC(raw), dry=52000, wet=21000).read()


def test_soil_calibration_with_dry_equal_wet_is_refused() -> None:
    with pytest.raises(ValueError, match="dry == wet"):
        SoilMoisture(SimADC(100), dry=30000, wet=30000)


def test_battery_through_the_divider_and_its_switch() -> None:
    switched = []

    class Switch:
        def on(self) -> None:
            switched.append("on")

        def off(self) -> None:
            switched.append("off")

    assert Battery(SimADC(uv=790000), 4.9, enable=Switch()).read() == pytest.approx(3.871)
    assert switched == ["on", "off"]
    with pytest.raises(OSError, match="divider off"):
        Battery(SimADC(uv=1000), 4.9).read()


def test_trap_counts_wrap_at_65536() -> None:
    counts = [65534, 0]
    trap = TrapCounter(counts)
    for _ in range(3):
        trap.pulse(0)
    trap.pulse(1)
    assert trap.read() == [1, 1]
    trap.reset(1)
    assert counts == [1, 0]
