"""`akker provision`: a registered identity, a config the firmware accepts, a label without keys."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from firmware import config as firmware_config
from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from gateway.workshop.provision import ProvisionError, parse_range

AKKER = str(Path(sys.executable).parent / "akker")


def akker(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def provision(tmp: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return akker("provision", "--db", str(tmp / "farm.db"), "--name", name, *extra, cwd=tmp)


def test_an_abp_node_is_registered_with_the_keys_in_its_config(tmp_path: Path) -> None:
    out = provision(tmp_path, "north-3", "--abp", "--board", "heltec_v3", "--soil", "2", "--soil-temp", "1",
                    "--air", "sht4x", "--traps", "1", "--dev-addr-range", "00001000-00001fff")  # fmt: skip
    assert out.returncode == 0, out.stderr
    config_file = tmp_path / "nodes" / "north-3" / "config.json"
    cfg = json.loads(config_file.read_text())
    assert oct(config_file.stat().st_mode & 0o777) == "0o600"
    node = Registry(open_db(tmp_path / "farm.db")).by_name("north-3")
    assert node is not None and node.board == "heltec_v3"
    assert cfg["dev_addr"] == f"{node.dev_addr:08x}" and 0x1000 <= node.dev_addr <= 0x1FFF
    assert bytes.fromhex(cfg["nwk_skey"]) == node.nwk_skey and bytes.fromhex(cfg["app_skey"]) == node.app_skey
    assert node.nwk_skey != node.app_skey
    checked = firmware_config.validate(cfg)
    assert checked["sensors"]["traps"] == 1 and len(checked["sensors"]["soil_moisture"]) == 2
    # One summary line, then the label; no key anywhere a person or a log would see.
    first = out.stdout.splitlines()[0]
    assert first.startswith("provisioned north-3: DevAddr ") and "heltec_v3" in first
    label = (tmp_path / "nodes" / "north-3" / "label.txt").read_text()
    assert f"{node.dev_addr:08X}" in label and label in out.stdout
    for key in (cfg["nwk_skey"], cfg["app_skey"]):
        assert key not in out.stdout + out.stderr + label


def test_every_node_gets_its_own_address_and_keys(tmp_path: Path) -> None:
    for i in range(6):
        assert (
            provision(tmp_path, f"n{i}", "--abp", "--board", "sim", "--dev-addr-range", "00000001-00000006").returncode
            == 0
        )
    nodes = Registry(open_db(tmp_path / "farm.db")).all()
    assert sorted(n.dev_addr for n in nodes) == [1, 2, 3, 4, 5, 6]
    assert len({n.nwk_skey for n in nodes} | {n.app_skey for n in nodes}) == 12
    full = provision(tmp_path, "n7", "--abp", "--board", "sim", "--dev-addr-range", "00000001-00000006")
    assert full.returncode == 2 and "no free DevAddr" in full.stderr


def test_the_first_frame_of_a_provisioned_abp_node_is_accepted_by_the_bridge(tmp_path: Path) -> None:
    assert provision(tmp_path, "sim-1", "--abp", "--board", "sim", "--soil", "2", "--soil-temp", "2", "--air", "sht4x",
                     "--traps", "2").returncode == 0  # fmt: skip
    run = akker("node", "--board", "sim", "--config", str(tmp_path / "nodes" / "sim-1" / "config.json"),
                "--cycles", "2")  # fmt: skip
    assert run.returncode == 0, run.stderr
    frames = [json.loads(line) for line in run.stdout.splitlines()]
    rx = Reception("board:sim", -90.0, 8.0, frames[0]["freq_khz"] * 1000, frames[0]["sf"], frames[0]["bw_khz"])
    p = Pipeline(tmp_path / "farm.db", [])
    outcomes = p.process([UplinkFrame(bytes.fromhex(f["phy"]), rx, "test", UplinkFrame.now()) for f in frames])
    assert outcomes == ["accepted"] * len(frames)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--board", "nope"], "unknown board 'nope': use one of"),
        (["--board", "heltec_v3", "--soil", "5"], "heltec_v3 has 3 soil probe inputs, not 5"),
        (["--board", "sim", "--sf", "13"], "radio.sf = 13 must be a number in 7..12"),
        (["--board", "sim", "--abp", "--dev-addr-range", "1-2"], "two 8-digit hex numbers"),
        (["--board", "sim", "--dev-eui", "70b3d57e"], "--dev-eui '70b3d57e': write 16 hex digits"),
        (["--board", "sim", "--join-eui", "zz" * 8], "--join-eui"),
        (["--board", "sim", "--channels", "868.1"], "--channels"),
        (["--board", "sim", "--channels", "915000"], "863000..870000"),
    ],
)
def test_mistakes_are_one_line_that_says_what_to_do(tmp_path: Path, args: list[str], message: str) -> None:
    out = provision(tmp_path, "x", *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "nodes" / "x" / "config.json").exists()
    if (tmp_path / "farm.db").exists():
        registry = Registry(open_db(tmp_path / "farm.db"))
        assert registry.by_name("x") is None and registry.otaa_by_name("x") is None  # nothing half-done


@pytest.mark.parametrize("name", ["../escaped", "nörth²", ""])
def test_a_name_no_node_may_have_leaves_nothing_behind(tmp_path: Path, name: str) -> None:
    # Seen: the folder nodes/<name> was made before the registry refused the name; `../x` escaped nodes/.
    before = set(tmp_path.rglob("*"))
    out = provision(tmp_path, name, "--board", "sim")
    assert out.returncode == 2 and "ASCII letters" in out.stderr, out.stderr
    assert set(tmp_path.rglob("*")) == before


def test_a_name_or_a_config_already_there_is_never_overwritten(tmp_path: Path) -> None:
    assert provision(tmp_path, "a", "--board", "sim").returncode == 0
    keys = (tmp_path / "nodes" / "a" / "config.json").read_text()
    again = provision(tmp_path, "a", "--board", "sim")
    assert again.returncode == 2 and "exists" in again.stderr
    other = provision(tmp_path, "a", "--board", "sim", "--out", "elsewhere")
    assert other.returncode == 2 and "registered already" in other.stderr
    assert (tmp_path / "nodes" / "a" / "config.json").read_text() == keys


def test_an_otaa_node_is_the_default_with_its_root_keys_registered_and_never_shown(tmp_path: Path) -> None:
    out = provision(tmp_path, "east-1", "--board", "heltec_v3", "--soil", "1", "--join-eui", "70B3D57ED0000000")
    assert out.returncode == 0, out.stderr
    cfg = json.loads((tmp_path / "nodes" / "east-1" / "config.json").read_text())
    assert cfg["activation"] == "otaa" and "dev_addr" not in cfg and "nwk_skey" not in cfg
    device = Registry(open_db(tmp_path / "farm.db")).otaa_by_name("east-1")
    assert device is not None and device.mac_version == "1.0.4" and device.board == "heltec_v3"
    assert cfg["dev_eui"] == device.dev_eui.hex() and cfg["join_eui"] == "70b3d57ed0000000"
    assert bytes.fromhex(cfg["app_key"]) == device.app_key
    assert device.dev_eui[0] & 0x03 == 0x02  # a random EUI-64 is marked locally administered, unicast
    assert firmware_config.validate(cfg)["adr"] is True
    label = (tmp_path / "nodes" / "east-1" / "label.txt").read_text()
    assert device.dev_eui.hex().upper() in label
    first = out.stdout.splitlines()[0]
    assert first.startswith(f"provisioned east-1: OTAA, DevEUI {device.dev_eui.hex()}, JoinEUI 70b3d57ed0000000")
    assert cfg["app_key"] not in out.stdout + out.stderr + label and cfg["app_key"].upper() not in label
    assert repr(device).count(cfg["app_key"]) == 0


def test_a_dev_eui_given_twice_is_refused(tmp_path: Path) -> None:
    assert provision(tmp_path, "a", "--board", "sim", "--dev-eui", "70b3d57ed0000001").returncode == 0
    again = provision(tmp_path, "b", "--board", "sim", "--dev-eui", "70B3D57ED0000001")
    assert again.returncode == 2 and "DevEUI 70b3d57ed0000001 already belongs to another node" in again.stderr
    abp_same_name = provision(tmp_path, "a", "--abp", "--board", "sim", "--out", "x")
    assert abp_same_name.returncode == 2 and "registered already" in abp_same_name.stderr


def test_ranges() -> None:
    assert parse_range("00000001-01ffffff") == (1, 0x01FFFFFF)
    with pytest.raises(ProvisionError, match="empty"):
        parse_range("00000010-00000001")


def _heard(db_path: Path, gateway: str, source: str, freq_hz: int, sf: int, at: datetime | None = None) -> None:
    """A JoinRequest-shaped frame from the gateway, through the bridge's pipeline, which notes the gateway."""
    rx = Reception(gateway, -90.0, 5.0, freq_hz, sf, 125)
    frame = UplinkFrame(b"\x00" + bytes(22), rx, source, at or datetime.now(timezone.utc))
    assert Pipeline(db_path, []).process([frame]) == ["join_request"]


def test_a_node_is_set_to_what_the_farms_gateway_board_listens_on(tmp_path: Path) -> None:
    db_path = tmp_path / "farm.db"
    none_yet = provision(tmp_path, "first", "--board", "sim")
    assert none_yet.returncode == 0, none_yet.stderr
    assert "no gateway has reported" in none_yet.stdout
    cfg = json.loads((tmp_path / "nodes" / "first" / "config.json").read_text())
    assert (cfg["radio"]["channels_khz"], cfg["radio"]["sf"]) == ([868100, 868300, 868500], 9)

    _heard(db_path, "board:heltec-1", "serial", 868_300_000, 10)
    out = provision(tmp_path, "second", "--board", "sim")
    assert out.returncode == 0, out.stderr
    cfg = json.loads((tmp_path / "nodes" / "second" / "config.json").read_text())
    assert (cfg["radio"]["channels_khz"], cfg["radio"]["sf"]) == ([868300], 10)
    assert "868.3 MHz SF10 (board:heltec-1)" in out.stdout
    chosen = provision(tmp_path, "third", "--board", "sim", "--sf", "8")  # what the technician says wins
    cfg = json.loads((tmp_path / "nodes" / "third" / "config.json").read_text())
    assert chosen.returncode == 0 and (cfg["radio"]["channels_khz"], cfg["radio"]["sf"]) == ([868300], 8)
    assert "as given, but no gateway board of this farm hears it there" in chosen.stdout  # said, not refused

    _heard(db_path, "aa555a0000000001", "udp", 867_500_000, 7)  # an 8-channel gateway joins the farm
    out = provision(tmp_path, "fourth", "--board", "sim")
    cfg = json.loads((tmp_path / "nodes" / "fourth" / "config.json").read_text())
    assert out.returncode == 0 and (cfg["radio"]["channels_khz"], cfg["radio"]["sf"]) == ([868100, 868300, 868500], 9)
    assert "hears every channel" in out.stdout


def test_boards_on_other_spreading_factors_do_not_lend_the_node_their_channels(tmp_path: Path) -> None:
    # Seen in review: channels came from every board and the SF from one, so half the node's frames went
    # to a channel at an SF that no board there listens at.
    now = datetime.now(timezone.utc)
    _heard(tmp_path / "farm.db", "board:a", "serial", 868_100_000, 9, now - timedelta(minutes=1))
    _heard(tmp_path / "farm.db", "board:b", "serial", 868_300_000, 7, now)  # seen last
    out = provision(tmp_path, "n1", "--board", "sim")
    cfg = json.loads((tmp_path / "nodes" / "n1" / "config.json").read_text())
    assert out.returncode == 0 and (cfg["radio"]["channels_khz"], cfg["radio"]["sf"]) == ([868300], 7), out.stdout
