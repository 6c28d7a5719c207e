"""Akker's wire format: application payloads, the message type in the FPort.

Runs unchanged on CPython 3.10+ and MicroPython. The layouts are specified in
docs/payload-format.md; tests/vectors/ holds the examples every
implementation must pass.

Message modules are imported on first use, and the report's encoder and
decoder are separate: on a MicroPython heap every loaded module costs RAM, a
node only encodes reports, and one that never receives a downlink should not
pay for the command decoder.
"""

from .errors import CodecError

__all__ = ["CodecError", "decode_downlink", "decode_uplink", "encode_downlink", "encode_uplink"]


def _report_encoder():
    from . import report_encode

    return report_encode


def _report_decoder():
    from . import report_decode

    return report_decode


def _status():
    from . import status

    return status


def _commands():
    from . import commands

    return commands


# Uplink message types: (type, FPort, loader of its encoder, loader of its decoder).
_UPLINKS = (("report", 1, _report_encoder, _report_decoder), ("status", 2, _status, _status))


def _check_fport(fport):
    if type(fport) is not int:
        raise CodecError("fport must be an int, not %s" % type(fport).__name__)
    if fport < 0 or fport > 255:
        raise CodecError("fport %d is out of range 0..255" % fport)


def _check_payload(payload):
    if type(payload) is not bytes and type(payload) is not bytearray and type(payload) is not memoryview:
        raise CodecError("payload must be bytes, not %s" % type(payload).__name__)


def encode_uplink(message):
    """Encode a report or status dict; return (fport, payload bytes)."""
    if type(message) is not dict:
        raise CodecError("message must be a dict, not %s" % type(message).__name__)
    kind = message.get("type")
    for name, fport, encoder, _decoder in _UPLINKS:
        if name == kind:
            return fport, encoder().encode(message)
    raise CodecError("unknown message type %r (known: report, status)" % (kind,))


def decode_uplink(fport, payload):
    """Decode an uplink FRMPayload received on fport; return the message dict."""
    _check_fport(fport)
    _check_payload(payload)
    for _name, port, _encoder, decoder in _UPLINKS:
        if port == fport:
            return decoder().decode(payload)
    raise CodecError("unknown fport %d: uplinks use 1 (report) and 2 (status)" % fport)


def encode_downlink(command):
    """Encode a command dict; return (fport, payload bytes)."""
    return _commands().encode(command)


def decode_downlink(fport, payload):
    """Decode a downlink FRMPayload received on fport; return the command dict."""
    _check_fport(fport)
    _check_payload(payload)
    return _commands().decode(fport, payload)
