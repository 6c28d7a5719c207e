"""The 32-bit MicroPython 1.28.0 of micropython32.py with firmware/ and payload_codec/ frozen in.

    python -m gateway.sim.micropython32 --frozen [--rebuild]

prints the path of a binary that carries the two packages as frozen bytecode,
as a custom board image would: their code and constants live in the image
(flash on a board), not on the heap. command() runs it so that its imports
find the frozen modules and nothing else (MICROPYPATH=.frozen, in an empty
folder). Built on demand only (make bench, section 6), never by the tests.

The manifest is the unix port's standard variant's own (asyncio, ssl and mip,
frozen in the plain build too) plus package("firmware") and
package("payload_codec") from a copy of the sources. The root micropython.py
stand-in is not needed: MicroPython's builtin micropython module comes first,
and mpy-cross compiles `const` away. mpy-cross is the one of the same tree,
built on its own first: a FROZEN_MANIFEST on make's command line would reach
the port's mpy-cross sub-make, which then fails to link
(mp_qstr_frozen_const_pool undefined).

The frozen sources change with every commit, so a binary is kept under a hash
of them, the manifest and the make arguments:
$XDG_CACHE_HOME/akker/micropython32/1.28.0/frozen-<hash>/micropython, the
newest KEEP of them. The source tree is kept beside them (frozen-tree/, about
90 MB), so that only the first build compiles everything. Timed on two cores
(the plain 32-bit build took 24 s on the same machine): the first build 26 to
31 s (extract, mpy-cross, the port), one after the sources changed 1 s (freeze
them again, link). A kept tree that fails to build is extracted again once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from gateway.sim import micropython32 as mp32
from gateway.workshop import mpy_build

KEEP = 3  # frozen binaries kept in the cache: the newest, by when they were built
MANIFEST = """include("$(PORT_DIR)/variants/standard/manifest.py")
package("firmware", base_path={stage!r})
package("payload_codec", base_path={stage!r})
"""
_TREE = "frozen-tree"
_READY = ".akker-ready"  # in the tree once it is extracted and its mpy-cross built
_STAGE = "akker-frozen"  # in the tree: the copy of the sources that is frozen


def sources() -> dict[str, bytes]:
    """The frozen packages' .py files, path below the repository -> bytes: what is hashed is what is frozen."""
    return {
        str(path.relative_to(pkg.parent)): path.read_bytes()
        for pkg in mpy_build.SHARED_PACKAGES
        for path in sorted(pkg.rglob("*.py"))
    }


def key(files: dict[str, bytes]) -> str:
    """The cache key of a frozen build of files."""
    digest = hashlib.sha256()
    for part in (MANIFEST, *mp32.MAKE_ARGS):
        digest.update(part.encode() + b"\0")
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:16]


def binary(files: dict[str, bytes] | None = None) -> Path:
    """Where the frozen build of files (default: the packages as they are now) is kept; it may not be there yet."""
    return mp32.cache_dir() / f"frozen-{key(sources() if files is None else files)}" / "micropython"


def command(path: Path, folder: Path, args: list[str], heapsize: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run the frozen binary at path in folder (run it there, cwd=folder).

    folder must not hold the sources: MicroPython searches its working
    directory first. HOME is folder too: the REPL writes its history there.
    """
    env = {**os.environ, "MICROPYPATH": ".frozen", "HOME": str(folder)}
    return [str(path), "-X", f"heapsize={heapsize}", *args], env


def ensure(rebuild: bool = False) -> Path:
    """The frozen binary of the packages as they are now, built first if the cache has none (or rebuild)."""
    files = sources()
    target = binary(files)
    if target.is_file() and not rebuild:
        return target
    with mp32.cache_lock():
        if rebuild or not target.is_file():
            _build(files, target)
            _prune(target.parent)
    return target


def _build(files: dict[str, bytes], target: Path) -> None:
    tree = mp32.cache_dir() / _TREE
    started = time.monotonic()
    fresh = not (tree / _READY).is_file()
    if fresh:
        _prepare(tree)
    try:
        built = _freeze(tree, files)
    except mp32.BuildError as err:
        if fresh:
            raise
        mp32.log(f"the kept tree failed to build ({str(err).splitlines()[-1]}): extracting it again")
        _prepare(tree)
        built = _freeze(tree, files)
    mp32.check(built)
    _check_frozen(built)
    mp32.install(built, target)
    mp32.log(f"built {target} in {time.monotonic() - started:.0f} s")


def _prepare(tree: Path) -> None:
    """A fresh source tree at tree with its own mpy-cross built."""
    shutil.rmtree(tree, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=tree.parent) as tmp:
        archive = mp32.source_archive(Path(tmp))
        mp32.log(f"building MicroPython {mp32.VERSION} (32-bit, firmware frozen in) from {archive}: about 30 s")
        mp32.extract(archive, Path(tmp) / "src")
        Path(tmp, "src").rename(tree)
    top = mp32.port_dir(tree).parents[1]
    mp32.make(top / "mpy-cross")
    (tree / _READY).touch()


def _freeze(tree: Path, files: dict[str, bytes]) -> Path:
    """Build the port in tree with files frozen in; return the binary it made.

    The copy is written fresh: newer than every .mpy the last build left, so
    makemanifest (which compares times) compiles every module again.
    """
    stage = tree / _STAGE
    shutil.rmtree(stage, ignore_errors=True)
    for name, data in files.items():
        (stage / name).parent.mkdir(parents=True, exist_ok=True)
        (stage / name).write_bytes(data)
    manifest = stage / "manifest.py"
    manifest.write_text(MANIFEST.format(stage=str(stage)))
    port = mp32.port_dir(tree)
    built = port / "build-standard" / "micropython"
    built.unlink(missing_ok=True)
    mp32.make(port, (*mp32.MAKE_ARGS, f"FROZEN_MANIFEST={manifest}"))
    if not built.is_file():
        raise mp32.BuildError(f"make in {port} made no build-standard/micropython")
    return built


def _check_frozen(path: Path) -> None:
    """Raise BuildError unless path imports the firmware from its frozen modules alone."""
    with tempfile.TemporaryDirectory(prefix="akker-frozen-") as folder:
        cmd, env = command(path, Path(folder), ["-c", "import firmware.sim.run, payload_codec.lorawan_join"], "256k")
        run = subprocess.run(cmd, env=env, cwd=folder, capture_output=True, text=True, timeout=30)
    if run.returncode:
        raise mp32.BuildError(f"{path} does not import the frozen firmware: {run.stderr.strip()[-500:]}")


def _prune(keep: Path) -> None:
    """Delete all but the newest KEEP frozen binaries (keep among them)."""
    built = [d for d in mp32.cache_dir().glob("frozen-*") if d.name != _TREE and d != keep and d.is_dir()]
    built.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for old in built[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
