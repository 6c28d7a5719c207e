"""AES-CMAC (RFC 4493) on top of AES-128 ECB, as LoRaWAN computes its MIC.

A Cmac object keeps its key's subkeys K1, K2 and its working blocks, so a
MIC costs no allocation beyond the first use of a key.
"""

from .aes import cipher, encrypt_block

_RB = 0x87  # RFC 4493 2.3: the constant for 128-bit blocks


def _shift_left(src, dst):
    """dst = src << 1 (as a 128-bit number), xor Rb when the top bit falls out."""
    carry = 0
    for i in range(15, -1, -1):
        b = src[i]
        dst[i] = ((b << 1) & 0xFF) | carry
        carry = b >> 7
    if src[0] & 0x80:
        dst[15] ^= _RB


class Cmac:
    def __init__(self, key):
        self.cipher = cipher(key)
        self.x = bytearray(16)
        self.k1 = bytearray(16)
        self.k2 = bytearray(16)
        encrypt_block(self.cipher, self.x, self.x)  # L = AES(K, 0^128)
        _shift_left(self.x, self.k1)
        _shift_left(self.k1, self.k2)

    def _absorb(self, block, start, n):
        """X = AES(X xor block[start:start+n]); n is 16 except for a padded last block."""
        x = self.x
        for i in range(n):
            x[i] ^= block[start + i]
        encrypt_block(self.cipher, x, x)

    def mac(self, first, data, n, out):
        """Write CMAC(first | data[:n]) into out[:16].

        first is a whole 16-byte block (LoRaWAN's B0) or None; with it, data
        must not be empty.
        """
        x = self.x
        for i in range(16):
            x[i] = 0
        if first is not None:
            self._absorb(first, 0, 16)
        pos = 0
        while n - pos > 16:
            self._absorb(data, pos, 16)
            pos += 16
        last = n - pos
        if last == 16:
            k = self.k1
        else:
            k = self.k2
            x[last] ^= 0x80  # RFC 4493 2.4: pad with 10..0
        for i in range(16):
            x[i] ^= k[i]
        self._absorb(data, pos, last)
        out[:16] = x


def aes_cmac(key, data):
    """The 16-byte AES-CMAC of data under key (RFC 4493)."""
    out = bytearray(16)
    Cmac(key).mac(None, data, len(data), out)
    return bytes(out)
