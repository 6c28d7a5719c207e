"""ADR on the network side (gateway/network/adr.py): the decision, and a node moved from SF12 to SF7 for real."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge import store
from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from gateway.network.adr import ASK_AGAIN_AFTER, Adr, Settings, decide
from gateway.network.downlinks import DownlinkBuilder, Uplink
from gateway.network.join_server import JoinServer
from gateway.network.reach import EVERYWHERE, Partial, Reach, hears_cflist, reach
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


class FarmNetwork:
    """The bridge's join server, pipeline and downlink builder answering one simulated node, in lockstep.

    A gateway that hears only `heard_khz` loses the node's frames on its other channels: at SF9 only, as a
    gateway board does, or at every SF, as a Semtech gateway set up for fewer channels (`concentrator`).
    """

    def __init__(
        self,
        tmp_path: Path,
        radio: dict[str, Any],
        heard_khz: tuple[int, ...] | None = None,
        concentrator: bool = False,
    ) -> None:
        flash = tmp_path / "flash"
        write_config(flash, otaa_config(interval_s=600, radio=radio))
        self.board = make_board(flash)
        self.db = open_db(tmp_path / "farm.db")
        Registry(self.db).add_otaa("east-1", DEV_EUI, JOIN_EUI, APP_KEY, "sim")
        self.partial: Partial = ()
        if heard_khz:  # `akker gateway channels` for a Semtech gateway; a board is known from its frames
            self.partial = {"gw": frozenset(heard_khz)} if concentrator else ("gw",)
        self.concentrator = concentrator
        self.joins, self.builder = JoinServer(Registry(self.db)), DownlinkBuilder(self.db, partial=self.partial)
        self.pipeline = Pipeline(tmp_path / "farm.db", [])
        self.heard_khz = heard_khz
        self.sent: list[dict[str, Any]] = []
        self.heard: list[dict[str, Any]] = []
        self.board.modem().on_send = self.answer

    def answer(self, record: dict[str, Any]) -> None:
        phy = bytes(record["payload"])
        self.sent.append(record)
        if self.heard_khz is not None and (
            record["freq_khz"] not in self.heard_khz or (record["sf"] != 9 and not self.concentrator)
        ):
            return  # the gateway listens on its channels only (a board at SF9 only)
        self.heard.append(record)
        end = record["time_ms"] + (record["airtime_us"] + 999) // 1000
        at = T0 + timedelta(milliseconds=end)
        if phy[0] == 0x00:
            heard = {"gateway": "gw", "frequency": record["freq_khz"] * 1000, "sf": record["sf"]}
            reply, delay = self.joins.answer(phy, cflist=hears_cflist(reach([heard], self.partial))).accept, 5000
            self.pipeline.registry_changed()
        else:
            rx = Reception("gw", -95.0, 8.0, record["freq_khz"] * 1000, record["sf"], 125, counter_us=0)
            assert self.pipeline.process([UplinkFrame(phy, rx, "udp", at)]) == ["accepted"]
            info = parse_frame(phy)
            up = Uplink("east-1", False, info["fopts"], [rx], at, adr=bool(info["fctrl"] & 0x80))
            down = self.builder.build(up, at)
            if down is None:
                return
            reply, delay = down.phy, 1000
        self.board.modem().downlinks.append(
            {"t_ms": end + delay, "freq_khz": record["freq_khz"], "sf": record["sf"], "phy": reply.hex()}
        )


def test_a_node_near_the_gateway_moves_from_sf12_to_sf7_and_the_network_knows(tmp_path: Path) -> None:
    net = FarmNetwork(tmp_path, {"sf": 12})
    run_cycles(net.board, 12)
    sfs = [r["sf"] for r in net.sent]
    assert sfs[0] == 12 and sfs[-1] == 7, sfs  # joined at SF12, settled at SF7
    acks = [parse(parse_frame(bytes(r["payload"]))["fopts"], True) for r in net.sent[1:]]
    assert any((0x03, {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True}) in a for a in acks)
    in_force, asked = Adr(net.db).state("east-1")
    assert in_force is not None and in_force.dr == 5 and asked is None
    assert in_force.ch_mask == 0  # a gateway that hears every channel leaves the node all of them


def test_a_gateway_board_on_one_channel_keeps_the_node_to_that_channel(tmp_path: Path) -> None:
    net = FarmNetwork(tmp_path, {"sf": 9}, heard_khz=(868100,))
    run_cycles(net.board, 80)  # joins late: the board hears one channel at SF9
    assert {r["freq_khz"] for r in net.sent[:10]} > {868100}  # hopping over the defaults at first
    tail = net.sent[-8:]
    assert {r["freq_khz"] for r in tail} == {868100}, [r["freq_khz"] for r in net.sent]
    in_force, asked = Adr(net.db).state("east-1")
    assert in_force is not None and in_force.ch_mask == 0b001 and asked is None
    data = [r for r in net.sent if r["payload"][0] != 0x00]
    assert {r["sf"] for r in data} == {9}  # strong enough for SF7, but ADR keeps it where the board listens
    assert in_force.tx_power > 0  # the spare margin lowers its power instead


def test_a_semtech_gateway_set_to_two_channels_gets_the_node_there_at_sf7(tmp_path: Path) -> None:
    # Issue 14: a Semtech gateway with part of the plan used to be taken as hearing everything.
    net = FarmNetwork(tmp_path, {"sf": 12}, heard_khz=(868100, 868300), concentrator=True)
    run_cycles(net.board, 40)
    assert {r["freq_khz"] for r in net.sent[-8:]} <= {868100, 868300}, [r["freq_khz"] for r in net.sent]
    in_force, asked = Adr(net.db).state("east-1")
    assert in_force is not None and asked is None
    assert in_force.ch_mask == 0b011 and in_force.dr == 5  # its two channels, and every data rate: SF7
    assert net.sent[-1]["sf"] == 7


def test_a_join_accept_gives_the_plans_channels_only_where_a_gateway_hears_them() -> None:
    heard = {"gateway": "aa555a0000000001", "frequency": 868_100_000, "sf": 12}
    assert hears_cflist(reach([heard], {}))  # a Semtech gateway, nothing set: the whole plan
    five = frozenset({868100, 868300, 868500, 867100, 867300, 867500, 867700, 867900})
    assert hears_cflist(reach([heard], {"aa555a0000000001": five}))
    assert not hears_cflist(reach([heard], {"aa555a0000000001": frozenset({868100, 868300})}))
    assert not hears_cflist(reach([{**heard, "gateway": "board:1"}], {"board:1"}))


def test_adr_moves_a_node_only_to_data_rates_its_gateways_listen_on() -> None:
    # 12.5 dB spare at SF9: four steps, all into power, none to SF7
    assert decide(10.0, Settings(3, 0, 1), 0.0, drs=frozenset({3})) == Settings(3, 4, 1)
    # 20 dB spare at SF12: three steps to DR3 (past DR1 and DR2, which no gateway hears), three into power
    assert decide(10.0, Settings(0, 0, 1), 0.0, drs=frozenset({0, 3})) == Settings(3, 3, 1)
    assert decide(-4.0, Settings(0, 0, 1), 0.0, drs=frozenset({0, 3})) == Settings(0, 2, 1)  # 2 steps: not DR3


def test_the_reach_of_a_node_is_what_the_gateways_that_hear_it_listen_on() -> None:
    board = {"gateway": "gw-board", "frequency": 868_300_000, "sf": 9}
    assert reach([board], {"gw-board"}) == Reach(frozenset({868300}), frozenset({3}))
    assert reach([board], {"gw-board"}).mask() == 0b010
    assert reach([board, {"gateway": "aa555a0000000001", "frequency": 868_100_000, "sf": 7}], {"gw-board"}) == (
        EVERYWHERE
    )  # an 8-channel gateway hears everything
    assert EVERYWHERE.mask() == 0
    assert reach([{**board, "frequency": 869_525_000}], {"gw-board"}).mask() == 0  # none of the node's: all


def test_a_farm_database_from_before_the_channel_mask_is_brought_up_to_date(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute(
        "CREATE TABLE adr_nodes (node TEXT PRIMARY KEY, dr INTEGER NOT NULL, tx_power INTEGER NOT NULL,"
        " nb_trans INTEGER NOT NULL, margin_db REAL NOT NULL, asked TEXT)"
    )
    db.execute("INSERT INTO adr_nodes VALUES ('east-1', 3, 1, 1, 10.0, NULL)")
    db.commit()
    assert Adr(db).state("east-1") == (Settings(3, 1, 1, 0), None)


class Uplinks:
    """A node's uplinks stored as the pipeline stores them (what ADR reads), without the radio."""

    def __init__(self, db: sqlite3.Connection, fcnt: int = 0, dev_addr: int = 1) -> None:
        self.db, self.fcnt, self.dev_addr = db, fcnt, dev_addr

    def __call__(self, snr: float, gateway: str = "gw", freq_hz: int = 868_100_000, sf: int = 7) -> None:
        rx = json.dumps([{"gateway": gateway, "snr": snr, "rssi": -100, "frequency": freq_hz, "sf": sf}])
        n = self.fcnt
        self.fcnt += 1
        with self.db:
            self.db.execute(
                "INSERT INTO records (dev_addr, fcnt, node, phy, received_at, rx) VALUES (?, ?, 'east-1', ?, '', ?)",
                (self.dev_addr, n, self.dev_addr.to_bytes(4, "big") + n.to_bytes(4, "big"), rx),
            )


ALL_ACKED = {"power_ack": True, "data_rate_ack": True, "ch_mask_ack": True}


def test_only_uplinks_at_the_settings_in_force_count(tmp_path: Path) -> None:
    # Seen in the simulated farm: with the strong frames sent before a power cut still in its history, ADR
    # cut the power again and again until half the node's frames were lost.
    db = store.connect(tmp_path / "farm.db")
    uplink = Uplinks(db)
    adr = Adr(db)
    for _ in range(6):
        uplink(12.5)
    asked = adr.request("east-1", 5)
    assert asked is not None
    assert parse(adr.asking("east-1", *asked), False)[0][1]["tx_power"] == 3  # 10 dB spare at SF7: 3 steps down
    uplink(-4.0)  # the first frame at the lower power carries the LinkADRAns
    adr.answered("east-1", ALL_ACKED)
    assert adr.history("east-1") == (None, 0.0)  # the strong frames are history
    for _ in range(3):
        uplink(-4.0)
    best, _lost = adr.history("east-1")
    assert best == -4.0
    asked = adr.request("east-1", 5)
    assert asked is not None
    fields = parse(adr.asking("east-1", *asked), False)[0][1]
    assert fields["tx_power"] == 0  # 6.5 dB short of the margin now: back to full power


def test_a_link_adr_req_that_never_went_out_does_not_stop_adr(tmp_path: Path) -> None:
    # Seen in review: the request was saved as asked before the daily limit stopped its downlink, and ADR
    # then waited for an answer to a question never put, for the rest of the run.
    db = store.connect(tmp_path / "farm.db")
    uplink, adr = Uplinks(db), Adr(db)
    for _ in range(6):
        uplink(12.5)
    first = adr.request("east-1", 5)
    assert first is not None and adr.request("east-1", 5) == first  # not sent: still to ask
    adr.asking("east-1", *first)
    for _ in range(ASK_AGAIN_AFTER - 1):
        uplink(12.5)
        assert adr.request("east-1", 5) is None  # sent: waiting for its LinkADRAns
    uplink(12.5)
    assert adr.request("east-1", 5) == first  # three uplinks without an answer: it or its answer was lost


def test_a_rejoin_starts_the_history_afresh(tmp_path: Path) -> None:
    # Seen in review: the old session's frame counters (400..419) beside the new one's (0..) looked like
    # hundreds of lost frames, and ADR asked for three transmissions of everything.
    db = store.connect(tmp_path / "farm.db")
    old, adr = Uplinks(db, fcnt=400), Adr(db)
    for _ in range(20):
        old(2.0)
    adr.asking("east-1", Settings(5, 0, 1), Settings(5, 1, 1))
    adr.forget("east-1")  # the join server does this
    assert adr.state("east-1") == (None, None)  # nothing in force in the new session yet
    new = Uplinks(db, fcnt=0, dev_addr=2)
    for _ in range(4):
        new(-3.0)
    assert adr.history("east-1") == (-3.0, 0.0)


def test_a_node_that_refuses_a_channel_mask_gets_none_again(tmp_path: Path) -> None:
    # Seen in review: a node provisioned for one board on 868.3 MHz has that one channel as channel 0, so a
    # mask made for EU868's three defaults is refused, and with it the data rate and power of every LinkADRReq.
    db = store.connect(tmp_path / "farm.db")
    uplink, adr = Uplinks(db), Adr(db, partial={"board:1"})
    for _ in range(6):
        uplink(0.0, gateway="board:1", freq_hz=868_300_000, sf=9)
    asked = adr.request("east-1", 3)
    assert asked is not None and asked[1].ch_mask == 0b010
    adr.asking("east-1", *asked)
    uplink(0.0, gateway="board:1", freq_hz=868_300_000, sf=9)
    adr.answered("east-1", {"power_ack": True, "data_rate_ack": False, "ch_mask_ack": False})
    for _ in range(5):
        uplink(12.0, gateway="board:1", freq_hz=868_300_000, sf=9)
    again = adr.request("east-1", 3)
    assert again is not None and again[1].ch_mask == 0 and again[1].tx_power > 0  # ChMaskCntl 6, ADR goes on
