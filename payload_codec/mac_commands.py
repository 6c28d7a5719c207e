"""LoRaWAN 1.0.4 MAC commands (EU868): parse and build them, uplink and downlink.

LoRaWAN L2 1.0.4 (TS001-1.0.4) section 5; the layouts are in the table below
and in docs/frames.md, "MAC commands". A command is (cid, fields): the CID
byte and a dict of its fields by name, in the units the names say (freq_hz in
Hz, rx_delay_s in seconds, snr_db and margin_db in dB); data_rate, tx_power,
max_eirp and max_duty_cycle are the indices the spec sends. Flag bits are bools.

    parse(data, uplink) -> [(cid, fields), ...]
    build([(name or cid, fields), ...], uplink) -> bytes

uplink=True means device -> network (answers such as LinkADRAns, and
LinkCheckReq, DeviceTimeReq), False network -> device. The same CID means a
different command in each direction, so every call names the direction.

Parsing follows 5.0: commands are read in order; lengths are implicit, so a
CID this module does not know (1.1-only CIDs, ADRParamSetupReq 0x0C, Class B,
proprietary 0x80..0xFF) stops parsing. What came before is kept, and the
unknown rest is reported as a last entry (cid, {"rest": bytes from that CID
on}), so a caller that acts per known CID skips it naturally and one that logs
can log it. A command cut short by the end of the data raises MacError, and
nothing from that data should then be applied. Values are reported as sent:
reserved values (LinkCheckAns margin 255) and RFU bits are not refused, except
that RXTimingSetupReq's Del 0 is reported as rx_delay_s 1, which is what it means.

TxParamSetupReq (0x09 down) is parsed like any other command, but in EU868 a
device neither applies nor answers it (TS001-1.0.4 5.12, RP002 EU868): that
is the caller's policy. TxParamSetupAns can still be built and parsed.

Building refuses, with MacError: an unknown name or CID, a name of the other
direction, a missing or unknown field, a value of the wrong type or out of its
field's range, a frequency that is not a whole multiple of 100 Hz. Whatever
the input, these functions raise nothing but MacError (a CodecError, so a
ValueError).
"""

from micropython import const

from .errors import CodecError


class MacError(CodecError):
    """A MAC command that cannot be parsed (truncated) or built (bad name, field or value)."""


# CIDs (TS001-1.0.4 table 4), the same for a request and its answer.
CID_LINK_CHECK = const(0x02)
CID_LINK_ADR = const(0x03)
CID_DUTY_CYCLE = const(0x04)
CID_RX_PARAM_SETUP = const(0x05)
CID_DEV_STATUS = const(0x06)
CID_NEW_CHANNEL = const(0x07)
CID_RX_TIMING_SETUP = const(0x08)
CID_TX_PARAM_SETUP = const(0x09)
CID_DL_CHANNEL = const(0x0A)
CID_DEVICE_TIME = const(0x0D)

# How a field's bits become its value.
_K_UINT = const(0)  # unsigned, 0 .. 2**bits - 1
_K_BOOL = const(1)  # one bit, True or False
_K_SNR = const(2)  # two's complement in `bits` (DevStatusAns margin: 6 bits, -32..31)
_K_FREQ = const(3)  # 24-bit LE in units of 100 Hz; the value is in Hz
_K_DEL = const(4)  # RXTimingSetupReq Del: 1..15 s, and 0 also means 1 s
_K_MARGIN = const(5)  # LinkCheckAns margin: 0..254 dB, 255 reserved

# One row per command: (cid, uplink, name, length including the CID, fields).
# A field is (name, byte offset from the CID, bytes, shift, bits, kind): its
# value is the little-endian integer at that offset, shifted right and masked.
_COMMANDS = (
    (0x02, True, "LinkCheckReq", 1, ()),
    (0x02, False, "LinkCheckAns", 3, (("margin_db", 1, 1, 0, 8, _K_MARGIN), ("gw_cnt", 2, 1, 0, 8, _K_UINT))),
    (
        0x03,
        False,
        "LinkADRReq",  # DataRate_TXPower | ChMask (16 bits LE) | Redundancy (RFU b7, ChMaskCntl b6..4, NbTrans b3..0)
        5,
        (
            ("data_rate", 1, 1, 4, 4, _K_UINT),
            ("tx_power", 1, 1, 0, 4, _K_UINT),
            ("ch_mask", 2, 2, 0, 16, _K_UINT),
            ("ch_mask_cntl", 4, 1, 4, 3, _K_UINT),
            ("nb_trans", 4, 1, 0, 4, _K_UINT),
        ),
    ),
    (
        0x03,
        True,
        "LinkADRAns",
        2,
        (
            ("power_ack", 1, 1, 2, 1, _K_BOOL),
            ("data_rate_ack", 1, 1, 1, 1, _K_BOOL),
            ("ch_mask_ack", 1, 1, 0, 1, _K_BOOL),
        ),
    ),
    (0x04, False, "DutyCycleReq", 2, (("max_duty_cycle", 1, 1, 0, 4, _K_UINT),)),
    (0x04, True, "DutyCycleAns", 1, ()),
    (
        0x05,
        False,
        "RXParamSetupReq",  # DLSettings (RFU b7, RX1DROffset b6..4, RX2DataRate b3..0) | Frequency (3 LE)
        5,
        (
            ("rx1_dr_offset", 1, 1, 4, 3, _K_UINT),
            ("rx2_data_rate", 1, 1, 0, 4, _K_UINT),
            ("freq_hz", 2, 3, 0, 24, _K_FREQ),
        ),
    ),
    (
        0x05,
        True,
        "RXParamSetupAns",
        2,
        (
            ("rx1_dr_offset_ack", 1, 1, 2, 1, _K_BOOL),
            ("rx2_data_rate_ack", 1, 1, 1, 1, _K_BOOL),
            ("channel_ack", 1, 1, 0, 1, _K_BOOL),
        ),
    ),
    (0x06, False, "DevStatusReq", 1, ()),
    (0x06, True, "DevStatusAns", 3, (("battery", 1, 1, 0, 8, _K_UINT), ("snr_db", 2, 1, 0, 6, _K_SNR))),
    (
        0x07,
        False,
        "NewChannelReq",  # ChIndex | Freq (3 LE) | DrRange (MaxDR b7..4, MinDR b3..0)
        6,
        (
            ("ch_index", 1, 1, 0, 8, _K_UINT),
            ("freq_hz", 2, 3, 0, 24, _K_FREQ),
            ("max_dr", 5, 1, 4, 4, _K_UINT),
            ("min_dr", 5, 1, 0, 4, _K_UINT),
        ),
    ),
    (
        0x07,
        True,
        "NewChannelAns",
        2,
        (("data_rate_range_ok", 1, 1, 1, 1, _K_BOOL), ("channel_freq_ok", 1, 1, 0, 1, _K_BOOL)),
    ),
    (0x08, False, "RXTimingSetupReq", 2, (("rx_delay_s", 1, 1, 0, 4, _K_DEL),)),
    (0x08, True, "RXTimingSetupAns", 1, ()),
    (
        0x09,
        False,
        "TxParamSetupReq",  # RFU b7..6, DownlinkDwellTime b5, UplinkDwellTime b4, MaxEIRP b3..0
        2,
        (
            ("downlink_dwell_time", 1, 1, 5, 1, _K_BOOL),
            ("uplink_dwell_time", 1, 1, 4, 1, _K_BOOL),
            ("max_eirp", 1, 1, 0, 4, _K_UINT),
        ),
    ),
    (0x09, True, "TxParamSetupAns", 1, ()),
    (0x0A, False, "DlChannelReq", 5, (("ch_index", 1, 1, 0, 8, _K_UINT), ("freq_hz", 2, 3, 0, 24, _K_FREQ))),
    (
        0x0A,
        True,
        "DlChannelAns",
        2,
        (("uplink_freq_exists", 1, 1, 1, 1, _K_BOOL), ("channel_freq_ok", 1, 1, 0, 1, _K_BOOL)),
    ),
    (0x0D, True, "DeviceTimeReq", 1, ()),
    (0x0D, False, "DeviceTimeAns", 6, (("gps_time_s", 1, 4, 0, 32, _K_UINT), ("fraction", 5, 1, 0, 8, _K_UINT))),
)


def _check_uplink(uplink):
    if uplink is not True and uplink is not False:
        raise MacError("mac: uplink must be True or False, not %r" % (uplink,))


def _row(cid, uplink):
    for row in _COMMANDS:
        if row[0] == cid and row[1] is uplink:
            return row
    return None


def name(cid, uplink):
    """The command's name ("LinkADRReq"), or None for a CID this module does not know."""
    row = _row(cid, uplink)
    return None if row is None else row[2]


def _value(raw, bits, kind):
    if kind == _K_BOOL:
        return raw == 1
    if kind == _K_SNR:
        return raw - (1 << bits) if raw >> (bits - 1) else raw
    if kind == _K_FREQ:
        return raw * 100
    if kind == _K_DEL:
        return raw or 1
    return raw


def parse(data, uplink):
    """Split MAC commands (FOpts, or an FPort 0 payload) into [(cid, fields), ...]; see the module doc."""
    _check_uplink(uplink)
    if type(data) is not bytes and type(data) is not bytearray and type(data) is not memoryview:
        raise MacError("mac: data must be bytes, not %s" % type(data).__name__)
    out = []
    n = len(data)
    i = 0
    while i < n:
        cid = data[i]
        row = _row(cid, uplink)
        if row is None:
            out.append((cid, {"rest": bytes(data[i:])}))
            break
        size = row[3]
        if i + size > n:
            raise MacError("mac: %s (CID 0x%02x) truncated: %d of %d bytes" % (row[2], cid, n - i, size))
        fields = {}
        for key, pos, nbytes, shift, bits, kind in row[4]:
            at = i + pos
            raw = data[at] if nbytes == 1 else int.from_bytes(bytes(data[at : at + nbytes]), "little")
            if shift or bits < 8 * nbytes:
                raw = (raw >> shift) & ((1 << bits) - 1)
            fields[key] = _value(raw, bits, kind)
        out.append((cid, fields))
        i += size
    return out


def _find(key, uplink):
    by_name = type(key) is str
    if not by_name and type(key) is not int:
        raise MacError("mac: a command is named by its name or its CID, not %s" % type(key).__name__)
    for row in _COMMANDS:
        if row[2] == key if by_name else row[0] == key:
            if row[1] is uplink:
                return row
            if by_name:
                raise MacError(
                    "mac: %s is sent %s, not %s" % (key, "up" if row[1] else "down", "up" if uplink else "down")
                )
    raise MacError("mac: unknown %s command %r" % ("uplink" if uplink else "downlink", key))


def _raw(command, key, v, bits, kind):
    """The field's bits for value v, or MacError when v is not a value of this field."""
    if kind == _K_BOOL:
        if v is not True and v is not False:
            raise MacError("mac: %s: %s must be True or False, not %r" % (command, key, v))
        return 1 if v else 0
    if type(v) is not int:
        raise MacError("mac: %s: %s must be an int, not %s" % (command, key, type(v).__name__))
    lo = 0
    hi = (1 << bits) - 1
    if kind == _K_SNR:
        lo = -(1 << (bits - 1))
        hi = (1 << (bits - 1)) - 1
    elif kind == _K_FREQ:
        hi *= 100
        if v % 100:
            raise MacError("mac: %s: %s = %d is not a multiple of 100 Hz" % (command, key, v))
    elif kind == _K_DEL:
        lo = 1
    elif kind == _K_MARGIN:
        hi = 254
    if v < lo or v > hi:
        raise MacError("mac: %s: %s = %d is out of range %d..%d" % (command, key, v, lo, hi))
    if kind == _K_FREQ:
        return v // 100
    return v & ((1 << bits) - 1)


def build(commands, uplink):
    """Concatenate MAC commands given as [(name or cid, fields), ...]; return the bytes."""
    _check_uplink(uplink)
    if type(commands) is not list and type(commands) is not tuple:
        raise MacError("mac: commands must be a list, not %s" % type(commands).__name__)
    out = bytearray()
    for item in commands:
        if (type(item) is not tuple and type(item) is not list) or len(item) != 2:
            raise MacError("mac: each command must be a pair (name or cid, fields), not %r" % (item,))
        row = _find(item[0], uplink)
        fields = item[1]
        if type(fields) is not dict:
            raise MacError("mac: %s: fields must be a dict, not %s" % (row[2], type(fields).__name__))
        for key in fields:
            if not any(f[0] == key for f in row[4]):
                raise MacError("mac: %s: unknown field %r" % (row[2], key))
        cmd = bytearray(row[3])
        cmd[0] = row[0]
        for key, pos, nbytes, shift, bits, kind in row[4]:
            if key not in fields:
                raise MacError("mac: %s: %s is required" % (row[2], key))
            raw = _raw(row[2], key, fields[key], bits, kind) << shift
            for j in range(nbytes):
                cmd[pos + j] |= (raw >> (8 * j)) & 0xFF
        out.extend(cmd)
    return bytes(out)
