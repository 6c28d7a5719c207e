"""The `--db` and `--heap` arguments, checked once for every command that takes them.

A folder given as --db, a database in a folder that does not exist, a heap size
MicroPython cannot read: each is one line that names the path or value and says
what to do, before any command opens anything.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from .errors import CliError

_HEAP = re.compile(r"[1-9][0-9]*[kKmM]?")


def database(path: Path, *, new: bool = False, must_exist: bool = False) -> Path:
    """path as a database file: CliError for a folder, a missing folder, or (must_exist) a missing file.

    new: the command creates it (akker nodes add, provision, sim); its folder must exist all the same.
    """
    if path.is_dir():
        raise CliError(f"--db {path} is a folder: give the database file, e.g. {path / 'farm.db'}")
    if must_exist and not path.exists():
        raise CliError(f"--db {path} does not exist: give the bridge's database (akker nodes add makes one)")
    if new and not path.exists() and not path.parent.is_dir():
        raise CliError(f"--db {path}: the folder {path.parent} does not exist: create it (mkdir -p {path.parent})"
                       " or give another path")  # fmt: skip
    return path


def heap(text: str) -> str:
    """argparse type for --heap: 512k, 2m, 65536 (what MicroPython's -X heapsize takes)."""
    if not _HEAP.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a heap size: give bytes, or with k or m, e.g. 512k")
    return text
