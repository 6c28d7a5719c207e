"""Run the real firmware on the simulated board under MicroPython: `akker node` starts this.

    micropython -m firmware.sim.run ROOT CYCLES [SEED] [--network]

ROOT is the virtual board's flash (config.json, state, log). Every frame the
radio sends is printed on stdout as one JSON line; log lines go to stderr.
With --network a network answers in lockstep: after each frame the runner
reads one line from stdin, a JSON list of packets for the node's receive
windows (firmware/sim/rx_window.py), [] for none.
Virtual time is kept in ROOT/sim_time so that a run can stop (or be killed,
like a power cut) and another can go on where it was.
"""

import json
import sys

from firmware.app import main
from firmware.sim.board import SimBoard
from firmware.sim.clock import SimClock
from firmware.sim.field import Field


def _stderr(line):
    sys.stderr.write(line)


def _load_time(root):
    try:
        with open(root + "/sim_time") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def _save_time(root, t_ms):
    with open(root + "/sim_time", "w") as f:
        f.write(str(t_ms))


def _printer(record):
    print(
        json.dumps(
            {
                "t_ms": record["time_ms"],
                "freq_khz": record["freq_khz"],
                "sf": record["sf"],
                "bw_khz": record["bw_khz"],
                "airtime_us": record["airtime_us"],
                "phy": "".join("%02x" % b for b in record["payload"]),
            }
        )
    )


def _lockstep(modem):
    def on_send(record):
        _printer(record)
        line = sys.stdin.readline()
        if line.strip():
            modem.downlinks.extend(json.loads(line))

    return on_send


def run(root, cycles, seed=1, network=False):
    clock = SimClock(_load_time(root))
    board = SimBoard(root, clock, Field(seed), echo=_stderr)
    board.modem().on_send = _lockstep(board.modem()) if network else _printer
    board.modem().keep_sent = False
    for _ in range(cycles):
        if main(board) is None:
            break  # no valid config, or maintenance: the node stays awake
        _save_time(root, clock.time_ms())
    return board


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--network"]
    run(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 1, "--network" in sys.argv)
