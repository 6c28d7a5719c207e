"""docs/workshop.md against the real thing: the commands and flags it quotes, the configs it shows, make's targets.

A technician types what the guide says, on a laptop in a barn: every `akker` command and flag it quotes must be
one the real CLI takes (each command's --help, from the installed `akker`), its example configs must be ones the
firmware and the bridge accept, and `make setup-workshop` must not need npm.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from firmware import config as firmware_config
from gateway.bridge.config import BridgeConfig
from gateway.bridge.sinks.mqtt import up_topic
from tests.bridge.test_bridge_config import parse
from tests.test_system_deps import system_deps

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
WORKSHOP = (DOCS / "workshop.md").read_text()
AKKER = str(Path(sys.executable).parent / "akker")
HELTEC_V3_BY_ID = "/dev/serial/by-id/usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0001-if00-port0"

# An `akker` command line in a code block or a `code span`: the words after `akker`, up to a comment, a pipe,
# a closing backtick or the end of the line.
_COMMAND = re.compile(r"(?:^|[\s`(/])akker((?: +[^\s`#|;&)]+)+)", re.M)
_FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def akker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=30)


def _subcommands(help_text: str) -> set[str]:
    """The sub-commands an argparse help lists: {a,b,c} in its usage, or the names indented under COMMAND."""
    names = set()
    for group in re.findall(r"\{([a-z,-]+)\}", help_text):
        names |= set(group.split(","))
    names |= set(re.findall(r"^    ([a-z][a-z-]*)(?:\s|$)", help_text, re.M))
    return names


def _quoted() -> dict[tuple[str, ...], set[str]]:
    """Every `akker` command the guide quotes: its sub-command words (as the real CLI nests them) -> its flags."""
    helps: dict[tuple[str, ...], str] = {}

    def help_of(path: tuple[str, ...]) -> str:
        if path not in helps:
            helps[path] = akker(*path, "--help").stdout
        return helps[path]

    found: dict[tuple[str, ...], set[str]] = {}
    for match in _COMMAND.finditer(WORKSHOP):
        words = match.group(1).split()
        path: tuple[str, ...] = ()
        while len(path) < len(words) and words[len(path)] in _subcommands(help_of(path)):
            path += (words[len(path)],)
        if not path:
            continue  # "the `akker` command", a path such as /opt/akker/...
        found.setdefault(path, set()).update(_FLAG.findall(" ".join(words[len(path) :])))
    return found


QUOTED = _quoted()


def test_the_guide_quotes_the_commands_a_workshop_uses() -> None:
    # The extraction above must see what a technician runs, or the test below checks nothing.
    for command in (("flash",), ("deploy",), ("provision",), ("check",), ("monitor",), ("gateway", "run")):
        assert command in QUOTED, f"docs/workshop.md no longer quotes akker {' '.join(command)}?"
    assert "--config" in QUOTED[("deploy",)] and "--serial" in QUOTED[("gateway", "run")]


@pytest.mark.parametrize("command", sorted(QUOTED), ids=" ".join)
def test_every_command_and_flag_the_guide_quotes_is_in_the_real_cli(command: tuple[str, ...]) -> None:
    result = akker(*command, "--help")
    assert result.returncode == 0, f"akker {' '.join(command)}: {result.stderr.strip()}"
    offered = set(_FLAG.findall(result.stdout))
    missing = QUOTED[command] - offered
    assert not missing, f"docs/workshop.md gives akker {' '.join(command)} {sorted(missing)}, which it does not take"


def test_every_flag_quoted_alone_is_one_some_command_takes() -> None:
    alone = set(re.findall(r"`(--[a-z][a-z0-9-]*)[ `]", WORKSHOP))
    assert {"--channels", "--sf", "--no-network"} <= alone
    offered: set[str] = set()
    for command in [*QUOTED, ("provision",), ("nodes", "add"), ("gateway", "run")]:
        offered |= set(_FLAG.findall(akker(*command, "--help").stdout))
    assert alone <= offered, f"not a flag of any akker command: {sorted(alone - offered)}"


def test_the_gateway_boards_config_in_the_guide_is_one_the_firmware_takes() -> None:
    blocks = re.findall(r"^ *```json\n(.*?)\n *```", WORKSHOP, re.S | re.M)
    gateway = [json.loads(b) for b in blocks if '"role": "gateway"' in b]
    assert gateway, "docs/workshop.md shows no gateway board config"
    for raw in gateway:
        cfg = firmware_config.validate(raw)
        # What the guide says it listens on: the first channel at that SF.
        said = f"{cfg['radio']['channels_khz'][0]} kHz SF{cfg['radio']['sf']}"
        assert said in WORKSHOP
        assert (REPO / "boards" / f"{cfg['board']}.json").is_file()


def test_the_example_toml_parses_and_names_the_heltec_v3_port_the_guide_names() -> None:
    cfg = parse("--config", str(DOCS / "gateway.example.toml"))
    assert isinstance(cfg, BridgeConfig)
    assert cfg.serial == HELTEC_V3_BY_ID
    assert HELTEC_V3_BY_ID in WORKSHOP


def test_the_buttons_table_covers_every_board_and_tells_bootloader_from_maintenance() -> None:
    section = WORKSHOP[WORKSHOP.index("## The buttons") : WORKSHOP.index("## Serial ports")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    for path in sorted((REPO / "boards").glob("*.json")):
        board = json.loads(path.read_text())
        if board["id"] == "sim":
            continue
        row = next((r for r in rows if f"`{board['id']}`" in r), None)
        assert row is not None, f"{board['id']} is missing from the buttons table"
        _, bootloader, maintenance = (cell.strip() for cell in row.strip("|").split("|"))
        assert bootloader != maintenance
        button = board["button"]
        if button is None:
            assert "flag file" in maintenance and "no button" in row
        else:
            assert f"GPIO{button['pin']}" in row
            if button["pin"] == 0 and board["mcu"].startswith("esp32"):
                # GPIO0 is a strapping pin: maintenance presses it after the reset, never during it.
                assert "hold" in bootloader and "RST alone" in maintenance
            # The firmware takes a press while the LED is lit (firmware/board.py's window): never a hold.
            assert f"GPIO{board['led']['pin']}" in maintenance and "is lit" in maintenance
            assert "hold" not in maintenance


def test_the_guide_gives_the_firmwares_maintenance_window_and_survey_hold() -> None:
    source = (REPO / "firmware" / "board.py").read_text()
    window_ms = re.search(r"^_WINDOW_MS = const\((\d+)\)", source, re.M)
    hold_ms = re.search(r"^_SURVEY_HOLD_MS = const\((\d+)\)", source, re.M)
    assert window_ms and hold_ms
    section = WORKSHOP[WORKSHOP.index("## The buttons") : WORKSHOP.index("## Serial ports")]
    assert f"the LED lights steadily for {int(window_ms[1]) // 1000} s" in section
    assert f"keep the button pressed for {int(hold_ms[1]) // 1000} s after the LED went out" in section


def test_the_mqtt_topic_the_guide_subscribes_to_is_the_one_the_bridge_publishes() -> None:
    assert f"-t '{up_topic('north-3')}'" in WORKSHOP
    assert f"`{up_topic('<node name>')}`" in WORKSHOP


def test_firmware_md_states_the_clis_default_heap() -> None:
    shown = re.search(r"\(default (\d+)k\)", akker("node", "--help").stdout)
    assert shown is not None
    doc = (DOCS / "firmware.md").read_text()
    stated = re.findall(r"\((\d+) KB heap\s+by default", doc)
    assert stated == [shown.group(1)], f"docs/firmware.md says {stated} KB, akker node --heap defaults to {shown[1]}k"


def _make_n(*args: str) -> str:
    make = shutil.which("make")
    assert make is not None
    result = subprocess.run([make, "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_setup_workshop_builds_the_venv_without_npm(tmp_path: Path) -> None:
    # A fresh .venv elsewhere, so that make shows every step however the checkout's own .venv stands.
    steps = _make_n("setup-workshop", f"VENV={tmp_path / 'venv'}")
    assert "npm" not in steps and "node" not in steps.replace("--no-build-isolation", "")
    assert ".ci/system-deps workshop" in steps
    # The package itself, editable: that is what installs the `akker` command (flash, deploy, ...).
    assert re.search(rf"{re.escape(str(tmp_path / 'venv'))}/bin/pip install .*-e \.$", steps, re.M)
    assert 'akker = "gateway.cli:main"' in (REPO / "pyproject.toml").read_text()
    # `make setup` still builds everything, npm included.
    assert "npm ci" in _make_n("-B", "setup", f"VENV={tmp_path / 'venv'}")


def test_the_workshop_goal_of_system_deps_needs_only_python(tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "bare").mkdir()
    ok, _ = system_deps(tmp_path / "ok", goal="workshop", tools=("make",))
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    bare, apt = system_deps(tmp_path / "bare", goal="workshop", tools=(), python_status=None)
    assert bare.returncode == 1 and apt == []
    assert bare.stderr.splitlines() == [
        "system-deps: `make setup-workshop` needs these Debian packages: make python3 python3-venv. Install them with:",
        "    sudo apt-get install -y make python3 python3-venv",
    ]
