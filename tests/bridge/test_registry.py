"""The node registry and `akker nodes`: one node per name and DevAddr, keys kept out of sight."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.bridge.registry import Registry, RegistryError, open_db, valid_node_name

AKKER = str(Path(sys.executable).parent / "akker")
NWK = "00112233445566778899aabbccddeeff"
APP = "ffeeddccbbaa99887766554433221100"


def akker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=30)


def add(db: Path, name: str = "north-3", dev_addr: str = "26011bda", *extra: str) -> subprocess.CompletedProcess[str]:
    return akker("nodes", "add", "--db", str(db), "--name", name, "--dev-addr", dev_addr, "--nwk-skey", NWK,
                 "--app-skey", APP, *extra)  # fmt: skip


def test_add_list_and_keys_only_on_request(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    assert add(db, "north-3", "26011bda", "--board", "heltec_v3").returncode == 0
    assert add(db, "south-1", "26011bdb").returncode == 0
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    plain = akker("nodes", "list", "--db", str(db), "--json")
    rows = json.loads(plain.stdout)
    assert [(r["name"], r["dev_addr"], r["board"]) for r in rows] == [
        ("north-3", "26011bda", "heltec_v3"),
        ("south-1", "26011bdb", None),
    ]
    assert NWK not in plain.stdout and APP not in plain.stdout
    shown = akker("nodes", "list", "--db", str(db), "--show-keys")
    assert NWK in shown.stdout and APP in shown.stdout


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("north-3", "26011bdc"), "already exists"),
        (("east-2", "26011bda"), "already belongs to north-3"),
        (("east-2", "26011bd"), "--dev-addr must be 8 hex digits"),
        (("east 2", "26011bdc"), "letters, digits"),
        (("east-2", "26011bdc", "--board", "esp8266"), "unknown board 'esp8266'"),
    ],
)
def test_refusals_name_the_fix(tmp_path: Path, args: tuple[str, ...], phrase: str) -> None:
    db = tmp_path / "bridge.db"
    add(db)
    result = add(db, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("akker: ") and phrase in result.stderr
    assert NWK not in result.stderr and APP not in result.stderr


def test_otaa_nodes_are_added_with_their_root_key_from_a_file_and_listed_as_json(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    assert add(db, "north-3", "26011bda").returncode == 0
    keys = tmp_path / "east.keys"
    keys.write_text(json.dumps({"app_key": APP}))
    keys.chmod(0o600)
    out = akker("nodes", "add", "--db", str(db), "--name", "east-1", "--otaa", "--dev-eui", "70B3D57ED0000A01",
                "--join-eui", "70b3d57ed0000000", "--keys-file", str(keys), "--mac-version", "1.0.3")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "added east-1 (OTAA, DevEUI 70b3d57ed0000a01, LoRaWAN 1.0.3)"
    rows = {r["name"]: r for r in json.loads(akker("nodes", "list", "--db", str(db), "--json").stdout)}
    keys_of = {"name", "activation", "dev_eui", "join_eui", "dev_addr", "fcnt_up", "fcnt_down", "last_seen"}
    assert all(keys_of <= set(r) for r in rows.values())
    assert rows["east-1"]["activation"] == "otaa" and rows["east-1"]["dev_eui"] == "70b3d57ed0000a01"
    assert rows["east-1"]["dev_addr"] is None and rows["north-3"]["activation"] == "abp"
    assert "app_key" not in rows["east-1"] and APP not in json.dumps(rows)
    shown = {r["name"]: r for r in json.loads(akker("nodes", "list", "--db", str(db), "--json", "--show-keys").stdout)}
    assert shown["east-1"]["app_key"] == APP and shown["north-3"]["nwk_skey"] == NWK
    again = akker("nodes", "add", "--db", str(db), "--name", "east-2", "--otaa", "--dev-eui", "70b3d57ed0000a01",
                  "--join-eui", "70b3d57ed0000000", "--keys-file", str(keys))  # fmt: skip
    assert again.returncode == 2 and "DevEUI 70b3d57ed0000a01 already belongs to east-1" in again.stderr


def test_a_node_on_a_network_server_is_added_by_its_dev_eui_alone_and_listed(tmp_path: Path) -> None:
    # Issue 15: its keys live in The Things Stack or ChirpStack; the bridge only needs to know it is ours.
    db = tmp_path / "bridge.db"
    assert add(db, "north-3", "26011bda").returncode == 0
    out = akker("nodes", "add", "--db", str(db), "--name", "ttn-1", "--network", "ttn", "--dev-eui", "70B3D57ED0000B01")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "added ttn-1 (ttn, DevEUI 70b3d57ed0000b01): its frames come from there"
    shown = {r["name"]: r for r in json.loads(akker("nodes", "list", "--db", str(db), "--json", "--show-keys").stdout)}
    assert shown["ttn-1"] | {"last_seen": None} == {
        "name": "ttn-1", "activation": None, "network": "ttn", "dev_eui": "70b3d57ed0000b01", "join_eui": None,
        "dev_addr": None, "fcnt_up": None, "fcnt_down": None, "last_seen": None, "board": None, "app_key": None,
        "nwk_skey": None, "app_skey": None, "adr": None, "commands": [],
    }  # fmt: skip
    assert shown["north-3"]["network"] == "akker"
    assert Registry(open_db(db)).names() == ["north-3", "ttn-1"]  # alerts are published for both
    clash = akker("nodes", "add", "--db", str(db), "--name", "north-3", "--network", "chirpstack",
                  "--dev-eui", "11" * 8)  # fmt: skip
    assert clash.returncode == 2 and "a node named 'north-3' already exists" in clash.stderr
    keys = tmp_path / "k.keys"
    keys.write_text(json.dumps({"app_key": APP}))
    keys.chmod(0o600)
    otaa = akker("nodes", "add", "--db", str(db), "--name", "e-1", "--otaa", "--dev-eui", "70b3d57ed0000b01",
                 "--join-eui", "00" * 8, "--keys-file", str(keys))  # fmt: skip
    assert otaa.returncode == 2 and "belongs to a network server's node" in otaa.stderr
    send = akker("nodes", "send", "--db", str(db), "ttn-1", '{"cmd": "reboot"}')
    assert send.returncode == 0 and "(goes out through ttn, from a bridge reading it)" in send.stdout, send.stderr


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (("--keys-file", "k.keys"), "its keys stay in the network server; give --dev-eui only"),
        (("--otaa",), "give --dev-eui only"),
        (("--network", "helium"), "invalid choice"),
    ],
)
def test_network_server_nodes_refuse_keys(tmp_path: Path, extra: tuple[str, ...], phrase: str) -> None:
    network = () if "--network" in extra else ("--network", "ttn")
    out = akker("nodes", "add", "--db", str(tmp_path / "b.db"), "--name", "t", "--dev-eui", "00" * 8, *network, *extra)
    assert out.returncode == 2 and phrase in out.stderr and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        ((), "--otaa: give the AppKey with --keys-file"),
        (("--dev-addr", "26011bdc"), "leave out --dev-addr"),
        (("--mac-version", "1.1"), "invalid choice"),
    ],
)
def test_otaa_refusals_name_the_fix(tmp_path: Path, extra: tuple[str, ...], phrase: str) -> None:
    out = akker("nodes", "add", "--db", str(tmp_path / "b.db"), "--name", "e", "--otaa", "--dev-eui", "00" * 8,
                "--join-eui", "00" * 8, *extra)  # fmt: skip
    assert out.returncode == 2 and phrase in out.stderr, out.stderr


def test_list_without_a_database(tmp_path: Path) -> None:
    result = akker("nodes", "list", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 2 and "akker nodes add" in result.stderr


def test_registry_lookup_and_counter(tmp_path: Path) -> None:
    reg = Registry(open_db(tmp_path / "b.db"))
    node = reg.add("n1", 0xFEDCBA98, bytes(range(16)), bytes(range(1, 17)))
    assert reg.by_dev_addr(0xFEDCBA98) == node
    assert reg.by_dev_addr(1) is None
    assert reg.last_fcnt(0xFEDCBA98) is None
    reg.record_fcnt(0xFEDCBA98, 70000)
    reg.db.commit()
    assert reg.by_name("n1").last_fcnt == 70000 == reg.last_fcnt(0xFEDCBA98)  # type: ignore[union-attr]
    assert reg.names() == ["n1"] and reg.count() == 1
    assert bytes(range(16)).hex() not in repr(node)
    with pytest.raises(RegistryError, match="must differ"):
        reg.add("n2", 2, bytes(16), bytes(16))


@pytest.mark.parametrize("name", ["nörth²", "north 1", "north/1", "", "n" * 65, "٣", "north-1\n"])
def test_names_outside_the_one_rule_are_refused_with_the_rule(tmp_path: Path, name: str) -> None:
    reg = Registry(open_db(tmp_path / "b.db"))
    with pytest.raises(RegistryError, match=re.escape("1 to 64 ASCII letters, digits, - or _")):
        reg.add(name, 1, bytes(range(16)), bytes(range(1, 17)))
    assert reg.all() == []
    assert not valid_node_name(name)


def test_akker_nodes_add_refuses_a_name_the_dashboard_could_not_show(tmp_path: Path) -> None:
    result = add(tmp_path / "bridge.db", "nörth²")
    assert result.returncode == 2 and "ASCII letters, digits, - or _" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_locked_by_another_program_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # Seen in review: `akker nodes add` on a store another program held locked printed a traceback.
    db = tmp_path / "bridge.db"
    assert add(db).returncode == 0
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = add(db, "north-4", "26011bdc")
    finally:
        blocker.close()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("akker: ") and "locked by another program" in result.stderr


def test_a_reader_that_stops_reading_is_no_error(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    registry = Registry(open_db(db))
    for i in range(2000):  # more than a pipe holds, so that the writer meets the closed pipe
        registry.add(f"n{i}", 0x26010000 + i, bytes(range(16)), bytes(range(1, 17)))
    # `akker nodes list | head -1`: the pipe closes under the writer.
    out = subprocess.run(f"{AKKER} nodes list --db {db} | head -1", shell=True, capture_output=True, text=True)
    assert out.stderr == "" and out.stdout.startswith("name=n0"), out.stderr
