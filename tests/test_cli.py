"""The `akker` command as a person runs it: a real process, its output and exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

AKKER = str(Path(sys.executable).parent / "akker")
STANDARD_HEX = "04767527082d214180155d80"


def akker(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], input=stdin, capture_output=True, text=True, timeout=30)


def test_decode_report() -> None:
    result = akker("decode", "--fport", "1", STANDARD_HEX)
    assert result.returncode == 0, result.stderr
    message = json.loads(result.stdout)
    assert message["samples"][0]["soil_moisture_pct"] == [23.4, 31.2]
    assert message["samples"][0]["battery_v"] == 3.87


def test_decode_downlink_with_spaces_in_hex() -> None:
    result = akker("decode", "--downlink", "--fport", "20", "00 03 84")
    assert json.loads(result.stdout) == {"cmd": "set_interval", "seconds": 900}


def test_encode_round_trips_through_decode() -> None:
    message = {"type": "report", "samples": [{"age_s": 30, "air_temp_c": -3.5, "insect_count": [7, None]}]}
    encoded = json.loads(akker("encode", json.dumps(message)).stdout)
    decoded = akker("decode", "--fport", str(encoded["fPort"]), encoded["bytes"])
    assert json.loads(decoded.stdout) == message


def test_encode_reads_standard_input() -> None:
    result = akker("encode", stdin='{"cmd": "reboot"}')
    assert json.loads(result.stdout) == {"fPort": 25, "bytes": ""}


@pytest.mark.parametrize(
    ("args", "stdin", "phrase"),
    [
        (("decode", "--fport", "1", "04zz"), "", "is not hex"),
        (("decode", "--fport", "1", "0476"), "", "truncated"),
        (("decode", "--fport", "9", "00"), "", "unknown fport 9"),
        (("encode", "{not json"), "", "not valid JSON"),
        (("encode", "[1, 2]"), "", "must be a JSON object"),
        (("encode",), '{"type": "report", "samples": [{"age_s": 0, "air_temp_c": 90}]}', "out of range"),
        (("encode", '{"cmd": "set_batch", "samples": 9}'), "", "samples = 9 is out of range 1..8"),
    ],
)
def test_errors_are_one_line_with_exit_2(args: tuple[str, ...], stdin: str, phrase: str) -> None:
    result = akker(*args, stdin=stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("akker: ")
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr
