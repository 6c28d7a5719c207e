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


def _walk(cache: Path, packages: tuple[str, ...], mpy: int, index: str | None) -> dict[str, bytes]:
    """path below /lib -> content for the packages and their dependencies, read from the cache.

    With an index, whatever the cache lacks is downloaded into it first; without, a gap raises OSError.
    """

    def get(rel: str) -> bytes:
        path = cache / rel
        if index is not None and not path.exists():
            data = _fetch(f"{index}/{rel}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return path.read_bytes()

    out: dict[str, bytes] = {}
    todo = list(packages)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        info = json.loads(get(f"package/{mpy}/{name}/latest.json"))
        for path, short_hash in info.get("hashes", ()):
            out[path] = get(f"file/{short_hash[:2]}/{short_hash}")
        todo.extend(dep for dep, _version in info.get("deps", ()))
    return out


def fill(cache: Path, packages: tuple[str, ...], mpy: int, index: str = INDEX) -> None:
    """Download the packages (and their dependencies) for .mpy version mpy into the cache."""
    try:
        _walk(cache, packages, mpy, index)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise CacheError(
            f"the LoRa drivers ({', '.join(packages)}) are not in the local cache {cache} and cannot be downloaded "
            f"({reason}): connect to the internet once and deploy again, or copy that folder from another laptop"
        ) from None


def files(cache: Path, packages: tuple[str, ...], mpy: int) -> dict[str, bytes]:
    """path below /lib -> content, for the packages and their dependencies; CacheError if incomplete."""
    try:
        return _walk(cache, packages, mpy, None)
    except (OSError, ValueError) as err:
        raise CacheError(f"the LoRa driver cache {cache} is incomplete ({err}): delete it and deploy again") from None
