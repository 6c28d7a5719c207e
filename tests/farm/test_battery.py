"""gateway/farm/battery.py: days left from the energy a node spends, as the field simulator spends it.

The simulator is the reference: the real firmware runs on the sim board for a day
(firmware/sim/field_run.py) and its battery records every wake-up it is charged for.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from firmware.sim import field_run
from firmware.sim.energy import Battery, charge_at, voltage_at
from gateway.farm.battery import EMPTY_V, MAX_DAYS, REPORT_PHY_BYTES, days_left, mah_per_day, wake_up_ms
from gateway.sim.farm_nodes import CHANNEL_KHZ, identity
from gateway.workshop.provision import Radio, Sensors, node_config

AKKER = str(Path(sys.executable).parent / "akker")
DAY_MS = 86_400_000


def simulated_day(tmp: Path, sf: int, interval_s: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """One day of the usual node (as `akker sim` provisions it) on a full cell: its wake-ups and frames."""
    root = tmp / f"sf{sf}-{interval_s}"
    root.mkdir()
    conf = node_config("sim", identity(3, 0), Sensors(2, 2, "sht4x", 1, True), Radio((CHANNEL_KHZ,), sf), interval_s)
    (root / "config.json").write_text(json.dumps(conf))
    wake_ups: list[tuple[int, int, int, int]] = []

    class RecordingBattery(Battery):
        """The simulator's own battery, keeping each wake-up it is charged for."""

        def spend(self, awake_ms: int, tx_ms: int, sleep_ms: int, wait_ms: int = 0, rx_ms: int = 0) -> None:
            wake_ups.append((awake_ms, tx_ms, wait_ms, rx_ms))
            super().spend(awake_ms, tx_ms, sleep_ms, wait_ms, rx_ms)

    monkeypatch.setattr(field_run, "Battery", RecordingBattery)
    events: list[dict[str, Any]] = []
    field_run.run(str(root), 3, 0, 0, DAY_MS, 1.0, events.append)
    return {
        "wake_ups": wake_ups,
        "frames": [len(e["phy"]) // 2 for e in events if e["kind"] == "tx"],
        "used_mah": events[-1]["used_mah"],
    }


@pytest.mark.parametrize(("sf", "interval_s"), [(7, 900), (9, 3600), (12, 900)])
def test_a_wake_up_costs_what_the_simulator_charges_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sf: int, interval_s: int
) -> None:
    day = simulated_day(tmp_path, sf, interval_s, monkeypatch)
    assert len(day["wake_ups"]) == DAY_MS // (interval_s * 1000)
    assert Counter(day["frames"]).most_common(1)[0][0] == REPORT_PHY_BYTES
    # Every report's wake-up (all but the status frames' few) is the forecast's, to the ms.
    usual, count = Counter(day["wake_ups"]).most_common(1)[0]
    assert count >= len(day["wake_ups"]) - 2
    assert usual == wake_up_ms(sf)
    # The status frames once a day are the only difference: well under 0.5 %.
    assert mah_per_day(interval_s, sf) == pytest.approx(day["used_mah"], rel=0.005)


def test_a_fresh_cell_at_15_minutes_and_sf7_lasts_what_the_simulator_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = simulated_day(tmp_path, 7, 900, monkeypatch)
    simulator = Battery(charge_at(4.10)).days_left(day["used_mah"], EMPTY_V)
    assert simulator is not None
    forecast = days_left(4.10, 900, 7)
    assert forecast is not None and 400 < forecast < 800
    assert abs(forecast - simulator) <= 1


def test_akker_sim_prints_the_same_battery_life(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    args = ["sim", "--nodes", "1", "--days", "1", "--sf", "7", "--interval", "900", "--activation", "abp",
            "--seed", "3", "--db", str(tmp_path / "f.db"), "--truth", str(truth)]  # fmt: skip
    out = subprocess.run([AKKER, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in truth.read_text().splitlines()]
    end = next(e for e in events if e["kind"] == "end")
    row = next(line.split() for line in out.stdout.splitlines() if line.startswith("sim-01"))
    printed = int(row[-1])
    forecast = days_left(end["battery_v"], 900, 7)
    assert forecast is not None and forecast > 200
    # `akker sim` divides what a node spent in its run by the days simulated; the run holds whole
    # wake-ups (one a sample), up to one more than a day of 900 s has, as the node's sleep clock runs up
    # to 1 % fast or slow (gateway/sim/runner.py DRIFT_PPM). The rest is its power-on and status frames.
    wake_ups = sum(e["kind"] == "sample" for e in events)
    assert abs(forecast * (DAY_MS // 900_000) / wake_ups - printed) <= 0.005 * printed + 1


def test_a_higher_sf_a_shorter_interval_or_listening_gives_fewer_days() -> None:
    by_sf = [days_left(3.80, 900, sf) for sf in range(7, 13)]
    assert by_sf == sorted(by_sf, reverse=True, key=lambda d: d or 0) and len(set(by_sf)) == 6
    by_interval = [days_left(3.80, s, 9) for s in (3600, 900, 300, 60)]
    assert by_interval == sorted(by_interval, reverse=True, key=lambda d: d or 0) and len(set(by_interval)) == 4
    quiet, listening = days_left(3.80, 900, 9, class_a=False), days_left(3.80, 900, 9)
    assert quiet is not None and listening is not None and quiet > listening
    bigger = days_left(3.80, 900, 12, phy_bytes=REPORT_PHY_BYTES + 20)
    assert bigger is not None and bigger < (days_left(3.80, 900, 12) or 0)


@pytest.mark.parametrize("charge", [0.0, 0.03, 0.05, 0.1, 0.25, 0.5, 0.77, 0.9, 0.99, 1.0])
def test_the_curve_read_backwards_gives_the_charge_the_battery_had(charge: float) -> None:
    volts = Battery(charge).voltage()
    assert charge_at(volts) == pytest.approx(charge, abs=1e-9)
    assert voltage_at(charge_at(volts)) == pytest.approx(volts, abs=1e-9)


@pytest.mark.parametrize("volts", [3.3, 3.2999, 3.1, 3.0, 2.5, 1.0])
def test_at_or_below_the_empty_voltage_no_days_are_left(volts: float) -> None:
    assert EMPTY_V == 3.3  # firmware/config.py low_battery_v
    assert days_left(volts, 900, 9) == 0


@pytest.mark.parametrize(
    ("volts", "interval_s", "sf"),
    [(None, 900, 9), (3.9, None, 9), (3.9, 900, None), (math.nan, 900, 9), (math.inf, 900, 9), (3.9, math.nan, 9),
     (3.9, math.inf, 9), (3.9, 0, 9), (3.9, -900, 9), (3.9, 900, 6), (3.9, 900, 13), (3.9, 900, True),
     (0.0, 900, 9), (0.5, 900, 9), (5.0, 900, 9), (-3.9, 900, 9)],
)  # fmt: skip
def test_unknown_or_impossible_inputs_give_none(volts: float | None, interval_s: float | None, sf: int | None) -> None:
    assert days_left(volts, interval_s, sf) is None


def test_always_whole_days_never_beyond_the_self_discharge_ceiling() -> None:
    for sf in range(7, 13):
        for interval_s in (60, 299.5, 900, 3600, 86400):
            last = 0
            for centivolts in range(300, 451):
                d = days_left(centivolts / 100, interval_s, sf)
                assert type(d) is int and 0 <= d <= MAX_DAYS, (centivolts, interval_s, sf, d)
                assert d >= last  # more charge, never fewer days
                last = d
    assert days_left(4.20, 86400, 7) == MAX_DAYS == 3 * 365
    assert days_left(4.10, 900, 7) != MAX_DAYS  # the ceiling is not what an ordinary node reads
