"""config.json: defaults, and a clear error for every mistake before anything transmits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firmware.config import ConfigError, load, validate

GOOD: dict[str, Any] = {
    "role": "node",
    "board": "sim",
    "dev_addr": "26011bda",
    "nwk_skey": "00112233445566778899aabbccddeeff",
    "app_skey": "ffeeddccbbaa99887766554433221100",
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def test_an_otaa_node_needs_its_euis_and_app_key_and_no_session_keys() -> None:
    raw = {
        "role": "node",
        "board": "sim",
        "activation": "otaa",
        "dev_eui": "70b3d57ed0000001",
        "join_eui": "0000000000000000",
        "app_key": "b6b53f4a168a7a88bdf7ea135ce9cfca",
    }
    cfg = validate(raw)
    assert cfg["dev_eui"] == bytes.fromhex("70b3d57ed0000001")
    assert cfg["app_key"] == bytes.fromhex(raw["app_key"])
    assert "dev_addr" not in cfg and "nwk_skey" not in cfg
    assert cfg["adr"] is True


def test_defaults() -> None:
    cfg = validate(dict(GOOD))
    assert cfg["dev_addr"] == 0x26011BDA
    assert cfg["nwk_skey"] == bytes.fromhex(GOOD["nwk_skey"])
    assert cfg["radio"] == {
        "channels_khz": [868100, 868300, 868500],
        "sf": 9,
        "bw_khz": 125,
        "tx_power_dbm": 14,
        "sync_word": 0x34,
        "rx_delay_s": 1,
        "rx2_khz": 869525,
        "rx2_sf": 12,
    }
    assert cfg["activation"] == "abp" and cfg["adr"] is False and cfg["confirmed"] is False
    assert "app_key" not in cfg and "dev_eui" not in cfg
    assert cfg["interval_s"] == 900
    assert cfg["sensors"]["battery"] is True


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ([], "must be an object"),
        ({k: v for k, v in GOOD.items() if k != "dev_addr"}, "dev_addr is required for abp activation"),
        (with_(activation="otaa"), "dev_eui is required for otaa activation"),
        (with_(activation="OTAA"), 'activation must be "otaa" or "abp"'),
        (with_(activation="otaa", dev_eui="00" * 8, join_eui="00" * 8), "app_key is required"),
        (with_(activation="otaa", dev_eui="00" * 7, join_eui="00" * 8, app_key="00" * 16), "dev_eui must be 16 hex"),
        (with_(dev_addr="26011bd"), "dev_addr must be 8 hex digits"),
        (with_(nwk_skey="zz" * 16), "nwk_skey must be 32 hex digits"),
        (with_(role="repeater"), "role must be node or gateway"),
        (with_(colour="red"), "unknown key colour"),
        (with_(radio={"sf": 13}), "radio.sf = 13 must be a number in 7..12"),
        (with_(radio={"sfx": 9}), "unknown key radio.sfx"),
        (with_(radio={"channels_khz": [915000]}), "EU868"),
        (with_(radio={"channels_khz": []}), "1..16 frequencies"),
        (with_(radio={"bw_khz": 200}), "125, 250 or 500"),
        (with_(interval_s=30), "interval_s = 30"),
        (with_(samples_per_uplink=9), "samples_per_uplink"),
        (with_(low_battery_v="3.3"), "low_battery_v"),
        (with_(sensors={"soil_moisture": [{"dry": 100, "wet": 100}]}), "dry == wet"),
        (with_(sensors={"soil_moisture": [{"dry": 100}]}), "wet is required"),
        (with_(sensors={"soil_moisture": [{"dry": 1, "wet": 2}] * 5}), "at most 4"),
        (with_(sensors={"air": "bme280"}), "sensors.air"),
        (with_(sensors={"traps": 3}), "sensors.traps"),
        (with_(sensors={"battery": 1}), "true or false"),
    ],
)
def test_mistakes_are_named(raw: Any, phrase: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(raw)
    assert phrase in str(info.value)


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        ({"role": "gateway", "board": "heltec_v3"}, set()),
        ({"role": "gateway", "board": "heltec_v3", "dev_addr": "26011bda"}, {"dev_addr"}),
        ({**GOOD, "role": "gateway"}, {"dev_addr", "nwk_skey", "app_skey"}),
    ],
)
def test_a_gateway_needs_no_session_keys(raw: dict[str, Any], keys: set[str]) -> None:
    cfg = validate(raw)
    assert {"dev_addr", "nwk_skey", "app_skey"} & cfg.keys() == keys
    assert cfg["radio"]["channels_khz"] == [868100, 868300, 868500] and cfg["sensors"]["traps"] == 0


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ({"role": "gateway", "board": "sim", "dev_addr": "xyz"}, "dev_addr must be 8 hex digits"),
        ({"role": "gateway", "board": "sim", "app_skey": "00"}, "app_skey must be 32 hex digits"),
        ({"role": "gateway"}, "board is required"),
        ({"role": "gateway", "board": "sim", "radio": {"sf": 6}}, "radio.sf = 6"),
        ({"role": "gateway", "board": "sim", "radio": {"channels_khz": [915000]}}, "EU868"),
        ({"board": "sim"}, "role is required"),
    ],
)
def test_gateway_mistakes_are_named(raw: dict[str, Any], phrase: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(raw)
    assert phrase in str(info.value)


def test_load_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        load(str(tmp_path / "config.json"))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load(str(tmp_path / "config.json"))
    (tmp_path / "config.json").write_text(json.dumps(GOOD))
    assert load(str(tmp_path / "config.json"))["board"] == "sim"


def test_keys_never_appear_in_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        validate(with_(interval_s=1))
    assert GOOD["nwk_skey"] not in str(info.value) and GOOD["app_skey"] not in str(info.value)
