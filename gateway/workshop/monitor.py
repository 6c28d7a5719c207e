"""What `akker monitor` shows: a board's serial stream split into text lines and serial_link frames, and RX described.

A node prints its log as text lines; a gateway board sends serial_link frames
(payload_codec/serial_link.py: 0x00, COBS, 0x00) on the same USB serial as the
REPL's text. Text never holds a 0x00, and every frame opens with a code byte
and then its version byte 0x01, a control character no text line carries: so
after each 0x00 the second byte tells a frame from text, and nothing is
printed as text that may still be a frame. A would-be frame that grows longer
than any frame, or stays unfinished while the line is quiet (a board writes a
frame at once), was noise followed by text: its bytes are read again as text,
so a node's log (which has no 0x00 to resynchronise on) is never lost for
good. Pure: no port, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.bridge import uplink
from gateway.bridge.registry import Registry
from payload_codec import serial_link
from payload_codec.lorawan import FrameError, parse_frame

# The longest encoded frame: an RX of 255 bytes (4 head + 16 + 255 + 4 CRC), COBS's overhead, rounded up.
MAX_FRAME = 300
MAX_LINE = 1024  # bytes of a text line shown at once; a longer one is shown in pieces
_START, _FRAME, _TEXT = range(3)
_PRINTABLE_CONTROLS = {"\t", "\x1b"}  # tab, and ANSI colours


@dataclass(frozen=True)
class Line:
    text: str


@dataclass(frozen=True)
class Frame:
    ftype: int
    seq: int
    body: bytes


@dataclass(frozen=True)
class Damaged:
    why: str


Event = Line | Frame | Damaged


class StreamSplitter:
    """Bytes in any pieces -> Line, Frame and Damaged events, in stream order. Garbage is counted, never raised."""

    def __init__(self) -> None:
        self._mode = _START
        self._chunk = bytearray()  # since the last 0x00, while it may be a frame
        self._line = bytearray()  # the text line being collected
        self.lines = 0
        self.frames = 0
        self.damaged = 0
        self.noise = 0  # bytes skipped: neither a frame nor a readable line

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        for b in data:
            if b == 0:
                self._end_chunk(out)
            elif self._mode == _TEXT:
                self._text(b, out)
            elif self._mode == _START:
                self._chunk.append(b)
                if len(self._chunk) == 2:
                    if self._chunk[1] == serial_link.VERSION:
                        self._mode = _FRAME
                    else:
                        self._as_text(out)
            else:
                self._chunk.append(b)
                if len(self._chunk) > MAX_FRAME:
                    self._as_text(out)
        return out

    def flush(self) -> list[Event]:
        """Call when the stream has gone quiet: the text line collected so far (a prompt ends without a newline)."""
        out: list[Event] = []
        if self._mode == _FRAME:
            self._as_text(out)
        if self._mode == _TEXT:
            self._emit(out)
        return out

    def _as_text(self, out: list[Event]) -> None:
        """The chunk was no frame: read its bytes again as text."""
        self._mode = _TEXT
        chunk = bytes(self._chunk)
        self._chunk.clear()
        for x in chunk:
            self._text(x, out)

    def _end_chunk(self, out: list[Event]) -> None:
        if self._mode == _FRAME:
            try:
                ftype, seq, body = serial_link.decode_frame(bytes(self._chunk))
            except serial_link.LinkError as err:
                self.damaged += 1
                out.append(Damaged(str(err)))
            else:
                self.frames += 1
                out.append(Frame(ftype, seq, bytes(body)))
        elif self._mode == _START:
            for x in self._chunk:
                self._text(x, out)
            self._emit(out)
        elif self._mode == _TEXT:
            self._emit(out)
        self._chunk.clear()
        self._mode = _START

    def _text(self, b: int, out: list[Event]) -> None:
        if b == 0x0A:
            self._emit(out)
        elif b != 0x0D:
            self._line.append(b)
            if len(self._line) >= MAX_LINE:
                self._emit(out)

    def _emit(self, out: list[Event]) -> None:
        raw = bytes(self._line)
        self._line.clear()
        text = raw.decode("utf-8", "replace")
        if not text.strip():
            return
        if "\ufffd" in text or any(c < " " and c not in _PRINTABLE_CONTROLS for c in text):
            self.noise += len(raw)  # binary: line noise, or a frame's tail heard mid-way
            return
        self.lines += 1
        out.append(Line(text))


def describe_rx(packet: dict[str, Any], registry: Registry | None) -> str:
    """One line for a received packet: radio, then LoRaWAN header; with a registry, the node and its payload."""
    head = (
        f"RX {packet['freq_khz'] / 1000:.3f} MHz SF{packet['sf']} {packet['bw_khz']} kHz "
        f"RSSI {packet['rssi_dbm']} dBm SNR {packet['snr_db']:.2f} dB CRC {'bad' if packet['crc_error'] else 'ok'}"
    )
    phy = packet["phy"]
    try:
        frame = parse_frame(phy)
    except FrameError as err:
        return f"{head} | {len(phy)} bytes, not a LoRaWAN data frame: {err}"
    fport = "-" if frame["fport"] is None else frame["fport"]
    head += f" | DevAddr {frame['dev_addr']:08x} FCnt {frame['fcnt16']} FPort {fport}"
    if registry is None:
        return head
    return f"{head} | {_decoded(phy, frame, packet['crc_error'], registry)}"


def _decoded(phy: bytes, frame: dict[str, Any], crc_error: bool, registry: Registry) -> str:
    """The bridge's own reading of the frame (gateway/bridge/uplink.py), worded for a person at the bench."""
    node = registry.by_dev_addr(frame["dev_addr"])
    if node is None:
        return "unknown DevAddr: no node registered with it"
    if crc_error:
        return f"{node.name}: not decoded: the radio's CRC failed"
    try:
        uplink.header(phy)
        # No counter history here: a frame above 65535 reads as a MIC mismatch (the message says so).
        opened = uplink.open_and_decode(phy, node, last_fcnt=None)
    except uplink.Refused as refused:
        if refused.reason == uplink.BAD_MIC:
            return (
                f"{node.name}: not decoded: MIC mismatch (other keys than the registered ones, "
                "or a frame counter above 65535)"
            )
        if frame["mtype"].endswith("_up"):
            return f"{node.name}: not decoded: {refused.detail}"
        return f"{node.name}: not decoded: a {frame['mtype'].replace('_', ' ')} frame, not an uplink"
    if opened.mac_only:
        return f"{node.name}: MAC commands only, no application payload"
    if opened.error is not None:
        return f"{node.name}: payload {opened.payload.hex()} not decoded: {opened.error}"
    return f"{node.name} {json.dumps(opened.data)}"
