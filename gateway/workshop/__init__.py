"""The workshop: a node from its bag to the field, over USB.

provision.py (identity, keys, config), flash.py (MicroPython onto the board),
deploy.py (firmware and config through device.py's connection, drivers from
lora_cache.py), check.py and calibrate.py (a board's health, its soil probes),
monitor.py (what a board says); port_errors.py words a serial port that fails.
"""
