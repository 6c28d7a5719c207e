"""MicroPython v1.28.0's unix port built as a 32-bit binary: the heap as a board would see it.

    python -m gateway.sim.micropython32 [--rebuild] [--frozen]     (make micropython32)

prints the path of the binary, building it first when the cache has none. Its
objects are the size they are on an ESP32 or RP2040 (4-byte pointers and small
ints), so the smallest heap a cycle needs on it is a board's figure, not the
64-bit desktop interpreter's. Run anything on it with
AKKER_MICROPYTHON=<that path> (gateway/workshop/mpy_build.py's tool()).
--frozen builds (and prints) the variant with firmware/ and payload_codec/
frozen in instead: gateway/sim/micropython32_frozen.py.

The source is, in order: the archive at $MICROPYTHON_SRC; the project's mirror,
../shared/mirror/micropython-1.28.0-unix-src.tar.xz beside the repository; the
v1.28.0 release archive downloaded from GitHub. The mirror and the download must
match SOURCE_SHA256, the checksum of the mirror's archive (a file given by
$MICROPYTHON_SRC is taken as it is). The build needs make and gcc with 32-bit
support (Debian's gcc-multilib, which `make system-deps` installs) and takes
about 70 s of two cores, once: the binary is kept in
$XDG_CACHE_HOME/akker/micropython32/1.28.0/micropython (~/.cache by default),
outside the repository; --rebuild (or deleting that folder) builds it again.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

VERSION = "1.28.0"
SOURCE_VARIABLE = "MICROPYTHON_SRC"
MIRROR = Path(__file__).resolve().parents[3] / "shared" / "mirror" / f"micropython-{VERSION}-unix-src.tar.xz"
DOWNLOAD_URL = f"https://github.com/micropython/micropython/releases/download/v{VERSION}/micropython-{VERSION}.tar.xz"
# sha256 of the mirror's micropython-1.28.0-unix-src.tar.xz (the unix port's sources, no other port).
SOURCE_SHA256 = "208063b7e91618ec6243a39ecd9bc0cf12c74d2c3d99330b549e306068810067"
# The standard variant as a 32-bit program, without the two modules whose libraries a clean machine lacks
# in 32 bits: ffi (libffi) and btree (Berkeley DB, not in the mirror's archive). Neither is used by the node.
MAKE_ARGS = ("MICROPY_FORCE_32BIT=1", "MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0", "VARIANT=standard")
JOBS = 2  # the machines this runs on share two cores
BUILD_TIMEOUT_S = 1800


class BuildError(RuntimeError):
    """The 32-bit interpreter could not be built; the message says why and what to do."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "akker" / "micropython32" / VERSION


def binary() -> Path:
    """Where the built interpreter is kept (it may not be there yet)."""
    return cache_dir() / "micropython"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_archive(workdir: Path) -> Path:
    """The source archive to build from: $MICROPYTHON_SRC, else the mirror, else a download into workdir."""
    given = os.environ.get(SOURCE_VARIABLE)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise BuildError(f"{SOURCE_VARIABLE}={given}: no such file")
        return path
    if MIRROR.is_file():
        archive = MIRROR
    else:
        archive = workdir / DOWNLOAD_URL.rsplit("/", 1)[1]
        log(f"downloading {DOWNLOAD_URL}")
        try:
            with urllib.request.urlopen(DOWNLOAD_URL, timeout=120) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as err:
            raise BuildError(
                f"cannot download {DOWNLOAD_URL} ({err}): put the archive somewhere and set {SOURCE_VARIABLE} to it"
            ) from None
    found = _sha256(archive)
    if found != SOURCE_SHA256:
        raise BuildError(
            f"{archive} has sha256 {found}, not the pinned {SOURCE_SHA256} (the mirror's"
            f" micropython-{VERSION}-unix-src.tar.xz): set {SOURCE_VARIABLE} to an archive you trust to build from it"
        )
    return archive


def port_dir(tree: Path) -> Path:
    """ports/unix inside the extracted archive, whatever its top folder is called."""
    found = sorted(tree.glob("ports/unix/Makefile")) + sorted(tree.glob("*/ports/unix/Makefile"))
    if found:
        return found[0].parent
    raise BuildError("the archive holds no ports/unix/Makefile: is it MicroPython's source?")


def check(path: Path) -> None:
    """Raise BuildError unless path runs as MicroPython VERSION with 32-bit words."""
    try:
        run = subprocess.run(
            [str(path), "-c", "import sys; print(sys.maxsize, '%d.%d.%d' % sys.implementation.version[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError as err:
        raise BuildError(f"{path} does not run: {err}") from None
    if run.stdout.split() != [str(2**31 - 1), VERSION]:
        raise BuildError(f"{path} is not a 32-bit MicroPython {VERSION}: {run.stdout.strip()} {run.stderr.strip()}")


def log(line: str) -> None:
    print(f"micropython32: {line}", file=sys.stderr, flush=True)


def extract(archive: Path, dest: Path) -> Path:
    """Extract the source archive into dest; return its ports/unix folder."""
    with tarfile.open(archive) as tar:
        # The "data" filter (no links out of the folder, no devices) where this Python has it (3.10.12+).
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, **safe)
    return port_dir(dest)


def make(folder: Path, args: tuple[str, ...] = ()) -> None:
    """make -C folder with args on JOBS cores; BuildError with the output's tail (and a hint) when it fails."""
    if not shutil.which("make"):
        raise BuildError("make is not installed: run `make system-deps` (Debian: apt-get install make gcc-multilib)")
    run = subprocess.run(
        ["make", "-C", str(folder), f"-j{JOBS}", *args], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    if run.returncode:
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
        hint = ""
        if "bits/" in tail or "-m32" in tail or "gnu/stubs-32.h" in tail:
            hint = "\n32-bit C headers are missing: install Debian's gcc-multilib (make system-deps does)"
        raise BuildError(f"make in {folder} failed:\n{tail}{hint}")


def install(built: Path, target: Path) -> None:
    """Copy the checked binary to target in one step (readers never see half of it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".new")
    shutil.copy2(built, staged)
    staged.replace(target)


def _build(target: Path) -> None:
    """Extract, make and check the binary, then move it to target."""
    with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as tmp:
        work = Path(tmp)
        archive = source_archive(work)
        log(f"building MicroPython {VERSION} (unix port, 32-bit) from {archive}: about 70 s on two cores")
        started = time.monotonic()
        port = extract(archive, work / "src")
        make(port, MAKE_ARGS)
        built = port / "build-standard" / "micropython"
        if not built.is_file():
            raise BuildError(f"make in {port} made no build-standard/micropython")
        check(built)
        install(built, target)
        log(f"built {target} in {time.monotonic() - started:.0f} s")


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    """Held while building into the cache: of several processes asking at once, one builds, the others wait."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure(rebuild: bool = False) -> Path:
    """The 32-bit interpreter's path, built first if the cache has none (or rebuild).

    Several processes (pytest workers, the bench) may ask at once: see cache_lock.
    """
    target = binary()
    if target.is_file() and not rebuild:
        return target
    with cache_lock():
        if rebuild or not target.is_file():
            _build(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.sim.micropython32", description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="build again even if the cache has the binary")
    parser.add_argument(
        "--frozen", action="store_true", help="the variant with firmware/ and payload_codec/ frozen in (its own module)"
    )
    args = parser.parse_args(argv)
    try:
        if args.frozen:
            from gateway.sim import micropython32_frozen

            path = micropython32_frozen.ensure(args.rebuild)
        else:
            path = ensure(args.rebuild)
    except BuildError as err:
        print(f"micropython32: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
