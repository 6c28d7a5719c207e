"""Runs codec operations given as JSON lines; the same file serves CPython and MicroPython.

One request per line, for example
    {"op": "decode_uplink", "fPort": 1, "bytes": "0476..."}
    {"op": "encode_downlink", "data": {"cmd": "reboot"}}
and one answer per line: {"data": ...}, {"fPort": N, "bytes": "hex"},
{"errors": [message]} for a CodecError, or {"crash": "..."} for anything
else, which a test treats as a failure. tests/js/harness.js speaks the same
protocol for the JavaScript decoder.
"""

import gc
import json
import sys
from binascii import hexlify, unhexlify

from payload_codec import CodecError, decode_downlink, decode_uplink, encode_downlink, encode_uplink


def run(request):
    op = request["op"]
    try:
        if op == "decode_uplink":
            return {"data": decode_uplink(request["fPort"], unhexlify(request["bytes"]))}
        if op == "decode_downlink":
            return {"data": decode_downlink(request["fPort"], unhexlify(request["bytes"]))}
        if op == "encode_uplink":
            fport, payload = encode_uplink(request["data"])
        elif op == "encode_downlink":
            fport, payload = encode_downlink(request["data"])
        else:
            return {"crash": "unknown op %s" % op}
        return {"fPort": fport, "bytes": hexlify(payload).decode()}
    except CodecError as err:
        return {"errors": [str(err)]}
    except Exception as err:  # anything else escaping is the bug a test must see
        return {"crash": "%s: %s" % (type(err).__name__, err)}


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        if line.strip():
            print(json.dumps(run(json.loads(line))))
        gc.collect()


if __name__ == "__main__":
    main()
