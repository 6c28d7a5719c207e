"""The alert config (`akker dashboard --alerts FILE`, docs/dashboard.md): fields, their nodes and thresholds.

One TOML file: an optional time zone for calendar days, default thresholds, and
fields with their nodes and their own thresholds. Without a file every node is
in one field, "farm", with the defaults below. SETTINGS is the one schema: the
loader, the defaults and the table in docs/dashboard.md follow it (a test
checks the docs). A threshold keeps the number the user wrote (15 stays 15),
so alerts and pages print it back as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.toml_file import read_toml

DEFAULT_FIELD = "farm"  # the one field of the default config: every node
FALLBACK_TIMEZONE = "UTC"  # calendar days when neither the config nor the browser names a zone


class AlertConfigError(ValueError):
    """An alert config that cannot be used; the message names the file, the key and what is expected."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type  # float or int
    default: float | int | None
    help: str


# The thresholds, each a key of [defaults] and of every [fields.<name>] table.
SETTINGS: tuple[Setting, ...] = (
    Setting("soil_moisture_min_pct", float, 15.0, "alert when any probe's latest soil moisture is below this (%)"),
    Setting("soil_moisture_max_pct", float, 40.0, "show soil moisture above this as wet (%); no alert"),
    Setting("catches_per_day_max", int, 20, "alert when a node's catches today (all traps) are above this"),
    Setting("battery_min_v", float, 3.4, "alert when the latest battery voltage is below this (V)"),
    Setting("silent_intervals", int, 3, "alert when a node has not been heard for this many intervals"),
    Setting("interval_s", int, None, "a node's reporting interval (s); default: the median gap between its records"),
)


@dataclass(frozen=True)
class Thresholds:
    soil_moisture_min_pct: float = 15.0
    soil_moisture_max_pct: float = 40.0
    catches_per_day_max: int = 20
    battery_min_v: float = 3.4
    silent_intervals: int = 3
    interval_s: int | None = None


@dataclass(frozen=True)
class Field:
    name: str
    nodes: tuple[str, ...] | None  # None: every node (the default config's one field)
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class AlertConfig:
    fields: tuple[Field, ...] = (Field(DEFAULT_FIELD, None),)
    defaults: Thresholds = field(default_factory=Thresholds)  # for nodes in no field
    timezone: str | None = None  # calendar days (catches today, per day); None: the browser's, else UTC
    from_file: bool = False  # False: the built-in default, one field with every node

    def zone(self, asked: str | None = None) -> str:
        """The time zone calendar days are counted in: the config's, else the one asked for (a browser's), else UTC."""
        return self.timezone or asked or FALLBACK_TIMEZONE

    def tz(self, asked: str | None = None) -> ZoneInfo:
        return ZoneInfo(self.zone(asked))

    def field_of(self, node: str) -> Field | None:
        for f in self.fields:
            if f.nodes is None or node in f.nodes:
                return f
        return None

    def thresholds_for(self, node: str) -> Thresholds:
        f = self.field_of(node)
        return f.thresholds if f else self.defaults


def default_config() -> AlertConfig:
    return AlertConfig()


def known_timezone(name: str) -> bool:
    """True for a name the tz database knows, such as "Europe/Amsterdam"."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def load(path: Path) -> AlertConfig:
    return parse(read_toml(path, "alert config", AlertConfigError), str(path))


def parse(raw: dict[str, object], where: str = "alert config") -> AlertConfig:
    """An AlertConfig from a parsed TOML document; unknown keys and wrong types are errors."""
    _unknown(raw, ("timezone", "defaults", "fields"), where)
    tz_name = raw.get("timezone")
    if tz_name is not None and not isinstance(tz_name, str):
        raise AlertConfigError(f'{where}: timezone must be a string such as "Europe/Amsterdam"')
    if tz_name is not None and not known_timezone(tz_name):
        raise AlertConfigError(f'{where}: unknown timezone {tz_name!r}: use a name like "Europe/Paris"')
    defaults = _thresholds(_table(raw, "defaults", where), Thresholds(), f"{where} [defaults]")
    fields_raw = _table(raw, "fields", where)
    if not fields_raw:
        raise AlertConfigError(f"{where}: no [fields.<name>] table: name at least one field and its nodes")
    fields: list[Field] = []
    owner: dict[str, str] = {}
    for name, body in fields_raw.items():
        ctx = f"{where} [fields.{name}]"
        if not isinstance(body, dict):
            raise AlertConfigError(f"{ctx} must be a table")
        nodes = body.get("nodes")
        if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) and n for n in nodes):
            raise AlertConfigError(f'{ctx}: nodes must be a list of node names, e.g. nodes = ["north-1"]')
        for n in nodes:
            if n in owner:
                raise AlertConfigError(f"{ctx}: node {n!r} is already in field {owner[n]!r}: a node is in one field")
            owner[n] = name
        settings = {k: v for k, v in body.items() if k != "nodes"}
        fields.append(Field(name, tuple(nodes), _thresholds(settings, defaults, ctx)))
    return AlertConfig(tuple(fields), defaults, tz_name, from_file=True)


def _unknown(raw: dict[str, object], known: Sequence[str], where: str) -> None:
    for key in raw:
        if key not in known:
            raise AlertConfigError(f"{where}: unknown key {key!r} (a typo?); keys are: {', '.join(known)}")


def _table(raw: dict[str, object], key: str, where: str) -> dict[str, object]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise AlertConfigError(f"{where}: {key} must be a table ([{key}])")
    return value


def _thresholds(raw: dict[str, object], base: Thresholds, where: str) -> Thresholds:
    by_name = {s.name: s for s in SETTINGS}
    _unknown(raw, list(by_name), where)
    for key, value in raw.items():
        s = by_name[key]
        ok = isinstance(value, int) if s.kind is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or value <= 0:  # type: ignore[operator]
            kind = "a whole number" if s.kind is int else "a number"
            raise AlertConfigError(f"{where}: {key} must be {kind} above 0")
    out = replace(base, **raw)  # type: ignore[arg-type]
    if out.soil_moisture_max_pct <= out.soil_moisture_min_pct:
        raise AlertConfigError(
            f"{where}: soil_moisture_max_pct ({out.soil_moisture_max_pct:g}) must be above"
            f" soil_moisture_min_pct ({out.soil_moisture_min_pct:g})"
        )
    return out
