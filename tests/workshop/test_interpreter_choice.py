"""AKKER_MICROPYTHON: the one switch for the interpreter everything runs MicroPython on (mpy_build.tool)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.sim import micropython
from gateway.sim.nodes import node_config
from gateway.workshop import mpy_build

AKKER = str(Path(sys.executable).parent / "akker")
VARIABLE = "AKKER_MICROPYTHON"


def fake_interpreter(path: Path) -> Path:
    """A "micropython" that records its arguments in path.parent/called and prints nothing."""
    path.write_text(f'#!/bin/sh\necho "$@" > {path.parent / "called"}\n')
    path.chmod(0o755)
    return path


def test_unset_it_is_the_venv_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    assert mpy_build.tool("micropython") == str(Path(sys.executable).parent / "micropython")


def test_set_it_names_the_binary_and_leaves_mpy_cross_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = fake_interpreter(tmp_path / "mp")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(VARIABLE, "mp")  # relative: made absolute, since micropython runs in the build's folder
    assert mpy_build.tool("micropython") == str(binary)
    assert mpy_build.tool("mpy-cross") == str(Path(sys.executable).parent / "mpy-cross")
    cmd, _env = micropython.command(tmp_path, ["-c", "pass"], "64k")
    assert cmd == [str(binary), "-X", "heapsize=64k", "-c", "pass"]


@pytest.mark.parametrize("what", ["missing", "not executable", "a folder"])
def test_a_path_that_cannot_run_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    path = tmp_path / "micropython"
    if what == "not executable":
        path.write_text("")
    elif what == "a folder":
        path.mkdir()
    monkeypatch.setenv(VARIABLE, str(path))
    with pytest.raises(mpy_build.ToolMissing, match=f"^{re.escape(f'{VARIABLE}={path}')}: no executable file there$"):
        mpy_build.tool("micropython")


def test_akker_node_runs_on_it(tmp_path: Path) -> None:
    binary = fake_interpreter(tmp_path / "micropython")
    config = tmp_path / "node.json"
    config.write_text(json.dumps(node_config()))
    args = [AKKER, "node", "--board", "sim", "--config", str(config), "--cycles", "1"]
    env = {**os.environ, VARIABLE: str(binary)}
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "called").read_text().startswith("-X heapsize=")
    env[VARIABLE] = str(tmp_path / "nowhere")
    refused = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and f"{VARIABLE}={tmp_path / 'nowhere'}: no executable" in refused.stderr
