"""The node cycle on the simulated board: what it sends, and what it does when parts fail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from firmware import app
from firmware.sim.field import Field
from tests.firmware.sim_node import make_board, node_config, opened, run_cycles, write_config


def reports(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f["message"]["type"] == "report"]


def test_a_day_of_reports_decodes_to_what_the_field_showed(tmp_path: Path) -> None:
    write_config(tmp_path)
    board = make_board(tmp_path)
    sleeps = run_cycles(board, 96)
    frames = opened(board)
    assert [f["fcnt"] for f in frames] == list(range(len(frames)))
    assert frames[0]["message"]["type"] == "status"
    assert frames[0]["message"]["board"] == "sim"
    assert frames[0]["message"]["reset_cause"] == "power_on"
    got = reports(frames)
    # The boot status leaves the band in its off time: the first sample rides with the second.
    assert sum(len(f["message"]["samples"]) for f in got) == 96
    assert len(got) == 95
    field = Field(1)
    for frame in got:
        sample = frame["message"]["samples"][-1]
        taken = frame["t_ms"] - sample["age_s"] * 1000
        temp, rh = field.air(taken)
        assert sample["air_temp_c"] == pytest.approx(temp, abs=0.06)
        assert sample["air_rh_pct"] == pytest.approx(rh, abs=0.3)
        # DS18B20 resolution is 1/16 °C, then the report's 0.1 °C step.
        assert sample["soil_temp_c"] == [pytest.approx(field.soil_temp_c(taken, i), abs=0.09) for i in range(2)]
        assert sample["soil_moisture_pct"] == [
            pytest.approx(field.soil_moisture_pct(taken, i), abs=0.11) for i in range(2)
        ]
        assert sample["battery_v"] == pytest.approx(field.battery_v(taken), abs=0.011)
    counts = [f["message"]["samples"][-1]["insect_count"][0] for f in got]
    assert counts == sorted(counts) and counts[-1] > 0
    assert counts[-1] == field.catches(0, got[-1]["t_ms"] + 1, 0) or counts[-1] <= field.catches(0, 86400000, 0)
    assert all(s and s >= 1000 for s in sleeps)
    assert board.watchdog_overruns == 0


def test_batches_of_four(tmp_path: Path) -> None:
    write_config(tmp_path, node_config(samples_per_uplink=4))
    board = make_board(tmp_path)
    run_cycles(board, 16)
    got = reports(opened(board))
    assert [len(f["message"]["samples"]) for f in got] == [4, 4, 4, 4]
    assert [s["age_s"] for s in got[0]["message"]["samples"]][:3] == [2700, 1800, 900]


def test_a_failed_sensor_gives_none_and_the_rest_still_goes_out(tmp_path: Path) -> None:
    write_config(tmp_path)
    board = make_board(tmp_path)
    board.sht_nack = True
    run_cycles(board, 2)
    sample = reports(opened(board))[-1]["message"]["samples"][-1]
    assert sample["air_temp_c"] is None and sample["air_rh_pct"] is None
    assert sample["soil_temp_c"][0] is not None and sample["battery_v"] is not None


def test_radio_failures_keep_the_samples_for_later(tmp_path: Path) -> None:
    write_config(tmp_path)
    board = make_board(tmp_path)
    board.modem().fail_next = 3  # the boot status and the first two reports fail
    run_cycles(board, 4)
    frames = opened(board)
    assert len(frames) >= 2
    assert sum(len(f["message"]["samples"]) for f in reports(frames)) == 4
    status_board = json.loads((tmp_path / "config.json").read_text())["board"]
    assert status_board == "sim"


def test_no_config_means_no_transmission(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    board = make_board(tmp_path)
    assert run_cycles(board, 3) == [None, None, None]
    assert board.modem().sent == []
    assert board.blinks == [2, 2, 2]
    assert "config.json is missing" in (tmp_path / "log.0").read_text()


def test_invalid_config_means_no_transmission(tmp_path: Path) -> None:
    write_config(tmp_path, node_config(interval_s=5))
    board = make_board(tmp_path)
    assert run_cycles(board, 1) == [None]
    assert board.modem().sent == []


def test_maintenance_flag_keeps_the_node_awake(tmp_path: Path) -> None:
    write_config(tmp_path)
    (tmp_path / "maintenance").write_text("")
    board = make_board(tmp_path)
    assert run_cycles(board, 1) == [None]
    assert board.modem().sent == [] and board.blinks == [1]


def test_unreadable_state_refuses_to_guess_the_counter(tmp_path: Path) -> None:
    write_config(tmp_path)
    (tmp_path / "state.0").write_text("torn")
    (tmp_path / "state.1").write_text("also torn")
    board = make_board(tmp_path)
    assert run_cycles(board, 1) == [None]
    assert board.modem().sent == [] and board.blinks == [4]


def test_the_blink_codes_are_the_ones_docs_firmware_md_lists() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "firmware.md").read_text()
    listed = {name: int(code) for code, name in re.findall(r"^\| (\d) \| `(_BLINK_\w+)` \|", doc, re.MULTILINE)}
    named = {name: getattr(app, name) for name in dir(app) if name.startswith("_BLINK_")}
    assert listed == named
    assert len(set(named.values())) == len(named)  # one meaning per code


def test_power_loss_never_reuses_a_counter_nor_loses_trap_counts(tmp_path: Path) -> None:
    write_config(tmp_path)
    board = make_board(tmp_path)
    run_cycles(board, 10)
    before = opened(board)
    board.power_loss()
    run_cycles(board, 10)
    after = opened(board)[len(before) :]
    assert after[0]["message"]["type"] == "status" and after[0]["message"]["reset_cause"] == "power_on"
    assert after[0]["fcnt"] > before[-1]["fcnt"]
    last_count = reports(before)[-1]["message"]["samples"][0]["insect_count"]
    first_after = reports(after)[0]["message"]["samples"][0]["insect_count"]
    assert all(a >= b for a, b in zip(first_after, last_count, strict=True))


def test_low_battery_stops_transmitting_and_says_so_when_it_recovers(tmp_path: Path) -> None:
    write_config(tmp_path, node_config(low_battery_v=4.0))
    board = make_board(tmp_path, start_ms=30 * 86400000)  # the simulated cell is at 3.98 V by then
    run_cycles(board, 3)
    assert board.modem().sent == []
    board.field.battery_v = lambda t_ms: 4.1  # type: ignore[method-assign]  # back on a charger
    run_cycles(board, 1)
    kinds = [f["message"]["type"] for f in opened(board)]
    assert kinds[0] == "status"
    assert "battery recovered" in (tmp_path / "log.0").read_text()


def test_an_unexpected_error_is_logged_and_the_node_retries(tmp_path: Path) -> None:
    write_config(tmp_path)
    board = make_board(tmp_path)

    def broken() -> list[int]:
        raise ZeroDivisionError("simulated bug")

    board.trap_pulses = broken  # type: ignore[method-assign]
    assert run_cycles(board, 1) == [60000]
    assert "ZeroDivisionError" in (tmp_path / "log.0").read_text()


def test_a_trap_wake_between_slots_counts_and_sleeps_on(tmp_path: Path) -> None:
    """On ESP32 each catch wakes the chip: it must count and sleep to its slot, not run a cycle."""
    write_config(tmp_path)
    board = make_board(tmp_path)
    run_cycles(board, 2)
    frames = len(board.modem().sent)
    board.woke_by_trap = lambda: True  # type: ignore[method-assign]
    board.trap_pulses = lambda: [1, 0]  # type: ignore[method-assign]
    board.clock.now_ms -= board.last_sleep_ms // 2  # wake half-way to the next slot
    before = board.last_sleep_ms
    sleep = run_cycles(board, 1)[0]
    assert len(board.modem().sent) == frames  # nothing read, nothing sent
    assert sleep is not None and 1000 <= sleep <= before
    board.woke_by_trap = lambda: False  # type: ignore[method-assign]
    board.trap_pulses = lambda: [0, 0]  # type: ignore[method-assign]
    board.clock.sleep_ms(sleep)
    run_cycles(board, 1)
    last = reports(opened(board))[-1]["message"]["samples"][-1]["insect_count"]
    assert last[0] >= 1


def test_a_radio_chip_that_does_not_answer_is_retried_not_a_crash(tmp_path: Path) -> None:
    write_config(tmp_path)
    board = make_board(tmp_path)

    def dead_chip() -> None:
        raise RuntimeError("SX1262 not found")  # what the driver raises when the chip is silent

    board.modem = dead_chip  # type: ignore[method-assign]
    assert run_cycles(board, 2) == [60000, 60000]
    assert "RuntimeError: SX1262 not found" in (tmp_path / "log.0").read_text()
