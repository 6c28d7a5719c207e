"""Where a web page of ours may listen: one `--http` parser and one rule for `akker dashboard` and the bridge.

A bare port means 127.0.0.1. Anything beyond loopback needs a password file
(gateway/dashboard/auth.py) or an explicit `--http-no-auth`. Standard library
only, and in no package of its own, because the bridge's settings check it and
the bridge imports nothing of the dashboard.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

PASSWD_COMMAND = "akker dashboard passwd"


class AccessError(ValueError):
    """A bind or a password file that cannot be used; the message says what to do."""


def parse_http(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[::1]:PORT`, or a bare `PORT` / `:PORT`, which means 127.0.0.1: this computer only."""
    host, _, port = text.strip().rpartition(":")
    if not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise AccessError(f"{text!r}: use HOST:PORT, or a port alone for this computer only, e.g. 8080 or 0.0.0.0:8080")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    """True for an address only this computer can reach; a host name other than localhost counts as the network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, password_file: Path | None, no_auth: bool) -> str | None:
    """Refuse (AccessError) the network without a password or an explicit no; the warning for that no, if any."""
    if password_file is not None and no_auth:
        raise AccessError("--http-password-file and --http-no-auth: give one of them, not both")
    if password_file is not None or is_loopback(host):
        return None
    if no_auth:
        return f"the dashboard on {host} has no password: anyone who can reach this computer can see the farm"
    raise AccessError(
        f"--http {host}: the dashboard would be open to the network: give --http-password-file FILE"
        f" (make it with `{PASSWD_COMMAND} FILE`), or --http-no-auth to serve it without a password"
    )
