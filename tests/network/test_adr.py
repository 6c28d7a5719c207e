"""ADR on the network side (gateway/network/adr.py): the decision, and a node moved from SF12 to SF7 for real."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from gateway.network.adr import Adr, Settings, decide
from gateway.network.downlinks import DownlinkBuilder, Uplink
from gateway.network.join_server import JoinServer
from gateway.sim.nodes import APP_KEY, DEV_EUI, JOIN_EUI, otaa_config
from payload_codec.lorawan import parse_frame
from payload_codec.mac_commands import parse
from tests.firmware.sim_node import make_board, run_cycles, write_config

T0 = datetime(2026, 12, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("snr", "current", "lost", "want"),
    [
        (5.0, Settings(0, 0, 1), 0.0, Settings(5, 0, 1)),  # SF12 with 15 dB to spare: five steps to SF7
        (-5.0, Settings(0, 0, 1), 0.0, Settings(1, 0, 1)),  # 5 dB to spare: one step
        (10.0, Settings(5, 0, 1), 0.0, Settings(5, 2, 1)),  # at SF7 already: the spare steps lower the power
        (-6.0, Settings(5, 3, 1), 0.0, Settings(5, 0, 1)),  # short of the margin: power back up
        (5.0, Settings(0, 0, 1), 0.08, Settings(5, 0, 2)),  # 8 % lost: two transmissions
        (5.0, Settings(0, 0, 1), 0.2, Settings(5, 0, 3)),
    ],
)
def test_the_decision(snr: float, current: Settings, lost: float, want: Settings) -> None:
    assert decide(snr, current, lost) == want


def test_a_node_near_the_gateway_moves_from_sf12_to_sf7_and_the_network_knows(tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    write_config(flash, otaa_config(interval_s=600, radio={"sf": 12}))
    board = make_board(flash)
    db_path = tmp_path / "farm.db"
    db = open_db(db_path)
    registry = Registry(db)
    registry.add_otaa("east-1", DEV_EUI, JOIN_EUI, APP_KEY, "sim")
    joins, builder, pipeline = JoinServer(registry), DownlinkBuilder(db), Pipeline(db_path, [])
    modem = board.modem()
    sent: list[dict[str, Any]] = []

    def network(record: dict[str, Any]) -> None:
        phy = bytes(record["payload"])
        sent.append(record)
        end = record["time_ms"] + (record["airtime_us"] + 999) // 1000
        at = T0 + timedelta(milliseconds=end)
        if phy[0] == 0x00:
            reply, delay = joins.answer(phy).accept, 5000
            pipeline.registry_changed()
        else:
            rx = Reception("gw", -95.0, 8.0, record["freq_khz"] * 1000, record["sf"], 125, counter_us=0)
            assert pipeline.process([UplinkFrame(phy, rx, "udp", at)]) == ["accepted"]
            info = parse_frame(phy)
            up = Uplink("east-1", False, info["fopts"], [rx], at, adr=bool(info["fctrl"] & 0x80))
            down = builder.build(up, at)
            if down is None:
                return
            reply, delay = down.phy, 1000
        modem.downlinks.append({"t_ms": end + delay, "freq_khz": record["freq_khz"], "sf": record["sf"],
                                "phy": reply.hex()})  # fmt: skip

    modem.on_send = network
    run_cycles(board, 12)
    sfs = [r["sf"] for r in sent]
    assert sfs[0] == 12 and sfs[-1] == 7, sfs  # joined at SF12, settled at SF7
    acks = [parse(parse_frame(bytes(r["payload"]))["fopts"], True) for r in sent[1:]]
    assert any((0x03, {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True}) in a for a in acks)
    in_force, asked = Adr(db).state("east-1")
    assert in_force is not None and in_force.dr == 5 and asked is None
