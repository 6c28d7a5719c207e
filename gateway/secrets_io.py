"""Keys and passwords in and out of files, never on a command line, and URLs shown without their password.

A command line is visible to every user in `ps` and stays in shell history, so
session keys come from a JSON keys file (or standard input) and passwords from
the TOML config, a `*_file` setting or an environment variable. What the tools
write that holds a secret is created 0600 and never overwritten. No message
made here contains a key or a password.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

ABP_KEYS = ("nwk_skey", "app_skey")
OTAA_KEYS = ("app_key",)


class SecretError(ValueError):
    """A keys or password file that cannot be used; the message says why, never what it holds."""


def mask_url(url: str) -> str:
    """The URL as it may be shown: `user:****@host`, and `?****` for a query (it may carry a token).

    Done on the text, not on urlsplit's reading of it: a password with `#` or `?` in it
    ends urlsplit's user part early and would be shown in full.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<url>" if "@" in url else url
    userinfo, at, hostpart = rest.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":****"
    host, q, _query = hostpart.partition("?")
    return f"{scheme}://{userinfo}{at}{host}{'?****' if q else ''}"


def url_has_password(url: str) -> bool:
    _, sep, rest = url.partition("://")
    userinfo, at, _ = rest.rpartition("@")
    return bool(sep and at and ":" in userinfo)


def read_password_file(path: Path, what: str) -> str:
    """The first line of a password file, stripped; SecretError if missing, unreadable or empty."""
    try:
        text = path.read_text()
    except OSError as err:
        raise SecretError(
            f"{what} {path}: cannot read it ({err.strerror}): check the path and its permissions"
        ) from None
    except UnicodeDecodeError:
        raise SecretError(f"{what} {path}: not a text file") from None
    line = text.splitlines()[0].strip() if text.strip() else ""
    if not line:
        raise SecretError(f"{what} {path} is empty: write the password on its first line")
    return line


def too_open(path: Path) -> bool:
    """True if users other than the owner may read the file (a secret in it is not private)."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


def read_keys(source: str, stdin: TextIO | None = None) -> dict[str, bytes]:
    """A keys file (`-` for standard input): a JSON object of hex strings, ABP or OTAA.

    ABP: {"nwk_skey": "<32 hex>", "app_skey": "<32 hex>"}; OTAA: {"app_key": "<32 hex>"}.
    """
    name = "standard input" if source == "-" else source
    try:
        text = (stdin or sys.stdin).read() if source == "-" else Path(source).read_text()
    except OSError as err:
        raise SecretError(f"keys file {name}: cannot read it ({err.strerror})") from None
    except UnicodeDecodeError:
        raise SecretError(f"keys file {name}: not a text file") from None
    try:
        raw = json.loads(text)
    except ValueError:
        raise SecretError(f"keys file {name}: not JSON; write {example()}") from None
    if not isinstance(raw, dict):
        raise SecretError(f"keys file {name}: not a JSON object; write {example()}")
    names = set(raw)
    if names != set(ABP_KEYS) and names != set(OTAA_KEYS):
        got = ", ".join(sorted(str(k) for k in names)) or "nothing"
        raise SecretError(f"keys file {name} has {got}: give either nwk_skey and app_skey (ABP) or app_key (OTAA)")
    keys: dict[str, bytes] = {}
    for key, value in raw.items():
        try:
            keys[key] = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            keys[key] = b""
        if len(keys[key]) != 16:
            raise SecretError(f"keys file {name}: {key} must be 32 hex digits")
    return keys


def example() -> str:
    return '{"nwk_skey": "<32 hex digits>", "app_skey": "<32 hex digits>"}'


def new_abp_keys() -> dict[str, bytes]:
    while True:
        keys = {k: secrets.token_bytes(16) for k in ABP_KEYS}
        if keys["nwk_skey"] != keys["app_skey"]:
            return keys


def new_app_key() -> bytes:
    """A random OTAA root key (AppKey, 128 bits)."""
    return secrets.token_bytes(16)


def write_keys_once(path: Path, keys: dict[str, bytes]) -> None:
    """Write keys to a new file, mode 0600; never over an existing one (it may hold a node's only copy)."""
    body = json.dumps({k: v.hex() for k, v in keys.items()}, indent=2) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretError(f"{path} already exists: keys are written once; give a new file name") from None
    except OSError as err:
        raise SecretError(f"cannot create {path} ({err.strerror}): check the folder") from None
    with os.fdopen(fd, "w") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
