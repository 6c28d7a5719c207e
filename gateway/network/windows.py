"""Where and when a downlink can go: a node's two class A windows, through which gateway, within its duty cycle.

TS001-1.0.4 3.3 and RP002-1.0.3 EU868. RX1 opens RxDelay after the end of the
uplink, on the uplink's channel at its data rate less RX1DROffset; RX2 one
second later on the RX2 frequency and data rate. The time is the gateway's
own counter (Semtech `tmst`, or the gateway board's ticks), which the uplink's
reception carries: adding the delay to it needs no clock shared with the
gateway. A gateway transmits within the EU868 sub-band duty cycle (1 % for the
RX1 channels, 10 % for 869.4-869.65 MHz where RX2 sits), kept per gateway with
the firmware's own table (firmware/dutycycle.py). A window whose time has
passed, or is too close to prepare, is never used: a late downlink is dropped,
never sent late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from firmware.airtime import time_on_air_us
from firmware.dutycycle import DutyCycle
from firmware.lorawan.session import dr_of, sf_of  # EU868 DR0..DR5 = SF12..SF7 at 125 kHz
from gateway.bridge.frame import Reception

COUNTER_WRAP = 1 << 32  # Semtech tmst: 32-bit microseconds
BOARD_WRAP = (1 << 30) * 1000  # the gateway board's ticks_ms wrap at 2**30 ms; its counter_us is ticks x 1000
# A downlink must reach its gateway this long before its window: Semtech forwarders want it in their
# queue well before (the JIT queue), and a USB serial link adds milliseconds.
LEAD_MS = 300


@dataclass(frozen=True)
class RxSettings:
    """A node's receive windows, as its session says (JoinAccept, RXParamSetupReq, RXTimingSetupReq)."""

    rx_delay_s: int = 1
    rx1_dr_offset: int = 0
    rx2_freq_hz: int = 869_525_000
    rx2_dr: int = 0


@dataclass(frozen=True)
class Window:
    """One way to send: which window, through which gateway, when on its counter, on what channel."""

    name: str  # "rx1" or "rx2"
    gateway: str
    counter_us: int  # the gateway's counter when the downlink must start
    due_ms: int  # the same moment on the bridge's clock: the window is useless after it
    freq_hz: int
    sf: int
    bw_khz: int = 125


def windows(
    receptions: Sequence[Reception], uplink_end_ms: int, rx: RxSettings, board_gateway: str | None = None
) -> list[Window]:
    """Every window a downlink could use, best first: RX1 then RX2, each through the gateways by SNR.

    uplink_end_ms: when the uplink ended on the bridge's clock (its reception time); receptions without a
    gateway counter cannot be scheduled and are left out. board_gateway: the gateway board's id, whose
    counter is its ticks x 1000 and wraps at 2**30 ms rather than 2**32 us.
    """
    heard = sorted((r for r in receptions if r.counter_us is not None), key=lambda r: -r.snr_db)
    out: list[Window] = []
    for name, delay_s in (("rx1", rx.rx_delay_s), ("rx2", rx.rx_delay_s + 1)):
        due_ms = uplink_end_ms + delay_s * 1000
        for r in heard:
            assert r.counter_us is not None
            board = r.gateway == board_gateway or r.gateway.startswith("board:")
            wrap = BOARD_WRAP if board else COUNTER_WRAP
            counter = (r.counter_us + delay_s * 1_000_000) % wrap
            if name == "rx1":
                sf = sf_of(max(0, dr_of(r.sf) - rx.rx1_dr_offset))
                out.append(Window(name, r.gateway, counter, due_ms, r.freq_hz, sf))
            else:
                out.append(Window(name, r.gateway, counter, due_ms, rx.rx2_freq_hz, sf_of(rx.rx2_dr)))
    return out


class GatewayDuty:
    """Each gateway's downlink duty cycle per EU868 sub-band, on the bridge's clock (ms)."""

    def __init__(self) -> None:
        self._duty: dict[str, DutyCycle] = {}

    def _of(self, gateway: str) -> DutyCycle:
        return self._duty.setdefault(gateway, DutyCycle())

    def allows(self, w: Window) -> bool:
        return self._of(w.gateway).available_at_ms(w.freq_hz // 1000) <= w.due_ms

    def charge(self, w: Window, length: int) -> None:
        airtime_ms = (time_on_air_us(length, w.sf, w.bw_khz, 5, 8) + 999) // 1000
        self._of(w.gateway).record(w.freq_hz // 1000, w.due_ms, airtime_ms)


def choose(candidates: Sequence[Window], duty: GatewayDuty, now_ms: int, length: int) -> Window | None:
    """The first window still ahead by LEAD_MS whose gateway's duty cycle allows `length` bytes; it is charged.

    None: no window can carry it, and the downlink waits for the node's next uplink.
    """
    for w in candidates:
        if w.due_ms - now_ms < LEAD_MS:
            continue  # too late to reach the gateway in time: never sent late
        if duty.allows(w):
            duty.charge(w, length)
            return w
    return None
