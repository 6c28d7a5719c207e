"""Runs under MicroPython (not CPython): heap bytes that encode_uplink allocates.

bench/heap.py compiles this file and payload_codec/ with mpy-cross and runs
`micropython -m mpy_alloc`. Reads from stdin one JSON [name, message] pair
per line, the first being the standard report, and parses each only when its
turn comes (on a 32 KB heap the report module leaves room for little more);
prints one JSON object:
{"version": "1.29.0", "heap_bytes": total heap, "in_use": heap in use after
importing payload_codec and encoding the first message once, "alloc": {name:
bytes allocated by one encode_uplink}}.
"""

import gc
import json
import sys

from payload_codec import encode_uplink


def alloc(message):
    """Bytes allocated by one encode_uplink(message), the module already loaded."""
    encode_uplink(message)  # warm-up: loads payload_codec.report_encode on first use
    gc.collect()
    # No collection may run between the two readings, or it would hide what was allocated;
    # with automatic collection off, running out of heap raises MemoryError instead.
    gc.disable()
    before = gc.mem_alloc()
    encode_uplink(message)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


def main():
    name, message = json.loads(sys.stdin.readline())
    encode_uplink(message)
    gc.collect()
    in_use = gc.mem_alloc()
    out = {name: alloc(message)}
    message = None
    for line in sys.stdin:
        name, message = json.loads(line)
        out[name] = alloc(message)
        message = None
    version = ".".join(str(v) for v in sys.implementation.version[:3])
    heap_bytes = gc.mem_alloc() + gc.mem_free()
    print(json.dumps({"version": version, "heap_bytes": heap_bytes, "in_use": in_use, "alloc": out}))


main()
