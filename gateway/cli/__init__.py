"""The `akker` command: a table of subcommands, one module per area.

Handlers are ``cmd_<name>(args) -> int`` and raise ``CliError`` for anything a
person must fix; only ``main`` turns that into ``akker: <message>`` and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from firmware.version import VERSION_TEXT

from . import codec, deploy, flash, gateway, node, nodes, provision, sim
from .calibrate import add_calibrate_args, cmd_calibrate
from .check import add_check_args, cmd_check
from .dashboard import add_dashboard_args, cmd_dashboard
from .errors import CliError, os_problem
from .monitor import add_monitor_args, cmd_monitor

Handler = Callable[[argparse.Namespace], int]

# name -> (help, add arguments, handler)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {
    "decode": ("decode a payload given as hex", codec.add_decode_args, codec.cmd_decode),
    "encode": ("encode a message or command given as JSON", codec.add_encode_args, codec.cmd_encode),
    "node": ("run the node firmware on the simulated board", node.add_node_args, node.cmd_node),
    "nodes": ("the node registry: add and list nodes", nodes.add_nodes_args, nodes.cmd_nodes),
    "provision": (
        "a new node: keys, registration, config.json and label",
        provision.add_provision_args,
        provision.cmd_provision,
    ),
    "flash": ("erase a board and write MicroPython onto it", flash.add_flash_args, flash.cmd_flash),
    "deploy": ("copy the firmware and a config onto a board, verified", deploy.add_deploy_args, deploy.cmd_deploy),
    "sim": ("simulate a farm in virtual time: nodes, gateways, bridge, network", sim.add_sim_args, sim.cmd_sim),
    "gateway": ("the bridge: run it, or show its counters", gateway.add_gateway_args, gateway.cmd_gateway),
    "dashboard": ("the farm dashboard in a web browser, read-only on the store", add_dashboard_args, cmd_dashboard),
    "check": ("a board's sensors, radio, heap and counters: PASS or FAIL", add_check_args, cmd_check),
    "calibrate": ("write a soil probe's dry or wet reading into the board's config", add_calibrate_args, cmd_calibrate),
    "monitor": ("follow a node's log or a gateway board's frames, decoded", add_monitor_args, cmd_monitor),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="akker", description="Akker: LoRa sensor nodes for arable farms.")
    parser.add_argument("--version", action="version", version=f"akker {VERSION_TEXT}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add_args, _handler) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = COMMANDS[args.command][2]
    try:
        return handler(args)
    except CliError as err:
        print(f"akker: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("akker: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `akker ... | head`: the reader has what it wanted. Python would print a traceback at exit
        # while flushing stdout, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        # A file the system refused (a read-only disk, a folder of someone else's, a full disk) is the
        # person's to fix, not a bug: one line naming the path, never a traceback.
        print(f"akker: {os_problem(err)}", file=sys.stderr)
        return 2
