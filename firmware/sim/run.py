"""Run the real firmware on the simulated board under MicroPython: `akker node` starts this.

    micropython -m firmware.sim.run ROOT CYCLES [SEED] [--network] [--deep-sleep]

ROOT is the virtual board's flash (config.json, state, log). Every frame the
radio sends is printed on stdout as one JSON line; log lines go to stderr.
With --network a network answers in lockstep: after each frame the runner
reads one line from stdin, a JSON list of packets for the node's receive
windows (firmware/sim/rx_window.py), [] for none. A new process is a power-on
(RTC memory is gone) unless --deep-sleep: then RTC memory is kept in
ROOT/rtc.bin between runs, and a run of one cycle per process is a wake-up
from deep sleep with a fresh heap, exactly as on a board (the heap tests).
Virtual time is kept in ROOT/sim_time so that a run can stop (or be killed,
like a power cut) and another can go on where it was.
"""

import json
import os
import sys

from firmware.sim.board import SimBoard
from firmware.sim.clock import SimClock
from firmware.sim.field import Field
from firmware.sim.wake import wake


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


def _rtc(root, board, blob=None):
    """RTC memory kept in ROOT/rtc.bin: read it into the board (a deep-sleep wake-up), or write it."""
    if blob is not None:
        with open(root + "/rtc.bin", "w") as f:
            f.write(blob)
        return
    try:
        with open(root + "/rtc.bin") as f:
            board.rtc = f.read()
        board.cause = "deep_sleep"
        os.remove(root + "/rtc.bin")  # the board holds it now; a run that dies leaves none, as a power cut
    except OSError:
        pass


def run(root, cycles, seed=1, network=False, deep_sleep=False):
    clock = SimClock(_load_time(root))
    board = SimBoard(root, clock, Field(seed), echo=_stderr)
    board.modem().on_send = _lockstep(board.modem()) if network else _printer
    board.modem().keep_sent = False
    if deep_sleep:
        _rtc(root, board)
    for _ in range(cycles):
        if wake(board) is None:
            break  # no valid config, or maintenance: the node stays awake
        _save_time(root, clock.time_ms())
        if deep_sleep:
            _rtc(root, board, board.rtc)
    return board


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a[:2] != "--"]
    seed = int(args[2]) if len(args) > 2 else 1
    run(args[0], int(args[1]), seed, "--network" in sys.argv, "--deep-sleep" in sys.argv)
