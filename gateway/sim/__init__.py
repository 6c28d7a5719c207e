"""The field simulator behind `akker sim`, and the desktop MicroPython it runs on.

The run: runner.py (its settings and steps), farm_nodes.py (the nodes,
provisioned and run in workers), channel.py (the farm's radio channel),
gateway_boards.py (the gateway boards and the bridge taking what they hear),
results.py (the summary), truth.py (--truth), errors.py (SimError).
For the simulator and the tests: virtual_board.py (a board's MicroPython
behind a pty: board_process.py starts and ends the interpreter, pty_relay.py
is the cable to the host side) and micropython.py (the desktop interpreter and
the compiled firmware). The farm itself is in firmware/sim/.
"""
