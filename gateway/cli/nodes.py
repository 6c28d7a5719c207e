"""`akker nodes add` and `akker nodes list`: the node registry from the shell."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from gateway import secrets_io
from gateway.bridge import store_faults
from gateway.bridge.registry import Registry, RegistryError, open_db

from .errors import CliError

BOARDS = Path(__file__).resolve().parents[2] / "boards"


def add_nodes_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register a node and its session keys")
    add.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database (created if missing)")
    add.add_argument("--name", required=True, help="a name for the node, e.g. north-field-3")
    add.add_argument("--dev-addr", required=True, help="DevAddr, 8 hex digits")
    keys = add.add_mutually_exclusive_group()
    keys.add_argument(
        "--keys-file",
        metavar="FILE",
        help='the session keys as JSON, {"nwk_skey": "<32 hex>", "app_skey": "<32 hex>"}; - for standard input',
    )
    keys.add_argument(
        "--new-keys", metavar="FILE", type=Path, help="make new random keys and write them to FILE (created, 0600)"
    )
    # Still accepted, with a warning: a key on the command line is in `ps` and the shell's history.
    add.add_argument("--nwk-skey", help=argparse.SUPPRESS)
    add.add_argument("--app-skey", help=argparse.SUPPRESS)
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
    except sqlite3.Error as err:  # locked by a bridge mid-transaction for long, a full disk, a damaged file
        fault = store_faults.classify(err, args.db)
        raise CliError(f"{args.db}: {fault.words} ({err}): {fault.advice}") from None


def _keys(args: argparse.Namespace) -> tuple[bytes, bytes]:
    """NwkSKey and AppSKey from exactly one of --keys-file, --new-keys or the old flags."""
    on_line = args.nwk_skey is not None or args.app_skey is not None
    given = [bool(args.keys_file), args.new_keys is not None, on_line]
    if sum(given) != 1:
        raise CliError("give the keys in one way: --keys-file FILE (or - for standard input), or --new-keys FILE")
    try:
        if args.keys_file:
            keys = secrets_io.read_keys(args.keys_file)
            if "app_key" in keys:
                raise CliError("an OTAA key (app_key): this bridge registers ABP nodes; give nwk_skey and app_skey")
            return keys["nwk_skey"], keys["app_skey"]
        if args.new_keys is not None:
            return _new_keys(args.new_keys)
    except secrets_io.SecretError as err:
        raise CliError(str(err)) from None
    print(
        "akker: warning: keys on the command line can be read by anyone on this machine (ps, shell history);"
        " use --keys-file FILE next time",
        file=sys.stderr,
    )
    if args.nwk_skey is None or args.app_skey is None:
        raise CliError("give both --nwk-skey and --app-skey, or better --keys-file FILE")
    return _hex(args.nwk_skey, 16, "--nwk-skey"), _hex(args.app_skey, 16, "--app-skey")


def _new_keys(path: Path) -> tuple[bytes, bytes]:
    keys = secrets_io.new_abp_keys()
    secrets_io.write_keys_once(path, keys)
    print(f"new session keys written to {path} (mode 0600): put them in the node's config, then delete the file")
    return keys["nwk_skey"], keys["app_skey"]


def _add(args: argparse.Namespace) -> int:
    dev_addr = int.from_bytes(_hex(args.dev_addr, 4, "--dev-addr"), "big")
    if args.board and not (BOARDS / f"{args.board}.json").exists():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json")))
        raise CliError(f"unknown board {args.board!r}: use one of {known}")
    registry = Registry(open_db(args.db))
    nwk, app = _keys(args)
    try:
        node = registry.add(args.name, dev_addr, nwk, app, args.board)
    except RegistryError:
        if args.new_keys is not None:
            args.new_keys.unlink()  # keys for a node that was not added would only mislead
        raise
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
