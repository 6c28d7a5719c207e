"""The report's field table is defined once, in payload_codec/report_layout.py; everything else must agree with it.

decoder.js cannot import Python, and the spec is prose, so they keep their own copies: these tests fail
when a field is added, renamed or rescaled in report_layout.py and not in them (or the other way round).
The host's consumers import the table; what they add to it (Home Assistant's names) must cover every field.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.sinks import mqtt
from gateway.bridge.store import Record
from payload_codec import report_layout as layout

ROOT = Path(__file__).parents[2]
DECODER = ROOT / "payload_codec" / "js" / "decoder.js"
SPEC = ROOT / "docs" / "payload-format.md"
# Units travel in the key names (style.md, "Units in names"): the suffix says the unit.
UNIT_OF_SUFFIX = {"pct": "%", "c": "°C", "v": "V", "count": None}
COLUMNS = ("items", "lbits", "w", "scale", "offset", "top")


def python_fields() -> list[dict[str, Any]]:
    return [
        {
            "key": layout.KEY[i],
            "items": layout.ITEMS[i],
            "lbits": layout.FIELD_BITS[i],
            "w": layout.WIDTH[i],
            "scale": layout.SCALE[i],
            "offset": layout.OFFSET[i],
            "top": layout.TOP[i],
        }
        for i in range(layout.NFIELDS)
    ]


def unit(key: str) -> str | None:
    return UNIT_OF_SUFFIX[key.rsplit("_", 1)[1]]


@pytest.fixture(scope="module")
def js() -> dict[str, Any]:
    """decoder.js's tables, read from the file as The Things Stack runs it (no exports added for the test)."""
    script = """
    var vm = require("vm"), fs = require("fs");
    var g = {};
    vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), g);
    console.log(JSON.stringify({fields: g.FIELDS, nslots: g.NSLOTS, layout_bits: g.LAYOUT_BITS,
                                age_bits: g.AGE_BITS, age_max: g.AGE_MAX, max_samples: g.MAX_SAMPLES}));
    """
    result = subprocess.run(["node", "-e", script, str(DECODER)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    tables: dict[str, Any] = json.loads(result.stdout)
    return tables


@pytest.fixture(scope="module")
def spec() -> list[dict[str, Any]]:
    """The rows of docs/payload-format.md's table 3.1 for the fields with a layout code (not age_s).

    The spec writes its minus signs as U+2212.
    """
    text = SPEC.read_text().split("### 3.1", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in text.splitlines():
        cells = [c.strip().strip("`").replace("\u2212", "-") for c in line.strip("|").split("|")]
        if not cells[0].isdigit():
            continue
        lo, hi, *unit_text = re.split(r"\.\.| ", cells[8])
        rows.append(
            {
                "key": cells[1],
                "items": int(cells[2].split("..")[1]) if cells[2].startswith("list") else 0,
                "lbits": int(cells[3]),
                "w": int(cells[4]),
                "scale": int(cells[5]),
                "offset": int(cells[6]),
                "top": int(cells[7]),
                "range": (float(lo), float(hi)),
                "unit": unit_text[0] if unit_text else None,
            }
        )
    return rows


def test_every_column_of_report_layout_has_one_entry_per_field() -> None:
    columns = ("KEY", "ITEMS", "FIELD_BITS", "SHIFT", "WIDTH", "SCALE", "OFFSET", "TOP", "LO", "HI", "FIRST_SLOT")
    assert {name: len(getattr(layout, name)) for name in columns} == dict.fromkeys(columns, layout.NFIELDS)


def test_report_layout_ranges_are_its_codes_0_and_top_decoded() -> None:
    for i in range(layout.NFIELDS):
        scale, offset = layout.SCALE[i], layout.OFFSET[i]
        assert (layout.LO[i], layout.HI[i]) == ((0 - offset) / scale, (layout.TOP[i] - offset) / scale), layout.KEY[i]


def test_decoder_js_has_the_same_fields_in_the_same_order(js: dict[str, Any]) -> None:
    assert [f["key"] for f in js["fields"]] == list(layout.KEY)


def test_decoder_js_has_the_same_layout_widths_scales_offsets_and_top_codes(js: dict[str, Any]) -> None:
    assert [{c: f[c] for c in ("key", *COLUMNS)} for f in js["fields"]] == python_fields()


def test_decoder_js_decodes_to_the_same_ranges(js: dict[str, Any]) -> None:
    ranges = [((0 - f["offset"]) / f["scale"], (f["top"] - f["offset"]) / f["scale"]) for f in js["fields"]]
    assert ranges == list(zip(layout.LO, layout.HI, strict=True))


def test_decoder_js_places_fields_in_the_same_layout_bits_and_slots(js: dict[str, Any]) -> None:
    assert [(f["shift"], f["slot"]) for f in js["fields"]] == list(zip(layout.SHIFT, layout.FIRST_SLOT, strict=True))
    assert js["nslots"] == layout.NSLOTS
    assert js["layout_bits"] == layout.LAYOUT_BITS
    assert (js["age_bits"], js["age_max"], js["max_samples"]) == (list(layout.AGE_BITS), layout.AGE_MAX, 8)
    assert layout.MAX_SAMPLES == 8


def test_the_spec_table_has_the_same_fields_units_and_ranges(spec: list[dict[str, Any]]) -> None:
    assert [{c: row[c] for c in ("key", *COLUMNS)} for row in spec] == python_fields()
    assert [row["range"] for row in spec] == list(zip(layout.LO, layout.HI, strict=True))
    assert [row["unit"] for row in spec] == [unit(key) for key in layout.KEY]


def test_home_assistant_names_every_field_in_its_unit() -> None:
    assert sorted(mqtt._HA_KEYS) == sorted(layout.KEY)
    for key, ha_key in mqtt._HA_KEYS.items():
        assert mqtt._HA_KINDS[ha_key][0] == unit(key), key


def test_latest_values_lists_first_then_single_values_in_field_order() -> None:
    """The state message's keys, written from the rule (lists numbered from 1, failed readings left out)."""
    sample = {
        "age_s": 0,
        "soil_moisture_pct": [23.4, None, 31.2],
        "soil_temp_c": [12.3],
        "air_temp_c": 17.8,
        "air_rh_pct": None,
        "insect_count": [42, 7],
        "battery_v": 3.87,
    }
    older = {**sample, "age_s": 900, "battery_v": 3.9}
    record = Record(1, "north-1", 1, 1, 1, "", {"type": "report", "samples": [older, sample]}, {}, [])
    assert list(mqtt.latest_values(record).items()) == [
        ("soil_moisture_1", 23.4),
        ("soil_moisture_3", 31.2),
        ("soil_temp_1", 12.3),
        ("trap_1", 42),
        ("trap_2", 7),
        ("air_temp", 17.8),
        ("battery", 3.87),
    ]
