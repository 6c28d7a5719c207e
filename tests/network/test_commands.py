"""Commands from the farm office (gateway/network/commands.py, `akker nodes send`): validated, durable, tracked."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.bridge.registry import Registry, open_db
from gateway.network.commands import CommandError, CommandQueue

AKKER = str(Path(sys.executable).parent / "akker")
NWK = "00112233445566778899aabbccddeeff"
APP = "ffeeddccbbaa99887766554433221100"


def akker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "farm.db"
    Registry(open_db(path)).add("north-1", 0x26011B01, bytes.fromhex(NWK), bytes.fromhex(APP))
    return path


def test_a_command_is_queued_durably_and_listed_with_its_state(db: Path) -> None:
    out = akker("nodes", "send", "--db", str(db), "north-1", '{"cmd": "set_interval", "seconds": 600}', "--confirmed")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("queued command 1 for north-1: ")
    rows = json.loads(akker("nodes", "list", "--db", str(db), "--json").stdout)
    (cmd,) = rows[0]["commands"]
    assert cmd["command"] == {"cmd": "set_interval", "seconds": 600} and cmd["state"] == "queued" and cmd["confirmed"]
    queued = CommandQueue(open_db(db)).next_queued("north-1")  # another process, the same queue
    assert queued is not None and queued.fport == 20 and queued.payload == (600).to_bytes(3, "big")


@pytest.mark.parametrize(
    ("name", "command", "phrase"),
    [
        ("north-1", '{"cmd": "set_interval", "seconds": 5}', "out of range 60..86400"),
        ("north-1", '{"cmd": "water_the_field"}', "unknown cmd"),
        ("north-1", "set_interval 600", "not JSON"),
        ("south-9", '{"cmd": "reboot"}', "no node named 'south-9'"),
    ],
)
def test_a_bad_command_is_refused_with_the_reason_and_nothing_is_queued(
    db: Path, name: str, command: str, phrase: str
) -> None:
    out = akker("nodes", "send", "--db", str(db), name, command)
    assert out.returncode == 2 and phrase in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert CommandQueue(open_db(db)).for_node(name) == []


def test_states_move_oldest_first_and_stale_commands_expire(db: Path) -> None:
    queue = CommandQueue(open_db(db))
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    first = queue.add("north-1", {"cmd": "request_status"}, now=start)
    second = queue.add("north-1", {"cmd": "reset_trap", "trap": 1}, now=start + timedelta(days=3))
    assert queue.next_queued("north-1") == first
    queue.move(first.id, "sent", now=start)
    assert queue.next_queued("north-1") == second
    with pytest.raises(ValueError):
        queue.move(first.id, "lost")
    with pytest.raises(CommandError):
        queue.add("north-1", {"cmd": "reboot", "now": True})
    assert queue.expire(now=start + timedelta(days=8)) == 1  # the first, a week old; the second is not yet
    states = {c.id: c.state for c in queue.for_node("north-1")}
    assert states == {first.id: "expired", second.id: "queued"}
