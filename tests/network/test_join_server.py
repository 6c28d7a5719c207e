"""The join server (gateway/network/join_server.py) against lora-packet and against the node's own firmware."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.bridge.frame import Reception, UplinkFrame
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry, open_db
from gateway.network.join_server import JoinRefused, JoinServer, JoinSettings
from gateway.sim.nodes import APP_KEY, DEV_EUI, JOIN_EUI, otaa_config
from payload_codec import encode_uplink
from tests.firmware.sim_node import make_board, run_cycles, write_config
from tests.lora_packet_peer import LoraPacketPeer

RX = Reception("board:sim", -90.0, 8.0, 868_100_000, 9, 125)


@pytest.fixture(scope="module")
def peer() -> Iterator[LoraPacketPeer]:
    p = LoraPacketPeer()
    yield p
    p.close()


def registry(tmp_path: Path, mac_version: str = "1.0.4") -> Registry:
    reg = Registry(open_db(tmp_path / "farm.db"))
    reg.add_otaa("east-1", DEV_EUI, JOIN_EUI, APP_KEY, "sim", mac_version)
    return reg


def request(peer: LoraPacketPeer, dev_nonce: int, app_key: bytes = APP_KEY, dev_eui: bytes = DEV_EUI) -> bytes:
    built = peer.ask(
        {
            "op": "join_request",
            "join_eui": JOIN_EUI.hex(),
            "dev_eui": dev_eui.hex(),
            "dev_nonce": dev_nonce,
            "app_key": app_key.hex(),
        }
    )
    return bytes.fromhex(built["phy"])


def test_a_join_request_from_lora_packet_is_answered_and_the_session_is_the_one_lora_packet_derives(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    reg = registry(tmp_path)
    settings = JoinSettings(rx2_data_rate=3, rx_delay_s=5, cflist_hz=(867_100_000, 867_300_000))
    joined = JoinServer(reg, settings).answer(request(peer, 7))
    assert joined.node == "east-1" and joined.dev_nonce == 7 and joined.join_nonce == 1
    seen: dict[str, Any] = peer.ask(
        {"op": "open_join_accept", "phy": joined.accept.hex(), "app_key": APP_KEY.hex(), "dev_nonce": 7}
    )
    assert seen["mic_ok"] and int(seen["dev_addr"], 16) == joined.dev_addr and seen["rx_delay"] == 5
    assert seen["dl_settings"] == 3 and seen["cflist"].startswith(
        "184f84e85684"
    )  # 867.1, 867.3 MHz in 100 Hz units, LE
    session = reg.by_name("east-1")
    assert session is not None and session.dev_addr == joined.dev_addr and session.last_fcnt is None
    assert session.nwk_skey.hex() == seen["nwk_skey"] and session.app_skey.hex() == seen["app_skey"]
    # A data uplink lora-packet builds under the derived keys is accepted by the bridge.
    fport, report = encode_uplink({"type": "report", "samples": [{"age_s": 0, "battery_v": 3.9}]})
    up = peer.ask(
        {
            "op": "build",
            "mtype": "Unconfirmed Data Up",
            "dev_addr": f"{joined.dev_addr:08x}",
            "fcnt": 0,
            "fport": fport,
            "payload": report.hex(),
            "nwk": seen["nwk_skey"],
            "app": seen["app_skey"],
        }
    )
    pipeline = Pipeline(tmp_path / "farm.db", [])
    assert pipeline.process([UplinkFrame(bytes.fromhex(up["phy"]), RX, "test", UplinkFrame.now())]) == ["accepted"]


@pytest.mark.parametrize(
    ("mac_version", "nonces", "refused"),
    [
        ("1.0.4", [5, 5], [False, True]),  # the same counter again: a replay
        ("1.0.4", [5, 4, 6], [False, True, False]),  # a 1.0.4 DevNonce only rises
        ("1.0.3", [900, 17, 900], [False, False, True]),  # random, but never one used before
    ],
)
def test_dev_nonces_follow_the_nodes_lorawan_version(
    tmp_path: Path, peer: LoraPacketPeer, mac_version: str, nonces: list[int], refused: list[bool]
) -> None:
    server = JoinServer(registry(tmp_path, mac_version))
    got = []
    for nonce in nonces:
        try:
            server.answer(request(peer, nonce))
            got.append(False)
        except JoinRefused as err:
            assert err.reason == "dev_nonce" and str(nonce) in str(err)
            got.append(True)
    assert got == refused
    joins = [j for j, r in zip(nonces, refused, strict=True) if not r]
    device = server.registry.otaa_by_name("east-1")
    assert device is not None and device.join_nonce == len(joins)  # one JoinNonce per accept


@pytest.mark.parametrize(
    ("phy", "reason"),
    [
        (lambda p: request(p, 1, app_key=bytes(16)), "mic"),
        (lambda p: request(p, 1, dev_eui=bytes.fromhex("0102030405060708")), "unknown"),
        (lambda p: b"\x00" * 10, "malformed"),
    ],
)
def test_requests_that_get_no_answer_say_why_and_change_nothing(
    tmp_path: Path, peer: LoraPacketPeer, phy: Any, reason: str
) -> None:
    reg = registry(tmp_path)
    with pytest.raises(JoinRefused) as refused:
        JoinServer(reg).answer(phy(peer))
    assert refused.value.reason == reason
    assert reg.by_name("east-1") is None and APP_KEY.hex() not in str(refused.value)


def test_the_node_firmware_joins_through_the_join_server_and_its_frames_open_in_the_bridge(tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    write_config(flash, otaa_config())
    board = make_board(flash)
    server = JoinServer(registry(tmp_path), JoinSettings(rx_delay_s=1))
    frames: list[bytes] = []
    modem = board.modem()

    def network(record: dict[str, Any]) -> None:
        phy = bytes(record["payload"])
        frames.append(phy)
        if phy[0] == 0x00:
            joined = server.answer(phy)
            end = record["time_ms"] + (record["airtime_us"] + 999) // 1000
            modem.downlinks.append(
                {"t_ms": end + 5000, "freq_khz": record["freq_khz"], "sf": record["sf"], "phy": joined.accept.hex()}
            )

    modem.on_send = network
    run_cycles(board, 3)
    data = [f for f in frames if f[0] != 0x00]
    assert data, "the node did not join"
    outcomes = Pipeline(tmp_path / "farm.db", []).process([UplinkFrame(f, RX, "test", UplinkFrame.now()) for f in data])
    assert outcomes == ["accepted"] * len(data)
    state = json.loads((flash / "state.0").read_text().split("\n", 1)[1] if (flash / "state.0").exists() else "{}")
    assert state.get("join_nonce", 1) == 1


def test_a_join_starts_the_node_afresh_and_sends_again_what_awaited_an_ack(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    # Issue 14: a join resets the counters and the pending-downlink state, not only the keys.
    from gateway.network.adr import Adr, Settings
    from gateway.network.commands import CommandQueue

    reg = registry(tmp_path)
    server = JoinServer(reg)
    server.answer(request(peer, 1))
    queue = CommandQueue(reg.db)
    confirmed = queue.add("east-1", {"cmd": "reboot"}, confirmed=True)
    plain = queue.add("east-1", {"cmd": "set_batch", "samples": 2})
    queue.move(confirmed.id, "sent")
    queue.move(plain.id, "sent")
    adr = Adr(reg.db)
    adr.asking("east-1", Settings(3, 0, 1), Settings(5, 2, 1))
    server.answer(request(peer, 2))
    assert [(c.id, c.state) for c in queue.for_node("east-1")] == [(confirmed.id, "queued"), (plain.id, "sent")]
    assert queue.attempts(confirmed.id) == 0
    assert adr.state("east-1") == (None, None)  # ADR starts from the node's defaults
