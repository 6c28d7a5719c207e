"""One version: firmware/version.py defines it; the package metadata, the firmware, the bridge and the CLI agree."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
from setuptools.config.pyprojecttoml import read_configuration

from firmware.version import VERSION, VERSION_TEXT
from gateway import cli
from gateway.bridge import wiring
from gateway.bridge.sinks.mqtt import MqttSink
from payload_codec import decode_uplink, encode_uplink

ROOT = Path(__file__).parents[1]


def test_the_text_is_the_tuple_the_status_message_carries() -> None:
    assert ".".join(map(str, VERSION)) == VERSION_TEXT
    status = {
        "type": "status",
        "reset_cause": "power_on",
        "firmware": list(VERSION),
        "config_crc": 0,
        "board": "sim",
        "uptime_s": 0,
        "tx_frames": 0,
        "sensor_errors": 0,
        "radio_errors": 0,
    }
    assert decode_uplink(*encode_uplink(status))["firmware"] == list(VERSION)


def test_pyproject_takes_its_version_from_the_firmware() -> None:
    project = read_configuration(ROOT / "pyproject.toml")["project"]
    assert project["version"] == VERSION_TEXT


def test_the_installed_package_metadata_has_the_same_version() -> None:
    # Metadata is written at install time: after a change to firmware/version.py it lags until reinstalled.
    installed = metadata.version("akker")
    assert installed == VERSION_TEXT, (
        f"akker {installed} is installed, firmware/version.py says {VERSION_TEXT}: "
        "reinstall with .venv/bin/pip install --no-deps --no-build-isolation -e ."
    )


def test_the_bridge_reports_it_in_its_health_file_and_mqtt_status(tmp_path: Path) -> None:
    bridge = wiring.Bridge(tmp_path / "bridge.db", [], [])  # no I/O until start()
    assert bridge.health._state["version"] == VERSION_TEXT
    sink = MqttSink("mqtt://127.0.0.1:1", "barn")  # builds a client, connects only in start()
    assert json.loads(sink._status("online"))["version"] == VERSION_TEXT


def test_akker_version_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"akker {VERSION_TEXT}\n"
