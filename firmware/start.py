"""main.py's entry: build the board this flash was deployed for and run one wake-up of the firmware.

The board id is the one file in /boards (akker deploy copies exactly one). The
simulated board (a virtual board on the desktop) runs one wake-up per boot and
prints its frames, as `akker node` does; a real board deep-sleeps and resets.
"""

import os


def board_id(root=""):
    names = [n for n in os.listdir(root + "/boards") if n.endswith(".json")]
    if len(names) != 1:
        raise OSError("expected one board file in %s/boards, found %d" % (root, len(names)))
    return names[0][:-5]


def start(root=""):
    bid = board_id(root)
    if bid == "sim":
        from firmware.sim.run import run

        run(root, 1)
        return
    from firmware.app import main
    from firmware.board import Board

    main(Board(bid, root, root + "/boards"))
