"""The MQTT sink's broker: its URL, and what to tell the technician when it cannot be reached.

Kept apart from the sink (gateway/bridge/sinks/mqtt.py) so that the source of a
network server's integration (gateway/bridge/sources/server_mqtt.py) reads URLs
the same way.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from gateway.secrets_io import mask_url


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)

    def __str__(self) -> str:  # for logs: never the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_url(url: str) -> BrokerUrl:
    """mqtt://[user:pass@]host[:port] or mqtts://...; ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        shown = mask_url(url)
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, e.g. mqtt://localhost:1883 (got {shown!r})")
    if not parts.hostname:
        raise ValueError("MQTT URL has no host, e.g. mqtt://localhost:1883")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("MQTT URL has a bad port: use a number 1..65535") from None
    tls = parts.scheme == "mqtts"
    return BrokerUrl(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def unreachable(broker: BrokerUrl, err: BaseException | None) -> str:
    """Why a connection to the broker failed, in a technician's words, and what to do about it."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"broker {broker}'s certificate is not trusted ({err.verify_message}): check --mqtt-ca"
    if isinstance(err, ssl.SSLError):
        return f"TLS with broker {broker} failed ({err.reason or err}): check --mqtt-ca and that the port speaks TLS"
    if isinstance(err, ConnectionRefusedError):
        words = "connection refused"
    elif isinstance(err, socket.gaierror):
        words = f"unknown host: {err.strerror}"
    elif isinstance(err, TimeoutError):
        words = "no answer"
    elif isinstance(err, OSError) and err.strerror:
        words = err.strerror
    else:
        words = str(err or "no answer")
    return f"cannot reach broker {broker} ({words}): start the broker (e.g. mosquitto) or check --mqtt"
