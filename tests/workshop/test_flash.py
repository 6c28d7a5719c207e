"""`akker flash`: the exact esptool command lines, and a one-line answer for every failure a technician meets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.workshop.flash import MICROPYTHON_VERSION, esptool_commands, explain_esptool
from gateway.workshop.provision import board_file

AKKER = str(Path(sys.executable).parent / "akker")


def akker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize(
    ("board", "chip", "offset"), [("heltec_v3", "esp32s3", "0x0"), ("heltec_v2", "esp32", "0x1000"),
                                  ("lilygo_t3s3", "esp32s3", "0x0"), ("heltec_wsl_v3", "esp32s3", "0x0")]
)  # fmt: skip
def test_esptool_command_lines(board: str, chip: str, offset: str) -> None:
    erase, write = esptool_commands(board_file(board), "/dev/ttyUSB0", Path("fw.bin"))
    esptool = [sys.executable, "-m", "esptool", "--chip", chip, "--port", "/dev/ttyUSB0"]
    assert erase == [*esptool, "erase-flash"]
    assert write == [*esptool, "--baud", "460800", "write-flash", offset, "fw.bin"]


def test_no_chip_on_the_port_says_how_to_reach_the_bootloader(tmp_path: Path, empty_port: str) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xe9" + bytes(1023))
    out = akker("flash", "--board", "heltec_v3", "--port", empty_port, "--firmware", str(image))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    expected = (
        f"akker: no ESP32 answers on {empty_port}: use a data cable (not charge-only), hold BOOT while pressing"
        " RESET to enter the bootloader, then run the command again"
    )
    assert out.stderr.strip().splitlines() == [expected]
    assert f"erasing the flash on {empty_port}" in out.stdout  # esptool's own progress went through


def test_a_missing_port_and_a_missing_file(tmp_path: Path) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\xe9")
    out = akker("flash", "--board", "heltec_v3", "--port", "/dev/ttyUSB97", "--firmware", str(image))
    assert out.returncode == 2 and "no port /dev/ttyUSB97: is the board plugged in?" in out.stderr
    out = akker("flash", "--board", "heltec_v3", "--port", "/dev/ttyUSB0", "--firmware", str(tmp_path / "nope.bin"))
    assert out.returncode == 2 and "no firmware file" in out.stderr
    out = akker("flash", "--board", "nope", "--port", "/dev/ttyUSB0")
    assert out.returncode == 2 and "unknown board 'nope'" in out.stderr


def test_offline_without_a_cached_image_says_so_plainly(tmp_path: Path) -> None:
    # A proxy that refuses connections stands for a laptop without internet, whatever CI can reach.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HOME": str(tmp_path)}  # fmt: skip
    out = akker("flash", "--board", "heltec_v3", "--port", "/dev/ttyUSB97", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "akker: offline: cannot download MicroPython for ESP32_GENERIC_S3" in out.stderr
    assert "--firmware FILE" in out.stderr


def test_a_cached_image_is_used_without_downloading(tmp_path: Path) -> None:
    cached = tmp_path / "akker" / "firmware" / "esp32" / f"ESP32_GENERIC_S3-v{MICROPYTHON_VERSION}.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\xe9")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9"}
    out = akker("flash", "--board", "heltec_v3", "--port", "/dev/ttyUSB97", env=env)
    assert f"using {cached} (cached)" in out.stdout
    assert out.returncode == 2 and "no port /dev/ttyUSB97" in out.stderr


def test_rp2040_boards_get_the_uf2_steps() -> None:
    out = akker("flash", "--board", "rak11310", "--port", "/dev/ttyACM0")
    assert out.returncode == 0
    assert "RPI-RP2" in out.stdout and "BOOTSEL" in out.stdout and "RPI_PICO" in out.stdout


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("could not open port /dev/ttyUSB0: [Errno 13] Permission denied: '/dev/ttyUSB0'", "dialout group"),
        ("Could not exclusively lock port /dev/ttyUSB0: [Errno 11] Resource temporarily unavailable", "is busy"),
        ("[Errno 16] Device or resource busy: '/dev/ttyUSB0'", "another program holds it"),
        ("A fatal error occurred: This chip is ESP32 not ESP32-S3. Wrong --chip argument?", "check --board"),
        ("A fatal error occurred: Failed to connect to ESP32-S3: No serial data received.", "hold BOOT"),
        ("something new\nA fatal error occurred: Flash ID mismatch\n", "esptool failed on /dev/ttyUSB0: A fatal"),
    ],
)
def test_esptool_errors_become_one_line_with_the_fix(output: str, expected: str) -> None:
    assert expected in explain_esptool(output, "/dev/ttyUSB0", "heltec_v3")
