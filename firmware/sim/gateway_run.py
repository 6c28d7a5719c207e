"""Run the gateway firmware on the simulated board under MicroPython: what gateway/sim/virtual_board.py starts.

    micropython -m firmware.sim.gateway_run ROOT

ROOT is the virtual board's flash (config.json with role "gateway", the log)
and holds air.jsonl, the simulated air (format: firmware/sim/modem.py). The
host link is this process's stdin and stdout, binary, as the USB serial on a
board: run it behind a raw pty (gateway/sim/virtual_board.py does). Log lines
outside the receive loop go to stderr. The gateway runs on real time, not the
node simulator's virtual time: a host talks to it while it runs.
"""

import sys
import time

from firmware.app import main
from firmware.sim.board import SimBoard

try:
    from time import sleep_ms, ticks_diff, ticks_ms
except ImportError:  # CPython

    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)


class WallClock:
    """SimClock's interface on the real clock."""

    def ticks_ms(self):
        return ticks_ms()

    def ticks_us(self):
        return ticks_ms() * 1000

    def ticks_diff(self, a, b):
        return ticks_diff(a, b)

    def sleep_ms(self, ms):
        if ms > 0:
            sleep_ms(ms)

    def sleep_us(self, us):
        if us > 0:
            sleep_ms((us + 999) // 1000)

    def time_ms(self):
        return time.time_ns() // 1000000


def _stderr(line):
    sys.stderr.write(line)


def run(root):
    board = SimBoard(root, WallClock(), echo=_stderr)
    main(board)  # the gateway loop talks on sys.stdin.buffer and sys.stdout.buffer, as on a board
    return board


if __name__ == "__main__":
    run(sys.argv[1])
