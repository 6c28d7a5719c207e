"""The serial source: the Akker gateway board on USB serial (docs/serial-protocol.md).

One port, one thread. The thread reads with a short timeout and feeds
payload_codec.serial_link's FrameReader, which resynchronises on 0x00 after REPL
text, line noise or a damaged frame; every RX frame becomes an UplinkFrame
handed to the intake. The port is opened in start(), which fails when it cannot
be; a port that goes away later (a USB unplug) is reopened every _RETRY_S until
stop(), with fresh framing state and a new PING. The link's health goes to the
intake's counters: serial_frames (intact frames of any type), serial_damaged,
serial_lost (gaps in the board's sequence numbers), serial_garbage_bytes and
serial_reconnects. The board's LOG frames go to the "akker.serial" logger.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

import serial

from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.sources import Intake
from payload_codec import serial_link

log = logging.getLogger("akker.serial")

_READ_TIMEOUT_S = 0.1  # a read returns after this with what it has: the longest stop() waits for the loop
_TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms wraps here
_WRITE_TIMEOUT_S = 1.0  # a board that reads nothing must not hang a command
_RETRY_S = 0.5  # between two attempts to reopen a lost port
_ANSWER_S = 2.0  # how long ping() and configure() wait for the board's answer


class SerialBoardSource:
    name = "serial"

    def __init__(
        self, port: str, baudrate: int = 115200, board_epoch: datetime | None = None, gateway_id: str | None = None
    ) -> None:
        self.port = port  # a device path or a pyserial URL (socket://host:port, rfc2217://...)
        self.gateway_id = gateway_id  # names this gateway in receptions instead of its board id
        self.baudrate = baudrate
        # The field simulator's source: a simulated gateway board's clock is virtual time, so a frame's
        # reception time is board_epoch + its ticks_ms (unwrapped), not the moment the bridge got it.
        self.board_epoch = board_epoch
        self._ticks_base = 0
        self._last_ticks = 0
        self.board: str | None = None  # the board id from the last PONG
        self.firmware: list[int] | None = None  # its firmware version, major, minor, patch
        self.radio: dict[str, int] | None = None  # what it listens on: {freq_khz, sf, bw_khz}, from PONG or CONFIGURE
        self._serial: serial.SerialBase | None = None
        self._intake: Intake | None = None
        self._reader = serial_link.FrameReader()
        self._counted = [0, 0, 0, 0]  # frames, damaged, lost, garbage of _reader already counted
        self._seq = 0  # of the next command
        self._transmits: set[int] = set()  # sequence numbers of TRANSMITs whose ACK has not come
        self._write_lock = threading.Lock()
        self._answers = threading.Condition()
        self._pongs = 0
        self._acks: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def gateway(self) -> str:
        """The gateway id in every Reception: the board's id once it answered a PING, its port until then."""
        return self.gateway_id or f"board:{self.board or self.port}"

    # ------------------------------------------------------------ Source

    def start(self, intake: Intake) -> None:
        """Open the port (OSError if it cannot be opened now), PING the board, start reading."""
        if self._thread is not None:
            raise RuntimeError("the serial source is already started")
        self._intake = intake
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="akker-serial", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        ser = self._serial
        if ser is not None:
            with contextlib.suppress(AttributeError, NotImplementedError, OSError):
                ser.cancel_read()  # wake a read in progress at once
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()
        with self._answers:
            self._answers.notify_all()

    # ------------------------------------------------------------ commands, for tools

    def ping(self, timeout_s: float = _ANSWER_S) -> dict[str, Any]:
        """PING the board; its PONG as {"firmware": [major, minor, patch], "board": id}, or TimeoutError."""
        with self._answers:
            seen = self._pongs
        self._send(serial_link.PING)
        with self._answers:
            if not self._answers.wait_for(lambda: self._pongs != seen or self._stop.is_set(), timeout_s):
                raise TimeoutError(f"no PONG from the board on {self.port} within {timeout_s} s")
            return {"firmware": self.firmware, "board": self.board}

    def configure(
        self, freq_khz: int, sf: int, bw_khz: int, sync_word: int, tx_power_dbm: int, timeout_s: float = _ANSWER_S
    ) -> bool:
        """Set the board's radio; True when it acknowledged, False when it refused the values."""
        body = serial_link.encode_configure(freq_khz, sf, bw_khz, sync_word, tx_power_dbm)
        done = self._command(serial_link.CONFIGURE, body, timeout_s)
        if done:
            self._listens({"freq_khz": freq_khz, "sf": sf, "bw_khz": bw_khz})
        return done

    def _listens(self, radio: dict[str, int]) -> None:
        """The board listens on radio now: the network and `akker provision` should know before any frame."""
        self.radio = radio
        if self._intake is not None:
            self._intake.note_board(self.gateway, radio["freq_khz"], radio["sf"])

    def to_repl(self, timeout_s: float = _ANSWER_S) -> bool:
        """Ask the board to leave its receive loop for the REPL; True when it acknowledged."""
        return self._command(serial_link.TO_REPL, b"", timeout_s)

    def send_downlink(
        self, at_ticks_ms: int, freq_khz: int, sf: int, bw_khz: int, tx_power_dbm: int, phy: bytes
    ) -> int:
        """Ask the board to send phy when its clock reaches at_ticks_ms (TRANSMIT); its sequence number.

        Nothing waits for the ACK: it is counted (serial_tx_queued, serial_tx_refused) when it comes.
        OSError when the port is not open.
        """
        body = serial_link.encode_transmit(at_ticks_ms % _TICKS_PERIOD, freq_khz, sf, bw_khz, tx_power_dbm, phy)
        with self._answers:
            seq = self._send(serial_link.TRANSMIT, body)
            self._transmits.add(seq)
            while len(self._transmits) > 64:  # a board that never answers must not grow this
                self._transmits.pop()
        return seq

    def _command(self, ftype: int, body: bytes, timeout_s: float) -> bool:
        seq = self._send(ftype, body)
        with self._answers:
            if not self._answers.wait_for(lambda: seq in self._acks or self._stop.is_set(), timeout_s):
                raise TimeoutError(f"no ACK from the board on {self.port} within {timeout_s} s")
            return self._acks.pop(seq, False)

    def _send(self, ftype: int, body: bytes = b"") -> int:
        """Write one command frame; its sequence number. OSError when the port is not open."""
        with self._write_lock:
            ser = self._serial
            if ser is None:
                raise serial.SerialException(f"serial port {self.port} is not open")
            seq = self._seq
            self._seq = (seq + 1) & 0xFFFF
            ser.write(serial_link.encode_frame(ftype, seq, body))
            return seq

    # ------------------------------------------------------------ the port

    def _open(self) -> None:
        try:
            ser = serial.serial_for_url(
                self.port, baudrate=self.baudrate, timeout=_READ_TIMEOUT_S, write_timeout=_WRITE_TIMEOUT_S
            )
        except ValueError as err:  # an unknown URL scheme, an impossible setting
            raise serial.SerialException(f"{self.port}: {err}") from None
        # A new connection starts in the middle of the board's stream: fresh framing state, so the
        # sequence gap across the outage is not counted as lost and a half frame is only "damaged".
        self._reader = serial_link.FrameReader()
        self._counted = [0, 0, 0, 0]
        with self._write_lock:
            self._serial = ser
        try:
            self._send(serial_link.PING)
        except OSError:
            self._close()
            raise
        log.info("port_open port=%s", self.port)

    def _close(self) -> None:
        with self._write_lock:
            ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(OSError):
                ser.close()

    def _run(self) -> None:
        down = False
        while not self._stop.is_set():
            ser = self._serial
            if ser is None:
                if self._stop.wait(_RETRY_S):
                    break
                try:
                    self._open()
                except OSError as err:
                    if not down:
                        log.warning("port_unavailable port=%s detail=%r retry_s=%s", self.port, str(err), _RETRY_S)
                        down = True
                    continue
                down = False
                self._count("serial_reconnects", 1)
                continue
            try:
                data = ser.read(ser.in_waiting or 1)
            except (OSError, TypeError, AttributeError) as err:  # SerialException is an OSError
                if self._stop.is_set():
                    break
                log.warning("port_lost port=%s detail=%r retry_s=%s", self.port, str(err), _RETRY_S)
                self._close()
                down = True
                continue
            if data:
                try:
                    self._feed(data)
                except Exception:  # a bug must cost these bytes, logged, not the source
                    log.exception("internal_error port=%s bytes=%d", self.port, len(data))

    # ------------------------------------------------------------ frames

    def _feed(self, data: bytes) -> None:
        reader = self._reader
        for ftype, seq, body in reader.feed(data):
            self._handle(ftype, seq, body)
        now = [reader.frames, reader.damaged, reader.lost, reader.garbage]
        for i, name in enumerate(("serial_frames", "serial_damaged", "serial_lost", "serial_garbage_bytes")):
            if now[i] != self._counted[i]:
                self._count(name, now[i] - self._counted[i])
        self._counted = now

    def _handle(self, ftype: int, seq: int, body: bytes) -> None:
        try:
            if ftype == serial_link.RX:
                self._rx(serial_link.decode_rx(body))
            elif ftype == serial_link.LOG:
                log.info("board_log board=%s text=%r", self.board or self.port, body.decode("utf-8", "replace"))
            elif ftype == serial_link.PONG:
                pong = serial_link.decode_pong(body)
                with self._answers:
                    self.board, self.firmware = pong["board"], pong["firmware"]
                    self._pongs += 1
                    self._answers.notify_all()
                log.info("board port=%s board=%s firmware=%s", self.port, self.board, ".".join(map(str, self.firmware)))
                if pong["radio"] is not None:
                    self._listens(pong["radio"])
            elif ftype == serial_link.ACK:
                ack = serial_link.decode_ack(body)
                if ack["seq"] in self._transmits:  # a downlink's: counted, nobody waits for it
                    self._transmits.discard(ack["seq"])
                    self._count("serial_tx_queued" if ack["ok"] else "serial_tx_refused", 1)
                    return
                with self._answers:
                    self._acks[ack["seq"]] = ack["ok"]
                    self._answers.notify_all()
            else:
                log.warning("frame_unknown port=%s type=0x%02x", self.port, ftype)
        except serial_link.LinkError as err:  # an intact frame whose body does not parse
            self._count("serial_damaged", 1)
            log.warning("frame_malformed port=%s type=0x%02x detail=%r", self.port, ftype, str(err))

    def _rx(self, packet: dict[str, Any]) -> None:
        rx = Reception(
            gateway=self.gateway,
            rssi_dbm=float(packet["rssi_dbm"]),
            snr_db=float(packet["snr_db"]),
            freq_hz=packet["freq_khz"] * 1000,
            sf=packet["sf"],
            bw_khz=packet["bw_khz"],
            crc_ok=not packet["crc_error"],
            counter_us=packet["ticks_ms"] * 1000,
        )
        received_at = UplinkFrame.now()
        if self.board_epoch is not None:
            ticks = packet["ticks_ms"]
            if ticks + _TICKS_PERIOD // 2 < self._last_ticks:
                self._ticks_base += _TICKS_PERIOD  # the board's 30-bit ticks wrapped (not a frame a bit out of order)
            self._last_ticks = ticks
            received_at = self.board_epoch + timedelta(milliseconds=self._ticks_base + ticks)
        frame = UplinkFrame(phy=packet["phy"], rx=rx, source=self.name, received_at=received_at)
        assert self._intake is not None
        self._intake.submit([frame])

    def _count(self, counter: str, n: int) -> None:
        if self._intake is not None:
            self._intake.count(counter, n)
