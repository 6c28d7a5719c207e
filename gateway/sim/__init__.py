"""The field simulator behind `akker sim`, and the desktop MicroPython it runs on.

channel.py (the farm's radio channel), runner.py (the run), virtual_board.py (a
board's MicroPython behind a pty, for the simulator and the tests) and
micropython.py (the desktop interpreter and the compiled firmware). The farm
itself is in firmware/sim/.
"""
