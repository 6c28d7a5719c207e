"""The network beside the bridge (gateway/network/service.py): a forwarder's join and uplink answered in PULL_RESPs.

The real pipeline and Semtech UDP source on loopback; a UDP socket plays the packet forwarder.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from gateway.bridge.sources.semtech_udp import SemtechUdpSource
from gateway.network.commands import CommandQueue
from gateway.network.service import NetworkService
from gateway.sim.forwarder import udp_free_port
from gateway.sim.nodes import APP_KEY, DEV_EUI, JOIN_EUI
from payload_codec import encode_uplink
from payload_codec.lorawan import build_uplink, open_downlink
from payload_codec.lorawan_join import build_join_request, open_join_accept
from tests.bridge.semtech_kit import EUI, EUI_HEX, Forwarder, header, pull, push, rxpk
from tests.processes import wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[tuple[Forwarder, Path, list[str]]]:
    db = tmp_path / "farm.db"
    Registry(open_db(db)).add_otaa("east-1", DEV_EUI, JOIN_EUI, APP_KEY, "sim")
    Registry(open_db(db)).add("north-1", 0x26011B01, bytes(range(16)), bytes(range(16, 32)))
    pipeline = Pipeline(db, [])
    source = SemtechUdpSource("127.0.0.1", 0)
    service = NetworkService(db, source, pipeline.count, registry_changed=pipeline.registry_changed)
    pipeline.on_batch = service.on_batch
    changes: list[str] = []
    service.on_command_changed = lambda c: changes.append(f"{c.id}:{c.state}")
    pipeline.start()
    source.start(pipeline)
    forwarder = Forwarder(source.address)
    try:
        forwarder.send(pull(0x0001))
        forwarder.recv_kind(0x04)  # PULL_ACK: the bridge now knows the way back to this gateway
        yield forwarder, db, changes
    finally:
        forwarder.sock.close()
        source.stop()
        pipeline.stop()
        service.stop()


def test_a_join_and_a_command_are_answered_on_the_gateways_counter(bridge: tuple[Forwarder, Path, list[str]]) -> None:
    forwarder, db, changes = bridge
    request = build_join_request(JOIN_EUI, DEV_EUI, 3, APP_KEY)
    forwarder.send(push({"rxpk": [rxpk(request, tmst=1_000_000)]}, token=0x0101))
    resp = forwarder.recv_kind(0x03)
    txpk = json.loads(resp[4:])["txpk"]
    assert txpk["tmst"] == 6_000_000 and txpk["ipol"] and txpk["freq"] == 868.1 and txpk["datr"] == "SF9BW125"
    accept = open_join_accept(base64.b64decode(txpk["data"]), APP_KEY, 3)
    session = Registry(open_db(db)).by_name("east-1")
    assert session is not None and session.dev_addr == accept["dev_addr"] and session.nwk_skey == accept["nwk_skey"]

    CommandQueue(open_db(db)).add("east-1", {"cmd": "set_interval", "seconds": 600})
    fport, report = encode_uplink({"type": "report", "samples": [{"age_s": 0, "battery_v": 3.9}]})
    up = build_uplink(accept["dev_addr"], 0, fport, report, accept["nwk_skey"], accept["app_skey"], adr=True)
    forwarder.send(push({"rxpk": [rxpk(up, tmst=4_294_000_000)]}, token=0x0102))
    txpk = json.loads(forwarder.recv_kind(0x03)[4:])["txpk"]
    # RX1 would be on 868.1 MHz, whose 1 % sub-band the JoinAccept has just used: RX2, two seconds on (across
    # the counter's wrap), at 869.525 MHz SF12.
    assert txpk["tmst"] == (4_294_000_000 + 2_000_000) % 2**32 and txpk["freq"] == 869.525
    assert txpk["datr"] == "SF12BW125"
    fcnt, port, payload = open_downlink(base64.b64decode(txpk["data"]), accept["nwk_skey"], accept["app_skey"])
    assert (fcnt, port, payload) == (0, 20, (600).to_bytes(3, "big"))
    assert CommandQueue(open_db(db)).for_node("east-1")[0].state == "sent"
    assert changes == ["1:sent"]  # told to MQTT, where there is one


@pytest.mark.parametrize("error", ["TOO_LATE", "TOO_EARLY", "COLLISION_PACKET", "TX_FREQ", "TX_POWER", "GPS_UNLOCKED"])
def test_a_gateway_that_refuses_rx1_is_asked_for_rx2_when_waiting_can_help(
    bridge: tuple[Forwarder, Path, list[str]], error: str
) -> None:
    forwarder, _db, _ = bridge
    forwarder.send(push({"rxpk": [rxpk(build_join_request(JOIN_EUI, DEV_EUI, 3, APP_KEY), tmst=1_000_000)]}))
    first = forwarder.recv_kind(0x03)
    assert json.loads(first[4:])["txpk"]["tmst"] == 6_000_000
    forwarder.recv_kind(0x01)  # the PUSH_ACK, which follows the PULL_RESP
    forwarder.send(header(0x05, first[1] << 8 | first[2]) + EUI + json.dumps({"txpk_ack": {"error": error}}).encode())
    if error in ("TX_FREQ", "TX_POWER", "GPS_UNLOCKED"):  # RX2 would be refused the same way: not asked
        assert forwarder.nothing_within(1.0)
        return
    again = json.loads(forwarder.recv_kind(0x03)[4:])["txpk"]
    assert (again["tmst"], again["freq"], again["datr"]) == (7_000_000, 869.525, "SF12BW125")
    assert forwarder.nothing_within(0.5)  # and only once


def test_a_semtech_gateway_set_to_fewer_channels_gets_no_cflist_for_its_nodes(
    bridge: tuple[Forwarder, Path, list[str]],
) -> None:
    # Issue 14: its `stat` says nothing of its channels, so `akker gateway channels` tells the network.
    forwarder, db, _ = bridge
    request = build_join_request(JOIN_EUI, DEV_EUI, 3, APP_KEY)
    forwarder.send(push({"rxpk": [rxpk(request, tmst=1_000_000)]}, token=0x0101))
    accept = open_join_accept(base64.b64decode(json.loads(forwarder.recv_kind(0x03)[4:])["txpk"]["data"]), APP_KEY, 3)
    assert accept["cflist"] == [867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000]  # hears all
    out = subprocess.run([AKKER, "gateway", "channels", "--db", str(db), EUI_HEX, "--channels", "868100,868300,868500"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.returncode == 0 and "868.1, 868.3, 868.5 MHz" in out.stdout, out.stderr
    request = build_join_request(JOIN_EUI, DEV_EUI, 4, APP_KEY)
    forwarder.send(push({"rxpk": [rxpk(request, tmst=30_000_000)]}, token=0x0102))
    accept = open_join_accept(base64.b64decode(json.loads(forwarder.recv_kind(0x03)[4:])["txpk"]["data"]), APP_KEY, 4)
    assert accept["cflist"] is None  # channels 3..7 would go where this gateway does not listen


def test_a_join_storm_is_answered_in_order_within_the_duty_cycle_and_the_rest_counted(tmp_path: Path) -> None:
    # Forty nodes of a field rejoin within a second after a power cut, through one gateway.
    db = tmp_path / "storm.db"
    registry = Registry(open_db(db))
    keys = [bytes([i + 1]) * 16 for i in range(40)]
    euis = [(0x70B3D57ED0001000 + i).to_bytes(8, "big") for i in range(40)]
    for i in range(40):
        registry.add_otaa(f"n{i}", euis[i], JOIN_EUI, keys[i])
    counts: dict[str, int] = {}
    sent: list[dict[str, object]] = []

    class Gateway:
        def send_downlink(self, gateway: str, txpk: dict[str, object], done: object = None) -> int:
            sent.append(txpk)
            return len(sent)

    pipeline = Pipeline(db, [])
    service = NetworkService(db, Gateway(), lambda n: counts.__setitem__(n, counts.get(n, 0) + 1))  # type: ignore[arg-type]
    pipeline.on_batch = service.on_batch
    now = UplinkFrame.now()
    frames = [
        UplinkFrame(build_join_request(JOIN_EUI, euis[i], 0, keys[i]),
                    Reception("gw", -100.0, 5.0, 868_100_000, 9, 125, counter_us=1_000_000 + 50_000 * i), "udp", now)
        for i in range(40)
    ]  # fmt: skip
    assert pipeline.process(frames) == ["join_request"] * 40  # not stored, not a rejection: the network's
    assert counts["joins"] == 40  # every session is made and stored ...
    answered = len(sent)
    # ... but one gateway may send a JoinAccept in RX1 (1 % sub-band) and one in RX2 (10 %) before its duty
    # cycle closes both: the rest are dropped and counted, never sent late.
    assert answered == 2 and counts["join_accept_no_window"] == 38 and "downlink_no_window" not in counts
    assert [t["tmst"] for t in sent] == [6_000_000, 7_050_000]  # the first in RX1, the second's RX2, in order
    service.stop()


def test_the_gateway_that_heard_the_uplink_best_sends_the_downlink(bridge: tuple[Forwarder, Path, list[str]]) -> None:
    near, _db, _changes = bridge
    far = Forwarder(near.server)
    far_eui = bytes.fromhex("aa555a0000000202")
    try:
        far.send(pull(0x0002)[:4] + far_eui)
        far.recv_kind(0x04)
        up = build_uplink(0x26011B01, 0, None, b"", bytes(range(16)), bytes(range(16, 32)), confirmed=True)
        # The first gateway to report it heard it worse; the second, a few ms later, better: the second answers.
        near.send(push({"rxpk": [rxpk(up, tmst=10_000_000, lsnr=-9.0)]}, token=0x0201))
        far.send(push({"rxpk": [rxpk(up, tmst=20_000_000, lsnr=8.5)]}, token=0x0202, eui=far_eui))
        txpk = json.loads(far.recv_kind(0x03)[4:])["txpk"]
        assert txpk["tmst"] == 21_000_000  # RX1 on the far gateway's own counter
    finally:
        far.sock.close()


SETTINGS = ("--rx-delay-s", "3", "--rx2-data-rate", "3", "--dev-addr-range", "26011000-260110ff")


@pytest.mark.parametrize("flags", [(), ("--no-network",), SETTINGS])
def test_akker_gateway_run_answers_joins_unless_told_not_to(tmp_path: Path, flags: tuple[str, ...]) -> None:
    # As a farm starts it: `akker provision` makes OTAA nodes, so the bridge answers them unless --no-network.
    db = tmp_path / "farm.db"
    Registry(open_db(db)).add_otaa("east-1", DEV_EUI, JOIN_EUI, APP_KEY, "sim")
    port = udp_free_port()
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([AKKER, "gateway", "run", "--db", str(db), "--udp", f"127.0.0.1:{port}", *flags],
                                stdout=out, stderr=out)  # fmt: skip
    forwarder = Forwarder(("127.0.0.1", port))
    try:
        wait_for_log(log, " running ", proc)
        assert "no nodes registered" not in log.read_text() and " nodes=1" in log.read_text()  # not joined yet
        off = "--no-network" in flags
        assert ("network off: this bridge only listens" if off else "network on: answering joins") in log.read_text()
        forwarder.send(pull(0x0001))
        forwarder.recv_kind(0x04)
        forwarder.send(push({"rxpk": [rxpk(build_join_request(JOIN_EUI, DEV_EUI, 1, APP_KEY), tmst=10)]}))
        if off:
            forwarder.recv_kind(0x01)  # PUSH_ACK: stored and committed (a PULL_RESP would come before it)
            with pytest.raises(TimeoutError):
                forwarder.recv_kind(0x03, timeout_s=2.0)
            assert Registry(open_db(db)).by_name("east-1") is None  # no session: nobody answered
        else:
            txpk = json.loads(forwarder.recv_kind(0x03)[4:])["txpk"]
            accept = open_join_accept(base64.b64decode(txpk["data"]), APP_KEY, 1)
            assert txpk["tmst"] == 5_000_010 and Registry(open_db(db)).by_name("east-1") is not None
            assert accept["dev_addr"] == Registry(open_db(db)).by_name("east-1").dev_addr  # type: ignore[union-attr]
            if flags == SETTINGS:  # the network's settings, told in the JoinAccept and kept by the scheduler
                assert (accept["rx_delay_s"], accept["rx2_data_rate"]) == (3, 3)
                assert 0x26011000 <= accept["dev_addr"] <= 0x260110FF
                fport, report = encode_uplink({"type": "report", "samples": [{"age_s": 0, "battery_v": 3.9}]})
                up = build_uplink(accept["dev_addr"], 0, fport, report, accept["nwk_skey"], accept["app_skey"],
                                  confirmed=True)  # fmt: skip
                forwarder.send(push({"rxpk": [rxpk(up, tmst=40_000_000)]}, token=0x0202))
                ack = json.loads(forwarder.recv_kind(0x03)[4:])["txpk"]
                # RX1's sub-band is still paying for the JoinAccept: RX2, RxDelay + 1 s on, at DR3 (SF9).
                assert (ack["tmst"], ack["freq"], ack["datr"]) == (44_000_000, 869.525, "SF9BW125"), ack
    finally:
        forwarder.sock.close()
        proc.terminate()
        proc.wait(30)
