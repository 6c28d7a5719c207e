"""The join server's throughput: how many JoinRequests a second it checks, answers and stores.

A farm's join storm is every node of a field rejoining within a minute after a power cut; the reference
is 500 nodes in a minute, the simulator's largest farm (akker sim --nodes 500).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from gateway.bridge.registry import Registry, open_db
from gateway.network.join_server import JoinServer
from payload_codec.lorawan_join import build_join_request

NODES = 300
STORM_JOINS_PER_S = 500 / 60


def joins_per_second(nodes: int = NODES) -> float:
    """JoinRequests from `nodes` registered nodes answered (MIC, DevNonce, accept, session stored), per second."""
    with tempfile.TemporaryDirectory(prefix="akker-bench-join-") as tmp:
        registry = Registry(open_db(Path(tmp) / "farm.db"))
        join_eui = bytes(8)
        requests = []
        for i in range(nodes):
            dev_eui = (0x70B3D57ED0000000 + i).to_bytes(8, "big")
            app_key = (i + 1).to_bytes(16, "big")
            registry.add_otaa(f"n{i}", dev_eui, join_eui, app_key)
            requests.append(build_join_request(join_eui, dev_eui, 0, app_key))
        server = JoinServer(registry)
        start = time.perf_counter()
        for phy in requests:
            server.answer(phy)
        return nodes / (time.perf_counter() - start)
