"""Bit-level writer and reader, most significant bit first.

Both keep their state in small ints (never more than 24 bits wide), so they
run without long-int allocation on a 32-bit MicroPython board.
"""

from .errors import CodecError


class BitWriter:
    """Appends fields of up to 17 bits to a bytearray.

    Appending lets a payload grow without sizing it first; a growing
    bytearray reallocates in place or frees its old block, so the heap cost is
    about the final size. The unwritten bits and their count share one
    attribute (count in bits 8..10), because each instance attribute past the
    second costs another 32 bytes of MicroPython heap per payload.
    """

    def __init__(self, buf):
        self.buf = buf
        self.pending = 0  # bits not yet written (low 7 bits) | their count << 8

    def write(self, value, nbits):
        pending = self.pending
        acc = ((pending & 0xFF) << nbits) | value
        n = (pending >> 8) + nbits
        while n >= 8:
            n -= 8
            self.buf.append((acc >> n) & 0xFF)
        self.pending = (acc & ((1 << n) - 1)) | (n << 8)

    def finish(self):
        """Pad the last byte with zero bits."""
        n = self.pending >> 8
        if n:
            self.write(0, 8 - n)


class BitReader:
    """Reads fields from bytes; running past the end is a CodecError."""

    def __init__(self, data, what):
        self.data = data
        self.what = what  # message name used in errors, e.g. "report"
        self.pos = 0  # bit position
        self.end = len(data) * 8

    def read(self, nbits, field):
        pos = self.pos
        if pos + nbits > self.end:
            raise CodecError(
                "%s: truncated: %s needs %d bits at bit %d but the payload has only %d bytes"
                % (self.what, field, nbits, pos, self.end >> 3)
            )
        data = self.data
        value = 0
        while nbits:
            off = pos & 7
            take = 8 - off
            if take > nbits:
                take = nbits
            byte = data[pos >> 3]
            value = (value << take) | ((byte >> (8 - off - take)) & ((1 << take) - 1))
            pos += take
            nbits -= take
        self.pos = pos
        return value

    def finish(self):
        """Check that only zero padding (fewer than 8 bits) is left."""
        left = self.end - self.pos
        if left >= 8:
            raise CodecError(
                "%s: trailing bytes: %d byte(s) after the last field (payload is %d bytes)"
                % (self.what, left >> 3, self.end >> 3)
            )
        if left and self.read(left, "padding"):
            raise CodecError("%s: reserved bits set: the %d padding bits at the end must be 0" % (self.what, left))
