"""field_run's network hooks when the node runs under MicroPython and the network in the host (`akker sim`).

The lockstep (gateway/sim/network_air.py) talks to the node process by lines:
the node prints {"kind": "wake", "t_ms"} before each wake-up and waits for an
empty line (its turn); after the "tx" event of each transmission it waits for
a line with the downlink that reaches it, as JSON, "after_ms" after the end of
the transmission, or an empty line for none.
"""

import json
import sys


class StdioNet:
    def __init__(self):
        self.board = None

    def start(self, board, farm):
        self.board = board

    def wake(self, t_ms):
        print('{"kind": "wake", "t_ms": %d}' % t_ms)
        sys.stdin.readline()

    def sent(self, record):
        line = sys.stdin.readline().strip()
        if not line:
            return
        down = json.loads(line)
        end = record["time_ms"] + (record["airtime_us"] + 999) // 1000
        down["t_ms"] = end + down.pop("after_ms")
        self.board.modem().downlinks.append(down)
