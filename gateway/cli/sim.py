"""`akker sim`: a farm's nodes, gateways, bridge and network, in virtual time (docs/simulator.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gateway import logs
from gateway.bridge.sinks import Sink
from gateway.bridge.sinks.jsonl import JsonlSink
from gateway.bridge.sinks.mqtt import MqttSink
from gateway.bridge.wiring import VERSION_TEXT
from gateway.sim.farm_nodes import HEAP
from gateway.sim.progress import DAY_S, Progress
from gateway.sim.results import summary_table
from gateway.sim.runner import Command, SimConfig, SimError, run
from payload_codec import CodecError, encode_downlink

from . import paths
from .errors import CliError


def add_sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, required=True, help="how many nodes (1..500)")
    p.add_argument("--days", type=float, required=True, help="how many days of virtual time")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython",
                   help="run the node firmware in CPython (default) or under the MicroPython interpreter")  # fmt: skip
    heap = f"each node's MicroPython heap with --runtime micropython, e.g. 64k (default {HEAP})"
    p.add_argument("--heap", default=HEAP, metavar="SIZE", type=paths.heap, help=heap)
    p.add_argument("--seed", type=int, default=1, help="the farm's seed: the same seed, the same run")
    p.add_argument("--db", type=Path, required=True, help="the bridge database to fill (a new file)")
    p.add_argument("--truth", type=Path, help="write every transmitted frame and every true sensor value here")
    p.add_argument("--gateways", type=int, default=1, help="how many gateways (default 1)")
    p.add_argument("--gateway-kind", choices=("concentrator", "board"),
                   help="concentrator: 8-channel gateways that hear every channel and SF (OTAA's default);"
                        " board: gateway boards on one channel at --sf (ABP's only kind)")  # fmt: skip
    p.add_argument("--radius", type=float, default=3000.0, metavar="M", help="nodes within M metres (default 3000)")
    p.add_argument("--interval", type=int, default=900, metavar="S", help="sampling interval (default 900 s)")
    p.add_argument("--sf", type=int, default=9,
                   help="the nodes' spreading factor (default 9), and the gateway boards' one")  # fmt: skip
    p.add_argument("--mqtt", help="the bridge also publishes every record here: mqtt://[user:pass@]host:port")
    p.add_argument("--jsonl", type=Path, help="the bridge also appends every record to this file")
    p.add_argument("--activation", choices=("otaa", "abp"), default="otaa",
                   help="otaa (default): nodes join the bridge's network, listen, obey ADR and commands;"
                        " abp: nodes that only send, heard by gateway boards")  # fmt: skip
    p.add_argument("--command", dest="commands", action="append", type=sim_command, default=[],
                   metavar="NAME@OFFSET=JSON",
                   help="queue a command for node NAME at OFFSET (90m, 6h, 3600s, 2d) after the start, as"
                        " akker nodes send does; repeatable")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr (the summary still prints)")


_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def sim_command(text: str) -> Command:
    """NAME@OFFSET=JSON, e.g. sim-01@6h={"cmd": "set_interval", "seconds": 600}."""
    example = 'e.g. sim-01@6h=\'{"cmd": "set_interval", "seconds": 600}\''
    name, at, rest = text.partition("@")
    offset, eq, body = rest.partition("=")
    if not (name and at and eq):
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME@OFFSET=JSON, {example}")
    if len(offset) < 2 or offset[-1] not in _UNITS_MS or not offset[:-1].isdigit():
        raise argparse.ArgumentTypeError(f"offset {offset!r}: give a whole number and s, m, h or d, {example}")
    try:
        command = json.loads(body)
        encode_downlink(command)
    except (ValueError, CodecError) as err:
        raise argparse.ArgumentTypeError(f"{body!r} is not a command the nodes take ({err}), {example}") from None
    return Command(name, int(offset[:-1]) * _UNITS_MS[offset[-1]], command)


def cmd_sim(args: argparse.Namespace) -> int:
    paths.database(args.db, new=True)
    logs.setup("error")  # collisions make bad-CRC frames by the hundred: the summary counts them
    sinks: list[Sink] = []
    try:
        if args.mqtt:
            sinks.append(MqttSink(args.mqtt, "sim", version=VERSION_TEXT))
    except ValueError as err:
        raise CliError(str(err)) from None
    if args.jsonl:
        if not args.jsonl.parent.is_dir() or args.jsonl.is_dir():
            raise CliError(f"--jsonl {args.jsonl}: give a file in a folder that exists")
        sinks.append(JsonlSink(args.jsonl))
    cfg = SimConfig(
        nodes=args.nodes,
        days=args.days,
        db=args.db,
        runtime=args.runtime,
        seed=args.seed,
        truth=args.truth,
        gateways=args.gateways,
        radius_m=args.radius,
        interval_s=args.interval,
        sf=args.sf,
        sinks=tuple(sinks),
        heap=args.heap,
        activation=args.activation,
        commands=tuple(args.commands),
        gateway_kind=args.gateway_kind,
    )
    meter = None if args.quiet else Progress(args.days * DAY_S)
    try:
        # Flushed, so that in a log of stdout and stderr together (make demo | tee) they come in order.
        result = run(cfg, progress=lambda text: print(text, flush=True), advance=meter)
    except SimError as err:
        raise CliError(str(err)) from None
    finally:
        if meter is not None:
            meter.close()  # a line the failure cut short ends, so `akker: ...` starts on its own
    print()
    print(summary_table(result, args.days))
    return 0
