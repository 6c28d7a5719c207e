"""Run the real firmware on the simulated board under MicroPython: `akker node` starts this.

    micropython -m firmware.sim.run ROOT CYCLES [SEED]

ROOT is the virtual board's flash (config.json, state, log). Every frame the
radio sends is printed on stdout as one JSON line; log lines go to stderr.
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


def run(root, cycles, seed=1):
    clock = SimClock(_load_time(root))
    board = SimBoard(root, clock, Field(seed), echo=_stderr)
    board.modem().on_send = _printer
    board.modem().keep_sent = False
    for _ in range(cycles):
        if main(board) is None:
            break  # no valid config, or maintenance: the node stays awake
        _save_time(root, clock.time_ms())
    return board


if __name__ == "__main__":
    args = sys.argv[1:]
    run(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 1)
