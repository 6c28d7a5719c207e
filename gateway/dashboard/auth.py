"""The password the dashboard asks for beyond this computer (gateway/listen.py decides when).

The password file is written by `akker dashboard passwd FILE` (a salted scrypt
hash, mode 0600). With one, every request must carry the password by HTTP
Basic auth (any user name); the scrypt output is compared with
hmac.compare_digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from gateway.listen import PASSWD_COMMAND as _PASSWD
from gateway.listen import AccessError

MIN_PASSWORD = 8
REALM = 'Basic realm="akker"'
# scrypt's own recommendation for interactive logins: 16 MiB and tens of milliseconds per check.
_N, _R, _P, _SALT, _LEN = 2**14, 8, 1, 16, 32


# ------------------------------------------------------------ the password file


@dataclass(frozen=True)
class PasswordHash:
    """A salted scrypt hash, as `akker dashboard passwd` writes it: scrypt$N$r$p$salt$hash (base64)."""

    n: int
    r: int
    p: int
    salt: bytes = field(repr=False)
    digest: bytes = field(repr=False)

    @classmethod
    def of(cls, password: str) -> PasswordHash:
        salt = os.urandom(_SALT)
        return cls(_N, _R, _P, salt, _scrypt(password, salt, _N, _R, _P, _LEN))

    def matches(self, password: str) -> bool:
        got = _scrypt(password, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(got, self.digest)

    def line(self) -> str:
        b64 = base64.b64encode
        return f"scrypt${self.n}${self.r}${self.p}${b64(self.salt).decode()}${b64(self.digest).decode()}"

    @classmethod
    def parse(cls, line: str) -> PasswordHash:
        """The hash on a line; ValueError for anything else."""
        kind, n, r, p, salt, digest = line.strip().split("$")
        parsed = cls(
            int(n), int(r), int(p), base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
        )
        # Bounds that keep a tampered file from asking for gigabytes per request.
        if kind != "scrypt" or not (2 <= parsed.n <= 2**17 and parsed.n & (parsed.n - 1) == 0):
            raise ValueError("not a scrypt hash")
        if not (1 <= parsed.r <= 16 and 1 <= parsed.p <= 4 and len(parsed.salt) >= 8 and len(parsed.digest) >= 16):
            raise ValueError("scrypt parameters out of range")
        return parsed


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogateescape"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=dklen,
        maxmem=128 * r * (n + p + 2) + (1 << 20),
    )


def write_password_file(path: Path, password: str) -> None:
    """Write the password's hash to path, created (or replaced) with mode 0600 in one step."""
    if not password:
        raise AccessError("no password given")
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"the password must have at least {MIN_PASSWORD} characters")
    line = PasswordHash.of(password).line() + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # the new file's 0600, whatever the old one had
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_password_file(path: Path) -> PasswordHash:
    try:
        text = path.read_text(encoding="ascii")
    except OSError as err:
        raise AccessError(
            f"cannot read password file {path}: {err.strerror}: make it with `{_PASSWD} {path}`"
        ) from None
    except UnicodeDecodeError:
        text = ""
    try:
        return PasswordHash.parse(text)
    except (ValueError, binascii.Error):
        raise AccessError(
            f"{path} is not a password file of `{_PASSWD}` (it holds the hash, never the password): "
            f"make it with `{_PASSWD} {path}`"
        ) from None


# ------------------------------------------------------------ checking a request


class BasicAuth:
    """Checks a request's Authorization header against the password file's hash; any user name will do.

    A page load is a handful of requests, each with the same header: a header
    that passed is remembered (as an HMAC under a key of this process, never
    the password) so that scrypt runs once per login, not once per request.
    Checks run one at a time, so a flood of guesses costs one core, not all.
    """

    def __init__(self, password: PasswordHash) -> None:
        self._password = password
        self._key = os.urandom(32)
        self._accepted: deque[bytes] = deque(maxlen=16)
        self._seen_lock = threading.Lock()
        self._scrypt_lock = threading.Lock()

    def allows(self, header: str | None) -> bool:
        password = _basic_password(header)
        if password is None or header is None:
            return False
        mark = hmac.new(self._key, header.encode("utf-8", "replace"), hashlib.sha256).digest()
        with self._seen_lock:
            accepted = list(self._accepted)
        if any(hmac.compare_digest(mark, seen) for seen in accepted):
            return True
        with self._scrypt_lock:
            if not self._password.matches(password):
                return False
        with self._seen_lock:
            self._accepted.append(mark)
        return True


def _basic_password(header: str | None) -> str | None:
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (ValueError, binascii.Error):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # browsers that were not told a charset send Latin-1
    _user, sep, password = text.partition(":")
    return password if sep else None
