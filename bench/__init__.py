"""`make bench`: payload size, time on air, decode speed and MicroPython heap of the codec.

Every figure is printed next to a reference (Cayenne LPP, compact JSON, a
target) as a ratio, never as pass/fail: the numbers depend on the machine.
Run as `python -m bench` from the repository root.
"""
