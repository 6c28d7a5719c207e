"""`akker decode` and `akker encode`: the payload codec from the shell."""

from __future__ import annotations

import argparse
import json
import sys

from payload_codec import CodecError, decode_downlink, decode_uplink, encode_downlink, encode_uplink
from payload_codec.commands import COMMANDS

from .errors import CliError


def add_decode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fport", type=int, required=True, help="the LoRaWAN FPort the payload came on")
    p.add_argument("--downlink", action="store_true", help="decode a downlink command instead of an uplink")
    p.add_argument("hex", help="the FRMPayload as hex, for example 04767527082d214180155d80")


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
    payload = _parse_hex(args.hex)
    try:
        message = decode_downlink(args.fport, payload) if args.downlink else decode_uplink(args.fport, payload)
    except CodecError as err:
        raise CliError(f"cannot decode: {err}") from None
    print(json.dumps(message))
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
