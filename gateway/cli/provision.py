"""`akker provision`: a new node's identity, registered in the bridge's database, its config.json and label."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from datetime import date
from pathlib import Path

from gateway.bridge import gateways
from gateway.bridge.registry import NODE_NAME_RULE, Registry, RegistryError, open_db, valid_node_name
from gateway.workshop.provision import (
    DEFAULT_RANGE,
    Identity,
    OtaaIdentity,
    ProvisionError,
    Radio,
    Sensors,
    describe,
    label,
    new_identity,
    new_otaa_identity,
    node_config,
    parse_eui,
    parse_range,
)

from . import paths
from .errors import CliError

DEFAULT = Radio()  # EU868's three default channels at SF9: a node for a farm without only gateway boards


def add_provision_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database (created if missing)")
    p.add_argument("--name", required=True, help="the node's name, e.g. north-field-3")
    p.add_argument("--board", required=True, help="board id, a file name in boards/ (e.g. heltec_v3)")
    p.add_argument("--out", type=Path, help="folder for config.json and label.txt (default: nodes/NAME)")
    a = p.add_argument_group("activation (OTAA unless --abp)")
    a.add_argument("--abp", action="store_true", help="the old way: a DevAddr and session keys, no join")
    a.add_argument("--dev-eui", metavar="HEX16", help="OTAA: the node's DevEUI (default: a random local one)")
    a.add_argument("--join-eui", metavar="HEX16", default="0" * 16, help="OTAA: the JoinEUI (default all zeros)")
    a.add_argument(
        "--dev-addr-range",
        default=f"{DEFAULT_RANGE[0]:08x}-{DEFAULT_RANGE[1]:08x}",
        help="ABP: pick the DevAddr in FIRST-LAST, 8 hex digits each (default: private NetID 000000)",
    )
    s = p.add_argument_group("sensors fitted")
    s.add_argument("--soil", type=int, default=0, metavar="N", help="capacitive soil moisture probes")
    s.add_argument("--soil-temp", type=int, default=0, metavar="N", help="DS18B20 soil temperature probes")
    s.add_argument("--air", choices=("sht4x", "sht3x"), default="", help="air temperature and humidity sensor")
    s.add_argument("--traps", type=int, default=0, metavar="N", help="insect-trap pulse counters")
    s.add_argument("--no-battery", action="store_true", help="mains powered: no battery to measure")
    r = p.add_argument_group("sending")
    r.add_argument("--interval", type=int, default=900, metavar="S", help="seconds between samples (default 900)")
    r.add_argument("--samples-per-uplink", type=int, default=1, metavar="N", help="samples batched per frame")
    r.add_argument("--sf", type=int, help="spreading factor 7..12 (default: the farm's gateway board's, else 9)")
    r.add_argument("--channels", help="frequencies in kHz, comma-separated (default: what the farm's gateway boards"
                   " listen on, else 868100,868300,868500)")  # fmt: skip
    r.add_argument("--tx-power", type=int, default=14, metavar="DBM", help="transmit power (default 14 dBm)")


def _channels(text: str) -> tuple[int, ...]:
    try:
        channels = tuple(int(c) for c in text.split(","))
    except ValueError:
        raise CliError(f"--channels {text!r}: list frequencies in kHz, e.g. 868100,868300,868500") from None
    if len(set(channels)) != len(channels):
        raise CliError(f"--channels {text!r}: each frequency once, e.g. 868100,868300,868500")
    return channels


def _radio(args: argparse.Namespace, db: sqlite3.Connection) -> tuple[Radio, str]:
    """The node's radio, and a line saying where it came from.

    A farm whose only gateways are gateway boards (one channel, one SF each) hears a node only there; with
    a concentrator (Semtech UDP) in reach the defaults do, and the network's ADR and channel mask tune them.
    """
    heard = gateways.known(db)  # most recently seen first
    every_board = [g for g in heard if g.kind == gateways.BOARD and g.freq_khz and g.sf]
    only_boards = bool(heard) and len(every_board) == len(heard)
    sf = args.sf or (int(every_board[0].sf or DEFAULT.sf) if only_boards else DEFAULT.sf)
    # Boards on other SFs do not hear this node: their channels would only lose its frames.
    boards = [g for g in every_board if g.sf == sf] or every_board
    if args.channels is not None:
        channels = _channels(args.channels)
    elif only_boards:
        channels = tuple(sorted({int(g.freq_khz or 0) for g in boards}))
    else:
        channels = DEFAULT.channels_khz
    radio = Radio(channels, sf, 125, args.tx_power)
    given = args.channels is not None or args.sf is not None
    listening = ", ".join(f"{(g.freq_khz or 0) / 1000:g} MHz SF{g.sf} ({g.id})" for g in every_board)
    if only_boards and not any(g.sf == sf and g.freq_khz in channels for g in every_board):
        why = f"as given, but no gateway board of this farm hears it there: they listen on {listening}"
    elif only_boards:
        why = f"{'as given; ' if given else ''}the farm's gateway boards listen on {listening}"
    elif heard and args.abp:
        why = "the farm has a gateway that hears every channel; an ABP node keeps this SF (no ADR)"
    elif heard:
        why = "the farm has a gateway that hears every channel; once joined, the network's ADR tunes the node"
    elif given:
        why = f"as given; no gateway has reported to {args.db} yet"
    else:
        why = f"no gateway has reported to {args.db} yet; for a gateway board give its channel and SF"
    listed = ", ".join(f"{c / 1000:g}" for c in radio.channels_khz)
    return radio, f"radio: {listed} MHz at SF{radio.sf} ({why})"


def _identity(args: argparse.Namespace, registry: Registry) -> Identity | OtaaIdentity:
    if args.abp:
        return new_identity(lambda a: registry.by_dev_addr(a) is not None, parse_range(args.dev_addr_range))
    dev_eui = parse_eui(args.dev_eui, "--dev-eui") if args.dev_eui else None
    join_eui = parse_eui(args.join_eui, "--join-eui")
    return new_otaa_identity(lambda e: registry.otaa_by_dev_eui(e) is not None, dev_eui, join_eui)


def _register(registry: Registry, name: str, identity: Identity | OtaaIdentity, board: str) -> None:
    if isinstance(identity, OtaaIdentity):
        registry.add_otaa(name, identity.dev_eui, identity.join_eui, identity.app_key, board)
    else:
        registry.add(name, identity.dev_addr, identity.nwk_skey, identity.app_skey, board)


def cmd_provision(args: argparse.Namespace) -> int:
    if not valid_node_name(args.name):  # before the name becomes a folder: `../x` must not escape nodes/
        raise CliError(f"node name {args.name!r}: use {NODE_NAME_RULE}, e.g. north-1")
    out: Path = args.out or Path("nodes") / args.name
    target = out / "config.json"
    if target.exists():
        raise CliError(f"{target} exists: that node is provisioned already; remove it or give another --out")
    sensors = Sensors(args.soil, args.soil_temp, args.air, args.traps, not args.no_battery)
    paths.database(args.db, new=True)
    try:
        db = open_db(args.db)
        radio, radio_note = _radio(args, db)
        registry = Registry(db)
        if registry.by_name(args.name) or registry.otaa_by_name(args.name):
            raise CliError(f"a node named {args.name!r} is registered already: pick another name")
        identity = _identity(args, registry)
        cfg = node_config(args.board, identity, sensors, radio, args.interval, args.samples_per_uplink)
        # The config holds the keys: written 0600 beside its final name first, so that a node is
        # never registered without its file, nor left with a file whose keys the bridge lacks.
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".config.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=1)
            f.write("\n")
        try:
            _register(registry, args.name, identity, args.board)
        except RegistryError:
            tmp.unlink()
            raise
        tmp.replace(target)
    except ProvisionError as err:
        raise CliError(str(err)) from None
    except RegistryError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"cannot write {out}: {err.strerror}") from None
    text = label(args.name, args.board, identity, sensors, date.today())
    (out / "label.txt").write_text(text)
    if isinstance(identity, OtaaIdentity):
        who = f"OTAA, DevEUI {identity.dev_eui.hex()}, JoinEUI {identity.join_eui.hex()}"
    else:
        who = f"DevAddr {identity.dev_addr:08x}"
    print(f"provisioned {args.name}: {who}, {args.board}, {describe(sensors)} -> {target}")
    print(radio_note)
    print(text, end="")
    return 0
