"""Provisioning a node: a fresh identity, its config.json and its label.

An OTAA node (the default) gets a DevEUI, a JoinEUI and a random AppKey and
joins its network; an ABP node (`--abp`, the old way) gets a DevAddr and two
random session keys.

Pure except for the randomness it is given: the command (gateway/cli/provision.py)
registers the node and writes the files. The config is checked with the
firmware's own validator (firmware/config.py), so what provisioning writes is
exactly what the node will accept.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from firmware import config as firmware_config

BOARDS = Path(__file__).resolve().parents[2] / "boards"

# LoRaWAN Backend Interfaces 1.0, 6.1: NetID 000000 and 000001 are for private and experimental
# networks; a type-0 NetID gives its network the DevAddrs whose top 7 bits are its NwkID.
# NetID 000000: 00000000-01ffffff. 00000000 itself is left out: it reads as "unset".
DEFAULT_RANGE = (0x00000001, 0x01FFFFFF)

# A capacitive soil probe (v1.2 type) on a 3.3 V ADC, as read_u16(): in air and in water. Close
# enough to start with; `akker calibrate` measures the real ones.
PROBE_DRY_RAW = 52000
PROBE_WET_RAW = 21000


class ProvisionError(ValueError):
    """Provisioning cannot go on; the message says what to change."""


@dataclass(frozen=True)
class Sensors:
    soil_moisture: int = 0  # capacitive probes
    soil_temp: int = 0  # DS18B20 probes on the 1-Wire bus
    air: str = ""  # "", "sht4x" or "sht3x"
    traps: int = 0
    battery: bool = True


@dataclass(frozen=True)
class Radio:
    channels_khz: tuple[int, ...] = (868100, 868300, 868500)
    sf: int = 9
    bw_khz: int = 125
    tx_power_dbm: int = 14


@dataclass(frozen=True)
class Identity:
    dev_addr: int
    nwk_skey: bytes = field(repr=False)
    app_skey: bytes = field(repr=False)


@dataclass(frozen=True)
class OtaaIdentity:
    dev_eui: bytes
    join_eui: bytes
    app_key: bytes = field(repr=False)


def parse_eui(text: str, what: str) -> bytes:
    """16 hex digits (an EUI-64 as consoles print it, most significant byte first) as 8 bytes."""
    try:
        eui = bytes.fromhex(text)
    except ValueError:
        eui = b""
    if len(eui) != 8:
        raise ProvisionError(f"{what} {text!r}: write 16 hex digits, e.g. 70b3d57ed0001234")
    return eui


def new_otaa_identity(
    taken: Callable[[bytes], bool], dev_eui: bytes | None = None, join_eui: bytes = bytes(8)
) -> OtaaIdentity:
    """A random AppKey, and a DevEUI: the one given (a network's console, a label on the board), else a
    random locally administered EUI-64 (IEEE: the first byte's second-lowest bit set), free in the registry."""
    if dev_eui is None:
        for _ in range(64):
            dev_eui = bytes([(secrets.randbits(8) & 0xFC) | 0x02]) + secrets.token_bytes(7)
            if not taken(dev_eui):
                break
    assert dev_eui is not None
    if taken(dev_eui):
        raise ProvisionError(f"DevEUI {dev_eui.hex()} already belongs to another node: every node needs its own")
    return OtaaIdentity(dev_eui, join_eui, secrets.token_bytes(16))


def parse_range(text: str) -> tuple[int, int]:
    """'00000001-01ffffff' -> (1, 0x01ffffff)."""
    lo, sep, hi = text.partition("-")
    try:
        if not sep or len(lo) != 8 or len(hi) != 8:
            raise ValueError
        first, last = int(lo, 16), int(hi, 16)
    except ValueError:
        raise ProvisionError(f"DevAddr range {text!r}: write two 8-digit hex numbers, e.g. 00000001-01ffffff") from None
    if first > last:
        raise ProvisionError(f"DevAddr range {text!r} is empty: the first must not be above the last")
    return first, last


def new_identity(
    taken: Callable[[int], bool],
    dev_addr_range: tuple[int, int] = DEFAULT_RANGE,
    rng: secrets.SystemRandom | None = None,
) -> Identity:
    """A random free DevAddr in the range and two independent random 128-bit keys."""
    rng = rng or secrets.SystemRandom()
    first, last = dev_addr_range
    for _ in range(64):
        dev_addr = rng.randint(first, last)
        if not taken(dev_addr):
            break
    else:
        free = [a for a in range(first, min(last, first + 1_000_000) + 1) if not taken(a)]
        if not free:
            raise ProvisionError(f"no free DevAddr left in {first:08x}-{last:08x}: give a wider --dev-addr-range")
        dev_addr = rng.choice(free)
    return Identity(dev_addr, secrets.token_bytes(16), secrets.token_bytes(16))


def board_file(board: str) -> dict[str, object]:
    path = BOARDS / f"{board}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json")))
        raise ProvisionError(f"unknown board {board!r}: use one of {known}")
    return dict(json.loads(path.read_text()))


def _keys(identity: Identity | OtaaIdentity) -> dict[str, object]:
    if isinstance(identity, OtaaIdentity):
        return {
            "activation": "otaa",
            "dev_eui": identity.dev_eui.hex(),
            "join_eui": identity.join_eui.hex(),
            "app_key": identity.app_key.hex(),
        }
    return {
        "activation": "abp",
        "dev_addr": f"{identity.dev_addr:08x}",
        "nwk_skey": identity.nwk_skey.hex(),
        "app_skey": identity.app_skey.hex(),
    }


def node_config(
    board: str,
    identity: Identity | OtaaIdentity,
    sensors: Sensors,
    radio: Radio,
    interval_s: int = 900,
    samples_per_uplink: int = 1,
) -> dict[str, object]:
    """The node's config.json, checked against the board's wiring and the firmware's schema."""
    wiring = board_file(board)
    soil_pins = wiring.get("soil_adc") or []
    trap_pins = wiring.get("trap_pins") or []
    assert isinstance(soil_pins, list) and isinstance(trap_pins, list)
    if sensors.soil_moisture > len(soil_pins):
        raise ProvisionError(f"{board} has {len(soil_pins)} soil probe inputs, not {sensors.soil_moisture}")
    if sensors.traps > len(trap_pins):
        raise ProvisionError(f"{board} has {len(trap_pins)} trap inputs, not {sensors.traps}")
    if sensors.soil_temp and wiring.get("onewire") is None:
        raise ProvisionError(f"{board} has no 1-Wire pin for soil temperature probes")
    if sensors.air and not wiring.get("i2c"):
        raise ProvisionError(f"{board} has no I2C bus for the {sensors.air} air sensor")
    cfg: dict[str, object] = {
        "role": "node",
        "board": board,
        **_keys(identity),
        "radio": {
            "channels_khz": list(radio.channels_khz),
            "sf": radio.sf,
            "bw_khz": radio.bw_khz,
            "tx_power_dbm": radio.tx_power_dbm,
            "sync_word": 0x34,
        },
        "interval_s": interval_s,
        "samples_per_uplink": samples_per_uplink,
        "sensors": {
            "soil_moisture": [{"dry": PROBE_DRY_RAW, "wet": PROBE_WET_RAW}] * sensors.soil_moisture,
            "soil_temp": sensors.soil_temp,
            "air": sensors.air,
            "traps": sensors.traps,
            "battery": sensors.battery,
        },
    }
    try:
        firmware_config.validate(json.loads(json.dumps(cfg)))
    except firmware_config.ConfigError as err:
        raise ProvisionError(str(err).replace("config: ", "", 1)) from None
    return cfg


def describe(sensors: Sensors) -> str:
    parts = []
    if sensors.soil_moisture:
        parts.append(f"{sensors.soil_moisture} soil moisture")
    if sensors.soil_temp:
        parts.append(f"{sensors.soil_temp} soil temp")
    if sensors.air:
        parts.append(sensors.air)
    if sensors.traps:
        parts.append(f"{sensors.traps} trap{'s' if sensors.traps > 1 else ''}")
    if sensors.battery:
        parts.append("battery")
    return ", ".join(parts) or "no sensors"


def label(name: str, board: str, identity: Identity | OtaaIdentity, sensors: Sensors, when: date) -> str:
    """A small text label for the enclosure: what a person in the field needs, never a key."""
    if isinstance(identity, OtaaIdentity):
        who = f"DevEUI      {identity.dev_eui.hex().upper()}"
    else:
        who = f"DevAddr     {identity.dev_addr:08X}"
    lines = [
        f"AKKER NODE  {name}",
        who,
        f"Board       {board}",
        f"Sensors     {describe(sensors)}",
        f"Provisioned {when.isoformat()}",
    ]
    width = max(len(line) for line in lines)
    border = "+" + "-" * (width + 2) + "+"
    return "\n".join([border, *(f"| {line.ljust(width)} |" for line in lines), border]) + "\n"
