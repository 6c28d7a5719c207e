"""Report (uplink FPort 1): the field table and the sample layout, shared by encoder and decoder.

docs/payload-format.md section 3 is the specification; the encoder
(report_encode.py) and the decoder (report_decode.py) are separate modules
because a node only encodes reports and the bridge only decodes them, and on
a board every loaded line of bytecode costs heap.
"""

from micropython import const

MAX_SAMPLES = const(8)
AGE_MAX = const(86399)  # seconds, one day less a second
LAYOUT_BITS = const(11)  # sum of FIELD_BITS
NSLOTS = const(13)  # sum of max(ITEMS, 1)
NFIELDS = const(6)
AGE_BITS = (0, 6, 12, 17)  # 3.4: value bits per age class

# The field table (3.1), one column per tuple, fields in wire order.
KEY = ("soil_moisture_pct", "soil_temp_c", "air_temp_c", "air_rh_pct", "insect_count", "battery_v")
ITEMS = (4, 4, 0, 0, 2, 0)  # 0: one value, else the most list entries
FIELD_BITS = (3, 3, 1, 1, 2, 1)  # bits of the field's layout code (3.3)
SHIFT = (8, 5, 4, 3, 1, 0)  # where that code sits in the 11-bit layout
WIDTH = (10, 11, 11, 8, 16, 8)  # W: bits of one value
SCALE = (10, 10, 10, 2, 1, 100)  # code = round(value * scale) + offset; 1 marks an integer field
OFFSET = (0, 400, 400, 0, 0, -200)
TOP = (1000, 1250, 1250, 200, 65535, 255)  # the highest code
LO = (0.0, -40.0, -40.0, 0.0, 0, 2.0)  # lowest value
HI = (100.0, 85.0, 85.0, 100.0, 65535, 4.55)  # highest value
FIRST_SLOT = (0, 4, 8, 9, 10, 12)


def bit_length(v):
    """int.bit_length, which MicroPython lacks."""
    n = 0
    while v:
        v >>= 1
        n += 1
    return n


def field_code(layout, i):
    """The layout code of field i: 0 not fitted, 1..items entries, items + 1 a failed list."""
    return (layout >> SHIFT[i]) & ((1 << FIELD_BITS[i]) - 1)


def slots(layout, i):
    """How many value slots field i opens in a layout (a failed list opens none)."""
    code = field_code(layout, i)
    return code if not ITEMS[i] or code <= ITEMS[i] else 0


def layout_slots(layout):
    n = 0
    for i in range(NFIELDS):
        n += slots(layout, i)
    return n


def union(layouts):
    """Per field, the most slots any sample opens: the slots that carry a delta width."""
    most = [0] * NFIELDS
    for layout in layouts:
        for i in range(NFIELDS):
            s = slots(layout, i)
            if s > most[i]:
                most[i] = s
    return most
