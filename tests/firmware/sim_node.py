"""Helpers to run the real firmware on the simulated board in-process (CPython) and read its frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from firmware.app import main
from firmware.sim.board import SimBoard
from firmware.sim.clock import SimClock
from firmware.sim.field import Field
from gateway.sim.nodes import APP, DEV_ADDR, NWK, node_config
from payload_codec import decode_uplink
from payload_codec.lorawan import open_uplink

__all__ = ["APP", "DEV_ADDR", "NWK", "node_config"]


def write_config(root: Path, cfg: dict[str, Any] | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(node_config() if cfg is None else cfg))


def make_board(root: Path, seed: int = 1, start_ms: int = 0) -> SimBoard:
    return SimBoard(str(root), SimClock(start_ms), Field(seed))


def run_cycles(board: SimBoard, n: int) -> list[int | None]:
    return [main(board) for _ in range(n)]


def opened(board: SimBoard) -> list[dict[str, Any]]:
    """Every frame the simulated modem sent, checked, decrypted and decoded, in order."""
    out = []
    last = None
    for record in board.modem().sent:
        fcnt, fport, plaintext = open_uplink(bytes(record["payload"]), NWK, APP, last_fcnt=last)
        last = fcnt
        out.append(
            {"fcnt": fcnt, "fport": fport, "t_ms": record["time_ms"], "message": decode_uplink(fport, plaintext)}
        )
    return out
