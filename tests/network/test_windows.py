"""Class A windows on the network side (gateway/network/windows.py): timing, gateway choice, duty cycle."""

from __future__ import annotations

from gateway.bridge.frame import Reception
from gateway.network.windows import LEAD_MS, GatewayDuty, RxSettings, choose, windows


def rx(gateway: str, snr: float, counter_us: int | None, sf: int = 9, freq_hz: int = 868_300_000) -> Reception:
    return Reception(gateway, -100.0, snr, freq_hz, sf, 125, counter_us=counter_us)


def test_rx1_and_rx2_on_each_gateways_counter_best_snr_first() -> None:
    heard = [rx("far", -7.0, 1_000), rx("near", 6.5, 4_294_500_000), rx("no-counter", 9.0, None)]
    got = windows(heard, uplink_end_ms=50_000, rx=RxSettings(rx_delay_s=5, rx1_dr_offset=1, rx2_dr=3))
    assert [(w.name, w.gateway) for w in got] == [("rx1", "near"), ("rx1", "far"), ("rx2", "near"), ("rx2", "far")]
    near1, far1, near2, _far2 = got
    assert near1.counter_us == (4_294_500_000 + 5_000_000) % 2**32  # the 32-bit counter wraps
    assert far1.counter_us == 5_001_000 and near1.due_ms == 55_000 and near2.due_ms == 56_000
    assert near1.freq_hz == 868_300_000 and near1.sf == 10  # DR3 less an offset of 1: DR2
    assert near2.freq_hz == 869_525_000 and near2.sf == 9  # RX2 at DR3, as TTN's plan says


def test_a_gateway_out_of_duty_cycle_hands_over_and_a_late_window_is_never_used() -> None:
    heard = [rx("near", 6.0, 0), rx("far", -5.0, 0)]
    duty = GatewayDuty()
    first = windows(heard, 10_000, RxSettings())
    assert choose(first, duty, now_ms=10_000 - 1000, length=33) == first[0]  # RX1 through the best gateway
    # 33 bytes at SF9 is about 0.25 s: its 1 % sub-band is closed for 25 s, so the next uplink's RX1 goes
    # through the other gateway, and when that too is used up, through RX2 (10 %).
    second = windows(heard, 12_000, RxSettings())
    assert choose(second, duty, now_ms=11_000, length=33).gateway == "far"  # type: ignore[union-attr]
    third = windows(heard, 14_000, RxSettings())
    picked = choose(third, duty, now_ms=13_000, length=33)
    assert picked is not None and picked.name == "rx2" and picked.gateway == "near"
    late = windows(heard, 20_000, RxSettings())
    assert choose(late, duty, now_ms=20_000 + 2000 - LEAD_MS + 1, length=33) is None  # both windows too close
