"""`akker flash`: the exact esptool command lines, and a one-line answer for every failure a technician meets.

The port is checked, then the chip (real esptool against a pty: nothing behind
it, or tests/workshop/fake_esp_rom.py's ESP32 bootloader), and only then is
MicroPython downloaded: every test of a refusal also checks that the cache stayed
empty.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import serial

from gateway.workshop.flash import MICROPYTHON_VERSION, esptool_commands, explain_esptool
from gateway.workshop.provision import board_file
from tests.workshop.fake_esp_rom import FakeEsp32Rom

AKKER = str(Path(sys.executable).parent / "akker")
# A loguru line from mpflash: "18:51:04 | (an emoji) Creating firmware folder at ..." (its time, a bar, an emoji).
MPFLASH_LOG = re.compile(r"^\d\d:\d\d:\d\d \| ", re.MULTILINE)
_ROM_OPS = {0x08, 0x0A, 0x14}  # sync, read a register, security info: identification only, nothing written


def akker(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=timeout, env=env)


def offline(home: Path) -> dict[str, str]:
    """A laptop without internet and with an empty cache: a proxy that refuses connections, whatever CI can reach."""
    return {**os.environ, "XDG_CACHE_HOME": str(home / "cache"), "HOME": str(home),
            "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}  # fmt: skip


def one_line(out: subprocess.CompletedProcess[str]) -> str:
    """The single line akker printed on stderr, after checking it failed as a technician should see it."""
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("board", "chip", "offset"), [("heltec_v3", "esp32s3", "0x0"), ("heltec_v2", "esp32", "0x1000"),
                                  ("lilygo_t3s3", "esp32s3", "0x0"), ("heltec_wsl_v3", "esp32s3", "0x0")]
)  # fmt: skip
def test_esptool_command_lines(board: str, chip: str, offset: str) -> None:
    erase, write = esptool_commands(board_file(board), "/dev/ttyUSB0", Path("fw.bin"))
    esptool = [sys.executable, "-m", "esptool", "--chip", chip, "--port", "/dev/ttyUSB0", "--connect-attempts", "7"]
    assert erase == [*esptool, "erase-flash"]
    assert write == [*esptool, "--baud", "460800", "write-flash", offset, "fw.bin"]


def test_a_missing_port_is_named_before_anything_is_downloaded(tmp_path: Path) -> None:
    out = akker("flash", "--board", "heltec_v3", "--port", "/dev/ttyUSB97", env=offline(tmp_path))
    assert one_line(out) == "akker: no port /dev/ttyUSB97: is the board plugged in? List ports with " \
        "`ls /dev/serial/by-id/`"  # fmt: skip
    assert "downloading" not in out.stdout and not (tmp_path / "cache").exists()


def test_a_busy_port_is_named_before_the_chip_is_asked(tmp_path: Path, empty_port: str) -> None:
    with serial.Serial(empty_port, exclusive=True):  # a serial monitor left open
        out = akker("flash", "--board", "heltec_v3", "--port", empty_port, env=offline(tmp_path))
    assert one_line(out).startswith(f"akker: {empty_port} is busy: another program holds it")
    assert not (tmp_path / "cache").exists()


def test_no_chip_on_the_port_says_how_to_reach_the_bootloader_before_any_download(
    tmp_path: Path, empty_port: str
) -> None:
    # A pty with nothing behind it: esptool cannot sync. One attempt keeps it to about a second.
    out = akker("flash", "--board", "heltec_v3", "--port", empty_port, "--connect-attempts", "1",
                env=offline(tmp_path), timeout=20)  # fmt: skip
    assert one_line(out) == (
        f"akker: no ESP32 answers on {empty_port}: use a data cable (not charge-only), hold BOOT (PRG on a Heltec),"
        " press and release RST to enter the bootloader, then release BOOT and run the command again"
    )
    assert out.stdout == f"checking the chip on {empty_port} ...\n"  # esptool's own lines only with --verbose
    assert not (tmp_path / "cache").exists()


def test_a_chip_other_than_the_board_files_is_refused_before_any_download(tmp_path: Path) -> None:
    with FakeEsp32Rom() as rom:
        out = akker("flash", "--board", "heltec_v3", "--port", rom.port, "--connect-attempts", "1",
                    env=offline(tmp_path))  # fmt: skip
    assert one_line(out) == (
        f"akker: the chip on {rom.port} is an ESP32, but boards/heltec_v3.json is for esp32s3: check --board "
        "(nothing was erased)"
    )
    assert set(rom.requests) <= _ROM_OPS and 0x0A in rom.requests  # identified, then left alone
    assert not (tmp_path / "cache").exists()


def test_offline_after_the_chip_check_says_so_without_mpflashs_log(tmp_path: Path) -> None:
    with FakeEsp32Rom() as rom:
        out = akker("flash", "--board", "heltec_v2", "--port", rom.port, "--connect-attempts", "1",
                    env=offline(tmp_path))  # fmt: skip
    assert one_line(out) == (
        f"akker: offline: cannot download MicroPython for ESP32_GENERIC. Connect to the internet and run this again "
        f"(it is kept in {tmp_path / 'cache' / 'akker' / 'firmware'}), or give --firmware FILE"
    )
    firmware = tmp_path / "cache" / "akker" / "firmware"
    assert not MPFLASH_LOG.search(out.stdout + out.stderr)
    assert out.stdout.splitlines() == [
        f"checking the chip on {rom.port} ...",
        f"ESP32 answers on {rom.port}, as boards/heltec_v2.json expects",
        f"downloading MicroPython {MICROPYTHON_VERSION} for ESP32_GENERIC into {firmware} ...",
    ]
    # mpflash's board database went into akker's cache, not into the technician's ~/Downloads.
    assert (firmware / "mpflash.db").exists()
    assert not (tmp_path / "Downloads").exists()


def test_verbose_shows_esptools_and_mpflashs_own_lines(tmp_path: Path) -> None:
    with FakeEsp32Rom() as rom:
        out = akker("flash", "--board", "heltec_v2", "--port", rom.port, "--connect-attempts", "1", "--verbose",
                    env=offline(tmp_path))  # fmt: skip
    assert out.returncode == 2 and "akker: offline" in out.stderr
    assert "Detecting chip type... ESP32" in out.stdout
    assert MPFLASH_LOG.search(out.stdout) and "micropython.org" in out.stdout, out.stdout


def test_a_cached_image_is_used_without_downloading(tmp_path: Path) -> None:
    cached = tmp_path / "cache" / "akker" / "firmware" / "esp32" / f"ESP32_GENERIC-v{MICROPYTHON_VERSION}.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\xe9")
    with FakeEsp32Rom() as rom:
        out = akker("flash", "--board", "heltec_v2", "--port", rom.port, "--connect-attempts", "1",
                    env=offline(tmp_path))  # fmt: skip
    assert f"using {cached} (cached)" in out.stdout and "downloading" not in out.stdout
    # esptool went on to erase: the fake ROM refuses to load its stub, as a broken board might.
    assert f"erasing the flash on {rom.port}" in out.stdout and 0x05 in rom.requests
    assert one_line(out).startswith(f"akker: esptool failed on {rom.port}: ")


def test_a_missing_firmware_file_and_an_unknown_board(tmp_path: Path) -> None:
    out = akker("flash", "--board", "heltec_v3", "--port", "/dev/ttyUSB0", "--firmware", str(tmp_path / "nope.bin"))
    assert "no firmware file" in one_line(out)
    out = akker("flash", "--board", "nope", "--port", "/dev/ttyUSB0")
    assert "unknown board 'nope'" in one_line(out)


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
        ("Wrong boot mode detected (0x13)! The chip needs to be in download mode.", "did not enter its bootloader"),
        (
            "Unexpected chip ID value 99.\nFor troubleshooting steps visit: https://docs.espressif.com/x",
            "esptool failed on /dev/ttyUSB0: Unexpected chip ID value 99.",
        ),
    ],
)
def test_esptool_errors_become_one_line_with_the_fix(output: str, expected: str) -> None:
    assert expected in explain_esptool(output, "/dev/ttyUSB0", "heltec_v3")


# --download-only: fill the cache on a laptop with internet, flash later in the field without it. No port at all.


def cache_holding(home: Path, name: str) -> Path:
    cached = home / "cache" / "akker" / "firmware" / name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\xe9")
    return cached


@pytest.mark.parametrize(
    ("board", "image", "ready"),
    [("heltec_v2", f"esp32/ESP32_GENERIC-v{MICROPYTHON_VERSION}.bin",
      "ready: `akker flash --board heltec_v2 --port PORT` takes it from the cache, without internet"),
     ("rak11310", f"rp2/RPI_PICO-v{MICROPYTHON_VERSION}.uf2",
      "ready: `akker flash --board rak11310` prints the steps that copy it onto the board")],
)  # fmt: skip
def test_download_only_with_the_image_cached_says_where_it_is(
    tmp_path: Path, board: str, image: str, ready: str
) -> None:
    cached = cache_holding(tmp_path, image)
    out = akker("flash", "--board", board, "--download-only", env=offline(tmp_path))
    assert (out.returncode, out.stderr) == (0, ""), out.stdout + out.stderr
    assert out.stdout.splitlines() == [f"using {cached} (cached)", ready]


def test_the_uf2_steps_name_the_cached_image(tmp_path: Path) -> None:
    cached = cache_holding(tmp_path, f"rp2/RPI_PICO-v{MICROPYTHON_VERSION}.uf2")
    out = akker("flash", "--board", "rak11310", env=offline(tmp_path))
    assert out.returncode == 0 and f"copy {cached} onto it" in out.stdout, out.stdout + out.stderr


def test_download_only_offline_with_an_empty_cache_says_so(tmp_path: Path) -> None:
    out = akker("flash", "--board", "heltec_v3", "--download-only", env=offline(tmp_path))
    firmware = tmp_path / "cache" / "akker" / "firmware"
    assert one_line(out) == (
        f"akker: offline: cannot download MicroPython for ESP32_GENERIC_S3. Connect to the internet and run this "
        f"again (it is kept in {firmware})"
    )
    assert out.stdout == f"downloading MicroPython {MICROPYTHON_VERSION} for ESP32_GENERIC_S3 into {firmware} ...\n"
    assert not MPFLASH_LOG.search(out.stdout + out.stderr)


def test_download_only_refuses_a_port_or_a_firmware_file_before_touching_either(tmp_path: Path) -> None:
    # Refused rather than ignored: someone who names a port expects it flashed. The port is never opened: a
    # missing one is not reported as missing.
    cache_holding(tmp_path, f"esp32/ESP32_GENERIC-v{MICROPYTHON_VERSION}.bin")
    out = akker("flash", "--board", "heltec_v2", "--download-only", "--port", "/dev/ttyUSB97", env=offline(tmp_path))
    assert one_line(out) == (
        "akker: --download-only touches no board: leave out --port, or leave out --download-only to flash"
    )
    assert out.stdout == ""
    out = akker("flash", "--board", "heltec_v2", "--download-only", "--firmware", str(tmp_path / "fw.bin"),
                env=offline(tmp_path))  # fmt: skip
    assert one_line(out) == "akker: --download-only fetches the board's own image: leave out --firmware"


def test_download_only_for_a_board_without_an_image(tmp_path: Path) -> None:
    out = akker("flash", "--board", "sim", "--download-only", env=offline(tmp_path))
    assert one_line(out) == "akker: board sim has no MicroPython image to download (it runs on the desktop)"


def test_flashing_without_a_port_asks_for_one(tmp_path: Path) -> None:
    out = akker("flash", "--board", "heltec_v3", env=offline(tmp_path))
    assert one_line(out) == (
        "akker: give --port, the board's serial port (e.g. /dev/ttyUSB0), or --download-only to only fill the cache"
    )
    assert not (tmp_path / "cache").exists()
