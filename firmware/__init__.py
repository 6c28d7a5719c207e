"""Akker firmware for MicroPython boards: the node cycle and (later) the gateway-board role.

Only firmware/board.py touches `machine`; everything else receives its
hardware as objects, so the same code runs on a board, under the desktop
MicroPython interpreter with the simulated board (firmware/sim/), and in
CPython tests. docs/firmware.md describes the cycle and the state.
"""
