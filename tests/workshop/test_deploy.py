"""`akker deploy` against a virtual board: MicroPython behind a pty with its own flash, driven by real mpremote.

From provision to the first frame accepted by the bridge; a second deploy that
copies nothing; a deploy killed half-way that leaves a board in maintenance;
and the errors a technician meets, each one line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.sim.virtual_board import VirtualBoard
from gateway.workshop.device import Device
from tests.processes import running

AKKER = str(Path(sys.executable).parent / "akker")


def akker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def board(tmp_path: Path, mpy_build: Path) -> Iterator[VirtualBoard]:
    with VirtualBoard(tmp_path / "flash", mpy_build, bare=True, heapsize="320k") as vb:
        yield vb


@pytest.fixture
def node(tmp_path: Path) -> Path:
    out = akker("provision", "--db", str(tmp_path / "farm.db"), "--name", "v1", "--abp", "--board", "sim",
                "--soil", "2", "--soil-temp", "2", "--air", "sht4x", "--traps", "2",
                "--out", str(tmp_path / "v1"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    return tmp_path / "v1" / "config.json"


def deploy(board: VirtualBoard, config: Path, follow: str = "3") -> subprocess.CompletedProcess[str]:
    return akker("deploy", "--board", "sim", "--port", str(board.tty), "--config", str(config), "--follow", follow)


def frames(out: str) -> list[dict[str, object]]:
    return [json.loads(line.split("| ", 1)[1]) for line in out.splitlines() if line.startswith("  | {")]


PROGRESS = re.compile(r"  \[(\d+)/(\d+)\] (/\S+) (\d+\.\d) kB")  # "  [3/12] /lib/lora/modem.mpy 4.1 kB"


def copied(out: str, flash: Path, whole: bool = True) -> list[str]:
    """The files the progress lines name, after checking they count 1, 2, ... of one total in order (up to that total
    when whole), each on the board as big as its line says, in plain text (no carriage returns or colours, as a log
    file keeps it)."""
    lines = [line for line in out.splitlines() if line.startswith("  [")]
    assert "\r" not in out and "\x1b" not in out
    found = [PROGRESS.fullmatch(line) for line in lines]
    assert all(found), lines
    steps = [(int(m[1]), int(m[2]), m[3], m[4]) for m in found if m]
    total = steps[0][1] if steps else 0
    assert [(n, t) for n, t, _, _ in steps] == [(n, total) for n in range(1, len(steps) + 1)], lines
    assert len(steps) == total if whole else len(steps) < total, lines
    for _, _, path, kb in steps:
        assert f"{(flash / path.lstrip('/')).stat().st_size / 1000:.1f}" == kb, path
    return [path for _, _, path, _ in steps]


def test_provision_deploy_boot_and_the_bridge_accepts_the_first_frame(
    tmp_path: Path, board: VirtualBoard, node: Path
) -> None:
    first = deploy(board, node)
    assert first.returncode == 0, first.stderr
    assert "0 unchanged, 0 removed; every file verified by sha256" in first.stdout
    flash = tmp_path / "flash"
    # One line per file copied, and on a bare board that is every file the deploy announced, config last.
    announced = int(re.findall(r"deploying (\d+) files", first.stdout)[0])
    paths = copied(first.stdout, flash)
    assert len(paths) == announced and paths[-1] == "/config.json" and "/lib/firmware/app.mpy" in paths
    sent = frames(first.stdout)
    assert sent, first.stdout
    assert "boot 1" in first.stdout
    assert (flash / "lib" / "firmware" / "app.mpy").exists() and not (flash / "maintenance").exists()
    assert json.loads((flash / "config.json").read_text()) == json.loads(node.read_text())
    # The frame the deployed firmware sent opens with the keys provisioning registered.
    f = sent[0]
    rx = Reception("board:sim", -90.0, 8.0, int(str(f["freq_khz"])) * 1000, int(str(f["sf"])), 125)
    assert Pipeline(tmp_path / "farm.db", []).process(
        [UplinkFrame(bytes.fromhex(str(f["phy"])), rx, "test", UplinkFrame.now())]
    ) == ["accepted"]
    # A second deploy copies nothing; a changed config copies one file.
    second = deploy(board, node, "1")
    assert second.returncode == 0 and "done: 0 copied" in second.stdout, second.stdout + second.stderr
    assert copied(second.stdout, flash) == []
    cfg = json.loads(node.read_text())
    cfg["interval_s"] = 600
    node.write_text(json.dumps(cfg))
    third = deploy(board, node, "1")
    assert third.returncode == 0 and "done: 1 copied" in third.stdout
    assert copied(third.stdout, flash) == ["/config.json"] and "  [1/1] /config.json " in third.stdout


def test_a_deploy_killed_half_way_leaves_a_board_in_maintenance(
    tmp_path: Path, board: VirtualBoard, node: Path
) -> None:
    flash = tmp_path / "flash"
    # As from a technician's shell into `| tee deploy.log`: Python buffers a pipe unless told otherwise.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with running([AKKER, "deploy", "--board", "sim", "--port", str(board.tty), "--config", str(node)],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) as proc:  # fmt: skip
        assert proc.stdout is not None
        # Stopped by what it printed: each progress line reaches a pipe (a log) as its file is done, not at the end.
        printed = ""
        for line in proc.stdout:
            printed += line
            if line.startswith("  [10/"):
                break
        proc.send_signal(signal.SIGKILL)  # the laptop's cable pulled, half the modules new
        proc.wait()
    done = copied(printed, flash, whole=False)
    assert len(done) == 10, printed  # the ten it named are on the board, whole
    assert (flash / "maintenance").exists() and not (flash / "config.json").exists()
    board.stop()  # power-cycle the board
    board.start()
    time.sleep(0.5)
    with serial.Serial(str(board.tty), 115200, timeout=0.2) as port:
        port.write(b"\r\n")
        seen = b""
        end = time.monotonic() + 5
        while time.monotonic() < end and b">>>" not in seen:
            seen += port.read(256)
    console = seen.decode(errors="replace")
    assert ">>>" in console and "Traceback" not in console
    with Device(str(board.tty)) as dev:  # the REPL answers: a technician can deploy again
        assert dev.eval("1 + 1") == 2
    again = deploy(board, node, "2")
    assert again.returncode == 0 and frames(again.stdout), again.stdout + again.stderr
    # The second deploy copies only what the first did not finish, counted from 1 again.
    rest = copied(again.stdout, flash)
    assert rest and rest[-1] == "/config.json" and not set(rest) & set(done)


def test_the_maintenance_message_is_printed_at_boot(tmp_path: Path, board: VirtualBoard, node: Path) -> None:
    assert deploy(board, node, "1").returncode == 0
    (tmp_path / "flash" / "maintenance").write_text("")
    with Device(str(board.tty)) as dev:
        dev.soft_reset()
        lines = dev.read_output(3.0, until="maintenance")
    assert any("akker: maintenance" in line for line in lines), lines


def test_errors_a_technician_meets(tmp_path: Path, board: VirtualBoard, node: Path, empty_port: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(node.read_text()), "interval_s": 5}))
    out = deploy(board, bad)
    assert out.returncode == 2 and "interval_s" in out.stderr and "nothing was deployed" in out.stderr
    assert not list((tmp_path / "flash").iterdir())  # the board was never touched
    heltec = akker("provision", "--db", str(tmp_path / "farm.db"), "--name", "h1", "--board", "heltec_v3",
                   "--out", str(tmp_path / "h1"))  # fmt: skip
    assert heltec.returncode == 0
    out = akker(
        "deploy", "--board", "heltec_v3", "--port", str(board.tty), "--config", str(tmp_path / "h1" / "config.json")
    )
    assert out.returncode == 2 and "is for esp32s3: check --board" in out.stderr, out.stderr
    out = deploy(board, tmp_path / "h1" / "config.json")
    assert out.returncode == 2 and "is for board heltec_v3, not sim" in out.stderr
    with serial.Serial(str(board.tty), exclusive=True):
        out = deploy(board, node)
    assert out.returncode == 2 and "is busy: another program holds it" in out.stderr
    out = akker("deploy", "--board", "sim", "--port", empty_port, "--config", str(node))
    assert out.returncode == 2 and "no board answers on" in out.stderr
    out = akker("deploy", "--board", "sim", "--port", "/dev/ttyUSB97", "--config", str(node))
    assert out.returncode == 2 and "no port /dev/ttyUSB97" in out.stderr


def test_a_board_running_its_application_is_named_as_such(tmp_path: Path, board: VirtualBoard, node: Path) -> None:
    # An application that swallows Ctrl-C and never returns to the REPL.
    (tmp_path / "flash" / "main.py").write_text(
        "import time\nwhile True:\n    try:\n        print('busy')\n        time.sleep(0.05)\n"
        "    except KeyboardInterrupt:\n        pass\n"
    )
    board.stop()
    board.start()
    out = deploy(board, node)
    assert out.returncode == 2 and "runs its application, not the REPL" in out.stderr, out.stderr
    # The way into maintenance, never "hold the button while pressing RESET": on ESP32 boards that is the bootloader.
    assert "press and release RST, then press its button" in out.stderr and "while pressing" not in out.stderr
    assert len(out.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("[Errno 13] could not open port /dev/ttyUSB0: [Errno 13] Permission denied: '/dev/ttyUSB0'", "dialout group"),
        ("Could not exclusively lock port /dev/ttyUSB0: [Errno 11] Resource temporarily unavailable", "is busy"),
        ("[Errno 2] could not open port /dev/ttyUSB0: [Errno 2] No such file or directory", "is the board plugged in"),
    ],
)
def test_port_errors_say_what_to_do(error: str, expected: str) -> None:
    from gateway.workshop.device import port_error

    assert expected in str(port_error("/dev/ttyUSB0", OSError(error)))
