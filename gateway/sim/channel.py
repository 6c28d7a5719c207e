"""The field simulator's radio channel: who hears which frame, at what strength, and which frames collide.

Pure functions. Nodes and gateways sit at positions in metres. Path loss is
log-distance with a fixed shadowing per link and a little fading per frame;
a frame is heard when its RSSI is above the SF's sensitivity. Two frames on
the same frequency and SF that overlap in time at a gateway collide: the
stronger survives only if it is at least CAPTURE_DB above every other one
(the capture effect); otherwise the gateway hears a corrupted frame (its CRC fails).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

# SX1262 datasheet (rev 2.1) table 3-8: sensitivity at 125 kHz, dBm, by SF.
SENSITIVITY_DBM = {7: -124.0, 8: -127.0, 9: -130.0, 10: -133.0, 11: -135.5, 12: -137.0}
NOISE_FLOOR_DBM = -174.0 + 10 * math.log10(125e3) + 6.0  # thermal noise in 125 kHz plus a 6 dB noise figure
CAPTURE_DB = 6.0  # a LoRa frame survives an overlapping one this much weaker (same SF, same channel)
TX_POWER_DBM = 14.0
ANTENNA_GAINS_DB = 2.0 + 2.0  # the node's and the gateway's antennas
PATH_LOSS_EXPONENT = 2.9  # open farmland with crops, the antenna 1 m above the ground
SHADOWING_DB = 4.0  # per link, fixed: a hedge, a barn, the lie of the land
FADING_DB = 2.0  # per frame


@dataclass(frozen=True)
class Site:
    name: str
    x_m: float
    y_m: float


@dataclass(frozen=True)
class Transmission:
    node: str
    t_ms: int
    airtime_us: int
    freq_khz: int
    sf: int
    bw_khz: int
    phy: str  # hex


@dataclass(frozen=True)
class Reception:
    gateway: str
    tx: Transmission
    rssi_dbm: float
    snr_db: float
    crc_error: bool  # collided without capture


def place(n_nodes: int, gateways: int, radius_m: float, rng: random.Random) -> tuple[list[Site], list[Site]]:
    """Gateways near the farm's centre, nodes spread over a disc of radius_m around it."""
    gws = [Site(f"gw{i + 1}", rng.uniform(-0.2, 0.2) * radius_m, rng.uniform(-0.2, 0.2) * radius_m)
           for i in range(gateways)]  # fmt: skip
    nodes = []
    for i in range(n_nodes):
        r = radius_m * math.sqrt(rng.uniform(0.02, 1.0))
        a = rng.uniform(0, 2 * math.pi)
        nodes.append(Site(f"sim-{i + 1:02d}", r * math.cos(a), r * math.sin(a)))
    return nodes, gws


def path_loss_db(distance_m: float, freq_mhz: float = 868.1) -> float:
    d = max(distance_m, 1.0)
    free_space_1m = 20 * math.log10(freq_mhz) - 27.55  # free-space loss at 1 m
    return free_space_1m + 10 * PATH_LOSS_EXPONENT * math.log10(d)


def link_budget(node: Site, gw: Site, shadowing_db: float) -> float:
    """Mean RSSI in dBm of this node's frames at this gateway."""
    d = math.hypot(node.x_m - gw.x_m, node.y_m - gw.y_m)
    return TX_POWER_DBM + ANTENNA_GAINS_DB - path_loss_db(d) - shadowing_db


def snr_db(rssi_dbm: float) -> float:
    """The SNR a radio reports for a frame this strong (it saturates near 12 dB)."""
    return min(rssi_dbm - NOISE_FLOOR_DBM, 12.0)


def collides(rssi_dbm: float, rivals_dbm: Iterable[float]) -> bool:
    """An overlapping frame on the same channel and SF is less than CAPTURE_DB weaker: both are lost."""
    return any(rssi_dbm - r < CAPTURE_DB for r in rivals_dbm)


def receptions(
    txs: list[Transmission], nodes: list[Site], gws: list[Site], rng: random.Random
) -> tuple[list[Reception], dict[str, int]]:
    """What every gateway hears, in time order, and counts of frames lost (below sensitivity, collided)."""
    by_name = {n.name: n for n in nodes}
    shadow = {(n.name, g.name): rng.gauss(0, SHADOWING_DB) for n in nodes for g in gws}
    lost = {"weak": 0, "collided": 0}
    out: list[Reception] = []
    for gw in gws:
        heard: list[tuple[Transmission, float]] = []
        for tx in txs:
            rssi = link_budget(by_name[tx.node], gw, shadow[(tx.node, gw.name)]) + rng.gauss(0, FADING_DB)
            if rssi < SENSITIVITY_DBM[tx.sf]:
                lost["weak"] += 1
                continue
            heard.append((tx, rssi))
        heard.sort(key=lambda h: h[0].t_ms)
        for i, (tx, rssi) in enumerate(heard):
            end = tx.t_ms + tx.airtime_us / 1000
            rivals = []
            for j in range(i - 1, -1, -1):  # earlier frames still on the air
                other, other_rssi = heard[j]
                if other.t_ms + other.airtime_us / 1000 <= tx.t_ms:
                    if tx.t_ms - other.t_ms > 10_000:
                        break  # no frame lasts 10 s
                    continue
                if other.freq_khz == tx.freq_khz and other.sf == tx.sf:
                    rivals.append(other_rssi)
            for j in range(i + 1, len(heard)):
                other, other_rssi = heard[j]
                if other.t_ms >= end:
                    break
                if other.freq_khz == tx.freq_khz and other.sf == tx.sf:
                    rivals.append(other_rssi)
            collided = collides(rssi, rivals)
            if collided:
                lost["collided"] += 1
            snr = snr_db(rssi) + rng.gauss(0, 0.5)
            out.append(Reception(gw.name, tx, round(rssi), round(snr * 4) / 4, collided))
    out.sort(key=lambda r: (r.tx.t_ms, r.gateway))
    return out, lost
