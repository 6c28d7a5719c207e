"""One wake-up of the simulated node with the heap a board has: only what that wake-up imports.

A board resets at every wake-up, so each one starts with an empty heap and
loads only the modules it uses. The desktop runs many wake-ups in one
process; without this, a module any earlier wake-up loaded (the join code,
the MAC tables) would stay and count against every later one. So before each
wake-up the firmware's modules leave sys.modules; the simulated hardware, which
a board does not reload, stays, with the firmware modules it uses itself.
On CPython nothing is unloaded (firmware/unload.py): its heap is not a board's.
"""

import gc
import sys

from ..unload import unload

_KEEP = ("firmware.sim", "firmware.airtime", "firmware.unload")


def _kept(name):
    for keep in _KEEP:
        if name == keep or name.startswith(keep + "."):
            return True
    return name == "firmware" or name == "firmware.sensors"


def wake(board):
    """Run firmware.app.main(board) as a freshly reset board would: return what it returns."""
    for name in list(sys.modules):
        if (name.startswith("firmware.") or name.startswith("payload_codec")) and not _kept(name):
            unload(name)
    if sys.implementation.name == "micropython":
        gc.collect()
    from firmware.app import main

    return main(board)
