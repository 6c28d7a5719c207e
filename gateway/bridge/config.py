"""`akker gateway run` settings: one schema for the command-line flags and the TOML file.

Every setting is a flag (`--jsonl PATH`) and a top-level TOML key (`jsonl =
"PATH"`) of the same name with `-` for `_`; a flag given on the command line
wins over the file. Unknown keys in the file are errors. docs/gateway.md's
table and docs/gateway.example.toml are checked against FIELDS by a test.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from gateway.listen import AccessError, check_exposure, parse_http
from gateway.secrets_io import SecretError, mask_url, read_password_file, too_open, url_has_password
from gateway.toml_file import read_toml


class ConfigError(ValueError):
    """A setting that is missing or invalid; the message names it and says what is expected."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: type  # str, int, float, bool or Path
    default: object
    help: str
    flag: bool = True  # False for a secret: a flag's value is visible to every user in `ps`


FIELDS: tuple[Field, ...] = (
    Field("db", Path, None, "the bridge's SQLite database: node registry and store (created with mode 0600)"),
    Field("serial", str, None, "gateway board: a device path (/dev/ttyUSB0) or a pyserial URL (socket://host:port)"),
    Field("baudrate", int, 115200, "baud rate of the gateway board's serial port"),
    Field("udp", str, None, "listen for Semtech UDP packet forwarders on HOST:PORT, e.g. 0.0.0.0:1700"),
    Field("ttn", str, None, "The Things Stack's MQTT server: mqtts://eu1.cloud.thethings.network:8883"),
    Field("ttn_app", str, None, "the application id on The Things Stack whose uplinks to read"),
    Field("ttn_tenant", str, "ttn", "its tenant (ttn on The Things Network)"),
    Field("ttn_key_file", Path, None, "a file whose first line is an API key with the application's traffic rights"),
    Field("chirpstack", str, None, "the MQTT broker of ChirpStack's integration: mqtt://[user@]host:port"),
    Field("chirpstack_app", str, None, "ChirpStack's application id (a UUID) whose up events to read"),
    Field("chirpstack_password_file", Path, None, "a file whose first line is the password for that broker"),
    Field("mqtt", str, None, "MQTT broker: mqtt://[user:pass@]host:port or mqtts://... (TLS)"),
    Field("mqtt_password_file", Path, None, "a file whose first line is the MQTT password (user in the URL)"),
    Field("mqtt_password", str, None, "the MQTT password, in the config file only (never a flag)", flag=False),
    Field("mqtt_ca", Path, None, "CA certificate file for mqtts:// (default: the system's CAs)"),
    Field("ha_discovery", bool, False, "announce every node's sensors to Home Assistant by MQTT discovery"),
    Field("jsonl", Path, None, "append every record as one JSON line to this file"),
    Field("webhook", str, None, "POST every record's JSON to this http:// or https:// URL"),
    Field("gateway_id", str, None, "this bridge's id in MQTT topics and receptions (default: the host name)"),
    Field("http", str, None, "serve the dashboard on [HOST:]PORT; a port alone is 127.0.0.1 (read-only on the store)"),
    Field("http_password_file", Path, None, "the dashboard asks for this password (`akker dashboard passwd FILE`)"),
    Field("http_no_auth", bool, False, "serve the dashboard beyond this computer without a password (a warning)"),
    Field("alerts", Path, None, "alert rules per field (TOML, docs/dashboard.md) for the dashboard and MQTT"),
    Field("alerts_every_s", int, 60, "evaluate the alerts this often and publish changes on MQTT"),
    Field("dedup_window_ms", int, 2000, "receptions of one frame within this many ms merge into one record"),
    Field(
        "network",
        bool,
        True,
        "answer the nodes through the gateways: joins, commands, ADR (docs/network.md);"
        " --no-network (network = false) only listens",
    ),
    Field("dev_addr_range", str, "00000001-01ffffff", "DevAddrs the join server gives, FIRST-LAST in hex (NetID 0's)"),
    Field("rx_delay_s", int, 1, "RX1 opens this many seconds after an uplink (1..15), as each JoinAccept says"),
    Field("rx1_dr_offset", int, 0, "RX1's data rate is the uplink's less this (0..5), as each JoinAccept says"),
    Field("rx2_data_rate", int, 0, "RX2's data rate at 869.525 MHz (0..5: SF12..SF7), as each JoinAccept says"),
    Field("downlinks_per_day", int, 10, "at most this many downlinks per node a day, ACKs included (TTN's fair use)"),
    Field("adr_margin_db", float, 10.0, "ADR keeps this much SNR above the data rate's floor (installation margin)"),
    Field("log_level", str, "info", "debug, info, warning or error"),
    Field("log_format", str, "text", "text (key=value) or json (one object per line)"),
)
_BY_NAME = {f.name: f for f in FIELDS}
MQTT_PASSWORD_ENV = "AKKER_MQTT_PASSWORD"
LOG_LEVELS = ("debug", "info", "warning", "error")
_KIND_NAMES = {
    str: "a string",
    Path: "a string (a path)",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
}


@dataclass(frozen=True)
class BridgeConfig:
    db: Path
    serial: str | None = None
    baudrate: int = 115200
    udp: str | None = None
    ttn: str | None = None
    ttn_app: str | None = None
    ttn_tenant: str = "ttn"
    ttn_key_file: Path | None = None
    chirpstack: str | None = None
    chirpstack_app: str | None = None
    chirpstack_password_file: Path | None = None
    mqtt: str | None = None
    mqtt_password_file: Path | None = None
    mqtt_password: str | None = field(default=None, repr=False)
    mqtt_ca: Path | None = None
    ha_discovery: bool = False
    jsonl: Path | None = None
    webhook: str | None = None
    gateway_id: str = ""
    http: str | None = None
    http_password_file: Path | None = None
    http_no_auth: bool = False
    alerts: Path | None = None
    alerts_every_s: int = 60
    dedup_window_ms: int = 2000
    network: bool = True
    dev_addr_range: str = "00000001-01ffffff"
    rx_delay_s: int = 1
    rx1_dr_offset: int = 0
    rx2_data_rate: int = 0
    downlinks_per_day: int = 10
    adr_margin_db: float = 10.0
    log_level: str = "info"
    log_format: str = "text"

    def __repr__(self) -> str:  # a config may be logged: never the password, in a URL or not
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        for key in ("mqtt", "webhook"):
            if shown.get(key):
                shown[key] = mask_url(str(shown[key]))
        return "BridgeConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def mqtt_secret(self) -> str | None:
        """The broker password: in the URL, else mqtt_password, else mqtt_password_file, else $AKKER_MQTT_PASSWORD."""
        if self.mqtt and url_has_password(self.mqtt):
            return None  # the URL's own, parsed with it
        if self.mqtt_password:
            return self.mqtt_password
        if self.mqtt_password_file is not None:
            try:
                return read_password_file(self.mqtt_password_file, "mqtt_password_file")
            except SecretError as err:
                raise ConfigError(str(err)) from None
        return os.environ.get(MQTT_PASSWORD_ENV) or None

    def server_secret(self, server: str) -> str | None:
        """The Things Stack's API key or ChirpStack's broker password, from its file."""
        path = self.ttn_key_file if server == "ttn" else self.chirpstack_password_file
        if path is None:
            return None
        try:
            return read_password_file(path, f"{server}_key_file" if server == "ttn" else "chirpstack_password_file")
        except SecretError as err:
            raise ConfigError(str(err)) from None

    def udp_address(self) -> tuple[str, int] | None:
        return _address("udp", self.udp, "0.0.0.0:1700")

    def dev_addrs(self) -> tuple[int, int]:
        """dev_addr_range as (first, last)."""
        first, sep, last = self.dev_addr_range.partition("-")
        try:
            lo, hi = int(first, 16), int(last, 16)
        except ValueError:
            lo = hi = -1
        if not sep or len(first) != 8 or len(last) != 8 or not 0 < lo <= hi or hi - lo < 255:
            raise ConfigError(f"dev_addr_range {self.dev_addr_range!r}: give FIRST-LAST, 8 hex digits each and at"
                              " least 256 addresses, e.g. 00000001-01ffffff (NetID 000000's)")  # fmt: skip
        return lo, hi

    def http_address(self) -> tuple[str, int] | None:
        """The dashboard's address: the same parser as `akker dashboard --http`, so a bare port is 127.0.0.1."""
        if self.http is None:
            return None
        try:
            return parse_http(self.http)
        except AccessError as err:
            raise ConfigError(f"http = {err}") from None


def _address(name: str, value: str | None, example: str) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name} = {value!r}: use HOST:PORT, e.g. {example}")
    return host.strip("[]") or "0.0.0.0", int(port)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `akker gateway run`; defaults stay None so that the TOML file can fill them."""
    p.add_argument("--config", type=Path, help="a TOML file with any of the settings below (flags win)")
    for f in FIELDS:
        if not f.flag:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.kind is bool and f.default:  # on unless turned off: --no-NAME too
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f.help)
        elif f.kind is bool:
            p.add_argument(flag, action="store_true", default=None, help=f.help)
        else:
            metavar = {Path: "PATH", int: "N", float: "X"}.get(f.kind, "VALUE")
            p.add_argument(flag, type=f.kind, default=None, metavar=metavar, help=f.help)


def _from_toml(path: Path) -> dict[str, object]:
    raw = read_toml(path, "config file", ConfigError)
    out: dict[str, object] = {}
    for key, value in raw.items():
        f = _BY_NAME.get(key)
        if f is None:
            known = ", ".join(_BY_NAME)
            raise ConfigError(f"{path}: unknown setting {key!r} (a typo?); settings are: {known}")
        expected: tuple[type, ...] = (str,) if f.kind is Path else (f.kind,)
        if f.kind is float:
            expected = (int, float)
        if type(value) not in expected:
            raise ConfigError(f"{path}: {key} must be {_KIND_NAMES[f.kind]}")
        out[key] = Path(value) if f.kind is Path else value
    return out


def resolve(args: argparse.Namespace) -> BridgeConfig:
    """Merge the TOML file (if any) and the flags into one checked BridgeConfig."""
    values: dict[str, object] = _from_toml(args.config) if getattr(args, "config", None) else {}
    for f in FIELDS:
        flag_value = getattr(args, f.name, None) if f.flag else None
        if flag_value is not None:
            values[f.name] = flag_value
    if values.get("db") is None:
        raise ConfigError('no database: give --db PATH (or db = "PATH" in the config file)')
    if not any(values.get(k) for k in ("serial", "udp", "ttn", "chirpstack")):
        raise ConfigError("no source: give --serial PORT, --udp HOST:PORT, --ttn URL or --chirpstack URL, or frames"
                          " have nowhere to come from")  # fmt: skip
    for server, needs in (("ttn", ("ttn_app", "ttn_key_file")), ("chirpstack", ("chirpstack_app",))):
        missing = [f"--{k.replace('_', '-')}" for k in needs if values.get(server) and not values.get(k)]
        if missing:
            raise ConfigError(f"--{server} needs {' and '.join(missing)}: docs/integrations.md says where to find them")
    values = {k: v for k, v in values.items() if v is not None}
    if not values.get("gateway_id"):
        values["gateway_id"] = socket.gethostname()
    cfg = BridgeConfig(**values)  # type: ignore[arg-type]
    if cfg.log_level not in LOG_LEVELS:
        raise ConfigError(f"log_level {cfg.log_level!r}: use one of {', '.join(LOG_LEVELS)}")
    if cfg.log_format not in ("text", "json"):
        raise ConfigError(f"log_format {cfg.log_format!r}: use text or json")
    if not 0 <= cfg.dedup_window_ms <= 60000:
        raise ConfigError("dedup_window_ms must be 0..60000")
    if not cfg.gateway_id.isascii() or not all(c.isalnum() or c in "-_." for c in cfg.gateway_id):
        raise ConfigError(f"gateway_id {cfg.gateway_id!r}: use letters, digits, '-', '_' or '.' (an MQTT topic level)")
    cfg.udp_address()
    http = cfg.http_address()
    if http is not None:
        try:  # beyond this computer: a password file or an explicit http_no_auth (bridge.py logs its warning)
            check_exposure(http[0], cfg.http_password_file, cfg.http_no_auth)
        except AccessError as err:
            raise ConfigError(str(err)) from None
    if cfg.alerts_every_s < 1:
        raise ConfigError("alerts_every_s must be at least 1")
    cfg.dev_addrs()
    for key, lo, hi in (("rx_delay_s", 1, 15), ("rx1_dr_offset", 0, 5), ("rx2_data_rate", 0, 5),
                        ("downlinks_per_day", 1, 1000), ("adr_margin_db", 0, 30)):  # fmt: skip
        if not lo <= getattr(cfg, key) <= hi:
            raise ConfigError(f"{key} = {getattr(cfg, key)}: use {lo}..{hi}")
    if cfg.mqtt_secret() and not _has_user(cfg.mqtt):
        raise ConfigError("an MQTT password is set but the URL names no user: write mqtt://USER@host:port")
    return cfg


def _has_user(url: str | None) -> bool:
    try:
        return bool(url) and bool(urlsplit(str(url)).username)
    except ValueError:
        return False


def warnings(args: argparse.Namespace) -> list[str]:
    """What a person should change in how they started the bridge, said once at start."""
    out = []
    for key in ("mqtt", "webhook"):
        url = getattr(args, key, None)
        if url and url_has_password(url):
            where = "--mqtt-password-file or the config file" if key == "mqtt" else "the config file"
            out.append(
                f"--{key} {mask_url(url)}: a password on the command line can be read by anyone on this machine"
                f" (ps, shell history); put it in {where}"
            )
    config = getattr(args, "config", None)
    if config is not None and too_open(config) and "password" in config.read_text(errors="replace"):
        out.append(f"{config} holds a password and other users may read it: chmod 600 {config}")
    return out


assert {f.name for f in fields(BridgeConfig)} == set(_BY_NAME)  # one schema: the table and the dataclass agree
