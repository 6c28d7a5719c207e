"""Simulated hardware for the desktop: the same interfaces as the real parts, driven by virtual time.

Not deployed to boards. firmware/sim/board.py assembles these parts into the
`sim` board described by boards/sim.json.
"""
