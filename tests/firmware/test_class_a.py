"""The node as a LoRaWAN 1.0.4 class A device against a scripted network built on lora-packet (issue 13).

In-process on CPython with the simulated board: the network answers each
uplink through the simulated modem's receive windows. The same firmware under
MicroPython, and across SIGKILLs, is in test_class_a_micropython.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware.sim.board import SimBoard
from firmware.sim.energy import CURRENT_MA, Battery
from firmware.state import NodeState
from gateway.sim.nodes import APP, APP_KEY, DEV_ADDR, NWK, node_config, otaa_config
from payload_codec import decode_uplink, encode_downlink
from payload_codec.mac_commands import build, parse
from tests.firmware.scripted_network import (
    FCTRL_ACK,
    FCTRL_ADR,
    FCTRL_ADR_ACK_REQ,
    Downlink,
    ScriptedNetwork,
    Uplink,
)
from tests.firmware.sim_node import make_board, run_cycles, write_config
from tests.lora_packet_peer import LoraPacketPeer


@pytest.fixture(scope="module")
def peer() -> Iterator[LoraPacketPeer]:
    p = LoraPacketPeer()
    yield p
    p.close()


def attach(board: SimBoard, net: ScriptedNetwork) -> None:
    modem = board.modem()
    modem.on_send = lambda record: modem.downlinks.extend(net.downlinks_for(record))


def joined_node(tmp_path: Path, peer: LoraPacketPeer, **net_args: Any) -> tuple[SimBoard, ScriptedNetwork]:
    write_config(tmp_path, otaa_config(interval_s=600))
    board = make_board(tmp_path)
    net = ScriptedNetwork(peer, APP_KEY, **net_args)
    attach(board, net)
    run_cycles(board, 1)
    assert net.nwk is not None, "the node did not join"
    return board, net


def state(board: SimBoard) -> dict[str, Any]:
    """What the node keeps on flash (the newer of its two slots)."""
    best: tuple[int, dict[str, Any]] = (-1, {})
    for name in ("state.0", "state.1"):
        path = Path(board.root) / name
        if path.exists():
            head, text = path.read_text().split("\n", 1)
            seq = int(head.split()[0])
            if seq > best[0]:
                best = (seq, json.loads(text))
    return best[1]


def awake(board: SimBoard) -> NodeState:
    """What the node keeps in RTC memory between wake-ups."""
    st = NodeState()
    assert st.from_rtc(board.rtc)
    return st


def log(board: SimBoard) -> str:
    return "".join(p.read_text() for p in sorted(Path(board.root).glob("log.*")))


def around_answer(net: ScriptedNetwork, nth: int = 0) -> tuple[Uplink, Uplink]:
    """The nth uplink the network answered with a downlink, and the uplink after it."""
    ups = net.data_uplinks
    k = [i for i, u in enumerate(ups) if u.answered][nth]
    return ups[k], ups[k + 1]


# ------------------------------------------------------------------ OTAA


def test_the_node_joins_and_its_uplinks_open_with_the_keys_lora_packet_derived(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    board, net = joined_node(tmp_path, peer, rx_delay_s=1, rx2_dr=3, cflist_hz=[867100000, 867300000])
    join = net.uplinks[0]
    assert join.join and join.dev_nonce == 0 and join.freq_khz in (868100, 868300, 868500)
    run_cycles(board, 3)
    data = net.data_uplinks
    assert data, "no data uplink after the join"
    assert [u.fcnt for u in data] == list(range(len(data)))  # a new session counts from 0
    assert data[0].fctrl & FCTRL_ADR
    assert decode_uplink(data[0].fport, data[0].plaintext)["type"] == "status"
    assert parse(data[0].fopts, True) == [(0x0D, {})]  # DeviceTimeReq, once a day
    saved = state(board)
    assert saved["dev_nonce"] == 1 and saved["join_nonce"] == net.join_nonce
    # The CFList's channels are the node's channels 3 and 4.
    assert saved["lw"][11][3][0] == 867100 and saved["lw"][11][4][0] == 867300


def test_a_joined_node_does_not_join_again_after_a_power_loss(tmp_path: Path, peer: LoraPacketPeer) -> None:
    board, net = joined_node(tmp_path, peer)
    run_cycles(board, 2)
    board.power_loss()
    run_cycles(board, 3)
    assert sum(u.join for u in net.uplinks) == 1
    fcnts = [u.fcnt for u in net.data_uplinks]
    assert fcnts == sorted(set(fcnts)), "an FCnt went back or was used twice"


def test_with_nobody_answering_the_node_samples_backs_off_and_never_reuses_a_devnonce(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    write_config(tmp_path, otaa_config(interval_s=60))
    board = make_board(tmp_path)
    net = ScriptedNetwork(peer, APP_KEY, answer_joins=False)
    attach(board, net)
    run_cycles(board, 60 * 14)  # 14 hours of one-minute wake-ups
    joins = net.uplinks
    assert all(u.join for u in joins)
    assert [u.dev_nonce for u in joins] == list(range(len(joins)))
    airtime = {u.sf: u.end_ms - u.t_ms for u in joins}
    first = joins[0].t_ms
    for a, b in itertools.pairwise(joins):
        since = a.t_ms - first
        factor = 100 if since < 3600_000 else 1000 if since < 11 * 3600_000 else 10000
        assert b.t_ms - a.t_ms >= airtime[a.sf] * factor, (a.t_ms, b.t_ms)
    # TS001-1.0.4 section 7: at most 36 s of join airtime in the first hour.
    assert sum(u.end_ms - u.t_ms for u in joins if u.t_ms - first < 3600_000) <= 36_000
    # Every second unanswered request one data rate down, to DR0, then from the configured one again: a
    # gateway board listening at SF7 must hear a node that was not heard at first.
    first_sf = joins[0].sf
    cycle = [sf for sf in range(first_sf, 13) for _ in range(2)]
    assert [u.sf for u in joins] == (cycle * len(joins))[: len(joins)]
    assert len(joins) > len(cycle)  # it did start again
    assert board.watchdog_overruns == 0 and "error" not in log(board)
    assert len(state(board)) > 0 and state(board)["dev_nonce"] == len(joins)


def test_a_join_accept_that_misses_its_window_is_not_heard(tmp_path: Path, peer: LoraPacketPeer) -> None:
    write_config(tmp_path, otaa_config())
    board = make_board(tmp_path)
    net = ScriptedNetwork(peer, APP_KEY)
    modem = board.modem()

    def late(record: dict[str, Any]) -> None:
        for d in net.downlinks_for(record):
            d["t_ms"] += 300  # later than RX1 can catch, and not RX2's channel
            modem.downlinks.append(d)

    modem.on_send = late
    run_cycles(board, 1)
    assert state(board)["lw"] is None and "no JoinAccept" in log(board)
    attach(board, net)
    board.clock.sleep_ms(3600_000)
    run_cycles(board, 1)
    assert state(board)["lw"] is not None


def test_silence_makes_the_node_join_again_and_a_replayed_join_accept_is_refused(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    board, net = joined_node(tmp_path, peer)
    first_accept = net.sent[0]
    modem = board.modem()

    def replay(record: dict[str, Any]) -> None:
        answers = net.downlinks_for(record)
        for d in answers:
            d["phy"] = first_accept.hex()  # the JoinAccept the node took before, sent again
        modem.downlinks.extend(answers)

    modem.on_send = replay
    run_cycles(board, 64 + 32 * 8 + 2)
    assert "joining again" in log(board)
    assert "JoinNonce" in log(board) and state(board)["lw"] is None
    attach(board, net)
    board.clock.sleep_ms(24 * 3600_000)
    run_cycles(board, 2)
    saved = state(board)
    assert saved["lw"] is not None and saved["join_nonce"] == net.join_nonce
    nonces = [u.dev_nonce for u in net.uplinks if u.join]
    assert nonces == list(range(len(nonces)))


# ------------------------------------------------------------------ downlinks and MAC commands


@pytest.mark.parametrize(("ch_mask", "applied"), [(0x0003, True), (0x0100, False)])  # 0x0100: channel 8, undefined
def test_link_adr_req_is_applied_whole_or_not_at_all_and_answered(
    tmp_path: Path, peer: LoraPacketPeer, ch_mask: int, applied: bool
) -> None:
    board, net = joined_node(tmp_path, peer)
    adr = {"data_rate": 5, "tx_power": 2, "ch_mask": ch_mask, "ch_mask_cntl": 0, "nb_trans": 1}
    net.queue.append(Downlink(fopts=build([("LinkADRReq", adr)], False)))
    run_cycles(board, 3)
    answered, after = around_answer(net)
    status = {"power_ack": True, "data_rate_ack": applied, "ch_mask_ack": applied}
    assert (0x03, status) in parse(after.fopts, True)
    if applied:
        assert after.sf == 7 and after.freq_khz in (868100, 868300)
        assert board.modem().cfg["output_power"] == 12  # 16 dBm - 2 x 2
    else:
        assert after.sf == answered.sf and board.modem().cfg["output_power"] == 14


def test_mac_commands_in_fport_0_are_answered_and_sticky_answers_repeat_until_a_downlink(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    board, net = joined_node(tmp_path, peer)
    cmds = build(
        [
            ("DevStatusReq", {}),
            ("RXTimingSetupReq", {"rx_delay_s": 2}),
            ("DutyCycleReq", {"max_duty_cycle": 0}),
            ("NewChannelReq", {"ch_index": 3, "freq_hz": 867500000, "max_dr": 5, "min_dr": 0}),
            ("TxParamSetupReq", {"downlink_dwell_time": False, "uplink_dwell_time": False, "max_eirp": 5}),
        ],
        False,
    )
    net.queue.append(Downlink(fport=0, payload=cmds))
    run_cycles(board, 4)
    ups = net.data_uplinks
    k = next(i for i, u in enumerate(ups) if u.answered)
    first = dict(parse(ups[k + 1].fopts, True))
    assert set(first) >= {0x06, 0x08, 0x04, 0x07}
    assert 0x09 not in first  # EU868: TxParamSetupReq is neither applied nor answered
    assert first[0x07] == {"data_rate_range_ok": True, "channel_freq_ok": True}
    assert first[0x06]["snr_db"] == 10 and 1 <= first[0x06]["battery"] <= 254
    # RXTimingSetupAns is sticky: in every uplink until a downlink arrives.
    assert all(0x08 in dict(parse(u.fopts, True)) for u in ups[k + 1 :])
    assert 0x06 not in dict(parse(ups[k + 2].fopts, True))  # DevStatusAns went once
    net.rx_delay_s = 2
    net.queue.append(Downlink(fport=1, payload=b""))  # any downlink, now in the 2 s RX1
    run_cycles(board, 3)
    ups = net.data_uplinks
    k = max(i for i, u in enumerate(ups) if u.answered)
    assert all(0x08 not in dict(parse(u.fopts, True)) for u in ups[k + 1 :])
    assert state(board)["lw"][10] == 2  # rx_delay_s


def test_rx_param_setup_moves_rx2_and_rx1_skips_rx2(tmp_path: Path, peer: LoraPacketPeer) -> None:
    board, net = joined_node(tmp_path, peer)
    net.queue.append(
        Downlink(
            fopts=build([("RXParamSetupReq", {"rx1_dr_offset": 1, "rx2_data_rate": 3, "freq_hz": 869525000})], False)
        )
    )
    run_cycles(board, 2)
    assert state(board)["lw"][7:9] == [1, 3]
    net.rx1_dr_offset, net.rx2_dr = 1, 3
    net.queue.append(
        Downlink(fport=20, payload=encode_downlink({"cmd": "set_interval", "seconds": 1200})[1], window="rx2")
    )
    run_cycles(board, 2)
    assert state(board)["settings"]["interval_s"] == 1200


def test_a_replayed_or_forged_downlink_changes_nothing_and_is_counted(tmp_path: Path, peer: LoraPacketPeer) -> None:
    board, net = joined_node(tmp_path, peer)
    net.queue.append(Downlink(fport=20, payload=encode_downlink({"cmd": "set_interval", "seconds": 1200})[1]))
    run_cycles(board, 2)
    assert state(board)["settings"]["interval_s"] == 1200 and state(board)["commands"] == 1
    replay = net.sent[-1]
    forged = bytearray(replay)
    forged[-1] ^= 1
    net.queue += [Downlink(phy=replay), Downlink(phy=bytes(forged))]
    run_cycles(board, 3)
    now = awake(board)
    assert now.commands == 1 and now.dl_errors == 2 and now.lw.fcnt_down == 0
    assert "replay" in log(board) and "MIC mismatch" in log(board)


def test_a_confirmed_downlink_is_acknowledged_in_the_next_uplink(tmp_path: Path, peer: LoraPacketPeer) -> None:
    board, net = joined_node(tmp_path, peer)
    net.queue.append(Downlink(fport=24, payload=b"", confirmed=True))
    run_cycles(board, 3)
    ups = net.data_uplinks
    k = next(i for i, u in enumerate(ups) if u.answered)
    assert ups[k + 1].fctrl & FCTRL_ACK and not ups[k + 2].fctrl & FCTRL_ACK


def test_commands_are_applied_persisted_and_survive_a_power_loss(tmp_path: Path, peer: LoraPacketPeer) -> None:
    board, net = joined_node(tmp_path, peer)
    for command in ({"cmd": "set_interval", "seconds": 300}, {"cmd": "set_batch", "samples": 2}):
        fport, payload = encode_downlink(command)
        net.queue.append(Downlink(fport=fport, payload=payload))
    run_cycles(board, 4)
    board.power_loss()
    run_cycles(board, 6)
    saved = state(board)
    assert saved["settings"]["interval_s"] == 300 and saved["settings"]["samples_per_uplink"] == 2
    reports = [u for u in net.data_uplinks if u.fport == 1]
    last = decode_uplink(1, reports[-1].plaintext)
    assert len(last["samples"]) == 2
    assert reports[-1].t_ms - reports[-2].t_ms == pytest.approx(600_000, abs=60_000)  # two 300 s samples
    statuses = [decode_uplink(2, u.plaintext) for u in net.data_uplinks if u.fport == 2]
    assert statuses[-1]["commands_applied"] == 2
    assert statuses[-1]["last_command"] == {"cmd": "set_batch", "samples": 2}


# ------------------------------------------------------------------ ADR back-off and ABP


def test_without_downlinks_the_adr_back_off_asks_then_restores_power_then_steps_down(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    write_config(tmp_path, node_config(interval_s=60, radio={"sf": 7}, adr=True))
    board = make_board(tmp_path)
    net = ScriptedNetwork(peer, APP_KEY)
    net.use_session(DEV_ADDR, NWK, APP)
    attach(board, net)
    run_cycles(board, 200)
    ups = net.data_uplinks
    by_fcnt = {u.fcnt: u for u in ups}
    first_req = min(u.fcnt for u in ups if u.fctrl & FCTRL_ADR_ACK_REQ)
    assert first_req == 63  # the 64th uplink without a downlink (ADRACKCnt counts from 1)
    assert all(u.fctrl & FCTRL_ADR for u in ups)
    assert all(u.sf == 7 for u in ups if u.fcnt < 127)
    assert by_fcnt[max(by_fcnt)].sf > 7, "no step down to a lower data rate after 128 uplinks"
    # Any downlink ends the back-off.
    net.queue.append(Downlink(fport=1, payload=b"\x00"))
    run_cycles(board, 3)
    assert not net.data_uplinks[-1].fctrl & FCTRL_ADR_ACK_REQ


def test_a_survey_sends_a_link_check_at_each_data_rate_and_keeps_what_came_back(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    write_config(tmp_path, otaa_config(survey=True))
    board = make_board(tmp_path)
    # SF7 is 2.5 dB less sensitive than SF8 and so on: the margin grows as the data rate falls; SF12 is lost.
    net = ScriptedNetwork(peer, APP_KEY, link_margin=lambda sf: None if sf == 12 else int(2.5 * (sf - 7)) + 2)
    attach(board, net)
    run_cycles(board, 2)  # the join, then the survey
    checks = [u for u in net.data_uplinks if (0x02, {}) in parse(u.fopts, True)]
    assert [u.sf for u in checks] == [7, 8, 9, 10, 11, 12]
    rows = json.loads((tmp_path / "survey.json").read_text())
    assert [(r["dr"], r["margin_db"]) for r in rows] == [(5, 2), (4, 4), (3, 7), (2, 9), (1, 12), (0, None)]
    assert "survey: DR3 SF9: margin 7 dB, 1 gateway(s)" in log(board)
    assert "survey: DR0 SF12: no answer" in log(board)


def test_the_energy_model_charges_the_wait_for_the_windows_and_the_listening(tmp_path: Path) -> None:
    write_config(tmp_path, node_config())
    board = make_board(tmp_path)
    modem = board.modem()
    run_cycles(board, 1)  # a status: one uplink, RX1 1 s after it, RX2 a second later
    # Waited: 980 ms to RX1 (opened 20 ms early), and from RX1's end to 20 ms before RX2.
    sf9_window = 40 + 25  # 40 ms of timing error plus six SF9 symbols
    sf12_window = 40 + 197
    assert modem.rx_ms == sf9_window + sf12_window
    assert modem.wait_ms == 980 + (1000 - sf9_window)
    battery, plain = Battery(), Battery()
    battery.spend(3000, 200, 900_000, modem.wait_ms, modem.rx_ms)
    plain.spend(3000, 200, 900_000)
    c = CURRENT_MA
    saved = modem.wait_ms * (c["awake"] - c["wait"]) + modem.rx_ms * (c["awake"] - c["rx"])
    assert plain.used_mah - battery.used_mah == pytest.approx(saved / 3_600_000)


def test_the_button_held_at_boot_runs_a_survey_then_stays_at_the_repl(tmp_path: Path, peer: LoraPacketPeer) -> None:
    board, _net = joined_node(tmp_path, peer, link_margin=lambda sf: 3 * (sf - 6))
    (tmp_path / "survey").write_text("")  # the sim board's stand-in for the button held on for 5 s
    assert run_cycles(board, 1) == [None]  # awake at the REPL afterwards, no deep sleep
    rows = json.loads((tmp_path / "survey.json").read_text())
    assert [r["margin_db"] for r in rows] == [3, 6, 9, 12, 15, 18]
    assert board.blinks == [1]  # maintenance's blink code
    assert "maintenance: staying awake at the REPL" in log(board)


def test_nb_trans_repeats_an_uplink_with_the_same_fcnt_until_a_downlink_arrives(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    board, net = joined_node(tmp_path, peer, cflist_hz=[867100000, 867300000, 867500000])
    adr = {"data_rate": 15, "tx_power": 15, "ch_mask": 0x003F, "ch_mask_cntl": 0, "nb_trans": 3}
    net.queue.append(Downlink(fopts=build([("LinkADRReq", adr)], False)))
    run_cycles(board, 4)
    ups = net.data_uplinks
    k = next(i for i, u in enumerate(ups) if u.answered)
    after = ups[k + 1 :]
    by_fcnt: dict[int, list[int]] = {}
    for u in after:
        assert u.fcnt is not None
        by_fcnt.setdefault(u.fcnt, []).append(u.freq_khz)
    # Each new counter goes out again on another channel, as often as the duty cycle allows within NbTrans 3:
    # at SF9 a copy closes its 1 % sub-band for 20 s, and six channels span two sub-bands, so two copies.
    assert max(len(v) for v in by_fcnt.values()) == 2
    assert all(len(set(v)) == len(v) for v in by_fcnt.values())  # never twice on one channel
    net.queue.append(Downlink(fport=1, payload=b""))
    before = len(net.data_uplinks)
    run_cycles(board, 1)
    answered = [u for u in net.data_uplinks[before:] if u.answered]
    assert answered and sum(u.fcnt == answered[0].fcnt for u in net.data_uplinks[before:]) == 1


def test_confirmed_uplinks_are_retried_at_most_nb_trans_times(tmp_path: Path, peer: LoraPacketPeer) -> None:
    write_config(tmp_path, otaa_config(confirmed=True))
    board = make_board(tmp_path)
    net = ScriptedNetwork(peer, APP_KEY)
    attach(board, net)
    run_cycles(board, 4)  # nobody acknowledges: NbTrans is 1, so no retries at all
    fcnts = [u.fcnt for u in net.data_uplinks]
    assert fcnts and len(fcnts) == len(set(fcnts))
    assert all(u.phy[0] >> 5 == 4 for u in net.data_uplinks)  # ConfirmedDataUp


def test_dl_channel_req_moves_rx1_of_that_channel_and_its_answer_is_sticky(
    tmp_path: Path, peer: LoraPacketPeer
) -> None:
    board, net = joined_node(tmp_path, peer)
    net.queue.append(Downlink(fopts=build([("DlChannelReq", {"ch_index": 0, "freq_hz": 869525000})], False)))
    run_cycles(board, 2)
    assert (0x0A, {"uplink_freq_exists": True, "channel_freq_ok": True}) in parse(net.data_uplinks[-1].fopts, True)
    assert state(board)["lw"][11][0][3] == 869525  # channel 0's RX1 now listens on 869.525 MHz
    bad = build([("DlChannelReq", {"ch_index": 9, "freq_hz": 915000000})], False)
    net.queue.append(Downlink(fopts=bad))
    run_cycles(board, 2)
    answers = dict(parse(net.data_uplinks[-1].fopts, True))
    assert answers[0x0A] == {"uplink_freq_exists": False, "channel_freq_ok": False}
