"""CPython's stand-in for MicroPython's builtin `micropython` module, so shared code imports `const` plainly.

firmware/ and payload_codec/ write `from micropython import const` with no
fallback: mpy-cross compiles that import away and inlines the constants, where
a try/except fallback left its bytecode in every module on the node's heap.
MicroPython never reads this file (it is not deployed: mpy_build compiles the
packages only, and the builtin module comes first anyway).
"""


def const(x):
    return x
