"""micropython-lib's LoRa drivers for deploy: a local mirror of the mip index, filled once, used offline after.

The cache is laid out as the index itself (`package/<mpy>/<name>/latest.json`,
`file/<h2>/<hash>`), so one download serves every later deploy in a barn
without internet. The files become ordinary deploy files under /lib, copied and
verified with the rest.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

INDEX = "https://micropython.org/pi/v2"
TIMEOUT_S = 20


class CacheError(Exception):
    """The drivers are neither cached nor downloadable; the message says what to do."""


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:
        return bytes(answer.read())


def _package_json(cache: Path, name: str, mpy: int) -> Path:
    return cache / "package" / str(mpy) / name / "latest.json"


def fill(cache: Path, packages: tuple[str, ...], mpy: int, index: str = INDEX) -> None:
    """Download the packages (and their dependencies) for .mpy version mpy into the cache."""
    todo = list(packages)
    seen: set[str] = set()
    try:
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            meta = _package_json(cache, name, mpy)
            if not meta.exists():
                data = _fetch(f"{index}/package/{mpy}/{name}/latest.json")
                meta.parent.mkdir(parents=True, exist_ok=True)
                meta.write_bytes(data)
            info = json.loads(meta.read_text())
            for _path, short_hash in info.get("hashes", ()):
                blob = cache / "file" / short_hash[:2] / short_hash
                if not blob.exists():
                    data = _fetch(f"{index}/file/{short_hash[:2]}/{short_hash}")
                    blob.parent.mkdir(parents=True, exist_ok=True)
                    blob.write_bytes(data)
            todo.extend(dep for dep, _version in info.get("deps", ()))
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise CacheError(
            f"the LoRa drivers ({', '.join(packages)}) are not in the local cache {cache} and cannot be downloaded "
            f"({reason}): connect to the internet once and deploy again, or copy that folder from another laptop"
        ) from None


def files(cache: Path, packages: tuple[str, ...], mpy: int) -> dict[str, bytes]:
    """path below /lib -> content, for the packages and their dependencies; CacheError if incomplete."""
    out: dict[str, bytes] = {}
    todo = list(packages)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        meta = _package_json(cache, name, mpy)
        try:
            info = json.loads(meta.read_text())
            for path, short_hash in info.get("hashes", ()):
                out[path] = (cache / "file" / short_hash[:2] / short_hash).read_bytes()
        except (OSError, ValueError) as err:
            raise CacheError(
                f"the LoRa driver cache {cache} is incomplete ({name}: {err}): delete it and deploy again"
            ) from None
        todo.extend(dep for dep, _version in info.get("deps", ()))
    return out
