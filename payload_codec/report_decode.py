"""Report (uplink FPort 1) decoder: bytes to a report dict, refusing anything malformed.

docs/payload-format.md section 3; the field table is in report_layout.py.
Every read checks the length first (BitReader), so no input can index past
the payload.
"""

from .bits import BitReader
from .errors import CodecError
from .report_layout import (
    AGE_BITS,
    AGE_MAX,
    FIRST_SLOT,
    ITEMS,
    KEY,
    LAYOUT_BITS,
    MAX_SAMPLES,
    NFIELDS,
    NSLOTS,
    OFFSET,
    SCALE,
    TOP,
    WIDTH,
    bit_length,
    field_code,
    layout_slots,
    union,
)


def _read_age(r, what):
    c = r.read(2, what)
    age = r.read(AGE_BITS[c], what) if c else 0
    if age > AGE_MAX:
        raise CodecError("report: %s = %d is out of range 0..%d" % (what, age, AGE_MAX))
    return age


def _read_layout(r):
    layout = r.read(LAYOUT_BITS, "sample layout")
    for i in range(NFIELDS):
        code = field_code(layout, i)
        if ITEMS[i] and code > ITEMS[i] + 1:
            raise CodecError("report: reserved bits set: %s layout code %d is reserved" % (KEY[i], code))
    return layout


def _read_value(r, i, slot, prev, width):
    if prev[slot] < 0:
        code = r.read(WIDTH[i], KEY[i])
    else:
        z = r.read(width[slot], KEY[i])
        delta = (z >> 1) if not (z & 1) else -((z + 1) >> 1)
        code = (prev[slot] + delta) & ((1 << WIDTH[i]) - 1)
    if code > TOP[i]:
        raise CodecError("report: %s code %d is out of range 0..%d" % (KEY[i], code, TOP[i]))
    prev[slot] = code
    if SCALE[i] == 1:
        return code
    return (code - OFFSET[i]) / SCALE[i]


def _read_ages(r, n, batch):
    ages = [0] * n
    ages[n - 1] = _read_age(r, "age_s")
    if not batch:
        return ages
    if r.read(1, "regular-spacing flag"):
        step = _read_age(r, "age spacing")
        for k in range(n - 1):
            ages[k] = ages[n - 1] + (n - 1 - k) * step
            if ages[k] > AGE_MAX:
                raise CodecError("report: age_s of sample %d = %d is out of range 0..%d" % (k, ages[k], AGE_MAX))
    else:
        for k in range(n - 1):
            ages[k] = _read_age(r, "age_s")
    return ages


def _read_widths(r, layouts):
    width = [0] * NSLOTS
    most = union(layouts)
    for i in range(NFIELDS):
        bits = bit_length(WIDTH[i])
        for j in range(most[i]):
            w = r.read(bits, "delta width")
            if w > WIDTH[i]:
                raise CodecError("report: delta width %d for %s is out of range 0..%d" % (w, KEY[i], WIDTH[i]))
            width[FIRST_SLOT[i] + j] = w
    return width


def decode(payload):
    """Decode a report FRMPayload; return {"type": "report", "samples": [...]}."""
    r = BitReader(payload, "report")
    batch = r.read(1, "batch flag")
    n = 1
    mixed = 0
    if batch:
        n = r.read(3, "sample count") + 2
        if n > MAX_SAMPLES:
            raise CodecError("report: reserved bits set: sample count code 7 is reserved (at most 8 samples)")
        mixed = r.read(1, "mixed-layout flag")
    failed = r.read(1, "failure flag")
    ages = _read_ages(r, n, batch)
    layouts = [_read_layout(r) for _ in range(n if mixed else 1)]
    if not mixed:
        layouts = layouts * n
    fails = [0] * n
    if failed:
        for k in range(n):
            fails[k] = r.read(layout_slots(layouts[k]), "failure bitmap")
    width = _read_widths(r, layouts) if batch else None
    prev = [-1] * NSLOTS
    out = []
    for k in range(n):
        layout = layouts[k]
        left = layout_slots(layout)  # failure bits are read from the top, slot by slot
        sample = {"age_s": ages[k]}
        for i in range(NFIELDS):
            code = field_code(layout, i)
            if not code:
                continue
            if ITEMS[i] and code > ITEMS[i]:
                sample[KEY[i]] = None
                continue
            values = []
            for j in range(code):
                left -= 1
                if (fails[k] >> left) & 1:
                    values.append(None)
                else:
                    values.append(_read_value(r, i, FIRST_SLOT[i] + j, prev, width))
            sample[KEY[i]] = values if ITEMS[i] else values[0]
        out.append(sample)
    r.finish()
    return {"type": "report", "samples": out}
