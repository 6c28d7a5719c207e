"""The downlink for an uplink (gateway/network/downlinks.py): checked by lora-packet, and heard by the node."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.frame import Reception
from gateway.bridge.registry import Registry, open_db
from gateway.network.commands import CommandQueue
from gateway.network.downlinks import DownlinkBuilder, Uplink, gps_time
from gateway.network.join_server import JoinServer
from gateway.sim.nodes import APP_KEY, DEV_EUI, JOIN_EUI, otaa_config
from payload_codec import decode_uplink, encode_downlink
from payload_codec.lorawan import build_downlink, open_uplink, parse_frame
from payload_codec.mac_commands import build, parse
from tests.firmware.sim_node import make_board, run_cycles, write_config
from tests.lora_packet_peer import LoraPacketPeer

NWK = bytes.fromhex("00112233445566778899aabbccddeeff")
APP = bytes.fromhex("ffeeddccbbaa99887766554433221100")
T0 = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def peer() -> Iterator[LoraPacketPeer]:
    p = LoraPacketPeer()
    yield p
    p.close()


@pytest.fixture
def builder(tmp_path: Path) -> DownlinkBuilder:
    db = open_db(tmp_path / "farm.db")
    Registry(db).add("north-1", 0x26011B01, NWK, APP)
    return DownlinkBuilder(db)


def up(confirmed: bool = False, mac: bytes = b"", snr: float = 2.5, sf: int = 9) -> Uplink:
    return Uplink("north-1", confirmed, mac, [Reception("gw", -110.0, snr, 868_100_000, sf, 125, counter_us=0)], T0)


def opened(peer: LoraPacketPeer, phy: bytes, fcnt: int) -> dict[str, Any]:
    return peer.ask({"op": "open", "phy": phy.hex(), "nwk": NWK.hex(), "app": APP.hex(), "fcnt": fcnt})


def test_an_adr_ack_req_gets_a_downlink_even_with_nothing_to_say(
    builder: DownlinkBuilder, peer: LoraPacketPeer
) -> None:
    # TS001-1.0.4 4.3.1.1: a node that sets ADRACKReq needs any downlink within ADR_ACK_DELAY uplinks, or it
    # steps its data rate down; the network answers with an empty one.
    quiet = up()
    assert builder.build(quiet, now=T0) is None
    asking = Uplink(quiet.node, False, b"", quiet.receptions, T0 + timedelta(minutes=15), adr_ack_req=True)
    down = builder.build(asking, now=asking.ended_at)
    assert down is not None
    seen = opened(peer, down.phy, down.fcnt_down)
    assert seen["mic_ok"] and seen["mtype"] == "Unconfirmed Data Down" and seen["fport"] is None


def test_a_confirmed_uplink_gets_an_ack_and_nothing_else_gets_nothing(
    builder: DownlinkBuilder, peer: LoraPacketPeer
) -> None:
    assert builder.build(up(), now=T0) is None
    down = builder.build(up(confirmed=True), now=T0)
    assert down is not None and down.fcnt_down == 0 and down.command_id is None
    seen = opened(peer, down.phy, 0)
    assert (
        seen["mic_ok"] and seen["mtype"] == "Unconfirmed Data Down" and seen["fctrl"] & 0x20 and seen["fport"] is None
    )


def test_queued_commands_go_oldest_first_with_fpending_and_the_counter_rises(
    builder: DownlinkBuilder, peer: LoraPacketPeer
) -> None:
    queue = CommandQueue(builder.db)
    first = queue.add("north-1", {"cmd": "set_interval", "seconds": 600}, confirmed=True)
    queue.add("north-1", {"cmd": "request_status"})
    one = builder.build(up(), now=T0)
    acked = Uplink("north-1", False, b"", up().receptions, T0, ack=True)  # the node acknowledges the first
    two = builder.build(acked, now=T0 + timedelta(minutes=15))
    assert one is not None and two is not None and (one.fcnt_down, two.fcnt_down) == (0, 1)
    a, b = opened(peer, one.phy, 0), opened(peer, two.phy, 1)
    assert a["mic_ok"] and a["fport"] == 20 and a["plaintext"] == (600).to_bytes(3, "big").hex()
    assert a["mtype"] == "Confirmed Data Down" and a["fctrl"] & 0x10  # FPending: one more is queued
    assert b["mic_ok"] and b["fport"] == 24 and not b["fctrl"] & 0x10
    assert queue.get(first.id).state == "acknowledged"  # type: ignore[union-attr]


def test_link_check_and_device_time_are_answered_in_fopts(builder: DownlinkBuilder, peer: LoraPacketPeer) -> None:
    down = builder.build(up(mac=b"\x02\x0d", snr=2.5, sf=9), now=T0)
    assert down is not None
    answers = dict(parse(bytes.fromhex(opened(peer, down.phy, 0)["fopts"]), False))
    assert answers[0x02] == {"margin_db": 15, "gw_cnt": 1}  # 2.5 dB above SF9's floor of -12.5 dB
    seconds, fraction = gps_time(T0)
    assert answers[0x0D] == {"gps_time_s": seconds, "fraction": fraction}
    assert seconds == int(T0.timestamp()) - 315_964_800 + 18


def test_no_more_than_the_daily_limit_acks_included(builder: DownlinkBuilder) -> None:
    sent = [builder.build(up(confirmed=True), now=T0 + timedelta(minutes=i)) for i in range(12)]
    assert sum(d is not None for d in sent) == 10
    assert builder.build(up(confirmed=True), now=T0 + timedelta(days=1, minutes=1)) is not None  # a day later


def test_the_node_joins_gets_its_command_and_its_clock_through_the_network_code(tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    write_config(flash, otaa_config(interval_s=900))
    board = make_board(flash)
    db = open_db(tmp_path / "farm.db")
    registry = Registry(db)
    registry.add_otaa("east-1", DEV_EUI, JOIN_EUI, APP_KEY, "sim")
    joins, builder = JoinServer(registry), DownlinkBuilder(db)
    queue = CommandQueue(db)
    command = queue.add("east-1", {"cmd": "set_interval", "seconds": 300})
    modem = board.modem()
    statuses: list[dict[str, Any]] = []

    def network(record: dict[str, Any]) -> None:
        phy = bytes(record["payload"])
        end = record["time_ms"] + (record["airtime_us"] + 999) // 1000
        if phy[0] == 0x00:
            accept, delay = joins.answer(phy).accept, 5000
        else:
            session = registry.by_dev_addr(parse_frame(phy)["dev_addr"])
            assert session is not None
            fcnt, fport, plain = open_uplink(phy, session.nwk_skey, session.app_skey, session.last_fcnt)
            registry.record_fcnt(session.dev_addr, fcnt)
            if fport == 2:
                statuses.append(decode_uplink(2, plain))
                queue.note_status("east-1", statuses[-1])
            rx = Reception("gw", -100.0, 5.0, record["freq_khz"] * 1000, record["sf"], 125, counter_us=0)
            ended = T0 + timedelta(milliseconds=end)
            down = builder.build(Uplink("east-1", phy[0] >> 5 == 4, parse_frame(phy)["fopts"], [rx], ended), ended)
            if down is None:
                return
            accept, delay = down.phy, 1000
        modem.downlinks.append(
            {"t_ms": end + delay, "freq_khz": record["freq_khz"], "sf": record["sf"], "phy": accept.hex()}
        )

    modem.on_send = network
    run_cycles(board, 5)
    assert any(s.get("last_command") == {"cmd": "set_interval", "seconds": 300} for s in statuses)
    log = "".join(p.read_text() for p in flash.glob("log.*"))
    assert "command 1 applied: set_interval" in log and "clock offset to GPS time" in log
    assert queue.get(command.id).state == "applied"  # type: ignore[union-attr]  # seen in the status


def test_dev_status_is_asked_once_a_day_and_its_answer_kept(builder: DownlinkBuilder, peer: LoraPacketPeer) -> None:
    assert builder.build(up(), now=T0) is None  # first seen: asked a day from now
    down = builder.build(up(), now=T0 + timedelta(days=1, seconds=1))
    assert down is not None
    assert parse(bytes.fromhex(opened(peer, down.phy, 0)["fopts"]), False) == [(0x06, {})]
    assert builder.build(up(), now=T0 + timedelta(days=1, minutes=15)) is None  # asked: not again today
    builder.build(up(mac=bytes.fromhex("06c83d")), now=T0 + timedelta(days=1, minutes=30))
    assert builder.dev_status("north-1") == {
        "battery": 200,
        "snr_db": -3,
        "answered_at": (T0 + timedelta(days=1, minutes=30)).isoformat(),
    }


def test_a_confirmed_command_goes_again_after_an_uplink_without_its_ack_and_is_acknowledged_by_one(
    builder: DownlinkBuilder, peer: LoraPacketPeer
) -> None:
    queue = CommandQueue(builder.db)
    cmd = queue.add("north-1", {"cmd": "reset_trap", "trap": 0}, confirmed=True)
    first = builder.build(up(), now=T0)
    again = builder.build(up(), now=T0 + timedelta(minutes=15))  # no ACK in this uplink: sent again
    assert first is not None and again is not None and (first.command_id, again.command_id) == (cmd.id, cmd.id)
    seen = opened(peer, again.phy, 1)
    assert seen["mic_ok"] and seen["fport"] == 23 and seen["mtype"] == "Confirmed Data Down"
    acked = Uplink("north-1", False, b"", up().receptions, T0, ack=True)
    assert builder.build(acked, now=T0 + timedelta(minutes=30)) is None  # nothing left to say
    assert queue.get(cmd.id).state == "acknowledged"  # type: ignore[union-attr]


def test_a_confirmed_command_never_acknowledged_expires_after_three_tries(builder: DownlinkBuilder) -> None:
    queue = CommandQueue(builder.db)
    cmd = queue.add("north-1", {"cmd": "reboot"}, confirmed=True)
    sent = [builder.build(up(), now=T0 + timedelta(minutes=15 * i)) for i in range(5)]
    assert [d.command_id if d else None for d in sent] == [cmd.id, cmd.id, cmd.id, None, None]
    assert queue.get(cmd.id).state == "expired"  # type: ignore[union-attr]


def test_the_largest_downlink_the_network_makes_fits_every_eu868_data_rate() -> None:
    # One downlink carries everything (downlinks.py): the answers to LinkCheckReq and DeviceTimeReq, a
    # LinkADRReq, a DevStatusReq and the longest command. It must fit DR0 (RX2 at SF12), whose MACPayload
    # is at most 59 bytes (RP002-1.0.3 EU868), so nothing ever has to wait for a second downlink for size.
    fopts = build(
        [("LinkCheckAns", {"margin_db": 20, "gw_cnt": 2}), ("DeviceTimeAns", {"gps_time_s": 2**31, "fraction": 9}),
         ("LinkADRReq", {"data_rate": 5, "tx_power": 7, "ch_mask": 0xFF, "ch_mask_cntl": 0, "nb_trans": 3}),
         ("DevStatusReq", {})],
        False,
    )  # fmt: skip
    assert len(fopts) <= 15  # FOptsLen is four bits
    fport, payload = max(
        (encode_downlink(c) for c in ({"cmd": "set_interval", "seconds": 86400}, {"cmd": "set_batch", "samples": 8},
                                      {"cmd": "set_calibration", "probe": 3, "dry": 65535, "wet": 0},
                                      {"cmd": "reset_trap", "trap": 1}, {"cmd": "request_status"}, {"cmd": "reboot"})),
        key=lambda fp: len(fp[1]),
    )  # fmt: skip
    phy = build_downlink(0x01020304, 70000, fport, payload, bytes(16), bytes(16), confirmed=True, ack=True,
                         fpending=True, fopts=fopts)  # fmt: skip
    assert len(phy) - 1 - 4 <= 59  # less MHDR and MIC: the MACPayload
