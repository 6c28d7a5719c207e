"""`akker sim`'s progress line: simulated days done, frames and time left, on stderr, the summary untouched.

The unit tests drive gateway/sim/progress.py with a fake wall clock (a callable), so rate limits and
estimates are exact; the CLI tests run the real `akker sim` on a small farm.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.sim.lockstep import Lockstep
from gateway.sim.progress import DAY_S, Progress, duration

AKKER = str(Path(sys.executable).parent / "akker")
LINE = re.compile(r"sim: day (\d+(?:\.\d+)?) of (\S+) \((\d+) %\), (\d+(?: \d{3})*) frames?(?:, (.*))?$")


class Clock:
    """A wall clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def meter(total_days: float, tty: bool = False) -> tuple[Progress, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return Progress(total_days * DAY_S, out, clock=clock, tty=tty), out, clock


def test_a_log_gets_one_line_per_tenth_of_the_run_and_a_last_line() -> None:
    p, out, clock = meter(7)
    for step in range(701):  # a hundredth of a day per update, a tenth of a second of wall time each
        p.update(step * DAY_S / 100, step * 3)
        clock.now += 0.1
    lines = out.getvalue().splitlines()
    assert [LINE.match(line)[3] for line in lines] == [str(pct) for pct in range(10, 101, 10)]  # type: ignore[index]
    assert lines[0].startswith("sim: day 0.7 of 7 (10 %), 210 frames, ")
    assert lines[-1] == "sim: day 7 of 7 (100 %), 2 100 frames, done in 1 min 10 s"
    assert "\r" not in out.getvalue()


def test_a_slow_tenth_in_a_log_gets_a_line_every_30_seconds_not_every_update() -> None:
    p, out, clock = meter(1)
    p.update(0, 0)
    for step in range(1, 101):  # 100 updates, 3 s apart, all within the first tenth
        clock.now += 3
        p.update(step * DAY_S / 1000 * 0.9, step)
    assert len(out.getvalue().splitlines()) == 10


def test_the_time_left_comes_from_wall_time_per_simulated_second_so_far() -> None:
    p, out, clock = meter(7)
    p.update(0, 0)
    clock.now += 10
    p.update(1 * DAY_S, 100)  # a day in 10 s: six days left take 60 s
    assert out.getvalue() == "sim: day 1.0 of 7 (14 %), 100 frames, 1 min 0 s left\n"


def test_the_estimate_starts_where_the_simulation_started_not_at_zero() -> None:
    p, out, clock = meter(4)
    p.update(2 * DAY_S, 0)  # the first turn came at day 2 (after the build): no time is known yet
    clock.now += 1800
    p.update(3 * DAY_S, 5)  # a day in half an hour: one more day to go
    assert out.getvalue() == "sim: day 3.0 of 4 (75 %), 5 frames, 30 min 0 s left\n"


def test_the_percent_is_rounded_down_and_100_only_at_the_end() -> None:
    p, out, clock = meter(7)
    p.update(0, 0)
    clock.now += 35
    p.update(3.22 * DAY_S, 1234)
    clock.now += 35
    p.update(6.999 * DAY_S, 1)
    first, second = out.getvalue().splitlines()
    assert first.startswith("sim: day 3.2 of 7 (46 %), 1 234 frames, ")
    assert second.startswith("sim: day 7.0 of 7 (99 %), 1 frame, ")


def test_a_terminal_line_is_rewritten_at_most_every_two_seconds_and_ended_at_the_end() -> None:
    p, out, clock = meter(0.5, tty=True)
    for step in range(51):  # 50 updates, half a second apart: 25 s of wall time
        clock.now = 1000 + step / 2
        p.update(step * DAY_S / 100, 1000 - 19 * step)  # fewer frames: a shorter line must cover a longer one
    writes = out.getvalue().split("\r")[1:]
    assert len(writes) == 12 + 1  # every 2 s of 25 s, and the last
    assert all("\n" not in w for w in writes[:-1]) and writes[-1].endswith("\n")
    assert writes[-1] == "sim: day 0.5 of 0.5 (100 %), 50 frames, done in 25 s\n"
    screen = ""
    for w in writes:  # as a terminal shows them: each overwrites the last from the line's start
        screen = w + screen[len(w) :]
        assert screen.rstrip() == w.rstrip()  # no digits of a longer line left behind
    days = [float(LINE.match(w.strip())[1]) for w in writes]  # type: ignore[index]
    assert days == sorted(days)


def test_closing_ends_a_terminal_line_a_failure_cut_short_and_nothing_else() -> None:
    p, out, clock = meter(1, tty=True)
    p.update(0, 0)
    p.close()
    assert out.getvalue() == ""  # nothing printed yet: nothing to end
    clock.now += 2
    p.update(0.5 * DAY_S, 10)
    p.close()
    assert out.getvalue().startswith("\rsim: day 0.5 of 1 (50 %), 10 frames, ") and out.getvalue().endswith(" left\n")


def test_updates_after_the_end_and_steps_back_print_nothing_new() -> None:
    p, out, _ = meter(1)
    p.update(0, 0)
    p.update(0.5 * DAY_S, 10)
    p.update(0.4 * DAY_S, 11)  # a lockstep floor a little behind: the line never goes back
    p.update(2 * DAY_S, 20)  # past the end counts as the end, once
    p.update(1 * DAY_S, 21)
    assert [LINE.match(line)[1] for line in out.getvalue().splitlines()] == ["0.5", "1"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.3, "under 1 s"), (12, "12 s"), (70, "1 min 10 s"), (3599.6, "1 h 0 min"), (7500, "2 h 5 min")],
)
def test_durations_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_lockstep_tells_each_turns_floor_in_farm_time_order() -> None:
    floors: list[int] = []
    lockstep = Lockstep(floors.append)

    def node(me: int, times: list[int]) -> None:
        for t in times:
            lockstep.turn(me, t)

    lockstep.run([lambda: node(0, [0, 500, 900]), lambda: node(1, [100, 200, 1000])])
    assert floors == [0, 100, 200, 500, 900, 1000]


def sim(tmp_path: Path, *extra: str, stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    args = [AKKER, "sim", "--nodes", "2", "--seed", "2", "--db", str(tmp_path / "farm.db"), *extra]
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=120)


@pytest.mark.parametrize("activation", ["otaa", "abp"])
def test_akker_sim_prints_progress_on_stderr_and_only_the_summary_on_stdout(tmp_path: Path, activation: str) -> None:
    out = sim(tmp_path, "--days", "1", "--activation", activation)
    assert out.returncode == 0, out.stderr
    found = [LINE.match(line) for line in out.stderr.splitlines()]
    assert found and all(found), out.stderr  # stderr is the progress lines and nothing else
    days = [float(m[1]) for m in found if m]
    assert days == sorted(days) and len(set(days)) == len(days) >= 2
    day, total, pct, frames, rest = found[-1].groups()  # type: ignore[union-attr]
    assert (day, total, pct) == ("1", "1", "100") and int(frames.replace(" ", "")) > 100 and rest.startswith("done in ")
    lines = out.stdout.splitlines()
    assert lines[0].startswith("running 2 ") and "sim:" not in out.stdout
    at = next(i for i, line in enumerate(lines) if line.startswith("node "))
    assert lines[at].split()[-10:] == [
        "sent",
        "delivered",
        "lost",
        "airtime",
        "s/day",
        "battery",
        "V",
        "battery",
        "life,",
        "days",
    ]
    assert set(lines[at + 1]) == {"-", " "} and [line.split()[0] for line in lines[at + 2 : at + 4]] == [
        "sim-01",
        "sim-02",
    ]
    assert re.search(r"^delivery ratio \d+\.\d% \(\d+ of \d+\);", out.stdout, re.M)


def test_quiet_leaves_stderr_empty(tmp_path: Path) -> None:
    out = sim(tmp_path, "--days", "0.1", "--quiet")
    assert out.returncode == 0 and out.stderr == ""
    assert "delivery ratio" in out.stdout


def test_on_a_terminal_the_line_is_rewritten_and_ends_with_the_whole_run(tmp_path: Path) -> None:
    main, sub = pty.openpty()
    try:
        out = sim(tmp_path, "--days", "0.2", stderr=sub)
        os.close(sub)
        sub = -1
        seen = os.read(main, 65536).decode()
    finally:
        os.close(main)
        if sub >= 0:
            os.close(sub)
    assert out.returncode == 0
    assert seen.startswith("\rsim: day ") and seen.endswith("\r\n")  # the terminal turns \n into \r\n
    assert LINE.match(seen.split("\r")[-2].rstrip())[3] == "100"  # type: ignore[index]
