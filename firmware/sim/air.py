"""The simulated air: what firmware/sim/modem.py's SimModem hears, read from a file.

The sim board's air file is ROOT/air.jsonl: one JSON object per line,

    {"freq_khz": 868100, "sf": 9, "bw_khz": 125, "rssi_dbm": -117, "snr_db": -7.25,
     "crc_error": false, "phy": "40da1b0126..."}

phy (hex) is the packet; every other key is optional (defaults: the modem's own
settings, -80 dBm, 10 dB, no CRC error, and the board's clock for the reception
time; `akker sim` gives "t_ms", its virtual time, which becomes the packet's
ticks_ms). The file is a queue, not a clock:
while the modem receives, each poll reads the lines appended since the last
one, in order, and the modem hears a line only when its freq_khz, sf and bw_khz
match the modem's configuration; a line not heard is gone. A partial last line
(no newline yet) waits for the next poll; a line that is not a packet is
skipped and counted in errors. As with the driver, a packet whose crc_error is
true is counted in the modem's crc_errors and returned only when the modem's
rx_crc_error is True. gateway/sim/virtual_board.py writes these lines (inject()).
A node's receive windows do not read this file: firmware/sim/rx_window.py
hears the downlinks queued for them, with their timing.
"""

import json

from .rx_packet import RxPacket

_READ = 4096  # bytes read from the file at a time
_POLL_MS = 10  # recv() looks at the air this often


def start_recv(modem, timeout_ms, continuous):
    return _receiver(modem).start(timeout_ms, continuous)


def poll_recv(modem, rx_packet):
    receiver = getattr(modem, "receiver", None)
    return receiver.poll(rx_packet) if receiver else False


def recv(modem, timeout_ms, rx_packet):
    return _receiver(modem).recv(timeout_ms, rx_packet)


def _receiver(modem):
    receiver = getattr(modem, "receiver", None)
    if receiver is None:
        receiver = modem.receiver = Receiver(modem)
    return receiver


class Receiver:
    """SimModem's receive side, kept on it as modem.receiver: the driver's receive calls on the air file."""

    def __init__(self, modem):
        self.modem = modem
        # The driver's two attributes for bad-CRC packets, made here and not in SimModem: a node
        # never receives, and every name a node loads is a qstr it has no room for (sim/modem.py).
        if not hasattr(modem, "rx_crc_error"):
            modem.rx_crc_error = False  # True: packets whose CRC failed are returned too
        modem.crc_errors = 0
        self.pos = 0  # bytes of the air file read so far
        self.errors = 0  # lines that were not a packet
        self.deadline = None  # ticks_ms when a receive with a timeout ends
        self.continuous = False

    def start(self, timeout_ms, continuous):
        m = self.modem
        if continuous and timeout_ms is not None:
            raise ValueError("continuous receive has no timeout")
        if "freq_khz" not in m.cfg:
            raise RuntimeError("modem not configured: freq_khz missing")
        self.deadline = None if timeout_ms is None else m.clock.ticks_ms() + timeout_ms
        self.continuous = continuous
        m.state = "rx"  # standby() and sleep() end the receive by changing it
        return False  # as the driver without an interrupt pin: the caller polls

    def poll(self, rx_packet):
        """An RxPacket when one was heard, True while receiving, False when not (or timed out)."""
        m = self.modem
        if m.state != "rx":
            return False
        packet = self._hear(rx_packet)
        if packet is not None:
            if not self.continuous:
                m.state = "standby"
            return packet
        if self.deadline is not None and m.clock.ticks_diff(m.clock.ticks_ms(), self.deadline) >= 0:
            m.state = "standby"
            return False
        return True

    def recv(self, timeout_ms, rx_packet):
        self.start(timeout_ms, False)
        clock = self.modem.clock
        while True:
            rx = self.poll(rx_packet)
            if rx is not True:
                return rx or None
            step = _POLL_MS
            if self.deadline is not None:  # end exactly at the deadline, on virtual time too
                step = min(step, max(1, clock.ticks_diff(self.deadline, clock.ticks_ms())))
            clock.sleep_ms(step)

    def _hear(self, rx_packet):
        """The next packet in the air file that the modem hears, or None."""
        modem = self.modem
        if modem.air is None:
            return None
        try:
            with open(modem.air, "rb") as f:
                f.seek(self.pos)
                data = f.read(_READ)
        except OSError:
            return None  # no air file yet: a quiet channel
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                if start == 0 and len(data) == _READ:
                    self.pos += len(data)  # a line longer than a read is no packet
                    self.errors += 1
                return None
            self.pos += end + 1 - start
            line = data[start:end]
            start = end + 1
            packet = self._packet(modem, line, rx_packet)
            if packet is not None:
                return packet

    def _packet(self, modem, line, rx_packet):
        if not line.strip():
            return None
        c = modem.cfg
        bw_khz = int(c.get("bw", "125"))
        try:
            p = json.loads(line)
            freq = p.get("freq_khz", c["freq_khz"])
            sf = p.get("sf", c.get("sf", 7))
            bw = p.get("bw_khz", bw_khz)
            phy = bytes.fromhex(p["phy"])
            rssi = int(p.get("rssi_dbm", -80))
            snr = round(p.get("snr_db", 10) * 4)  # the driver's unit: dB x 4
            crc_error = bool(p.get("crc_error", False))
            at = p.get("t_ms")  # the field simulator's virtual time: the board clock of that reception
        except (ValueError, KeyError, TypeError, AttributeError):
            self.errors += 1
            return None
        if freq != c["freq_khz"] or sf != c.get("sf", 7) or bw != bw_khz:
            return None
        if crc_error:
            modem.crc_errors += 1
            if not modem.rx_crc_error:
                return None
        if rx_packet is None or len(rx_packet) != len(phy):
            rx_packet = RxPacket(phy)  # as the driver: a packet is refilled only at the same length
        else:
            rx_packet[:] = phy
        rx_packet.ticks_ms = modem.clock.ticks_ms() if at is None else at & 0x3FFFFFFF
        rx_packet.rssi = rssi
        rx_packet.snr = snr
        rx_packet.crc_error = crc_error
        return rx_packet
