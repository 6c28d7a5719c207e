"""`akker gateway channels`: what each gateway listens on, and the channels of a Semtech gateway with fewer.

A gateway board says what it listens on (its frames and its PONG); a Semtech
gateway does not (its `stat` carries no channels), so the network takes it to
hear the whole EU868 plan unless it is told here (docs/network.md, "Gateways").
"""

from __future__ import annotations

import argparse
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from firmware.dutycycle import DutyCycle
from gateway.bridge import gateways, store, store_faults

from . import paths
from .errors import CliError

MAX_CHANNELS = 16  # LoRaWAN 1.0.x EU868: a node keeps at most 16 channels


def add_channels_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database")
    p.add_argument("gateway", nargs="?", help="a Semtech gateway's id (its EUI, 16 hex digits); none: list them all")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--channels", metavar="KHZ,...", help="the channels it listens on, e.g. 868100,868300,868500")
    which.add_argument("--all", action="store_true", help="it hears the whole plan again (the default)")


def cmd_channels(args: argparse.Namespace) -> int:
    paths.database(args.db, must_exist=True)
    try:
        if args.gateway is None:
            if args.channels or args.all:
                raise CliError("name the gateway: akker gateway channels --db DB EUI --channels KHZ,...")
            return _list(args.db)
        return _set(args)
    except sqlite3.Error as err:
        fault = store_faults.classify(err, args.db)
        raise CliError(f"{args.db}: {fault.words} ({err}): {fault.advice}") from None


def parse_channels(text: str) -> list[int]:
    """KHZ,KHZ,...: EU868 frequencies in kHz, each once."""
    try:
        khz = [int(part) for part in text.split(",")]
    except ValueError:
        raise CliError(f"--channels {text!r}: give kHz separated by commas, e.g. 868100,868300,868500") from None
    for f in khz:
        try:
            DutyCycle().band(f)
        except ValueError:
            raise CliError(f"--channels: {f} kHz is not an EU868 channel (863000 to 870000 kHz)") from None
    if len(set(khz)) != len(khz) or not 1 <= len(khz) <= MAX_CHANNELS:
        raise CliError(f"--channels {text!r}: give 1 to {MAX_CHANNELS} different channels")
    return khz


def _set(args: argparse.Namespace) -> int:
    gw = args.gateway.lower()
    if len(gw) != 16 or any(c not in "0123456789abcdef" for c in gw):
        raise CliError(f"{args.gateway!r}: a Semtech gateway's id is its EUI, 16 hex digits (akker gateway channels"
                       " --db DB lists the gateways the bridge has heard)")  # fmt: skip
    if not (args.channels or args.all):
        raise CliError("give --channels KHZ,... (what its global_conf.json listens on) or --all")
    khz = None if args.all else parse_channels(args.channels)
    db = store.connect(args.db)  # the store's tables, gateway_channels among them
    try:
        gateways.set_channels(db, gw, khz, datetime.now(timezone.utc))
    finally:
        db.close()
    what = "the whole plan" if khz is None else ", ".join(f"{k / 1000:g}" for k in sorted(khz)) + " MHz"
    print(f"{gw} listens on {what}: a running bridge keeps the nodes it hears there from their next uplink")
    return 0


def _list(path: Path) -> int:
    db = store.connect_readonly(path)
    try:
        heard = gateways.known(db)
        plans = gateways.configured(db)
    finally:
        db.close()
    if not heard and not plans:
        print("no gateway yet: the bridge notes each one from its first frame")
        return 0
    print(f"{'gateway':24} {'kind':13} {'listens on':40} last frame")
    for gw in heard:
        print(f"{gw.id:24} {gw.kind:13} {_listens(gw.kind, gw.freq_khz, gw.sf, plans.get(gw.id)):40} {gw.seen_at}")
    for gw_id in sorted(set(plans) - {g.id for g in heard}):
        print(f"{gw_id:24} {'concentrator':13} {_listens(gateways.CONCENTRATOR, None, None, plans[gw_id]):40} never")
    return 0


def _listens(kind: str, freq_khz: int | None, sf: int | None, plan: frozenset[int] | None) -> str:
    if kind == gateways.BOARD:
        return f"{(freq_khz or 0) / 1000:g} MHz at SF{sf}"
    if plan is None:
        return "every EU868 channel, SF7-SF12"
    return ", ".join(f"{k / 1000:g}" for k in sorted(plan)) + " MHz, SF7-SF12"
