"""One rule for node names: every name the registry takes has its page and its API answer on the dashboard."""

from __future__ import annotations

import string
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.bridge import store
from gateway.bridge.registry import Registry, RegistryError
from gateway.dashboard.server import DashboardServer
from tests.farm.farm import NOW

# The allowed alphabet, and letters and digits that str.isalnum() takes but a URL-safe ASCII rule does not.
ALPHABET = string.ascii_letters + string.digits + "-_" + "öéß²٣Ⅻ"


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def farm() -> Iterator[tuple[Registry, DashboardServer]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = store.connect(Path(tmp) / "names.db")
        with DashboardServer(Path(tmp) / "names.db", port=0, now=lambda: NOW) as server:
            yield Registry(db), server
        db.close()


_addresses = count(1)


@settings(max_examples=150, deadline=None)
@given(name=st.text(ALPHABET, min_size=1, max_size=66))
def test_every_name_the_registry_takes_gets_a_page(farm: tuple[Registry, DashboardServer], name: str) -> None:
    registry, server = farm
    if registry.by_name(name) is None:
        try:
            registry.add(name, next(_addresses), bytes(range(16)), bytes(range(1, 17)))
        except RegistryError:
            assert status(server.url + "node/" + quote(name)) == 400  # refused by both, for the same reason
            return
    assert status(server.url + "node/" + quote(name)) == 200
    assert status(server.url + "api/nodes/" + quote(name)) == 200
