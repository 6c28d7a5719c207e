"""The config of a simulated node: every sensor of the sim board fitted and calibrated to the sim probes.

For `akker node`-style runs in the tests and `make bench` (firmware/sim/ is the board itself).
"""

from __future__ import annotations

from typing import Any

from firmware.sim.field import PROBE_DRY, PROBE_WET

NWK = bytes.fromhex("00112233445566778899aabbccddeeff")
APP = bytes.fromhex("ffeeddccbbaa99887766554433221100")
DEV_ADDR = 0x26011BDA


def node_config(**changes: Any) -> dict[str, Any]:
    """A node with every sensor of the sim board fitted and calibrated to the sim probes."""
    cfg: dict[str, Any] = {
        "role": "node",
        "board": "sim",
        "dev_addr": f"{DEV_ADDR:08x}",
        "nwk_skey": NWK.hex(),
        "app_skey": APP.hex(),
        "interval_s": 900,
        "sensors": {
            "soil_moisture": [{"dry": PROBE_DRY, "wet": PROBE_WET}] * 2,
            "soil_temp": 2,
            "air": "sht4x",
            "traps": 2,
            "battery": True,
        },
    }
    cfg.update(changes)
    return cfg
