"""Issue 16: every bad input a technician was seen to give gets one line, a non-zero exit and no traceback.

The real `akker` command, as a person runs it. A read-only folder is a read-only tmpfs mounted for the test
(the tests run as root, which writes through a folder's permission bits); where mounting is not allowed,
/sys, where even root may create no file, stands in for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

AKKER = str(Path(sys.executable).parent / "akker")
KEYS = {"nwk_skey": "000102030405060708090a0b0c0d0e0f", "app_skey": "101112131415161718191a1b1c1d1e1f"}


@pytest.fixture
def place(tmp_path: Path) -> Path:
    (tmp_path / "folder").mkdir()
    (tmp_path / "keys.json").write_text(json.dumps(KEYS))
    (tmp_path / "keys.json").chmod(0o600)
    (tmp_path / "list.db").write_text("eggs, milk, flour\n" * 100)
    (tmp_path / "bad.json").write_text(json.dumps({"role": "node", "board": "sim", "activation": "abp"}))
    return tmp_path


CASES = [
    (["nodes", "add", "--db", "{t}/folder", "--name", "n1", "--dev-addr", "26011b01", "--keys-file", "{t}/keys.json"],
     "--db {t}/folder is a folder: give the database file"),
    (["nodes", "add", "--db", "{t}/nope/f.db", "--name", "n1", "--dev-addr", "26011b01", "--keys-file",
      "{t}/keys.json"], "the folder {t}/nope does not exist: create it"),
    (["nodes", "list", "--db", "{t}/folder"], "is a folder"),
    (["gateway", "status", "--db", "{t}/folder"], "is a folder"),
    (["gateway", "status", "--db", "{t}/missing.db"], "--db {t}/missing.db does not exist"),
    (["sim", "--nodes", "1", "--days", "0.01", "--db", "{t}/folder"], "is a folder"),
    (["sim", "--nodes", "1", "--days", "0.01", "--db", "{t}/nope/f.db"], "the folder {t}/nope does not exist"),
    (["provision", "--db", "{t}/folder", "--name", "n9", "--board", "sim", "--out", "{t}/n9"], "is a folder"),
    (["dashboard", "--db", "{t}/list.db", "--http", "127.0.0.1:0"], "is not an Akker database"),
    (["dashboard", "--db", "{t}/folder", "--http", "127.0.0.1:0"], "is a folder"),
    (["node", "--board", "nope", "--config", "{t}/bad.json", "--cycles", "1"],
     "unknown board 'nope': the boards are heltec_v2, heltec_v3"),
    (["node", "--board", "sim", "--config", "{t}/bad.json", "--cycles", "1"], "dev_addr is required"),
    (["encode", "{{}}"], "set_interval (seconds), set_batch (samples), set_calibration (probe, dry, wet)"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "says"), CASES, ids=[" ".join(c[0][:2]) + f"-{i}" for i, c in enumerate(CASES)])
def test_a_bad_input_is_one_line_that_says_what_to_do(place: Path, argv: list[str], says: str) -> None:
    out = subprocess.run([AKKER, *(a.format(t=place) for a in argv)], capture_output=True, text=True, timeout=60)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(lines) == 1 and lines[0].startswith("akker: ") and says.format(t=place) in lines[0], out.stderr
    assert not (place / "nope").exists()  # nothing created on the way


@pytest.mark.parametrize(
    "command", [["node", "--board", "sim", "--cycles", "1"], ["sim", "--nodes", "1", "--days", "1"]]
)
def test_a_heap_size_the_interpreter_cannot_read_is_refused_by_the_parser(place: Path, command: list[str]) -> None:
    extra = ["--config", str(place / "bad.json")] if command[0] == "node" else ["--db", str(place / "f.db")]
    out = subprocess.run([AKKER, *command, *extra, "--heap", "lots"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith("argument --heap: 'lots' is not a heap size: give bytes, or"
                                                        " with k or m, e.g. 512k")  # fmt: skip
    assert not (place / "f.db").exists()


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "read-only"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    try:
        yield folder if mounted.returncode == 0 else Path("/sys")
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(folder)], check=True)


READ_ONLY_CASES = [
    ["nodes", "add", "--db", "{ro}/farm.db", "--name", "n1", "--dev-addr", "26011b01", "--keys-file", "{t}/keys.json"],
    ["sim", "--nodes", "1", "--days", "0.01", "--db", "{ro}/farm.db"],
    ["node", "--board", "sim", "--config", "{t}/node.json", "--cycles", "1", "--state", "{ro}/state"],
]


@pytest.mark.parametrize("argv", READ_ONLY_CASES, ids=["nodes add", "sim", "node --state"])
def test_a_folder_that_cannot_be_written_is_one_line_naming_the_path(
    place: Path, read_only: Path, argv: list[str]
) -> None:
    # Seen: OSError: [Errno 30] Read-only file system, as a traceback.
    (place / "node.json").write_text(json.dumps({"role": "node", "board": "sim", "activation": "abp",
                                                 "dev_addr": "26011b01", **KEYS}))  # fmt: skip
    out = subprocess.run([AKKER, *(a.format(t=place, ro=read_only) for a in argv)], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(lines) == 1 and lines[0].startswith(f"akker: {read_only}/"), out.stderr
    assert lines[0].endswith(("give a path on a disk that can be written", "or change its permissions")), lines[0]


def test_gateway_run_names_the_option_that_failed(place: Path) -> None:
    # Seen: a busy --http port, like every failure to start, said "check --udp".
    import socket

    from gateway.sim.forwarder import udp_free_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["gateway", "run", "--db", str(place / "f.db"), "--udp", f"127.0.0.1:{udp_free_port()}",
                "--http", f"127.0.0.1:{port}", "--no-network"]  # fmt: skip
        out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=60)
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert last.startswith(f"akker: --http 127.0.0.1:{port}: ") and "another program" in last and "--udp" not in last
    missing = subprocess.run([AKKER, "gateway", "run", "--db", str(place / "nope" / "f.db"), "--udp", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"akker: --db {place}/nope/f.db: the folder {place}/nope does not exist: create it (mkdir -p {place}/nope)"
        " or give another path"]  # fmt: skip


def test_gateway_run_names_a_serial_port_that_is_not_there(place: Path) -> None:
    args = ["gateway", "run", "--db", str(place / "f.db"), "--serial", "/dev/ttyNOPE", "--no-network"]
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=60)
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert last.startswith("akker: --serial: no port /dev/ttyNOPE: is the board plugged in?"), last


def test_the_dashboard_opens_a_registry_no_bridge_has_written_yet(place: Path) -> None:
    # Seen: provision first, then look: "not an Akker database" for the registry `akker nodes add` made.
    db = place / "farm.db"
    add = [AKKER, "nodes", "add", "--db", str(db), "--name", "n1", "--dev-addr", "26011b01",
           "--keys-file", str(place / "keys.json")]  # fmt: skip
    assert subprocess.run(add, capture_output=True, timeout=60).returncode == 0
    with subprocess.Popen([AKKER, "dashboard", "--db", str(db), "--http", "127.0.0.1:0"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as dash:  # fmt: skip
        try:
            assert dash.stdout is not None
            first = dash.stdout.readline()
            assert "http://127.0.0.1:" in first, first + (dash.stderr.read() if dash.poll() is not None else "")
        finally:
            dash.terminate()
            dash.wait(timeout=30)
