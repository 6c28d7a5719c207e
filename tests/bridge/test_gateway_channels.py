"""`akker gateway channels`: what each gateway listens on, and a Semtech gateway's channels set by hand."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway.bridge import gateways, store
from gateway.bridge.frame import Reception, UplinkFrame

AKKER = str(Path(sys.executable).parent / "akker")
EUI = "aa555a0000000101"


def akker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, "gateway", "channels", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def farm(tmp_path: Path) -> Path:
    db_path = tmp_path / "farm.db"
    db = store.connect(db_path)
    at = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
    notes = gateways.GatewayNotes()
    board = Reception("board:1", -90, 7.0, 868_300_000, 9, 125)
    semtech = Reception(EUI, -95, 5.0, 868_100_000, 7, 125)
    db.execute("BEGIN")
    notes.note(db, UplinkFrame(b"\x40", board, "serial", at))
    notes.note(db, UplinkFrame(b"\x40", semtech, "udp", at))
    db.execute("COMMIT")
    db.close()
    return db_path


def test_a_semtech_gateways_channels_are_set_listed_and_taken_by_the_network(farm: Path) -> None:
    out = akker("--db", str(farm))
    assert out.returncode == 0
    assert "board:1" in out.stdout and "868.3 MHz at SF9" in out.stdout
    assert f"{EUI}         concentrator  every EU868 channel" in out.stdout
    out = akker("--db", str(farm), EUI.upper(), "--channels", "868100,868300,868500")
    assert out.returncode == 0 and out.stdout.startswith(f"{EUI} listens on 868.1, 868.3, 868.5 MHz"), out.stderr
    assert "868.1, 868.3, 868.5 MHz, SF7-SF12" in akker("--db", str(farm)).stdout
    db = store.connect(farm)
    assert gateways.partial(db) == {"board:1": None, EUI: frozenset({868100, 868300, 868500})}
    db.close()
    assert akker("--db", str(farm), EUI, "--all").returncode == 0
    db = store.connect(farm)
    assert gateways.partial(db) == {"board:1": None}
    db.close()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([EUI, "--channels", "868100,915000"], "915000 kHz is not an EU868 channel"),
        ([EUI, "--channels", "868.1"], "give kHz separated by commas"),
        ([EUI, "--channels", "868100,868100"], "give 1 to 16 different channels"),
        ([EUI], "give --channels KHZ,..."),
        (["gw-1", "--all"], "a Semtech gateway's id is its EUI, 16 hex digits"),
        (["--all"], "name the gateway"),
    ],
)
def test_bad_settings_are_one_line_and_change_nothing(farm: Path, args: list[str], says: str) -> None:
    before = farm.read_bytes()
    out = akker("--db", str(farm), *args)
    assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert farm.read_bytes() == before


def test_a_database_that_is_not_there_is_named(tmp_path: Path) -> None:
    out = akker("--db", str(tmp_path / "nope.db"))
    assert out.returncode == 2 and "nope.db does not exist" in out.stderr
    assert not (tmp_path / "nope.db").exists()
