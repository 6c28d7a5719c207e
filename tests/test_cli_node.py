"""`akker node` as a developer runs it: the firmware under MicroPython, frames on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gateway.sim.nodes import DEV_EUI, JOIN_EUI, otaa_config
from payload_codec import decode_uplink
from payload_codec.lorawan import open_uplink
from payload_codec.lorawan_join_server import parse_join_request
from tests.firmware.sim_node import APP, NWK, node_config

AKKER = str(Path(sys.executable).parent / "akker")


def akker_node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, "node", *args], capture_output=True, text=True, timeout=300)


def test_frames_open_and_decode_and_a_second_run_goes_on(tmp_path: Path) -> None:
    config = tmp_path / "node.json"
    config.write_text(json.dumps(node_config(samples_per_uplink=2)))
    state = tmp_path / "state"
    first = akker_node("--board", "sim", "--config", str(config), "--cycles", "6", "--state", str(state))
    assert first.returncode == 0, first.stderr
    second = akker_node("--board", "sim", "--config", str(config), "--cycles", "4", "--state", str(state))
    assert second.returncode == 0, second.stderr
    lines = [json.loads(line) for line in (first.stdout + second.stdout).splitlines()]
    assert {"t_ms", "freq_khz", "sf", "phy"} <= lines[0].keys()
    assert all(line["freq_khz"] in (868100, 868300, 868500) and line["sf"] == 9 for line in lines)
    last = None
    kinds = []
    for line in lines:
        fcnt, fport, plaintext = open_uplink(bytes.fromhex(line["phy"]), NWK, APP, last_fcnt=last)
        last = fcnt
        kinds.append(decode_uplink(fport, plaintext)["type"])
    # One status at the first boot; the second run wakes from "deep sleep" state kept on flash only,
    # so it boots again (a new process is a power-on) and says so.
    assert kinds.count("report") == 5 and kinds.count("status") == 2
    assert [t for t in (line["t_ms"] for line in lines)] == sorted(line["t_ms"] for line in lines)


def test_verbose_shows_the_firmware_log(tmp_path: Path) -> None:
    config = tmp_path / "node.json"
    config.write_text(json.dumps(node_config()))
    result = akker_node("--board", "sim", "--config", str(config), "--cycles", "1", "--verbose")
    assert result.returncode == 0
    assert "boot 1 (power_on)" in result.stderr


def test_refusals(tmp_path: Path) -> None:
    config = tmp_path / "node.json"
    config.write_text("{broken")
    for args, phrase in (
        (("--board", "heltec_v3", "--config", str(config), "--cycles", "1"), "real hardware"),
        (("--board", "sim", "--config", str(tmp_path / "none.json"), "--cycles", "1"), "cannot read"),
        (("--board", "sim", "--config", str(config), "--cycles", "1"), "not valid JSON"),
        (("--board", "sim", "--config", str(config), "--cycles", "0"), "at least 1"),
    ):
        result = akker_node(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("akker: ") and phrase in result.stderr
        assert "Traceback" not in result.stderr


def test_an_otaa_node_nobody_answers_keeps_joining_within_the_back_off_and_never_crashes(tmp_path: Path) -> None:
    config = tmp_path / "otaa.json"
    config.write_text(json.dumps(otaa_config(interval_s=60)))
    state = tmp_path / "state"
    runs = [
        akker_node("--board", "sim", "--config", str(config), "--cycles", "40", "--state", str(state), "--verbose")
        for _ in range(2)
    ]
    assert all(r.returncode == 0 and "Traceback" not in r.stderr and "error" not in r.stderr for r in runs)
    frames = [json.loads(line) for r in runs for line in r.stdout.splitlines()]
    requests = [parse_join_request(bytes.fromhex(f["phy"])) for f in frames]
    assert all(join_eui == JOIN_EUI and dev_eui == DEV_EUI for join_eui, dev_eui, _ in requests)
    # The second run is a power-on: its DevNonces go on from the first run's, never back.
    assert [nonce for _, _, nonce in requests] == list(range(len(requests)))
    assert "next JoinRequest in" in runs[0].stderr  # the back-off, said in the log
