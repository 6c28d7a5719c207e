"""What a simulation run returns: per node what it sent and what was delivered, and the table `akker sim` prints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.bridge import store
from gateway.bridge.registry import open_db
from gateway.network.commands import CommandQueue


@dataclass
class NodeResult:
    name: str
    dev_addr: int
    sent: int = 0
    airtime_ms: int = 0
    used_mah: float = 0.0
    battery_v: float = 0.0
    charge: float = 0.0
    days_left: float | None = None
    delivered: int = 0
    joins: int = 0  # JoinRequests sent (OTAA)
    downlinks: int = 0  # downlinks that reached it (OTAA)
    final_sf: int | None = None  # of its last frame: where ADR left it


@dataclass
class SimResult:
    nodes: list[NodeResult]
    heard: int
    lost: dict[str, int]
    wall_s: float
    node_days: float
    counters: dict[str, int] = field(default_factory=dict)
    air: dict[str, int] = field(default_factory=dict)  # with the network: joins, downlinks, what was lost and why
    notes: list[str] = field(default_factory=list)  # with the network: the commands' states, what ADR did

    @property
    def delivery_ratio(self) -> float:
        sent = sum(n.sent for n in self.nodes)
        return sum(n.delivered for n in self.nodes) / sent if sent else 0.0


def command_states(db_path: Path, nodes: Iterable[str]) -> list[str]:
    """Where each command for these nodes ended: queued, sent, applied (the node's status named it) or expired."""
    db = open_db(db_path)
    try:
        queue = CommandQueue(db)
        out = []
        for node in sorted(set(nodes)):
            for c in queue.for_node(node):
                out.append(f"command {c.id} for {node} {c.command}: {c.state} (last change {c.updated_at})")
        return out
    finally:
        db.close()


def joined(db_path: Path, results: list[NodeResult]) -> None:
    """Each OTAA node's DevAddr from its session, 0 if it never joined."""
    db = store.connect_readonly(db_path)
    try:
        for r in results:
            row = db.execute("SELECT dev_addr FROM nodes WHERE name = ?", (r.name,)).fetchone()
            r.dev_addr = int(row[0]) if row and row[0] is not None else 0
    finally:
        db.close()


def summary_table(result: SimResult, days: float) -> str:
    network = bool(result.air)
    rows = [["node", "sent", "delivered", "lost", "airtime s/day", "battery V", "battery life, days"]]
    if network:
        rows[0][1:1] = ["joins", "downlinks", "SF"]
    for n in result.nodes:
        life = "-" if n.days_left is None else f"{n.days_left:.0f}"
        row = [n.name, str(n.sent), str(n.delivered), str(n.sent - n.delivered),
               f"{n.airtime_ms / 1000 / days:.1f}", f"{n.battery_v:.2f}", life]  # fmt: skip
        if network:
            row[1:1] = [str(n.joins), str(n.downlinks), "-" if n.final_sf is None else f"SF{n.final_sf}"]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    sent = sum(n.sent for n in result.nodes)
    lines.append("")
    lines.append(
        f"delivery ratio {result.delivery_ratio:.1%} ({sum(n.delivered for n in result.nodes)} of {sent});"
        f" lost below sensitivity {result.lost['weak']}, collided {result.lost['collided']} (receptions);"
        f" {result.node_days / result.wall_s:.1f} node-days per second"
    )
    if network:
        a = result.air
        lines.append(
            f"network: {a.get('joins', 0)} joins, {a.get('downlinks', 0)} downlinks heard, {a.get('downlinks_lost', 0)}"
            f" lost on the way, {a.get('downlink_no_window', 0)} with no window free; gateways transmitting missed"
            f" {a.get('gateway_transmitting', 0)} receptions"
        )
        lines.extend(result.notes)
    return "\n".join(lines)
