"""Node state: frame counters reserved on flash before use, slots that survive torn writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.ringlog import RingLog
from firmware.state import FCNT_BLOCK, MAX_PENDING, FlashStore, NodeState, StateError


def cold_boot(root: Path) -> NodeState:
    state = NodeState()
    state.restore_flash(FlashStore(str(root)))
    return state


def test_counters_are_reserved_on_flash_before_use(tmp_path: Path) -> None:
    state = cold_boot(tmp_path)
    used = [state.take_fcnt() for _ in range(FCNT_BLOCK + 5)]
    assert used == list(range(FCNT_BLOCK + 5))
    # Power loss now: RTC memory is gone, flash says how far counters may have gone.
    again = cold_boot(tmp_path)
    assert again.fcnt == 2 * FCNT_BLOCK
    assert again.take_fcnt() > used[-1]


def test_only_one_flash_write_per_block(tmp_path: Path) -> None:
    state = cold_boot(tmp_path)
    writes = []
    state.store.save = lambda data: writes.append(data["fcnt_reserved"])  # type: ignore[method-assign]
    for _ in range(3 * FCNT_BLOCK):
        state.take_fcnt()
    assert writes == [FCNT_BLOCK, 2 * FCNT_BLOCK, 3 * FCNT_BLOCK]


def test_rtc_memory_round_trip_keeps_everything(tmp_path: Path) -> None:
    state = cold_boot(tmp_path)
    state.take_fcnt()
    state.traps = [7, 65535]
    state.add_sample(1000, {"air_temp_c": 12.5, "soil_moisture_pct": [None, 40.0], "insect_count": [7]})
    state.low_battery = True
    blob = state.to_rtc()
    assert len(blob) < 2048  # ESP32 RTC memory
    woken = NodeState()
    assert woken.from_rtc(blob)
    assert (woken.fcnt, woken.traps, woken.low_battery) == (1, [7, 65535], True)
    assert woken.samples(61_000) == [
        {"age_s": 60, "air_temp_c": 12.5, "soil_moisture_pct": [None, 40.0], "insect_count": [7]}
    ]


def test_eight_full_samples_fit_in_rtc_memory() -> None:
    state = NodeState()
    full = {
        "soil_moisture_pct": [99.9] * 4,
        "soil_temp_c": [-39.9] * 4,
        "air_temp_c": -39.9,
        "air_rh_pct": 99.5,
        "insect_count": [65535, 65535],
        "battery_v": 4.55,
    }
    for k in range(MAX_PENDING + 3):
        state.add_sample(4_000_000_000 + k, full)
    assert len(state.pending) == MAX_PENDING
    assert len(state.to_rtc()) < 2048


def test_every_report_field_comes_back_from_rtc_memory_under_its_own_name() -> None:
    state = NodeState()
    full = {
        "soil_moisture_pct": [12.5, None],
        "soil_temp_c": [8.1],
        "air_temp_c": 17.8,
        "air_rh_pct": 65.5,
        "insect_count": [42, 0],
        "battery_v": 3.87,
    }
    state.add_sample(0, full)
    woken = NodeState()
    assert woken.from_rtc(state.to_rtc())
    assert woken.samples(90_000) == [{"age_s": 90, **full}]


@pytest.mark.parametrize("blob", [b"", b"garbage", b"0 123\n{}", b"0 1\n[1]"])
def test_corrupt_rtc_memory_means_cold_boot(blob: bytes) -> None:
    assert not NodeState().from_rtc(blob)


def test_rtc_blob_with_a_flipped_bit_is_refused(tmp_path: Path) -> None:
    blob = bytearray(cold_boot(tmp_path).to_rtc().encode())
    blob[-3] ^= 0x01
    assert not NodeState().from_rtc(bytes(blob))


def test_torn_newest_slot_falls_back_one_block_further(tmp_path: Path) -> None:
    state = cold_boot(tmp_path)
    for _ in range(2 * FCNT_BLOCK):
        state.take_fcnt()  # two writes: slot 1 holds 32, slot 0 holds 64
    (tmp_path / "state.0").write_text("2 999\n{truncated")
    again = cold_boot(tmp_path)
    # The torn slot may have reserved (and used) up to 64: start past it.
    assert again.fcnt == 2 * FCNT_BLOCK


def test_truncated_slot_file_is_detected(tmp_path: Path) -> None:
    state = cold_boot(tmp_path)
    state.take_fcnt()
    state.take_fcnt()
    for _ in range(FCNT_BLOCK):
        state.take_fcnt()
    newest = max(tmp_path.glob("state.?"), key=lambda p: int(p.read_text().split()[0]))
    newest.write_text(newest.read_text()[:20])
    assert cold_boot(tmp_path).fcnt >= state.fcnt


def test_no_readable_slot_refuses_to_guess(tmp_path: Path) -> None:
    (tmp_path / "state.0").write_text("junk")
    with pytest.raises(StateError, match="re-provision"):
        cold_boot(tmp_path)


def test_fresh_node_starts_at_zero(tmp_path: Path) -> None:
    assert cold_boot(tmp_path).fcnt == 0


def test_trap_counts_reach_flash_before_a_frame_carries_them(tmp_path: Path) -> None:
    state = cold_boot(tmp_path)
    state.traps = [5, 0]
    state.before_send()
    assert cold_boot(tmp_path).traps == [5, 0]


def test_ring_log_keeps_the_newest_lines_in_bounded_space(tmp_path: Path) -> None:
    log = RingLog(str(tmp_path), max_bytes=200)
    for i in range(100):
        log.write(f"event {i}")
    lines = log.lines()
    assert lines[-1].endswith("event 99")
    assert 10 < len(lines) < 40
    assert sum(p.stat().st_size for p in tmp_path.glob("log.*")) < 2 * 200 + 50
