"""gateway/sim/micropython32.py: where the 32-bit interpreter's source comes from, and its cache; the cache of
the variant with the firmware frozen in (gateway/sim/micropython32_frozen.py, built by make bench only).

The build itself is the micropython32 fixture (tests/conftest.py), used by tests/firmware/test_heap_32bit.py.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from gateway.sim import micropython32 as mp32
from gateway.sim import micropython32_frozen as frozen


@pytest.fixture
def no_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $MICROPYTHON_SRC, no mirror, a private cache: returns the work folder."""
    monkeypatch.delenv(mp32.SOURCE_VARIABLE, raising=False)
    monkeypatch.setattr(mp32, "MIRROR", tmp_path / "no-mirror.tar.xz")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_the_cache_is_outside_the_repository_by_version(no_source: Path) -> None:
    assert mp32.binary() == no_source.parent / "cache" / "akker" / "micropython32" / "1.28.0" / "micropython"


def test_the_mirror_matches_the_pin() -> None:
    if not mp32.MIRROR.is_file():
        pytest.skip(f"no mirror at {mp32.MIRROR}")
    assert hashlib.sha256(mp32.MIRROR.read_bytes()).hexdigest() == mp32.SOURCE_SHA256


def test_the_given_archive_comes_first_and_is_taken_as_it_is(
    no_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "mine.tar.xz"
    given.write_bytes(b"not checked")
    monkeypatch.setenv(mp32.SOURCE_VARIABLE, str(given))
    assert mp32.source_archive(no_source) == given
    monkeypatch.setenv(mp32.SOURCE_VARIABLE, str(tmp_path / "gone.tar.xz"))
    with pytest.raises(mp32.BuildError, match=r"MICROPYTHON_SRC=.*gone\.tar\.xz: no such file"):
        mp32.source_archive(no_source)


def test_a_mirror_that_does_not_match_the_pin_is_refused(no_source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mp32.MIRROR.write_bytes(b"tampered")
    with pytest.raises(mp32.BuildError, match="not the pinned"):
        mp32.source_archive(no_source)


def test_without_a_mirror_the_release_is_downloaded_and_checked(
    no_source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = []

    def urlopen(url: str, timeout: float) -> io.BytesIO:
        asked.append(url)
        return io.BytesIO(b"something else")

    monkeypatch.setattr(mp32.urllib.request, "urlopen", urlopen)
    with pytest.raises(mp32.BuildError, match="not the pinned"):
        mp32.source_archive(no_source)
    assert asked == ["https://github.com/micropython/micropython/releases/download/v1.28.0/micropython-1.28.0.tar.xz"]

    def offline(url: str, timeout: float) -> io.BytesIO:
        raise OSError("no route to host")

    monkeypatch.setattr(mp32.urllib.request, "urlopen", offline)
    with pytest.raises(mp32.BuildError, match=r"cannot download .* set MICROPYTHON_SRC"):
        mp32.source_archive(no_source)


def test_a_cached_binary_is_used_without_building(no_source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = mp32.binary()
    cached.parent.mkdir(parents=True)
    cached.write_text("")

    def no_build(_target: Path) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(mp32, "_build", no_build)
    assert mp32.ensure() == cached


# ------------------------------------------------------------------ the variant with the firmware frozen in


def test_the_frozen_build_is_cached_under_a_hash_of_the_sources(no_source: Path) -> None:
    files = frozen.sources()
    assert "firmware/app.py" in files and "payload_codec/lorawan.py" in files
    assert not any(name.startswith("micropython") for name in files)  # the builtin module serves; no stand-in
    here = frozen.binary(files)
    assert here.parent.parent == mp32.cache_dir() and here.name == "micropython"
    assert here.parent.name == f"frozen-{frozen.key(files)}"
    # One byte changed, or a module more, is another build.
    assert frozen.key({**files, "firmware/app.py": files["firmware/app.py"] + b"\n"}) != frozen.key(files)
    assert frozen.key({**files, "firmware/extra.py": b""}) != frozen.key(files)
    assert frozen.key(dict(reversed(files.items()))) == frozen.key(files)


def test_a_cached_frozen_binary_is_used_without_building(no_source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = frozen.binary()
    cached.parent.mkdir(parents=True)
    cached.write_text("")

    def no_build(_files: dict[str, bytes], _target: Path) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(frozen, "_build", no_build)
    assert frozen.ensure() == cached


def test_only_the_newest_frozen_builds_are_kept(no_source: Path) -> None:
    builds = []
    for i in range(frozen.KEEP + 2):
        folder = mp32.cache_dir() / f"frozen-{i:016x}"
        folder.mkdir(parents=True)
        os.utime(folder, (1000 + i, 1000 + i))
        builds.append(folder)
    tree = mp32.cache_dir() / "frozen-tree"
    tree.mkdir()
    frozen._prune(builds[0])  # the one just built stays, whatever its time
    left = sorted(p.name for p in mp32.cache_dir().iterdir())
    assert left == sorted([builds[0].name, *(b.name for b in builds[-(frozen.KEEP - 1) :]), "frozen-tree"])


def test_the_frozen_binary_runs_in_a_folder_of_its_own_from_its_frozen_modules(tmp_path: Path) -> None:
    cmd, env = frozen.command(tmp_path / "micropython", tmp_path, ["-m", "firmware.sim.run"], "48k")
    assert cmd == [str(tmp_path / "micropython"), "-X", "heapsize=48k", "-m", "firmware.sim.run"]
    assert env["MICROPYPATH"] == ".frozen" and env["HOME"] == str(tmp_path)
