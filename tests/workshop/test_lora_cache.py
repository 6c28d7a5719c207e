"""The LoRa drivers' local cache: a mirror of the mip index, filled once over HTTP, used offline after."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.workshop import lora_cache
from gateway.workshop.deploy import LORA_PACKAGES, plan
from gateway.workshop.provision import board_file


def fake_index(root: Path) -> None:
    """An index laid out as micropython.org/pi/v2 serves it: package JSON naming files by hash, with deps."""
    files = {"lora": {"lora/__init__.mpy": b"LORA", "lora/modem.mpy": b"MODEM"},
             "lora-sync": {"lora/sync_modem.mpy": b"SYNC"}, "lora-sx126x": {"lora/sx126x.mpy": b"SX126X"}}  # fmt: skip
    deps = {"lora": [], "lora-sync": [["lora", "latest"]], "lora-sx126x": [["lora", "latest"]]}
    for name, content in files.items():
        hashes = []
        for path, data in content.items():
            h = hashlib.sha256(data).hexdigest()[:8]
            blob = root / "file" / h[:2] / h
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            hashes.append([path, h])
        meta = root / "package" / "6" / name / "latest.json"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"hashes": hashes, "deps": deps[name], "version": "0.1"}))


@pytest.fixture
def index(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "index"
    fake_index(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_filled_once_then_used_offline(tmp_path: Path, index: str) -> None:
    cache = tmp_path / "cache"
    packages = LORA_PACKAGES["sx1262"]
    with pytest.raises(lora_cache.CacheError, match="incomplete"):
        lora_cache.files(cache, packages, 6)
    lora_cache.fill(cache, packages, 6, index=index)
    got = lora_cache.files(cache, packages, 6)
    assert got == {"lora/__init__.mpy": b"LORA", "lora/modem.mpy": b"MODEM", "lora/sync_modem.mpy": b"SYNC",
                   "lora/sx126x.mpy": b"SX126X"}  # fmt: skip
    lora_cache.fill(cache, packages, 6, index="http://127.0.0.1:9")  # all cached: no request made
    files = plan(board_file("heltec_v3"), b"{}", tmp_path, got)
    assert [f.remote for f in files if "lora" in f.remote] == [
        "/lib/lora/__init__.mpy", "/lib/lora/modem.mpy", "/lib/lora/sx126x.mpy", "/lib/lora/sync_modem.mpy",
    ]  # fmt: skip
    assert [f.remote for f in files][-4:] == ["/boot.py", "/main.py", "/boards/heltec_v3.json", "/config.json"]


def test_offline_with_an_empty_cache_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(lora_cache.CacheError) as err:
        lora_cache.fill(tmp_path / "cache", LORA_PACKAGES["sx1276"], 6, index="http://127.0.0.1:9")
    text = str(err.value)
    assert "not in the local cache" in text and "connect to the internet once" in text
