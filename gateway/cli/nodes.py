"""`akker nodes add` and `akker nodes list`: the node registry from the shell (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from gateway import secrets_io
from gateway.bridge import store_faults
from gateway.bridge.registry import MAC_VERSIONS, NETWORKS, Registry, RegistryError, open_db
from gateway.farm import queries
from gateway.network.adr import Adr
from gateway.network.commands import CommandError, CommandQueue
from gateway.network.downlinks import DownlinkBuilder

from . import paths
from .errors import CliError

BOARDS = Path(__file__).resolve().parents[2] / "boards"


def add_nodes_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register a node: ABP with its session keys, or --otaa with its root key")
    add.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database (created if missing)")
    add.add_argument("--name", required=True, help="a name for the node, e.g. north-field-3")
    add.add_argument("--dev-addr", help="ABP: DevAddr, 8 hex digits")
    add.add_argument("--otaa", action="store_true", help="a node that joins: give --dev-eui, --join-eui, its AppKey")
    add.add_argument("--dev-eui", metavar="HEX16", help="OTAA: the DevEUI, 16 hex digits")
    add.add_argument("--join-eui", metavar="HEX16", help="OTAA: the JoinEUI (AppEUI), 16 hex digits")
    add.add_argument("--mac-version", choices=MAC_VERSIONS, default="1.0.4", help="OTAA: the node's LoRaWAN version")
    add.add_argument("--network", choices=NETWORKS, help="a node on The Things Stack or ChirpStack: only --dev-eui")
    keys = add.add_mutually_exclusive_group()
    keys.add_argument(
        "--keys-file",
        metavar="FILE",
        help='the keys as JSON: ABP {"nwk_skey": "<32 hex>", "app_skey": "<32 hex>"}, OTAA {"app_key": "<32 hex>"};'
        " - for standard input",
    )
    keys.add_argument(
        "--new-keys", metavar="FILE", type=Path, help="make new random keys and write them to FILE (created, 0600)"
    )
    # Still accepted, with a warning: a key on the command line is in `ps` and the shell's history.
    add.add_argument("--nwk-skey", help=argparse.SUPPRESS)
    add.add_argument("--app-skey", help=argparse.SUPPRESS)
    add.add_argument("--board", help="board id, a file name in boards/")
    send = sub.add_parser("send", help="queue a command for a node's next receive window (durable)")
    send.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database")
    send.add_argument("name", help="the node's name")
    send.add_argument(
        "command_json", metavar="JSON", help='the command, e.g. \'{"cmd": "set_interval", "seconds": 600}\''
    )
    send.add_argument("--confirmed", action="store_true", help="ask the node to acknowledge the downlink")
    ls = sub.add_parser("list", help="list the registered nodes (keys hidden)")
    ls.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database")
    ls.add_argument("--show-keys", action="store_true", help="also print the keys")
    ls.add_argument("--json", action="store_true", help="a JSON array, one object per node")


def _hex(text: str, nbytes: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != nbytes:
        raise CliError(f"{what} must be {2 * nbytes} hex digits, e.g. {'0' * (2 * nbytes)}")
    return raw


def cmd_nodes(args: argparse.Namespace) -> int:
    paths.database(args.db, new=args.action == "add")
    try:
        if args.action == "add":
            return _add(args)
        if args.action == "send":
            return _send(args)
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
    if args.board and not (BOARDS / f"{args.board}.json").exists():
        known = ", ".join(sorted(p.stem for p in BOARDS.glob("*.json")))
        raise CliError(f"unknown board {args.board!r}: use one of {known}")
    if args.network:
        return _add_server_device(args)
    if args.otaa:
        return _add_otaa(args)
    if args.dev_addr is None:
        raise CliError("give --dev-addr for an ABP node, or --otaa with --dev-eui and --join-eui for one that joins")
    dev_addr = int.from_bytes(_hex(args.dev_addr, 4, "--dev-addr"), "big")
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


def _app_key(args: argparse.Namespace) -> bytes:
    """The OTAA root key from --keys-file, or a new one written to --new-keys; never from the command line."""
    try:
        if args.keys_file:
            keys = secrets_io.read_keys(args.keys_file)
            if "app_key" not in keys:
                raise CliError('--otaa needs the AppKey: a keys file {"app_key": "<32 hex>"}, not session keys')
            return keys["app_key"]
        if args.new_keys is not None:
            keys = {"app_key": secrets_io.new_app_key()}
            secrets_io.write_keys_once(args.new_keys, keys)
            print(f"new AppKey written to {args.new_keys} (mode 0600): put it in the node's config, then delete it")
            return keys["app_key"]
    except secrets_io.SecretError as err:
        raise CliError(str(err)) from None
    raise CliError("--otaa: give the AppKey with --keys-file FILE (or - for standard input), or --new-keys FILE")


def _add_server_device(args: argparse.Namespace) -> int:
    """A node whose keys stay in its network server, which answers it; the bridge reads its uplinks from there."""
    if args.otaa or args.dev_addr or args.join_eui or args.keys_file or args.new_keys or args.nwk_skey or args.app_skey:
        raise CliError(f"--network {args.network}: its keys stay in the network server; give --dev-eui only")
    if not args.dev_eui:
        raise CliError(f"--network {args.network} needs --dev-eui, 16 hex digits, as the network server has it")
    dev_eui = _hex(args.dev_eui, 8, "--dev-eui")
    device = Registry(open_db(args.db)).add_server_device(args.name, dev_eui, args.network, args.board)
    print(f"added {device.name} ({device.network}, DevEUI {device.dev_eui.hex()}): its frames come from there")
    return 0


def _add_otaa(args: argparse.Namespace) -> int:
    if args.dev_addr or args.nwk_skey or args.app_skey:
        raise CliError("an OTAA node gets its DevAddr and session keys when it joins: leave out --dev-addr and keys")
    if not args.dev_eui or not args.join_eui:
        raise CliError("--otaa needs --dev-eui and --join-eui, 16 hex digits each, as the node's config has them")
    dev_eui, join_eui = _hex(args.dev_eui, 8, "--dev-eui"), _hex(args.join_eui, 8, "--join-eui")
    registry = Registry(open_db(args.db))
    app_key = _app_key(args)
    try:
        device = registry.add_otaa(args.name, dev_eui, join_eui, app_key, args.board, args.mac_version)
    except RegistryError:
        if args.new_keys is not None:
            args.new_keys.unlink()
        raise
    print(f"added {device.name} (OTAA, DevEUI {device.dev_eui.hex()}, LoRaWAN {device.mac_version})")
    return 0


def _send(args: argparse.Namespace) -> int:
    if not args.db.exists():
        raise CliError(f"{args.db} does not exist: give the bridge's database, where the node is registered")
    db = open_db(args.db)
    registry = Registry(db)
    server = registry.server_device(args.name)
    if server is None and registry.by_name(args.name) is None and registry.otaa_by_name(args.name) is None:
        raise CliError(f"no node named {args.name!r} in {args.db}: akker nodes list shows the registered ones")
    try:
        queued = CommandQueue(db).add(args.name, args.command_json, args.confirmed)
    except CommandError as err:
        raise CliError(f"{err}: nothing was queued") from None
    via = f"through {server.network}, from a bridge reading it" if server else "in its next receive window"
    print(f"queued command {queued.id} for {args.name}: {queued.command} (goes out {via})")
    return 0


def _list(args: argparse.Namespace) -> int:
    if not args.db.exists():
        raise CliError(f"{args.db} does not exist: add a node first with akker nodes add")
    db = open_db(args.db)
    rows = node_rows(Registry(db), queries.last_seen(db), args.show_keys)
    queue = CommandQueue(db)
    adr = Adr(db)
    downlinks = DownlinkBuilder(db)
    for row in rows:
        row["fcnt_down"] = downlinks.fcnt_down(str(row["name"]))
        row["adr"] = adr.report(str(row["name"]))
        row["commands"] = [
            {"id": c.id, "command": json.loads(c.command), "confirmed": c.confirmed, "state": c.state,
             "updated_at": c.updated_at}
            for c in queue.for_node(str(row["name"]))
        ]  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print("  ".join(f"{k}={_text(v)}" for k, v in row.items()))
    return 0


def _text(value: object) -> str:
    """A value as the plain listing shows it: - for none, JSON for what has parts (ADR, commands)."""
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def node_rows(registry: Registry, seen: dict[str, str], show_keys: bool = False) -> list[dict[str, object]]:
    """One object per node, ABP and OTAA alike, as `akker nodes list --json` prints them (docs/cli.md)."""
    rows: list[dict[str, object]] = []
    otaa = registry.all_otaa()
    sessions = {node.name: node for node in registry.all()}  # an OTAA node's, once it joined
    for node in sessions.values():
        if any(d.name == node.name for d in otaa):
            continue
        row: dict[str, object] = {
            "name": node.name,
            "activation": "abp",
            "network": "akker",  # the bridge's own network answers it
            "dev_eui": None,
            "join_eui": None,
            "dev_addr": f"{node.dev_addr:08x}",
            "fcnt_up": node.last_fcnt,
            "fcnt_down": None,  # the network's: filled in by _list
            "last_seen": seen.get(node.name),
            "board": node.board,
        }
        if show_keys:
            row.update(app_key=None, nwk_skey=node.nwk_skey.hex(), app_skey=node.app_skey.hex())
        rows.append(row)
    for device in otaa:
        session = sessions.get(device.name)
        row = {
            "name": device.name,
            "activation": "otaa",
            "network": "akker",
            "dev_eui": device.dev_eui.hex(),
            "join_eui": device.join_eui.hex(),
            "dev_addr": None if session is None else f"{session.dev_addr:08x}",  # none until it joins
            "fcnt_up": None if session is None else session.last_fcnt,
            "fcnt_down": None,
            "last_seen": seen.get(device.name),
            "board": device.board,
            "mac_version": device.mac_version,
        }
        if show_keys:
            row.update(
                app_key=device.app_key.hex(),
                nwk_skey=None if session is None else session.nwk_skey.hex(),
                app_skey=None if session is None else session.app_skey.hex(),
            )
        rows.append(row)
    for server in registry.all_server_devices():  # keys, DevAddr and counters are the network server's
        rows.append({"name": server.name, "activation": None, "network": server.network,
                     "dev_eui": server.dev_eui.hex(), "join_eui": None, "dev_addr": None, "fcnt_up": None,
                     "fcnt_down": None, "last_seen": seen.get(server.name), "board": server.board}
                    | (dict.fromkeys(("app_key", "nwk_skey", "app_skey")) if show_keys else {}))  # fmt: skip
    return sorted(rows, key=lambda r: str(r["name"]))
