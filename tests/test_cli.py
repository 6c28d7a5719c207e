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


def test_a_whole_frame_is_opened_offline_with_the_registrys_keys(tmp_path: Path) -> None:
    # Issue 16: the PHY hex that `akker node` prints can be read without a running bridge.
    from gateway.bridge.registry import Registry, open_db
    from payload_codec.lorawan import build_uplink

    db = tmp_path / "farm.db"
    nwk, app = bytes(range(16)), bytes(range(16, 32))
    Registry(open_db(db)).add("north-1", 0x26011B01, nwk, app)
    phy = build_uplink(0x26011B01, 7, 1, bytes.fromhex(STANDARD_HEX), nwk, app).hex()
    result = akker("decode", "--frame", phy, "--db", str(db))
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert (got["node"], got["dev_addr"], got["fcnt"], got["fport"], got["error"]) == (
        "north-1",
        "26011b01",
        7,
        1,
        None,
    )
    assert got["data"]["samples"][0]["soil_moisture_pct"] == [23.4, 31.2]
    forged = phy[:-2] + ("00" if phy[-2:] != "00" else "01")
    for args, says in (
        (("--frame", forged, "--db", str(db)), "cannot open the frame: "),
        (("--frame", build_uplink(0x26FFFFFF, 1, 1, b"\x00", nwk, app).hex(), "--db", str(db)),
         "DevAddr 26ffffff is not registered"),
        (("--frame", phy), "--frame needs --db DB"),
        (("--frame", "4001", "--db", str(db)), "cannot open the frame: "),
        ((), "give --fport N and the FRMPayload as hex, or a whole frame"),
    ):  # fmt: skip
        out = akker("decode", *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and says in out.stderr, (args, out.stderr)


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
