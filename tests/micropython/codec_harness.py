"""Runs codec and frame operations given as JSON lines; the same file serves CPython and MicroPython.

One request per line, for example
    {"op": "decode_uplink", "fPort": 1, "bytes": "0476..."}
    {"op": "encode_downlink", "data": {"cmd": "reboot"}}
and one answer per line: {"data": ...}, {"fPort": N, "bytes": "hex"},
{"errors": [message]} for a CodecError, or {"crash": "..."} for anything
else, which a test treats as a failure. tests/js/harness.js speaks the same
protocol for the JavaScript decoder.

Frame operations (payload_codec.lorawan, imported only when asked for, so a
codec-only run keeps its small heap) take hex strings for bytes:
    {"op": "build_uplink", "args": {"dev_addr": 1, "fcnt": 2, "fport": 1, "payload": "..",
     "nwk_skey": "..", "app_skey": "..", "confirmed": false, "adr": false, "fopts": ""}}
    {"op": "open_uplink", "args": {"phy": "..", "nwk_skey": "..", "app_skey": "..", "last_fcnt": null}}
    {"op": "aes_cmac", "args": {"key": "..", "data": ".."}}
answering {"phy": hex}, {"fcnt": n, "fport": n, "plaintext": hex}, {"mac": hex},
or {"errors": ["MicError: ..."]} naming the exception class.

MAC commands (payload_codec.mac_commands, likewise imported only when asked for):
    {"op": "mac_parse", "bytes": "..", "uplink": true}
    {"op": "mac_build", "commands": [["LinkADRAns", {"power_ack": true, ...}]], "uplink": true}
answering {"commands": [[cid, fields], ...]} (an unknown CID's "rest" as hex)
or {"bytes": hex}; a MacError is a CodecError: {"errors": [message]}.
"""

import gc
import json
import sys
from binascii import hexlify, unhexlify

from payload_codec import CodecError, decode_downlink, decode_uplink, encode_downlink, encode_uplink

_HEX_ARGS = ("payload", "nwk_skey", "app_skey", "fopts", "phy", "key", "data")


def _frame_op(op, args):
    from payload_codec import cmac, lorawan

    kw = {}
    for name in args:
        kw[name] = unhexlify(args[name]) if name in _HEX_ARGS else args[name]
    if op == "aes_cmac":
        return {"mac": hexlify(cmac.aes_cmac(kw["key"], kw["data"])).decode()}
    try:
        if op in ("build_uplink", "build_downlink"):
            return {"phy": hexlify(getattr(lorawan, op)(**kw)).decode()}
        fcnt, fport, plaintext = getattr(lorawan, op)(**kw)
        return {"fcnt": fcnt, "fport": fport, "plaintext": hexlify(plaintext).decode()}
    except lorawan.FrameError as err:
        return {"errors": ["%s: %s" % (type(err).__name__, err)]}


_FRAME_OPS = ("build_uplink", "build_downlink", "open_uplink", "open_downlink", "aes_cmac")


def _mac_op(op, request):
    from payload_codec import mac_commands

    if op == "mac_build":
        return {"bytes": hexlify(mac_commands.build(request["commands"], request["uplink"])).decode()}
    out = []
    for cid, fields in mac_commands.parse(unhexlify(request["bytes"]), request["uplink"]):
        if "rest" in fields:
            fields = {"rest": hexlify(fields["rest"]).decode()}
        out.append([cid, fields])
    return {"commands": out}


def run(request):
    op = request["op"]
    try:
        if op in _FRAME_OPS:
            return _frame_op(op, request["args"])
        if op == "mac_parse" or op == "mac_build":
            return _mac_op(op, request)
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
