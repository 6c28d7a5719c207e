"""gateway/sim/micropython32.py: where the 32-bit interpreter's source comes from, and its cache.

The build itself is the micropython32 fixture (tests/conftest.py), used by tests/firmware/test_heap_32bit.py.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from gateway.sim import micropython32 as mp32


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
