"""`akker decode` and `akker encode`: the payload codec from the shell, and a whole frame opened offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from payload_codec import CodecError, decode_downlink, decode_uplink, encode_downlink, encode_uplink
from payload_codec.commands import COMMANDS

from . import paths
from .errors import CliError


def add_decode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fport", type=int, help="the LoRaWAN FPort the payload came on")
    p.add_argument("--downlink", action="store_true", help="decode a downlink command instead of an uplink")
    p.add_argument("--frame", metavar="PHYHEX", help="a whole uplink (PHYPayload, as akker node prints it), "
                   "opened with its node's keys from --db")  # fmt: skip
    p.add_argument("--db", type=Path, help="with --frame: the bridge's database, whose registry holds the keys")
    p.add_argument("hex", nargs="?", help="the FRMPayload as hex, for example 04767527082d214180155d80")


def add_encode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "json",
        nargs="?",
        default="-",
        help='the message as JSON, e.g. \'{"cmd": "set_batch", "samples": 4}\'; "-" or nothing reads standard input',
    )


def _parse_hex(text: str) -> bytes:
    cleaned = "".join(text.split())
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise CliError(f"{text!r} is not hex: give the payload as pairs of hex digits, e.g. 0476a1") from None


def cmd_decode(args: argparse.Namespace) -> int:
    if args.frame is not None:
        return _decode_frame(args.frame, args.db)
    if args.fport is None or args.hex is None:
        raise CliError("give --fport N and the FRMPayload as hex, or a whole frame: --frame PHYHEX --db DB")
    payload = _parse_hex(args.hex)
    try:
        message = decode_downlink(args.fport, payload) if args.downlink else decode_uplink(args.fport, payload)
    except CodecError as err:
        raise CliError(f"cannot decode: {err}") from None
    print(json.dumps(message))
    return 0


def _decode_frame(frame: str, db_path: Path | None) -> int:
    """Open an uplink offline as the bridge would: its node by DevAddr, MIC, decryption, our codec."""
    from gateway.bridge import store, uplink
    from gateway.bridge.registry import Registry

    if db_path is None:
        raise CliError("--frame needs --db DB: the bridge's registry holds the node's keys")
    paths.database(db_path, must_exist=True)
    phy = _parse_hex(frame)
    try:
        head = uplink.header(phy)
        db = store.connect_readonly(db_path)
        try:
            node = Registry(db).by_dev_addr(head.dev_addr)
        finally:
            db.close()
        if node is None:
            raise CliError(f"DevAddr {head.dev_addr:08x} is not registered in {db_path}: akker nodes list shows them")
        # The 16 bits on air as they are, else the counter rebuilt from the last one the bridge accepted.
        try:
            opened = uplink.open_and_decode(phy, node, None)
        except uplink.Refused:
            opened = uplink.open_and_decode(phy, node, node.last_fcnt)
    except uplink.Refused as err:
        raise CliError(f"cannot open the frame: {err.detail}") from None
    print(json.dumps({"node": node.name, "dev_addr": f"{node.dev_addr:08x}", "fcnt": opened.fcnt,
                      "fport": opened.fport, "data": opened.data, "error": opened.error}))  # fmt: skip
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.json == "-" else args.json
    try:
        message = json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(f"the message is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    if not isinstance(message, dict):
        raise CliError('the message must be a JSON object, e.g. {"cmd": "reboot"}')
    if "cmd" not in message and "type" not in message:
        commands = ", ".join(f"{name} ({', '.join(p[0] for p in params) or 'no keys'})" for name, _, params in COMMANDS)
        uplinks = '{"type": "report", "samples": [...]} or {"type": "status", ...} (docs/payload-format.md)'
        raise CliError(f'say what to encode: a command {{"cmd": NAME, ...}}, one of {commands}; or an uplink {uplinks}')
    try:
        fport, payload = encode_downlink(message) if "cmd" in message else encode_uplink(message)
    except CodecError as err:
        raise CliError(f"cannot encode: {err}") from None
    print(json.dumps({"fPort": fport, "bytes": payload.hex()}))
    return 0
