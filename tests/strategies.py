"""Hypothesis strategies for codec messages, written from docs/payload-format.md.

The tables here restate the spec on purpose instead of importing the codec's
own table: a wrong scale or range in the codec then fails a test rather than
agreeing with itself.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# key: (entries, 0 for a single value; scale; lowest; highest)
REPORT_FIELDS: dict[str, tuple[int, int, float, float]] = {
    "soil_moisture_pct": (4, 10, 0.0, 100.0),
    "soil_temp_c": (4, 10, -40.0, 85.0),
    "air_temp_c": (0, 10, -40.0, 85.0),
    "air_rh_pct": (0, 2, 0.0, 100.0),
    "insect_count": (2, 1, 0, 65535),
    "battery_v": (0, 100, 2.0, 4.55),
}
AGE_MAX = 86399
RESET_CAUSES = ("power_on", "deep_sleep", "watchdog", "soft", "hard", "brownout", "unknown")
U32_MAX = 2**32 - 1
COMMANDS: dict[str, dict[str, tuple[int, int]]] = {
    "set_interval": {"seconds": (60, 86400)},
    "set_batch": {"samples": (1, 8)},
    "set_calibration": {"probe": (0, 3), "dry": (0, 65535), "wet": (0, 65535)},
    "reset_trap": {"trap": (0, 1)},
    "request_status": {},
    "reboot": {},
}


def reading(key: str, on_step: bool = False) -> st.SearchStrategy[Any]:
    """One reading of a field: a value in range (on or off the step), or None for a failed read.

    on_step keeps floats on the step, far from rounding ties: a value that
    travels as JSON text to MicroPython may be parsed one bit differently.
    """
    _items, scale, lo, hi = REPORT_FIELDS[key]
    if scale == 1:
        value = st.integers(int(lo), int(hi))
    else:
        value = st.integers(round(lo * scale), round(hi * scale)).map(lambda c: c / scale)
        if not on_step:
            value = st.one_of(value, st.floats(lo, hi, allow_nan=False))
    return st.one_of(value, value, value, st.none())


def field_value(key: str, count: int | None, on_step: bool = False) -> st.SearchStrategy[Any]:
    """The value of a fitted field: a list of `count` readings, None for a failed list, or one reading."""
    items = REPORT_FIELDS[key][0]
    if not items:
        return reading(key, on_step)
    if count is None:
        return st.none()
    return st.lists(reading(key, on_step), min_size=count, max_size=count)


@st.composite
def layouts(draw: st.DrawFn) -> dict[str, int | None]:
    """Which sensors a node has: key -> number of entries (0 for a single value, None for a failed list)."""
    layout: dict[str, int | None] = {}
    for key, (items, *_rest) in REPORT_FIELDS.items():
        if draw(st.booleans()):
            layout[key] = draw(st.one_of(st.integers(1, items), st.none())) if items else 0
    return layout


@st.composite
def samples(draw: st.DrawFn, layout: dict[str, int | None], on_step: bool = False) -> dict[str, Any]:
    sample: dict[str, Any] = {"age_s": draw(st.integers(0, AGE_MAX))}
    for key, count in layout.items():
        sample[key] = draw(field_value(key, count, on_step))
    return sample


@st.composite
def reports(draw: st.DrawFn, max_samples: int = 8, on_step: bool = False) -> dict[str, Any]:
    """Reports over the whole ranges: shared or mixed layouts, regular or arbitrary ages."""
    n = draw(st.integers(1, max_samples))
    shared = draw(st.booleans())
    first = draw(layouts())
    items = [draw(samples(first if shared or k == 0 else draw(layouts()), on_step)) for k in range(n)]
    if n > 1 and draw(st.booleans()):
        newest = draw(st.integers(0, AGE_MAX))
        step = draw(st.integers(0, (AGE_MAX - newest) // (n - 1)))
        for k, sample in enumerate(items):
            sample["age_s"] = newest + (n - 1 - k) * step
    return {"type": "report", "samples": items}


@st.composite
def statuses(draw: st.DrawFn) -> dict[str, Any]:
    u32 = st.one_of(st.integers(0, 300), st.integers(0, U32_MAX), st.integers(2**30 - 2, 2**31 + 2))
    return {
        "type": "status",
        "firmware": draw(st.lists(st.integers(0, 255), min_size=3, max_size=3)),
        "board": draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16)),
        "reset_cause": draw(st.sampled_from(RESET_CAUSES)),
        "uptime_s": draw(u32),
        "config_crc": draw(u32),
        "tx_frames": draw(u32),
        "sensor_errors": draw(u32),
        "radio_errors": draw(u32),
    }


@st.composite
def commands(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(COMMANDS)))
    command: dict[str, Any] = {"cmd": name}
    for key, (lo, hi) in COMMANDS[name].items():
        command[key] = draw(st.integers(lo, hi))
    return command


def quantised(message: dict[str, Any]) -> dict[str, Any]:
    """What a report must decode to: every reading rounded to its step (spec section 1)."""

    def one(key: str, x: Any) -> Any:
        scale = REPORT_FIELDS[key][1]
        if x is None or scale == 1:
            return x
        return round(x * scale) / scale

    out = []
    for sample in message["samples"]:
        decoded: dict[str, Any] = {"age_s": sample["age_s"]}
        for key, value in sample.items():
            if key == "age_s":
                continue
            if isinstance(value, (list, tuple)):
                decoded[key] = [one(key, x) for x in value]
            else:
                decoded[key] = one(key, value)
        out.append(decoded)
    return {"type": "report", "samples": out}
