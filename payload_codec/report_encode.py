"""Report (uplink FPort 1) encoder: validate a report dict and bit-pack it.

docs/payload-format.md section 3; the field table is in report_layout.py.
Hot path on the node: no dicts or lists are built for a single sample, and
each reading costs one float (round(value * scale)).
"""

from .bits import BitWriter
from .errors import CodecError
from .report_layout import (
    AGE_BITS,
    AGE_MAX,
    FIRST_SLOT,
    HI,
    ITEMS,
    KEY,
    LAYOUT_BITS,
    LO,
    MAX_SAMPLES,
    NFIELDS,
    NSLOTS,
    OFFSET,
    SCALE,
    SHIFT,
    WIDTH,
    bit_length,
    slots,
    union,
)

_SAMPLE_KEYS = ("age_s",) + KEY


def _type_name(x):
    return type(x).__name__


def _index(j):
    return "" if j < 0 else "[%d]" % j


def _check_value(x, i, k, j):
    """Raise CodecError unless x is None or a value of field i within its range."""
    if x is None:
        return
    if SCALE[i] == 1:
        ok = type(x) is int
    else:
        ok = type(x) is float or type(x) is int
    if not ok:
        raise CodecError("report: sample %d: %s%s must be a number, not %s" % (k, KEY[i], _index(j), _type_name(x)))
    if x != x or x < LO[i] or x > HI[i]:
        raise CodecError(
            "report: sample %d: %s%s = %s is out of range %s..%s" % (k, KEY[i], _index(j), x, LO[i], HI[i])
        )


def _sample_layout(sample, k):
    """Validate one sample; return its layout (11 bits, field codes in wire order)."""
    if type(sample) is not dict:
        raise CodecError("report: sample %d must be a dict, not %s" % (k, _type_name(sample)))
    for key in sample:
        if key not in _SAMPLE_KEYS:
            raise CodecError("report: sample %d: unknown key %r" % (k, key))
    if "age_s" not in sample:
        raise CodecError("report: sample %d: age_s is required" % k)
    age = sample["age_s"]
    if type(age) is not int:
        raise CodecError("report: sample %d: age_s must be an int, not %s" % (k, _type_name(age)))
    if age < 0 or age > AGE_MAX:
        raise CodecError("report: sample %d: age_s = %d is out of range 0..%d" % (k, age, AGE_MAX))
    layout = 0
    for i in range(NFIELDS):
        code = 0
        key = KEY[i]
        if key in sample:
            v = sample[key]
            items = ITEMS[i]
            if not items:
                _check_value(v, i, k, -1)
                code = 1
            elif v is None:
                code = items + 1  # fitted, but the whole reading failed
            else:
                if type(v) is not list and type(v) is not tuple:
                    raise CodecError("report: sample %d: %s must be a list, not %s" % (k, key, _type_name(v)))
                code = len(v)
                if code < 1 or code > items:
                    raise CodecError("report: sample %d: %s has %d entries, must have 1..%d" % (k, key, code, items))
                for j in range(code):
                    _check_value(v[j], i, k, j)
        layout |= code << SHIFT[i]
    return layout


def _visit(sample, layout, visit, ctx):
    """Call visit(ctx, reading, field, slot) for every slot the layout opens, in wire order."""
    for i in range(NFIELDS):
        n = slots(layout, i)
        if n:
            v = sample[KEY[i]]
            if ITEMS[i]:
                for j in range(n):
                    visit(ctx, v[j], i, FIRST_SLOT[i] + j)
            else:
                visit(ctx, v, i, FIRST_SLOT[i])


def _has_failure(sample, layout):
    for i in range(NFIELDS):
        n = slots(layout, i)
        if n:
            v = sample[KEY[i]]
            if not ITEMS[i]:
                if v is None:
                    return True
            else:
                for j in range(n):
                    if v[j] is None:
                        return True
    return False


def _quantise(x, i):
    if SCALE[i] == 1:
        return x
    return round(x * SCALE[i]) + OFFSET[i]


def _zigzag(delta, width):
    """Map a difference modulo 2**width to 0..2**width-1, small magnitudes first (3.5)."""
    delta &= (1 << width) - 1
    if delta >= 1 << (width - 1):
        delta -= 1 << width
    return delta << 1 if delta >= 0 else ((-delta) << 1) - 1


def _write_failure(w, x, i, slot):
    w.write(1 if x is None else 0, 1)


def _write_whole(w, x, i, slot):
    if x is not None:
        w.write(_quantise(x, i), WIDTH[i])


class _Deltas:
    """A batch's per-slot state: the codes in sample order, the previous code and the delta width."""

    def __init__(self, w):
        self.w = w
        self.prev = [-1] * NSLOTS
        self.width = [0] * NSLOTS
        self.codes = []  # every reading's code once, so no value is quantised twice
        self.pos = 0  # next entry of codes to write


def _measure_delta(d, x, i, slot):
    if x is None:
        return
    code = _quantise(x, i)
    d.codes.append(code)
    if d.prev[slot] >= 0:
        n = bit_length(_zigzag(code - d.prev[slot], WIDTH[i]))
        if n > d.width[slot]:
            d.width[slot] = n
    d.prev[slot] = code


def _write_delta(d, x, i, slot):
    if x is None:
        return
    code = d.codes[d.pos]
    d.pos += 1
    if d.prev[slot] >= 0:
        d.w.write(_zigzag(code - d.prev[slot], WIDTH[i]), d.width[slot])
    else:
        d.w.write(code, WIDTH[i])
    d.prev[slot] = code


def _write_age(w, age):
    c = 0 if age == 0 else 1 if age < 64 else 2 if age < 4096 else 3
    w.write(c, 2)
    if c:
        w.write(age, AGE_BITS[c])


def encode(message):
    """Encode a report dict; return the FRMPayload bytes."""
    for key in message:
        if key != "type" and key != "samples":
            raise CodecError("report: unknown key %r" % (key,))
    samples = message.get("samples")
    if type(samples) is not list and type(samples) is not tuple:
        raise CodecError("report: samples must be a list of 1..%d samples" % MAX_SAMPLES)
    n = len(samples)
    if n < 1 or n > MAX_SAMPLES:
        raise CodecError("report: %d samples, must be 1..%d" % (n, MAX_SAMPLES))
    w = BitWriter(bytearray())
    if n == 1:
        sample = samples[0]
        layout = _sample_layout(sample, 0)
        failed = _has_failure(sample, layout)
        w.write(0, 1)  # one sample
        w.write(1 if failed else 0, 1)
        _write_age(w, sample["age_s"])
        w.write(layout, LAYOUT_BITS)
        if failed:
            _visit(sample, layout, _write_failure, w)
        _visit(sample, layout, _write_whole, w)
    else:
        _encode_batch(samples, n, w)
    w.finish()
    return bytes(w.buf)


def _encode_batch(samples, n, w):
    layouts = [_sample_layout(samples[k], k) for k in range(n)]
    mixed = 0
    failed = 0
    for k in range(n):
        if layouts[k] != layouts[0]:
            mixed = 1
        if _has_failure(samples[k], layouts[k]):
            failed = 1
    w.write(1, 1)  # batch
    w.write(n - 2, 3)
    w.write(mixed, 1)
    w.write(failed, 1)
    last = samples[n - 1]["age_s"]
    step = samples[n - 2]["age_s"] - last
    regular = step >= 0
    for k in range(n):
        if samples[k]["age_s"] != last + (n - 1 - k) * step:
            regular = False
    _write_age(w, last)
    w.write(1 if regular else 0, 1)
    if regular:
        _write_age(w, step)
    else:
        for k in range(n - 1):
            _write_age(w, samples[k]["age_s"])
    for k in range(n if mixed else 1):
        w.write(layouts[k], LAYOUT_BITS)
    if failed:
        for k in range(n):
            _visit(samples[k], layouts[k], _write_failure, w)
    d = _Deltas(w)
    for k in range(n):
        _visit(samples[k], layouts[k], _measure_delta, d)
    most = union(layouts)
    for i in range(NFIELDS):
        for j in range(most[i]):
            w.write(d.width[FIRST_SLOT[i] + j], bit_length(WIDTH[i]))
    d.prev = [-1] * NSLOTS
    for k in range(n):
        _visit(samples[k], layouts[k], _write_delta, d)
