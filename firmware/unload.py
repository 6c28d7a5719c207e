"""Unloading modules a wake-up uses once, so their bytecode is free heap for the rest of it.

A board resets on every wake-up, so what matters is the peak within one; a
module is gone when neither sys.modules nor its package holds it any more.
"""

import sys

# CPython's heap is not a board's: there, unloading would only make the next wake-up import again.
_MICROPYTHON = sys.implementation.name == "micropython"


def unload(name):
    if not _MICROPYTHON:
        return
    sys.modules.pop(name, None)
    package, _, attr = name.rpartition(".")
    if package in sys.modules and hasattr(sys.modules[package], attr):
        delattr(sys.modules[package], attr)
