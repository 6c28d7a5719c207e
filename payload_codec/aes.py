"""AES-128 in ECB mode, the only primitive the frame layer needs (decryption only for a network's JoinAccept).

MicroPython has it as cryptolib mode 1 (its CTR mode is not built in on every
board, so the keystream is built from ECB blocks); CPython uses the
cryptography package. No AES is written by hand here.

Ciphers are cached per key: on MicroPython a cryptolib object costs 352 bytes,
too much to make per frame. The cache is bounded and not thread-safe; the
bridge runs the frame layer in one thread.
"""

try:
    from cryptolib import aes as _aes

    def _new(key):
        return _aes(key, 1)

    def encrypt_block(cipher, src, dst):
        """Encrypt the 16-byte block src into the 16-byte buffer dst."""
        cipher.encrypt(src, dst)

    def decrypt_cipher(key):
        # A cryptolib object that has decrypted cannot encrypt: a network's JoinAccept gets its own.
        return _aes(key, 1)

    def decrypt_block(cipher, src, dst):
        """Decrypt the 16-byte block src into the 16-byte buffer dst."""
        cipher.decrypt(src, dst)

except ImportError:  # CPython
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    def _new(key):
        return Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()

    def encrypt_block(cipher, src, dst):
        """Encrypt the 16-byte block src into the 16-byte buffer dst."""
        dst[:16] = cipher.update(bytes(src))

    def decrypt_cipher(key):
        return Cipher(algorithms.AES(bytes(key)), modes.ECB()).decryptor()

    def decrypt_block(cipher, src, dst):
        """Decrypt the 16-byte block src into the 16-byte buffer dst."""
        dst[:16] = cipher.update(bytes(src))


_CACHE_MAX = 8
_cache = {}


def cipher(key):
    """The AES-128 ECB cipher for a 16-byte key, made once per key."""
    c = _cache.get(key)
    if c is None:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        c = _new(key)
        _cache[bytes(key)] = c
    return c
