"""A gateway board's transmit path in the OTAA simulation (`akker sim --gateway-kind board`).

The network picks a window as `akker gateway run` does for its board
(gateway/network/windows.py); the TRANSMIT frame is built by
payload_codec/serial_link.py as the bridge's serial source builds it; and the
gateway firmware itself (firmware/gateway_board.py, run in this process)
reads the frame, checks it, acknowledges it, waits for its tick and sends it
with inverted IQ through a SimModem. What that modem sends is the downlink on
the air. So a TRANSMIT the firmware would refuse (too late, too far ahead,
not a LoRaWAN data rate) is refused here too.

The board's clock is farm time in MicroPython's 30-bit ticks_ms, which start
wherever the board was when the run began: board i is (i + 1) hours short of
a wrap, so every run crosses one, as a board does every 12.4 days.
"""

from __future__ import annotations

import io
from typing import Any

from firmware.gateway_board import Gateway
from firmware.sim.modem import SimModem
from payload_codec import serial_link

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms wrap here
_HALF = TICKS_PERIOD // 2
SYNC_WORD = 0x34  # LoRaWAN's public network
POLL_MS = 10  # the gateway firmware's loop polls this often
TX_POWER_DBM = 14  # what the network asks a board for, as gateway/network/service.py does


class BoardTicks:
    """SimClock's interface on the farm's clock, with a board's wrapping ticks_ms."""

    def __init__(self, offset_ms: int) -> None:
        self.now_ms = 0  # farm ms since the run's epoch
        self.offset_ms = offset_ms

    def ticks_ms(self) -> int:
        return (self.now_ms + self.offset_ms) % TICKS_PERIOD

    def ticks_us(self) -> int:
        return self.ticks_ms() * 1000

    def ticks_diff(self, a: int, b: int) -> int:
        return (a - b + _HALF) % TICKS_PERIOD - _HALF  # as time.ticks_diff: across the wrap

    def sleep_ms(self, ms: int) -> None:
        if ms > 0:
            self.now_ms += ms

    def sleep_us(self, us: int) -> None:
        if us > 0:
            self.now_ms += (us + 999) // 1000

    def time_ms(self) -> int:
        return self.now_ms


class _Log:
    """The firmware's RingLog interface; the lines are kept for a failing test to show."""

    def __init__(self) -> None:
        self.echo = None
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines = [*self.lines[-49:], line]


class _Board:
    id = "sim"

    def __init__(self, clock: BoardTicks) -> None:
        self.clock = clock


class BoardTransmitter:
    """One gateway board: listening on freq_khz at sf, sending what the network asks when the firmware agrees."""

    def __init__(self, index: int, freq_khz: int, sf: int) -> None:
        self.freq_khz, self.sf = freq_khz, sf
        self.clock = BoardTicks(TICKS_PERIOD - (index + 1) * 3_600_000)
        self.modem = SimModem(self.clock, on_send=self._sent)
        self.modem.keep_sent = False
        self.host = io.BytesIO()  # what the board writes to the host: its ACKs and LOG frames
        self.firmware = Gateway(_Board(self.clock), _Log(), None, self.host)
        radio = {"freq_khz": freq_khz, "sf": sf, "bw_khz": 125, "sync_word": SYNC_WORD, "tx_power_dbm": 14}
        self.firmware.start(self.modem, radio)
        self.reader = serial_link.FrameReader()
        self.seq = 0
        self.held_until = -1  # farm ms: the tick of the TRANSMIT the board holds until then
        self._on_air: dict[str, Any] | None = None

    @property
    def log(self) -> list[str]:
        return self.firmware.log.lines

    def counter_us(self, farm_ms: int) -> int:
        """The board's counter at farm_ms as a reception carries it: ticks x 1000 (gateway/bridge/sources)."""
        return ((farm_ms + self.clock.offset_ms) % TICKS_PERIOD) * 1000

    def send(self, now_ms: int, at_ticks_ms: int, freq_khz: int, sf: int, bw_khz: int, phy: bytes) -> dict[str, Any]:
        """The bridge's TRANSMIT at farm time now_ms; what went on the air, or {"refused": why}.

        On the air: SimModem's record (time_ms is farm time) with the modem's output_power and invert_iq_tx.
        """
        if now_ms < self.held_until:
            # The firmware holds one TRANSMIT until its tick and refuses another meanwhile; here it has
            # sent the held one already (the simulator runs it to its tick at once), so say it for it.
            return {"refused": "another downlink is waiting for its tick"}
        self.clock.now_ms = max(self.clock.now_ms, now_ms)
        body = serial_link.encode_transmit(at_ticks_ms % TICKS_PERIOD, freq_khz, sf, bw_khz, TX_POWER_DBM, phy)
        seq, self.seq = self.seq, (self.seq + 1) & 0xFFFF
        for ftype, got_seq, got in self.firmware.reader.feed(serial_link.encode_frame(serial_link.TRANSMIT, seq, body)):
            self.firmware.command(ftype, got_seq, got)
        if not self._acked(seq):
            return {"refused": self.log[-1] if self.log else "no ACK"}
        # The firmware's loop, one round per _POLL_MS, until it leaves for the tick and the driver sends.
        self._on_air = None
        give_up = self.clock.now_ms + 11_000  # the firmware takes nothing more than 10 s ahead
        while not self.firmware.transmit_due() and self.clock.now_ms < give_up:
            self.clock.sleep_ms(POLL_MS)
        if self._on_air is None:
            return {"refused": self.log[-1] if self.log else "not sent"}
        self.held_until = self._on_air["time_ms"]
        return self._on_air

    def _acked(self, seq: int) -> bool:
        written = self.host.getvalue()
        self.host.seek(0)
        self.host.truncate()
        for ftype, _, body in self.reader.feed(written):
            if ftype == serial_link.ACK:
                ack = serial_link.decode_ack(body)
                if ack["seq"] == seq:
                    return bool(ack["ok"])
        return False

    def _sent(self, record: dict[str, Any]) -> None:
        cfg = self.modem.cfg
        self._on_air = dict(record, power_dbm=cfg.get("output_power", 14), inverted=cfg.get("invert_iq_tx", False))
