"""Report (uplink FPort 1): 1 to 8 sensor samples, bit-packed.

The layout is specified in docs/payload-format.md, section "FPort 1: report";
this module, payload_codec/js/decoder.js and tests/vectors/ follow that table.
A batch sends the first reading of every slot whole and later readings as
zigzag deltas whose width is chosen per slot, because soil changes slowly.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from .bits import BitReader, BitWriter
from .errors import CodecError

_MAX_SAMPLES = const(8)
_AGE_MAX = const(86399)  # seconds, one day less a second
_LAYOUT_BITS = const(11)  # sum of the layout column below
_NSLOTS = const(13)  # sum of max(items, 1) below

# The field table, in wire order. Columns: key; items (0: one value, else the
# most list entries); bits of its layout code; bits of one value; scale and
# offset (code = round(value * scale) + offset); top code; lowest and highest
# value. Scale 1 marks an integer field (decoded as int, not float).
_FIELDS = (
    ("soil_moisture_pct", 4, 3, 10, 10, 0, 1000, 0.0, 100.0),
    ("soil_temp_c", 4, 3, 11, 10, 400, 1250, -40.0, 85.0),
    ("air_temp_c", 0, 1, 11, 10, 400, 1250, -40.0, 85.0),
    ("air_rh_pct", 0, 1, 8, 2, 0, 200, 0.0, 100.0),
    ("insect_count", 2, 2, 16, 1, 0, 65535, 0, 65535),
    ("battery_v", 0, 1, 8, 100, -200, 255, 2.0, 4.55),
)
_F_KEY = const(0)
_F_ITEMS = const(1)
_F_LBITS = const(2)
_F_WIDTH = const(3)
_F_SCALE = const(4)
_F_OFFSET = const(5)
_F_TOP = const(6)
_F_LO = const(7)
_F_HI = const(8)

_NFIELDS = const(6)
# Where each field's layout code sits in the 11-bit layout (first field highest).
_SHIFT = (8, 5, 4, 3, 1, 0)

_KEYS = ("age_s", "soil_moisture_pct", "soil_temp_c", "air_temp_c", "air_rh_pct", "insect_count", "battery_v")


def _bit_length(v):
    n = 0
    while v:
        v >>= 1
        n += 1
    return n


def _code(layout, i):
    """The layout code of field i: 0 not fitted, 1..items entries, items + 1 failed list."""
    return (layout >> _SHIFT[i]) & ((1 << _FIELDS[i][_F_LBITS]) - 1)


def _slots(layout, i):
    """How many value slots field i opens in a layout (a failed list opens none)."""
    code = _code(layout, i)
    items = _FIELDS[i][_F_ITEMS]
    return code if not items or code <= items else 0


def _layout_slots(layout):
    n = 0
    for i in range(_NFIELDS):
        n += _slots(layout, i)
    return n


def _union(layouts):
    """Per field, the most slots any sample opens: the slots that carry a delta width."""
    most = [0] * _NFIELDS
    for layout in layouts:
        for i in range(_NFIELDS):
            s = _slots(layout, i)
            if s > most[i]:
                most[i] = s
    return most


# ---------------------------------------------------------------- encoding


def _type_name(x):
    return type(x).__name__


def _check_value(x, f, k, j):
    """Raise CodecError unless x is None or a value of field f within its range."""
    if x is None:
        return
    if f[_F_SCALE] == 1:
        ok = type(x) is int
    else:
        ok = type(x) is float or type(x) is int
    if not ok:
        raise CodecError("report: sample %d: %s%s must be a number, not %s" % (k, f[_F_KEY], _index(j), _type_name(x)))
    if x != x or x < f[_F_LO] or x > f[_F_HI]:
        raise CodecError(
            "report: sample %d: %s%s = %s is out of range %s..%s" % (k, f[_F_KEY], _index(j), x, f[_F_LO], f[_F_HI])
        )


def _index(j):
    return "" if j < 0 else "[%d]" % j


def _sample_layout(sample, k):
    """Validate one sample; return its layout code (11 bits, field codes in wire order)."""
    if type(sample) is not dict:
        raise CodecError("report: sample %d must be a dict, not %s" % (k, _type_name(sample)))
    for key in sample:
        if key not in _KEYS:
            raise CodecError("report: sample %d: unknown key %r" % (k, key))
    if "age_s" not in sample:
        raise CodecError("report: sample %d: age_s is required" % k)
    age = sample["age_s"]
    if type(age) is not int:
        raise CodecError("report: sample %d: age_s must be an int, not %s" % (k, _type_name(age)))
    if age < 0 or age > _AGE_MAX:
        raise CodecError("report: sample %d: age_s = %d is out of range 0..%d" % (k, age, _AGE_MAX))
    layout = 0
    for f in _FIELDS:
        code = 0
        key = f[_F_KEY]
        if key in sample:
            v = sample[key]
            items = f[_F_ITEMS]
            if not items:
                _check_value(v, f, k, -1)
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
                    _check_value(v[j], f, k, j)
        layout = (layout << f[_F_LBITS]) | code
    return layout


def _has_failure(sample, layout):
    for i in range(_NFIELDS):
        f = _FIELDS[i]
        n = _slots(layout, i)
        if n:
            v = sample[f[_F_KEY]]
            if not f[_F_ITEMS]:
                if v is None:
                    return True
            else:
                for j in range(n):
                    if v[j] is None:
                        return True
    return False


def _quantise(x, f):
    if f[_F_SCALE] == 1:
        return x
    return round(x * f[_F_SCALE]) + f[_F_OFFSET]


def _zigzag(delta, width):
    """Map a difference modulo 2**width to 0..2**width-1, small magnitudes first."""
    half = 1 << (width - 1)
    delta &= (1 << width) - 1
    if delta >= half:
        delta -= 1 << width
    return delta << 1 if delta >= 0 else ((-delta) << 1) - 1


def _visit_values(sample, layout, visit, ctx):
    """Call visit(ctx, value, field, slot) for every slot in the layout, in wire order."""
    slot = 0
    for i in range(_NFIELDS):
        f = _FIELDS[i]
        n = _slots(layout, i)
        if n:
            v = sample[f[_F_KEY]]
            if f[_F_ITEMS]:
                for j in range(n):
                    visit(ctx, v[j], f, slot + j)
            else:
                visit(ctx, v, f, slot)
        slot += f[_F_ITEMS] or 1


def _write_failure(w, x, f, slot):
    w.write(1 if x is None else 0, 1)


def _write_whole(w, x, f, slot):
    if x is not None:
        w.write(_quantise(x, f), f[_F_WIDTH])


class _Deltas:
    """Per-slot state of a batch: the previous code and the delta width."""

    def __init__(self):
        self.prev = [-1] * _NSLOTS
        self.width = [0] * _NSLOTS
        self.w = None


def _measure_delta(d, x, f, slot):
    if x is None:
        return
    code = _quantise(x, f)
    if d.prev[slot] >= 0:
        n = _bit_length(_zigzag(code - d.prev[slot], f[_F_WIDTH]))
        if n > d.width[slot]:
            d.width[slot] = n
    d.prev[slot] = code


def _write_delta(d, x, f, slot):
    if x is None:
        return
    code = _quantise(x, f)
    if d.prev[slot] >= 0:
        d.w.write(_zigzag(code - d.prev[slot], f[_F_WIDTH]), d.width[slot])
    else:
        d.w.write(code, f[_F_WIDTH])
    d.prev[slot] = code


def _age_class(age):
    if age == 0:
        return 0
    if age < 64:
        return 1
    if age < 4096:
        return 2
    return 3


_AGE_BITS = (0, 6, 12, 17)  # value bits per age class


def _write_age(w, age):
    c = _age_class(age)
    w.write(c, 2)
    if c:
        w.write(age, _AGE_BITS[c])


def encode(message):
    """Encode a report dict; return the FRMPayload bytes."""
    for key in message:
        if key != "type" and key != "samples":
            raise CodecError("report: unknown key %r" % (key,))
    samples = message.get("samples")
    if type(samples) is not list and type(samples) is not tuple:
        raise CodecError("report: samples must be a list of 1..%d samples" % _MAX_SAMPLES)
    n = len(samples)
    if n < 1 or n > _MAX_SAMPLES:
        raise CodecError("report: %d samples, must be 1..%d" % (n, _MAX_SAMPLES))
    w = BitWriter(bytearray())
    if n == 1:
        sample = samples[0]
        layout = _sample_layout(sample, 0)
        failed = _has_failure(sample, layout)
        w.write(0, 1)  # one sample
        w.write(1 if failed else 0, 1)
        _write_age(w, sample["age_s"])
        w.write(layout, _LAYOUT_BITS)
        if failed:
            _visit_values(sample, layout, _write_failure, w)
        _visit_values(sample, layout, _write_whole, w)
        w.finish()
        return bytes(w.buf)
    return _encode_batch(samples, n, w)


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
        w.write(layouts[k], _LAYOUT_BITS)
    if failed:
        for k in range(n):
            _visit_values(samples[k], layouts[k], _write_failure, w)
    d = _Deltas()
    for k in range(n):
        _visit_values(samples[k], layouts[k], _measure_delta, d)
    union = _union(layouts)
    slot = 0
    for i in range(_NFIELDS):
        f = _FIELDS[i]
        for j in range(union[i]):
            w.write(d.width[slot + j], _bit_length(f[_F_WIDTH]))
        slot += f[_F_ITEMS] or 1
    d.prev = [-1] * _NSLOTS
    d.w = w
    for k in range(n):
        _visit_values(samples[k], layouts[k], _write_delta, d)
    w.finish()
    return bytes(w.buf)


# ---------------------------------------------------------------- decoding


def _read_age(r, what):
    c = r.read(2, what)
    age = r.read(_AGE_BITS[c], what) if c else 0
    if age > _AGE_MAX:
        raise CodecError("report: %s = %d is out of range 0..%d" % (what, age, _AGE_MAX))
    return age


def _read_layout(r):
    layout = r.read(_LAYOUT_BITS, "sample layout")
    for i in range(_NFIELDS):
        f = _FIELDS[i]
        code = _code(layout, i)
        if f[_F_ITEMS] and code > f[_F_ITEMS] + 1:
            raise CodecError("report: reserved bits set: %s layout code %d is reserved" % (f[_F_KEY], code))
    return layout


def _read_value(r, f, slot, prev, width):
    if prev[slot] < 0:
        code = r.read(f[_F_WIDTH], f[_F_KEY])
    else:
        z = r.read(width[slot], f[_F_KEY])
        delta = (z >> 1) if not (z & 1) else -((z + 1) >> 1)
        code = (prev[slot] + delta) & ((1 << f[_F_WIDTH]) - 1)
    if code > f[_F_TOP]:
        raise CodecError("report: %s code %d is out of range 0..%d" % (f[_F_KEY], code, f[_F_TOP]))
    prev[slot] = code
    if f[_F_SCALE] == 1:
        return code
    return (code - f[_F_OFFSET]) / f[_F_SCALE]


def decode(payload):
    """Decode a report FRMPayload; return {"type": "report", "samples": [...]}."""
    r = BitReader(payload, "report")
    batch = r.read(1, "batch flag")
    n = 1
    mixed = 0
    if batch:
        n = r.read(3, "sample count") + 2
        if n > _MAX_SAMPLES:
            raise CodecError("report: reserved bits set: sample count code 7 is reserved (at most 8 samples)")
        mixed = r.read(1, "mixed-layout flag")
    failed = r.read(1, "failure flag")
    ages = [0] * n
    ages[n - 1] = _read_age(r, "age_s")
    if batch:
        if r.read(1, "regular-spacing flag"):
            step = _read_age(r, "age spacing")
            for k in range(n - 1):
                ages[k] = ages[n - 1] + (n - 1 - k) * step
                if ages[k] > _AGE_MAX:
                    raise CodecError("report: age_s of sample %d = %d is out of range 0..%d" % (k, ages[k], _AGE_MAX))
        else:
            for k in range(n - 1):
                ages[k] = _read_age(r, "age_s")
    layouts = [_read_layout(r) for _ in range(n if mixed else 1)]
    if not mixed:
        layouts = layouts * n
    fails = [0] * n
    if failed:
        for k in range(n):
            fails[k] = r.read(_layout_slots(layouts[k]), "failure bitmap")
    width = [0] * _NSLOTS
    if batch:
        union = _union(layouts)
        slot = 0
        for i in range(_NFIELDS):
            f = _FIELDS[i]
            bits = _bit_length(f[_F_WIDTH])
            for j in range(union[i]):
                wd = r.read(bits, "delta width")
                if wd > f[_F_WIDTH]:
                    raise CodecError(
                        "report: delta width %d for %s is out of range 0..%d" % (wd, f[_F_KEY], f[_F_WIDTH])
                    )
                width[slot + j] = wd
            slot += f[_F_ITEMS] or 1
    prev = [-1] * _NSLOTS
    out = []
    for k in range(n):
        layout = layouts[k]
        nfail = _layout_slots(layout)
        sample = {"age_s": ages[k]}
        slot = 0
        for i in range(_NFIELDS):
            f = _FIELDS[i]
            code = _code(layout, i)
            items = f[_F_ITEMS]
            if code:
                if items and code > items:
                    sample[f[_F_KEY]] = None
                else:
                    values = []
                    for j in range(code):
                        nfail -= 1
                        if (fails[k] >> nfail) & 1:
                            values.append(None)
                        else:
                            values.append(_read_value(r, f, slot + j, prev, width))
                    sample[f[_F_KEY]] = values if items else values[0]
            slot += items or 1
        out.append(sample)
    r.finish()
    return {"type": "report", "samples": out}
