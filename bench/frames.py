"""LoRaWAN frame figures: open_uplink against lora-packet, and build_uplink on MicroPython.

lora-packet runs under node in the same `make bench` run, on the same frames,
so the ratio compares the two implementations on this machine today.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench import heap, speed
from payload_codec.lorawan import build_uplink, open_uplink

PEER = Path(__file__).resolve().parents[1] / "tests" / "js" / "lorawan_peer.js"
NWK = bytes.fromhex("44024241ed4ce9a68c6a8bc055233fd3")
APP = bytes.fromhex("ec925802ae430ca77fd3dd73cb2cc588")
STANDARD = bytes.fromhex("04767527082d214180155d80")
BUILD_TARGET = 1024  # bytes one build_uplink may allocate on the node


def sample_frames(n: int = 100) -> list[bytes]:
    """Standard reports from one node, counters 1..n (below 65536, as lora-packet assumes by default)."""
    return [build_uplink(0x26011BDA, fcnt, 1, STANDARD, NWK, APP) for fcnt in range(1, n + 1)]


def ours_per_s(frames: list[bytes]) -> float:
    def open_all() -> None:
        for fcnt, phy in enumerate(frames, start=1):
            open_uplink(phy, NWK, APP, last_fcnt=fcnt - 1)

    for fcnt, phy in enumerate(frames, start=1):  # what is timed must work
        assert open_uplink(phy, NWK, APP, last_fcnt=fcnt - 1) == (fcnt, 1, STANDARD)
    return speed.best_rates({"ours": open_all})["ours"] * len(frames)


def lora_packet_per_s(frames: list[bytes]) -> float:
    request = {"op": "bench", "phy": [f.hex() for f in frames], "nwk": NWK.hex(), "app": APP.hex(), "seconds": 1.5}
    result = subprocess.run(
        ["node", str(PEER)], input=json.dumps(request) + "\n", capture_output=True, text=True, timeout=60, check=True
    )
    answer = json.loads(result.stdout)
    if "error" in answer:
        raise RuntimeError(f"lora-packet: {answer['error']}")
    return float(answer["frames_per_s"])


def micropython_build() -> dict[str, float]:
    with heap.build("mpy_frames.py") as root:
        answer: dict[str, float] = heap.run_json(root, "mpy_frames", heapsize="32k")
    return answer
