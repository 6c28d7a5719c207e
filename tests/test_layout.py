"""The tree's shape (README, "Where things are"): arrows point one way, modules stay small.

cli -> (bridge, network, workshop, farm, sim, dashboard) -> payload_codec / firmware; among
the middle ones dashboard -> farm -> bridge, network -> bridge, workshop -> bridge and
sim -> (bridge, network, workshop), since it plays the whole farm. bench/ measures the code,
never the tests. A module of gateway/ over 300 lines, or a function over 60, says why in a
comment or is split.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JOBS = ("bridge", "network", "workshop", "farm", "dashboard", "sim", "cli")
# job -> the jobs it may import
MAY_IMPORT = {
    "bridge": set(),
    "network": {"bridge"},
    "farm": {"bridge"},
    "dashboard": {"farm", "bridge"},
    "workshop": {"bridge"},
    "sim": {"bridge", "network", "workshop"},
    "cli": set(JOBS),
}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module path an import statement in the file names (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


@pytest.mark.parametrize("job", [j for j in JOBS if j != "cli"])
def test_arrows_point_one_way(job: str) -> None:
    wrong = []
    for path in python_files(f"gateway/{job}"):
        for name in imported(path):
            parts = name.split(".")
            other = parts[1] if parts[0] == "gateway" and len(parts) > 1 else ""
            if other in JOBS and other != job and other not in MAY_IMPORT[job]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("folder", "never"), [("bench", "tests"), ("firmware", "gateway"), ("payload_codec", "gateway")]
)
def test_shared_code_and_the_bench_stay_out_of_what_is_above_them(folder: str, never: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(folder)
        for name in imported(path)
        if name == never or name.startswith(never + ".")
    ]
    assert not wrong, "\n".join(wrong)


def test_modules_and_functions_are_small_or_say_why() -> None:
    long = []
    for path in python_files("gateway"):
        lines = path.read_text().splitlines()
        if len(lines) > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            said_why = lines[first - 2].strip().startswith("#") if first > 1 else False
            if size > MAX_FUNCTION_LINES and not said_why:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {size} lines, no comment saying why")
    assert not long, "\n".join(long)
