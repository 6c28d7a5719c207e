"""`akker nodes add` and `akker nodes list`: the node registry from the shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gateway.registry import Registry, RegistryError, open_db

from .errors import CliError

BOARDS = Path(__file__).resolve().parents[2] / "boards"


def add_nodes_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register a node and its session keys")
    add.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database (created if missing)")
    add.add_argument("--name", required=True, help="a name for the node, e.g. north-field-3")
    add.add_argument("--dev-addr", required=True, help="DevAddr, 8 hex digits")
    add.add_argument("--nwk-skey", required=True, help="NwkSKey, 32 hex digits")
    add.add_argument("--app-skey", required=True, help="AppSKey, 32 hex digits")
    add.add_argument("--board", help="board id, a file name in boards/")
    ls = sub.add_parser("list", help="list the registered nodes (keys hidden)")
    ls.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database")
    ls.add_argument("--show-keys", action="store_true", help="also print the session keys")
    ls.add_argument("--json", action="store_true", help="one JSON object per node")


def _hex(text: str, nbytes: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != nbytes:
        raise CliError(f"{what} must be {2 * nbytes} hex digits, e.g. {'0' * (2 * nbytes)}")
    return raw


def cmd_nodes(args: argparse.Namespace) -> int:
    try:
        if args.action == "add":
            return _add(args)
        return _list(args)
    except RegistryError as err:
        raise CliError(str(err)) from None


def _add(args: argparse.Namespace) -> int:
    dev_addr = int.from_bytes(_hex(args.dev_addr, 4, "--dev-addr"), "big")
    nwk = _hex(args.nwk_skey, 16, "--nwk-skey")
    app = _hex(args.app_skey, 16, "--app-skey")
    if args.board and not (BOARDS / f"{args.board}.json").exists():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json")))
        raise CliError(f"unknown board {args.board!r}: use one of {known}")
    node = Registry(open_db(args.db)).add(args.name, dev_addr, nwk, app, args.board)
    print(f"added {node.name} (DevAddr {node.dev_addr:08x})")
    return 0


def _list(args: argparse.Namespace) -> int:
    if not args.db.exists():
        raise CliError(f"{args.db} does not exist: add a node first with akker nodes add")
    for node in Registry(open_db(args.db)).all():
        row = {
            "name": node.name,
            "dev_addr": f"{node.dev_addr:08x}",
            "board": node.board,
            "last_fcnt": node.last_fcnt,
            "created_at": node.created_at,
        }
        if args.show_keys:
            row["nwk_skey"] = node.nwk_skey.hex()
            row["app_skey"] = node.app_skey.hex()
        if args.json:
            print(json.dumps(row))
        else:
            print("  ".join(f"{k}={'-' if v is None else v}" for k, v in row.items()))
    return 0
