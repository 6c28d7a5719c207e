"""Runs under MicroPython (not CPython): heap and time of one build_uplink with a 12-byte payload.

Prints {"alloc": bytes allocated by one build after a warm-up, "resident":
bytes the key caches keep, "us_per_build": mean over 200 builds}.
"""

import gc
import json
import time

from payload_codec.lorawan import build_uplink

NWK = bytes(range(16))
APP = bytes(range(16, 32))
PAYLOAD = bytes(12)


def main():
    gc.collect()
    base = gc.mem_alloc()
    build_uplink(0x26011BDA, 1, 1, PAYLOAD, NWK, APP)  # warm-up: imports, ciphers and CMAC subkeys
    gc.collect()
    resident = gc.mem_alloc() - base
    gc.disable()  # a collection between the readings would hide allocations
    before = gc.mem_alloc()
    build_uplink(0x26011BDA, 2, 1, PAYLOAD, NWK, APP)
    alloc = gc.mem_alloc() - before
    gc.enable()
    start = time.ticks_us()
    for fcnt in range(3, 203):
        build_uplink(0x26011BDA, fcnt, 1, PAYLOAD, NWK, APP)
    us = time.ticks_diff(time.ticks_us(), start) / 200
    print(json.dumps({"alloc": alloc, "resident": resident, "us_per_build": us}))


main()
