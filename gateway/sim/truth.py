"""`akker sim --truth`: what really happened, as JSON Lines, to check what the bridge stored against.

Every event of every node (each transmission, with whether a gateway board
heard it intact, and every true sensor value) with the node's name and the
virtual time as ISO 8601.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.sim import channel

from .farm_nodes import Provisioned


def _iso(epoch: datetime, t_ms: int) -> str:
    return (epoch + timedelta(milliseconds=t_ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def intact(heard: list[channel.Reception]) -> set[tuple[str, int]]:
    """(node, t_ms) of every frame some gateway received without a CRC error."""
    return {(rx.tx.node, rx.tx.t_ms) for rx in heard if not rx.crc_error}


def write_truth(
    path: Path,
    provisioned: list[Provisioned],
    per_node: list[list[dict[str, Any]]],
    heard: set[tuple[str, int]],
    epoch: datetime,
    downlinks: list[dict[str, Any]] | None = None,
) -> None:
    """Each node's events, uplinks with "dir": "up" and whether heard; then the downlinks, in time order."""
    with path.open("w") as f:
        for (name, ident, _root), events in zip(provisioned, per_node, strict=True):
            for e in events:
                e = dict(e, node=name, time=_iso(epoch, e["t_ms"]))
                if e["kind"] == "tx":
                    e["dir"] = "up"
                    if hasattr(ident, "dev_addr"):
                        e["dev_addr"] = f"{ident.dev_addr:08x}"
                    e["heard"] = (name, e["t_ms"]) in heard
                f.write(json.dumps(e) + "\n")
        for d in sorted(downlinks or [], key=lambda d: (d["t_ms"], d["node"])):
            f.write(json.dumps(dict(d, time=_iso(epoch, d["t_ms"]))) + "\n")
