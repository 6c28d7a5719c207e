"""bench/class_a.py: the network that answers the node in section 6 of the bench, and its lockstep driver.

The network's frames are payload_codec's; here the device's side (payload_codec too) reads them back, so
these tests check the timing and the bookkeeping. The frames themselves are checked against lora-packet in
tests/payload_codec/.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from bench.class_a import JOIN_ACCEPT_DELAY_MS, Downlink, Network, run
from gateway.sim.nodes import APP_KEY, DEV_EUI, JOIN_EUI
from payload_codec.lorawan import build_uplink, open_downlink
from payload_codec.lorawan_join import build_join_request, open_join_accept


def record(phy: bytes, t_ms: int = 10_000, sf: int = 9, airtime_us: int = 185_344) -> dict[str, object]:
    """A frame as firmware.sim.run --network prints it."""
    return {"t_ms": t_ms, "freq_khz": 868300, "sf": sf, "bw_khz": 125, "airtime_us": airtime_us, "phy": phy.hex()}


def join(net: Network) -> tuple[bytes, bytes, int]:
    """Join through net as a device would: (NwkSKey, AppSKey, DevAddr)."""
    (packet,) = net.answer(record(build_join_request(JOIN_EUI, DEV_EUI, 7, APP_KEY)))
    assert packet["t_ms"] == 10_000 + math.ceil(185_344 / 1000) + JOIN_ACCEPT_DELAY_MS
    assert (packet["freq_khz"], packet["sf"]) == (868300, 9)
    accept = open_join_accept(bytes.fromhex(str(packet["phy"])), APP_KEY, 7)
    assert accept["rx_delay_s"] == 1 and accept["dev_addr"] == net.dev_addr
    return accept["nwk_skey"], accept["app_skey"], accept["dev_addr"]


def test_a_join_then_the_queued_downlink_in_rx1_of_the_first_data_uplink() -> None:
    net = Network(queue=[Downlink(fport=20, payload=b"\x01\x2c", fopts=b"\x06")])
    nwk, app, dev_addr = join(net)
    assert net.keys == (nwk, app)
    up = build_uplink(dev_addr, 0, 2, b"\x01\x02", nwk, app, fopts=b"\x0d")
    (packet,) = net.answer(record(up, t_ms=900_000, sf=7, airtime_us=61_696))
    assert packet["t_ms"] == 900_000 + 62 + 1000 and packet["sf"] == 7
    fcnt, fport, plain = open_downlink(bytes.fromhex(str(packet["phy"])), nwk, app)
    assert (fcnt, fport, plain) == (0, 20, b"\x01\x2c")
    assert bytes.fromhex(str(packet["phy"]))[8] == 0x06  # FOpts
    heard = net.data_uplinks
    assert [(u.fcnt, u.fport, u.fopts, u.plaintext, u.answered) for u in heard] == [(0, 2, b"\x0d", b"\x01\x02", True)]
    # Nothing more queued: the next uplink gets no downlink.
    assert net.answer(record(build_uplink(dev_addr, 1, 1, b"\x00", nwk, app))) == []
    assert net.problems == []


def test_frames_the_network_cannot_open_are_problems_not_exceptions() -> None:
    net = Network()
    assert net.answer(record(bytes(23))) == []  # a JoinRequest whose MIC is wrong
    assert net.answer(record(b"\x40" + bytes(20))) == []  # a data uplink before any join
    assert len(net.problems) == 2 and net.keys is None


def test_the_driver_answers_each_line_and_reaps_the_node(tmp_path: Path) -> None:
    node = (
        "import sys\n"
        'print(\'{"t_ms": 0, "freq_khz": 868100, "sf": 9, "bw_khz": 125, "airtime_us": 1000,'
        ' "phy": "00"}\', flush=True)\n'
        "sys.stderr.write('answer: ' + sys.stdin.readline())\n"
    )
    got = run([sys.executable, "-c", node], {}, tmp_path, Network())
    assert (got.status, got.why) == (0, "")
    assert got.stderr == "answer: []\n"


def test_a_node_that_stops_answering_is_killed_at_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    got = run([sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path, Network(), timeout_s=0.5)
    assert got.status is None and "killed" in got.why
    assert time.monotonic() - started < 10


def test_a_line_that_is_not_a_frame_kills_the_node(tmp_path: Path) -> None:
    node = "import time; print('hello', flush=True); time.sleep(60)"
    got = run([sys.executable, "-c", node], {}, tmp_path, Network(), timeout_s=30)
    assert got.status is None and got.why.startswith("JSONDecodeError")
