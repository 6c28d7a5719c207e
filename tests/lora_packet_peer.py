"""A running tests/js/lorawan_peer.js: the npm package lora-packet under node, one JSON line per request."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.processes import kill, spawn

PEER = Path(__file__).parent / "js" / "lorawan_peer.js"


class LoraPacketPeer:
    def __init__(self) -> None:
        self.proc = spawn(["node", str(PEER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"lora-packet peer exited with {self.proc.wait(5)}")
        return json.loads(line)

    def close(self) -> None:
        """End of input ends the peer; killed if it has not gone within 10 s."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(10)
        finally:
            kill(self.proc)
