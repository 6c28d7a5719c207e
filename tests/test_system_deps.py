""".ci/system-deps (`make system-deps`): what `make test`, `make setup` and `make demo` need from the system, found
or installed.

The script runs with a PATH holding only stand-ins: one empty shell script per
tool that is present, a python3 answering its check as told, an `id` that
answers the user id under test and an `apt-get` that records how it was
called; gcc answers its -m32 check as told, and bash is told the host is
x86-64 (HOSTTYPE). So the same cases hold on any machine, as root or not, with
or without the real packages. (The script adds the sbin folders to PATH, where mosquitto
lives; no case here has mosquitto missing.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / ".ci" / "system-deps"
BASH = shutil.which("bash") or "/bin/bash"
TOOLS = ("make", "node", "npm", "mosquitto", "chromium", "gcc")
USER, ROOT = 1000, 0


def stand_in(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def system_deps(
    tmp: Path,
    *,
    goal: str = "test",
    uid: int = USER,
    tools: tuple[str, ...] = TOOLS,
    python_status: int | None = 0,
    apt: bool = True,
    gcc_m32: bool = True,
    host: str = "x86_64",
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the script for goal among tools; python_status: what Python's check answers (None: no python3).

    gcc_m32: whether gcc (when among tools) compiles 32-bit code; host: the machine bash reports.

    Returns the run and apt-get's calls, one line each: DEBIAN_FRONTEND's value, then the arguments.
    """
    bin_ = tmp / "bin"
    bin_.mkdir()
    for tool in tools:
        stand_in(bin_ / tool, "exit 0")
    if "gcc" in tools and not gcc_m32:
        stand_in(bin_ / "gcc", 'case " $* " in *" -m32 "*) exit 1 ;; esac\nexit 0')
    stand_in(bin_ / "id", f"echo {uid}")
    if python_status is not None:
        stand_in(bin_ / "python3", f'[ "$1" = --version ] && echo "Python 3.9.2"\nexit {python_status}')
    calls = tmp / "apt-get.calls"
    if apt:
        stand_in(bin_ / "apt-get", f'echo "${{DEBIAN_FRONTEND:-unset}} $*" >> {calls}')
    run = subprocess.run(
        [BASH, str(SCRIPT), goal], env={"PATH": str(bin_), "HOSTTYPE": host}, capture_output=True, text=True, timeout=30
    )
    return run, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("uid", [USER, ROOT])
@pytest.mark.parametrize("goal", ["test", "setup", "demo"])
def test_everything_present_is_quiet_and_calls_no_apt_get(tmp_path: Path, goal: str, uid: int) -> None:
    run, apt = system_deps(tmp_path, goal=goal, uid=uid)
    assert (run.returncode, run.stdout, run.stderr, apt) == (0, "", "", [])


def test_a_user_is_given_the_one_command_and_make_stops(tmp_path: Path) -> None:
    run, apt = system_deps(tmp_path, tools=("make", "node", "mosquitto"))
    assert run.returncode == 1 and apt == [], run.stderr
    assert "    sudo apt-get install -y npm chromium gcc-multilib\n" in run.stderr
    assert run.stderr.count("apt-get") == 1 and run.stdout == ""


def test_root_gets_them_installed_with_apt_get(tmp_path: Path) -> None:
    run, apt = system_deps(tmp_path, uid=ROOT, tools=("make", "node", "npm", "mosquitto", "gcc"), python_status=4)
    assert run.returncode == 0, run.stderr
    assert apt == ["unset update -qq", "noninteractive install -y -qq python3-venv chromium"]


def test_the_demo_needs_only_python_venv(tmp_path: Path) -> None:
    run, apt = system_deps(tmp_path, goal="demo", tools=(), python_status=None)
    assert run.returncode == 1 and apt == []
    assert "    sudo apt-get install -y make python3 python3-venv\n" in run.stderr
    assert "node" not in run.stderr and "chromium" not in run.stderr and "mosquitto" not in run.stderr


def test_make_setup_needs_node_and_npm_not_what_only_the_tests_use(tmp_path: Path) -> None:
    # Without the check, `make setup` built .venv and then stopped at `npm ci` with npm's own error.
    run, apt = system_deps(tmp_path, goal="setup", tools=("make",), gcc_m32=False)
    assert run.returncode == 1 and apt == [], run.stderr
    assert "`make setup` needs these Debian packages: nodejs npm. Install them with:" in run.stderr
    assert "    sudo apt-get install -y nodejs npm\n" in run.stderr
    assert "mosquitto" not in run.stderr and "chromium" not in run.stderr and "gcc" not in run.stderr


def test_a_python_too_old_is_named_not_installed_over(tmp_path: Path) -> None:
    run, apt = system_deps(tmp_path, uid=ROOT, python_status=3)
    assert run.returncode == 1 and apt == []
    assert "python3 is Python 3.9.2: akker needs Python 3.10 or newer" in run.stderr


def test_without_apt_get_the_packages_are_named(tmp_path: Path) -> None:
    run, _ = system_deps(tmp_path, uid=ROOT, tools=("make", "node", "npm", "mosquitto", "gcc"), apt=False)
    assert run.returncode == 1
    assert "`make test` needs chromium (Debian's names)" in run.stderr


@pytest.mark.parametrize("gcc", ["missing", "without 32-bit"])
def test_the_32_bit_micropython_build_needs_gcc_multilib(tmp_path: Path, gcc: str) -> None:
    tools = tuple(t for t in TOOLS if t != "gcc") if gcc == "missing" else TOOLS
    run, apt = system_deps(tmp_path, uid=ROOT, tools=tools, gcc_m32=False)
    assert run.returncode == 0, run.stderr
    assert apt == ["unset update -qq", "noninteractive install -y -qq gcc-multilib"]


def test_gcc_multilib_only_for_make_test_on_x86_64(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "arm").mkdir()
    demo, _ = system_deps(tmp_path / "demo", goal="demo", tools=("make",))
    arm, _ = system_deps(tmp_path / "arm", tools=TOOLS, gcc_m32=False, host="aarch64")
    assert (demo.returncode, demo.stderr, arm.returncode, arm.stderr) == (0, "", 0, "")


@pytest.mark.parametrize("goal", ["test", "setup", "demo"])
def test_make_test_setup_and_demo_check_before_anything_else(goal: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON")}
    plan = subprocess.run(["make", "-n", goal], cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[0] == f"PYTHON='python3' .ci/system-deps {goal}", plan.stdout
