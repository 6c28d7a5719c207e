"""Time on air, the EU868 duty cycle and the radio around the modem, over a simulated day."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from firmware.airtime import time_on_air_us
from firmware.dutycycle import DutyCycle
from firmware.radio import Radio
from firmware.sim.clock import SimClock
from firmware.sim.modem import SimModem
from tests.micropython import runner

DAY_MS = 86_400_000


@pytest.mark.parametrize(
    ("length", "sf", "us"),
    [  # Semtech AN1200.13 and ../shared/notes/protocols.md
        (13, 9, 164_864),
        (25, 7, 61_696),
        (25, 8, 113_152),
        (25, 9, 205_824),
        (25, 10, 411_648),
        (25, 11, 823_296),
        (25, 12, 1_482_752),
    ],
)
def test_time_on_air(length: int, sf: int, us: int) -> None:
    assert time_on_air_us(length, sf) == us


def test_low_data_rate_optimisation_is_automatic() -> None:
    assert time_on_air_us(30, 11) == time_on_air_us(30, 11, ldro=True) != time_on_air_us(30, 11, ldro=False)
    assert time_on_air_us(30, 10) == time_on_air_us(30, 10, ldro=False)


@pytest.mark.parametrize(
    ("freq", "band", "limit"),
    [(863100, 0, 0.001), (867100, 1, 0.01), (868100, 2, 0.01), (868900, 3, 0.001), (869525, 4, 0.1), (869850, 5, 0.01)],
)
def test_sub_bands(freq: int, band: int, limit: float) -> None:
    duty = DutyCycle()
    assert duty.band(freq) == band
    assert duty.limit(freq) == pytest.approx(limit)


@pytest.mark.parametrize("freq", [862900, 868650, 869300, 870000, 915000])
def test_outside_the_sub_bands_is_refused(freq: int) -> None:
    with pytest.raises(ValueError):
        DutyCycle().band(freq)


def test_off_time_and_its_persistence() -> None:
    duty = DutyCycle()
    duty.record(868100, 1000, 206)
    assert duty.available_at_ms(868300) == 1000 + 206 * 100  # same band: 1 %
    assert duty.available_at_ms(867100) == 0  # another band
    again = DutyCycle(duty.state())
    assert again.available_at_ms(868500) == 21600


def radio(channels: list[int], sf: int = 9) -> tuple[Radio, SimModem, SimClock]:
    clock = SimClock(0)
    modem = SimModem(clock)
    return Radio(modem, clock, channels, sf=sf), modem, clock


def test_send_configures_the_modem_and_puts_it_to_sleep() -> None:
    r, modem, _ = radio([868100])
    sent = r.send(bytes(25))
    assert sent == {"freq_khz": 868100, "sf": 9, "airtime_ms": 206, "start_ms": 0, "end_ticks": 206}
    assert modem.cfg["syncword"] == 0x34 and modem.cfg["bw"] == "125" and modem.cfg["invert_iq_tx"] is False
    assert modem.state == "sleep"


def test_busy_bands_return_none_without_waiting() -> None:
    r, modem, clock = radio([868100, 868300])
    assert r.send(bytes(25)) is not None
    assert not r.ready()
    assert r.send(bytes(25)) is None
    assert len(modem.sent) == 1 and clock.time_ms() < 1000
    assert r.send(bytes(25), max_wait_ms=30_000) is not None  # a short wait may be allowed


def test_hops_over_the_channels() -> None:
    r, modem, clock = radio([867100, 867300, 867500, 867700, 867900])
    for k in range(50):
        clock.sleep_ms(30_000)
        r.send(bytes([k]) * 20)
    used = {rec["freq_khz"] for rec in modem.sent}
    assert used == {867100, 867300, 867500, 867700, 867900}


@pytest.mark.parametrize("fault", ["fail", "hang"])
def test_modem_faults_become_oserror_and_leave_it_asleep(fault: str) -> None:
    r, modem, _ = radio([868100])
    if fault == "fail":
        modem.fail_next = 1
    else:
        modem.hang = True
    with pytest.raises(OSError, match="radio"):
        r.send(bytes(25))
    assert modem.state == "sleep"


def airtime_per_band(sent: list[dict[str, Any]], window_ms: int) -> dict[tuple[int, int], float]:
    """Transmit time (ms) per (band, window) from the modem's records."""
    duty = DutyCycle()
    out: dict[tuple[int, int], float] = defaultdict(float)
    for rec in sent:
        out[(duty.band(rec["freq_khz"]), rec["time_ms"] // window_ms)] += rec["airtime_us"] / 1000
    return out


@pytest.mark.parametrize(
    ("channels", "sf", "gap_ms"),
    [
        ([868100, 868300, 868500], 9, 0),  # as fast as the radio allows
        ([868100, 868300, 868500], 12, 0),
        ([868100, 868300, 868500, 867100, 867300, 869525], 7, 0),  # three bands
        ([868100, 868300, 868500], 9, 900_000),  # the node's 15 minutes
    ],
)
def test_a_simulated_day_stays_within_every_band_limit(channels: list[int], sf: int, gap_ms: int) -> None:
    r, modem, clock = radio(channels, sf)
    while clock.time_ms() < DAY_MS:
        if r.send(bytes(25)) is None:
            clock.sleep_ms(1000)
        elif gap_ms:
            clock.sleep_ms(gap_ms)
    duty = DutyCycle()
    limits = {duty.band(f): duty.limit(f) for f in channels}
    for (band, _hour), ms in airtime_per_band(modem.sent, 3_600_000).items():
        assert ms <= limits[band] * 3_600_000 * 1.01 + 1500  # one frame may straddle the hour
    for (band, _day), ms in airtime_per_band(modem.sent, DAY_MS).items():
        assert ms <= limits[band] * DAY_MS
    assert len(modem.sent) > (20 if gap_ms else 300)


def test_the_duty_cycle_day_under_micropython(tmp_path: Path) -> None:
    script = Path(__file__).with_name("radio_day_micropython.py")
    root = runner.build(tmp_path, extra=(script,))
    result = runner.run(root, ["-m", "radio_day_micropython"], heapsize="64k")
    assert result.returncode == 0, result.stderr
    frames, worst = result.stdout.split()
    assert int(frames) > 300
    assert float(worst) <= 0.01  # the busiest band's share of the day


def downlink(t_ms: int, freq_khz: int = 868100, sf: int = 9, **more: object) -> dict[str, object]:
    return {"t_ms": t_ms, "freq_khz": freq_khz, "sf": sf, "phy": bytes(range(20)), **more}


@pytest.mark.parametrize(
    ("sf", "error_ms", "heard"),
    [(9, 0, True), (9, 15, True), (9, -15, True), (7, 35, False), (7, -40, False), (12, -90, True)],
)
def test_a_receive_window_hears_a_downlink_only_within_its_timing_error(sf: int, error_ms: int, heard: bool) -> None:
    r, modem, clock = radio([868100], sf=sf)
    sent = r.send(bytes(25))
    due = sent["end_ticks"] + 1000
    modem.downlinks.append(downlink(due + error_ms, sf=sf, rssi_dbm=-101, snr_db=-3.25))
    rx = r.receive(sent["end_ticks"], 1000, 868100, sf)
    assert (rx is not None) == heard
    if heard:
        assert bytes(rx) == bytes(range(20)) and rx.rssi == -101 and rx.snr == -13
        assert rx.ticks_ms == clock.ticks_ms() >= due + error_ms  # the whole packet was received
    else:
        assert clock.ticks_ms() < due + 1000  # the window closed on its own, long before RX2
    assert modem.state == "sleep" and modem.cfg["invert_iq_rx"] is True


def test_a_window_hears_only_its_own_channel_sf_and_inverted_iq_and_keeps_later_packets() -> None:
    r, modem, _ = radio([868100], sf=9)
    sent = r.send(bytes(25))
    rx1 = sent["end_ticks"] + 1000
    rx2 = rx1 + 1000
    modem.downlinks += [
        downlink(rx1, freq_khz=868300),  # another channel
        downlink(rx1, sf=10),  # another spreading factor
        downlink(rx1, iq_inverted=False),  # another node's uplink
        downlink(rx2, freq_khz=869525, sf=12),
    ]
    assert r.receive(sent["end_ticks"], 1000, 868100, 9) is None
    assert len(modem.downlinks) == 1  # the ones RX1 could not hear are past; RX2's waits
    rx = r.receive(sent["end_ticks"], 2000, 869525, 12)
    assert rx is not None and modem.downlinks == []
