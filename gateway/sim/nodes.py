"""The config of a simulated node: every sensor of the sim board fitted and calibrated to the sim probes.

For `akker node`-style runs in the tests and `make bench` (firmware/sim/ is the board itself).
"""

from __future__ import annotations

from typing import Any

from firmware.sim.field import PROBE_DRY, PROBE_WET

NWK = bytes.fromhex("00112233445566778899aabbccddeeff")
APP = bytes.fromhex("ffeeddccbbaa99887766554433221100")
DEV_ADDR = 0x26011BDA
DEV_EUI = bytes.fromhex("70b3d57ed0000a01")
JOIN_EUI = bytes.fromhex("70b3d57ed0000000")
APP_KEY = bytes.fromhex("b6b53f4a168a7a88bdf7ea135ce9cfca")


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


def otaa_config(**changes: Any) -> dict[str, Any]:
    """node_config() for a node that joins with OTAA (no session keys of its own)."""
    cfg = node_config(activation="otaa", dev_eui=DEV_EUI.hex(), join_eui=JOIN_EUI.hex(), app_key=APP_KEY.hex())
    for key in ("dev_addr", "nwk_skey", "app_skey"):
        del cfg[key]
    cfg.update(changes)
    return cfg
