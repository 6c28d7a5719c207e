"""The gateway board: receive continuously and hand every packet to the host over USB serial.

Frames and commands are docs/serial-protocol.md's, built by payload_codec/serial_link.py.
One loop, no threads: poll the radio, wait up to _POLL_MS for bytes from the host,
answer its commands, feed the watchdog. The modem is micropython-lib's
lora.SX1262/SX1276 (sync API; receive with its low-level start_recv(continuous=True)
and poll_recv) on a board, firmware/sim/modem.py's SimModem on the desktop.

Back to the REPL (docs/serial-protocol.md, section 4): the host's TO_REPL, or a
terminal's Ctrl-C. 0x03 occurs inside frames, so while the loop runs Ctrl-C is no
KeyboardInterrupt (micropython.kbd_intr(-1)); instead, a 0x03 among bytes that have
not become a frame and stay so for _ESCAPE_IDLE_MS ends the loop.
"""

import select
import sys

from micropython import const
from payload_codec import serial_link

from .version import VERSION

try:
    from micropython import kbd_intr
except ImportError:  # CPython's micropython.py stands in for const only: there is no Ctrl-C to give back

    def kbd_intr(char):
        return None


_POLL_MS = const(10)  # the longest wait for host bytes between two radio polls
_READ_MAX = const(64)  # host bytes taken per round, so a flood cannot starve the radio
_ESCAPE_IDLE_MS = const(300)  # silence after a stray 0x03 that means Ctrl-C
_WDT_MS = const(30000)  # longest stretch between two feeds
_LOG_MAX = const(200)  # bytes of a log line in one LOG frame
_CODING_RATE = const(5)  # 4/5, as LoRaWAN uplinks
_PREAMBLE = const(8)  # LoRaWAN preamble length, symbols
_CTRL_C = const(3)
_TX_LEAD_MS = const(30)  # a downlink leaves the receive loop this early, then the driver waits for its tick
_TX_AHEAD_MS = const(10000)  # a TRANSMIT for later than this is refused: RX2 of a JoinAccept is 6 s away


def modem_cfg(radio):
    """micropython-lib's configure() dict for receiving LoRaWAN uplinks with these settings.

    radio: {freq_khz, sf, bw_khz, sync_word, tx_power_dbm}, as a CONFIGURE command carries them.
    """
    return {
        "freq_khz": radio["freq_khz"],
        "sf": radio["sf"],
        "bw": str(radio["bw_khz"]),
        "coding_rate": _CODING_RATE,
        "preamble_len": _PREAMBLE,
        "output_power": radio["tx_power_dbm"],
        "syncword": radio["sync_word"],
        "crc_en": True,
        "invert_iq_rx": False,  # uplinks use normal IQ
    }


class Gateway:
    def __init__(self, board, log, stream_in, stream_out):
        self.board = board
        self.clock = board.clock
        self.log = log
        self.stream_in = stream_in
        self.stream_out = stream_out
        self.reader = serial_link.FrameReader()
        self.seq = 0  # of the next frame to the host
        self.forwarded = 0  # packets sent to the host
        self.radio = None  # the settings the modem listens with
        self.modem = None
        self._flush = getattr(stream_out, "flush", None)
        self._byte = bytearray(1)  # host bytes are read one at a time: read(n) blocks until n came
        self._rx_packet = None  # refilled by the driver when the next packet has the same length
        self._rx = {  # encode_rx's argument, refilled for every packet
            "ticks_ms": 0,
            "freq_khz": 0,
            "sf": 0,
            "bw_khz": 0,
            "rssi_dbm": 0,
            "snr_db": 0,
            "crc_error": False,
            "phy": b"",
        }
        self._last_in_ms = 0
        self._damaged_seen = 0
        self._poller = None
        self._wait = None
        self._tx = None  # the downlink waiting for its tick: TRANSMIT's decoded body

    def run(self, radio):
        """Receive and forward until TO_REPL, Ctrl-C or an error; return why the loop ended."""
        self._poller = select.poll()
        self._poller.register(self.stream_in, select.POLLIN)
        self._wait = getattr(self._poller, "ipoll", self._poller.poll)  # ipoll allocates nothing
        wdt = self.board.watchdog(_WDT_MS)
        echo = self.log.echo
        self.log.echo = self._log_frame
        kbd_intr(-1)
        try:
            try:
                self.start(self.board.modem(), radio)
                self.log.write("gateway %d.%d.%d: listening on %s" % (VERSION[0], VERSION[1], VERSION[2], self._tune()))
                why = self._loop(wdt)
            except Exception as err:  # a radio that stops answering: say so, leave, let the watchdog restart
                why = "error %s: %s" % (type(err).__name__, err)
            self.log.write(
                "gateway: left the receive loop (%s) after %d packets, %d damaged host frames"
                % (why, self.forwarded, self.reader.damaged)
            )
        finally:
            kbd_intr(_CTRL_C)
            self.log.echo = echo
            try:
                self.modem.standby()
            except Exception:
                pass
        return why

    def start(self, modem, radio):
        """Take the modem and listen with radio: run() does this before its loop, the simulator instead of it."""
        self.modem = modem
        self.modem.rx_crc_error = True  # forward bad-CRC packets, flagged, instead of dropping them
        self._listen(radio)

    # ------------------------------------------------------------ the loop

    def _loop(self, wdt):
        while True:
            wdt.feed()
            self.transmit_due()
            rx = self.modem.poll_recv(self._rx_packet)
            heard = rx is not True and rx is not False
            if heard:
                self._rx_packet = rx
                self._forward(rx)
            elif rx is False:
                self.modem.start_recv(None, True)  # not receiving any more: listen again
            why = self._host(0 if heard else _POLL_MS)
            if why:
                return why

    def _listen(self, radio):
        self.modem.standby()
        self.modem.configure(modem_cfg(radio))
        self.modem.start_recv(None, True)
        self.radio = radio

    def _tune(self):
        r = self.radio
        return "%d kHz SF%d %d kHz sync 0x%02x" % (r["freq_khz"], r["sf"], r["bw_khz"], r["sync_word"])

    def _forward(self, packet):
        rx = self._rx
        rx["ticks_ms"] = packet.ticks_ms
        rx["freq_khz"] = self.radio["freq_khz"]
        rx["sf"] = self.radio["sf"]
        rx["bw_khz"] = self.radio["bw_khz"]
        rx["rssi_dbm"] = packet.rssi
        rx["snr_db"] = packet.snr / 4  # the driver's unit is dB x 4
        rx["crc_error"] = getattr(packet, "crc_error", False)
        rx["phy"] = memoryview(packet)  # MicroPython assigns a slice only from bytes or arrays, not subclasses
        self._send(serial_link.RX, serial_link.encode_rx(rx))
        self.forwarded += 1

    def _send(self, ftype, body):
        frame = serial_link.encode_frame(ftype, self.seq, body)
        self.seq = (self.seq + 1) & 0xFFFF
        self.stream_out.write(frame)
        if self._flush:
            self._flush()

    def _log_frame(self, line):
        """RingLog's echo while the loop runs: each log line goes to the host as a LOG frame."""
        data = line.rstrip().encode()
        try:
            self._send(serial_link.LOG, data[:_LOG_MAX])
        except OSError:
            pass  # no host to tell; the line is on flash anyway

    # ------------------------------------------------------------ the host

    def _readable(self, timeout_ms):
        for _ in self._wait(timeout_ms):
            return True  # data, or a hang-up that the read then reports
        return False

    def _host(self, timeout_ms):
        """Take what the host sent and answer it; the reason to leave the loop, or None."""
        n = 0
        while n < _READ_MAX and self._readable(timeout_ms if n == 0 else 0):
            try:
                got = self.stream_in.readinto(self._byte)
            except OSError:
                got = 0
            if not got:
                return "the host stream closed"
            n += 1
            for ftype, seq, body in self.reader.feed(self._byte):
                why = self.command(ftype, seq, body)
                if why:
                    return why
        now = self.clock.ticks_ms()
        if n:
            self._last_in_ms = now
        if self.reader.damaged != self._damaged_seen:
            self._damaged_seen = self.reader.damaged
            self.log.write("gateway: %d damaged host frames so far" % self._damaged_seen)
        buf = self.reader.buf
        if buf and buf.find(b"\x03") >= 0 and self.clock.ticks_diff(now, self._last_in_ms) >= _ESCAPE_IDLE_MS:
            return "Ctrl-C"
        return None

    def command(self, ftype, seq, body):
        """Answer one host command (ACK, PONG); the reason to leave the loop, or None."""
        if ftype == serial_link.PING:
            self._send(serial_link.PONG, serial_link.encode_pong(VERSION, self.board.id, self.radio))
        elif ftype == serial_link.CONFIGURE:
            self._send(serial_link.ACK, serial_link.encode_ack(seq, self._configure(body)))
        elif ftype == serial_link.TRANSMIT:
            self._send(serial_link.ACK, serial_link.encode_ack(seq, self._queue_tx(body)))
        elif ftype == serial_link.TO_REPL:
            self._send(serial_link.ACK, serial_link.encode_ack(seq, True))
            return "TO_REPL"
        else:
            self.log.write("gateway: command 0x%02x unknown, refused" % ftype)
            self._send(serial_link.ACK, serial_link.encode_ack(seq, False))
        return None

    def _queue_tx(self, body):
        """Keep a downlink for its tick; False when it cannot be sent (bad, too late, too far, one waiting)."""
        try:
            tx = serial_link.decode_transmit(body)
            from .dutycycle import DutyCycle

            DutyCycle().band(tx["freq_khz"])  # EU868 only
            if tx["sf"] < 7 or tx["sf"] > 12 or tx["bw_khz"] not in (125, 250, 500):
                raise ValueError("SF%d at %d kHz is not a LoRaWAN data rate" % (tx["sf"], tx["bw_khz"]))
        except ValueError as err:
            self.log.write("gateway: TRANSMIT refused: %s" % err)
            return False
        ahead = self.clock.ticks_diff(tx["at_ticks_ms"], self.clock.ticks_ms())
        if ahead < _TX_LEAD_MS or ahead > _TX_AHEAD_MS or self._tx is not None:
            self.log.write("gateway: TRANSMIT refused: due in %d ms, or another is waiting" % ahead)
            return False
        self._tx = tx
        return True

    def transmit_due(self):
        """Send the waiting downlink if its tick is _TX_LEAD_MS away or less; True when one was sent (or dropped)."""
        if self._tx is None or self.clock.ticks_diff(self._tx["at_ticks_ms"], self.clock.ticks_ms()) > _TX_LEAD_MS:
            return False
        self._transmit()
        return True

    def _transmit(self):
        """Send the waiting downlink on its tick, IQ inverted, then listen again as before."""
        tx = self._tx
        self._tx = None
        cfg = modem_cfg({"freq_khz": tx["freq_khz"], "sf": tx["sf"], "bw_khz": tx["bw_khz"],
                         "tx_power_dbm": tx["tx_power_dbm"], "sync_word": self.radio["sync_word"]})  # fmt: skip
        cfg["invert_iq_tx"] = True  # a downlink: nodes listen with inverted IQ
        cfg["crc_en"] = False  # and LoRaWAN downlinks carry no payload CRC
        self.modem.standby()
        try:
            self.modem.configure(cfg)
            late = self.clock.ticks_diff(self.clock.ticks_ms(), tx["at_ticks_ms"])
            if late > 0:
                self.log.write("gateway: downlink %d ms late, not sent" % late)
            else:
                self.modem.send(tx["phy"], tx["at_ticks_ms"])
                late = self.clock.ticks_diff(self.clock.ticks_ms(), tx["at_ticks_ms"])
                self.log.write("gateway: downlink of %d bytes sent at its tick (%d ms on air)" % (len(tx["phy"]), late))
        finally:
            self._listen(self.radio)

    def _configure(self, body):
        """Listen with the settings in a CONFIGURE body; False (and the old settings) when they are invalid."""
        from . import config

        try:
            radio = serial_link.decode_configure(body)
            # The config's own checks, on a gateway config made of these settings.
            config.validate(
                {
                    "role": "gateway",
                    "board": self.board.id,
                    "radio": {
                        "channels_khz": [radio["freq_khz"]],
                        "sf": radio["sf"],
                        "bw_khz": radio["bw_khz"],
                        "tx_power_dbm": radio["tx_power_dbm"],
                        "sync_word": radio["sync_word"],
                    },
                }
            )
        except ValueError as err:  # serial_link.LinkError and config.ConfigError both are
            self.log.write("gateway: CONFIGURE refused: %s" % err)
            return False
        old = self.radio
        try:
            self._listen(radio)
        except (ValueError, OSError, RuntimeError) as err:  # the driver refused what the config allows
            self.log.write("gateway: CONFIGURE failed: %s" % err)
            self._listen(old)
            return False
        self.log.write("gateway: listening on %s" % self._tune())
        return True


def run(board, cfg, log, stream_in=None, stream_out=None):
    """The gateway role: forward what the radio hears until TO_REPL or Ctrl-C; return why it ended.

    stream_in / stream_out: the host link, binary; default the USB serial
    (sys.stdin.buffer, sys.stdout.buffer), which is also the REPL's.
    """
    r = cfg["radio"]
    radio = {
        "freq_khz": r["channels_khz"][0],
        "sf": r["sf"],
        "bw_khz": r["bw_khz"],
        "sync_word": r["sync_word"],
        "tx_power_dbm": r["tx_power_dbm"],
    }
    if stream_in is None:
        stream_in = sys.stdin.buffer
    if stream_out is None:
        stream_out = sys.stdout.buffer
    return Gateway(board, log, stream_in, stream_out).run(radio)
