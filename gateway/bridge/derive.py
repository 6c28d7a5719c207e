"""Values the bridge derives from a node's reports: insect catches since the previous report.

A node sends each trap's cumulative count modulo 65536 (docs/payload-format.md),
persisted across resets, so a lost frame loses no catches: the next report's
difference carries them. Pure functions; the pipeline keeps the last counts in
the store, in the same transaction as the record.
"""

from __future__ import annotations

TRAP_MODULUS = 1 << 16  # the wire's counter width
# A count below the previous one is a wrap-around only when the previous one
# was this close to the top; otherwise the counter started again from zero (a
# reflashed node, or a reset_trap command). 8192 catches between two heard
# reports is weeks of a busy trap with every frame lost.
_WRAP_MARGIN = 8192


def catches(previous: int | None, count: int | None) -> tuple[int | None, int | None]:
    """(catches since previous, the count to remember) for one trap.

    previous None: the first count heard from this trap; a node's counters start
    at zero when it is provisioned, so the whole count is new. count None: the
    trap failed; nothing is known and the previous count is kept.
    """
    if count is None:
        return None, previous
    if previous is None:
        return count, count
    if count >= previous:
        return count - previous, count
    if previous >= TRAP_MODULUS - _WRAP_MARGIN:
        return count + TRAP_MODULUS - previous, count
    return count, count  # the counter restarted: only what it counted since is known


def report_catches(
    samples: list[dict[str, object]], previous: list[int | None] | None
) -> tuple[list[list[int | None] | None], list[int | None] | None]:
    """Per sample (in the report's order) the catches of each trap, and the counts to remember.

    Samples are taken oldest first (the largest age_s), so a batch's counts are
    differenced in the order they were counted. A sample without traps yields None.
    """
    last = list(previous) if previous is not None else None
    out: list[list[int | None] | None] = [None] * len(samples)
    order = sorted(range(len(samples)), key=lambda i: -int(samples[i].get("age_s", 0)))  # type: ignore[call-overload]
    for i in order:
        counts = samples[i].get("insect_count")
        if not isinstance(counts, list):
            continue
        if last is None or len(last) != len(counts):
            last = [None] * len(counts)  # traps fitted or removed: start those counts afresh
        row: list[int | None] = []
        for t, count in enumerate(counts):
            got, last[t] = catches(last[t], count)
            row.append(got)
        out[i] = row
    return out, last
