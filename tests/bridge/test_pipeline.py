"""The pipeline's stages on real frames: every outcome counted, one record per (DevAddr, FCnt)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.bridge import store
from gateway.bridge.pipeline import Pipeline
from payload_codec.lorawan import build_uplink
from tests.bridge.fieldkit import NODES, frame, later, register, report_phy, sample


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    register(tmp_path / "bridge.db")
    p = Pipeline(tmp_path / "bridge.db", ["mqtt", "jsonl"])
    p.open()
    return p


def rows(p: Pipeline, sql: str) -> list[tuple[object, ...]]:
    return sqlite3.connect(p.db_path).execute(sql).fetchall()


def test_a_frame_is_checked_decoded_stored_once_and_queued_for_every_sink(pipeline: Pipeline) -> None:
    assert pipeline.process([frame(report_phy("north-1", 0))]) == ["accepted"]
    (rec,) = store.records(sqlite3.connect(pipeline.db_path))
    assert (rec.node, rec.dev_addr, rec.fcnt, rec.fport) == ("north-1", NODES["north-1"][0], 0, 1)
    assert rec.data["samples"] == [sample()]
    assert rec.rx[0]["gateway"] == "aa555a0000000001" and rec.rx[0]["rssi"] == -97.0
    assert rec.received_at == "2026-06-01T06:00:00.000Z"
    assert rows(pipeline, "SELECT sink, record_id FROM outbox ORDER BY sink") == [("jsonl", rec.id), ("mqtt", rec.id)]
    assert rows(pipeline, "SELECT last_fcnt FROM nodes WHERE name = 'north-1'") == [(0,)]


def test_several_gateways_hearing_one_frame_make_one_record_with_every_reception(pipeline: Pipeline) -> None:
    phy = report_phy("north-1", 5)
    out = pipeline.process([frame(phy, "gw-a"), frame(phy, "gw-b", at=later(0.3))])
    out += pipeline.process([frame(phy, "gw-c", at=later(1.5)), frame(phy, "gw-a", at=later(1.6))])
    assert out == ["accepted", "duplicate", "duplicate", "duplicate"]
    (rec,) = store.records(sqlite3.connect(pipeline.db_path))
    assert [r["gateway"] for r in rec.rx] == ["gw-a", "gw-b", "gw-c"]
    # The same bytes after the window are the node's own repetition (NbTrans: after its receive windows, so
    # never within 2 s); long after, an old frame sent again.
    assert pipeline.process([frame(phy, "gw-d", at=later(2.3))]) == ["repeat"]
    assert pipeline.process([frame(phy, "gw-d", at=later(1000))]) == ["rejected_replay"]
    assert store.record_count(sqlite3.connect(pipeline.db_path)) == 1
    assert [r["gateway"] for r in store.records(sqlite3.connect(pipeline.db_path))[0].rx] == ["gw-a", "gw-b", "gw-c"]


def test_duplicates_are_recognised_after_a_restart(pipeline: Pipeline, tmp_path: Path) -> None:
    phy = report_phy("north-1", 1)
    assert pipeline.process([frame(phy, "gw-a")]) == ["accepted"]
    pipeline.stop()
    again = Pipeline(tmp_path / "bridge.db", ["mqtt"])
    assert again.process([frame(phy, "gw-b", at=later(0.5))]) == ["duplicate"]
    assert store.record_count(sqlite3.connect(again.db_path)) == 1


def test_every_rejection_is_counted_and_nothing_rejected_reaches_an_outbox(pipeline: Pipeline) -> None:
    dev_addr, nwk, app = NODES["north-1"]
    good = report_phy("north-1", 10)
    forged = bytearray(good)
    forged[-1] ^= 0x01
    stranger = build_uplink(0x26FFFFFF, 0, 1, b"\x00\x00", nwk, app)
    undecodable = build_uplink(dev_addr, 11, 1, b"\xff\xff\xff", nwk, app)
    out = pipeline.process(
        [
            frame(good, crc_ok=False),
            frame(b"\x40\x01\x02"),
            frame(stranger),
            frame(bytes(forged)),
            frame(good),
            frame(report_phy("north-1", 9), at=later(1)),  # counter below the last accepted
            frame(undecodable),
        ]
    )
    assert out == [
        "rejected_bad_crc",
        "rejected_malformed",
        "rejected_unknown_dev_addr",
        "rejected_bad_mic",
        "accepted",
        "rejected_replay",
        "rejected_codec_error",
    ]
    counts = store.counters(sqlite3.connect(pipeline.db_path))
    assert counts["received"] == 7 and counts["accepted"] == 1
    assert all(counts[f"rejected_{r}"] == 1 for r in store.REJECT_REASONS if r != "unknown_dev_eui")
    # unknown_dev_eui is a network server's uplink's: tests/bridge/test_server_uplinks.py
    # The undecodable but authentic frame is kept with its error, and never offered to a sink.
    assert rows(pipeline, "SELECT fcnt, error IS NOT NULL FROM records ORDER BY fcnt") == [(10, 0), (11, 1)]
    assert rows(pipeline, "SELECT COUNT(*) FROM outbox") == [(2,)]


def test_a_mac_only_uplink_is_stored_and_counted_but_reaches_no_sink(pipeline: Pipeline) -> None:
    # A class A node's empty uplink (FPending, a survey's LinkCheckReq in FOpts): authentic, not an error.
    dev_addr, nwk, app = NODES["north-1"]
    mac_only = build_uplink(dev_addr, 20, None, b"", nwk, app, fopts=b"\x02")
    assert pipeline.process([frame(mac_only)]) == ["mac_only"]
    assert rows(pipeline, "SELECT fcnt, fport FROM records") == [(20, None)]
    assert rows(pipeline, "SELECT COUNT(*) FROM outbox") == [(0,)]
    assert store.counters(sqlite3.connect(pipeline.db_path))["mac_only"] == 1


def test_the_32_bit_counter_is_rebuilt_across_the_16_bit_wrap(pipeline: Pipeline) -> None:
    out = pipeline.process([frame(report_phy("south-2", fcnt)) for fcnt in (0, 65535, 65536, 70000, 2**31 + 5)])
    assert out == ["accepted"] * 4 + ["rejected_bad_mic"]  # 2**31 + 5 is more than 32768 frames ahead
    fcnts = [r.fcnt for r in store.records(sqlite3.connect(pipeline.db_path))]
    assert fcnts == [0, 65535, 65536, 70000]


def test_catches_are_derived_across_lost_frames_and_restarts(pipeline: Pipeline, tmp_path: Path) -> None:
    pipeline.process([frame(report_phy("north-1", 0, [sample([5])]))])
    pipeline.process([frame(report_phy("north-1", 3, [sample([9])]))])  # frames 1 and 2 were lost
    pipeline.stop()
    again = Pipeline(tmp_path / "bridge.db", ["mqtt"])
    again.process([frame(report_phy("north-1", 4, [sample([2], age_s=900), sample([4])]))])  # trap reset
    recs = store.records(sqlite3.connect(again.db_path))
    assert [r.derived["catches"] for r in recs] == [[[5]], [[4]], [[2], [2]]]


def test_source_counters_are_kept_with_the_next_commit(pipeline: Pipeline) -> None:
    pipeline.count("udp_malformed", 3)
    pipeline.process([])
    assert store.counters(sqlite3.connect(pipeline.db_path))["udp_malformed"] == 3
