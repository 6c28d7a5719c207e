"""The Semtech UDP source: its socket loop against a client playing the gateway (parsing: test_semtech_packets.py)."""

from __future__ import annotations

import base64
import json
import logging
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import pytest

from gateway.bridge.frame import UplinkFrame
from gateway.bridge.sources.semtech_packets import (
    MAX_RXPK,
    pull_ack,
    push_ack,
)
from gateway.bridge.sources.semtech_udp import MAX_ROUTES, SemtechUdpSource
from gateway.network.semtech_txpk import txpk
from gateway.network.windows import Window
from tests.bridge.semtech_kit import EUI, EUI_HEX, PHY_A, PHY_B, STAT, Forwarder, header, pull, push, rxpk

# ------------------------------------------------------------------ the socket loop


class FakeIntake:
    """Records submits; calls on_done from its own thread once `release` is set, as the pipeline does after commit."""

    def __init__(self) -> None:
        self.submitted: queue.Queue[list[UplinkFrame]] = queue.Queue()
        self.release = threading.Event()
        self.release.set()
        self.done_at: list[float] = []
        self.errors: list[BaseException] = []
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def submit(self, frames: Sequence[UplinkFrame], on_done: Callable[[], None] | None = None) -> None:
        t = threading.Thread(target=self._finish, args=(on_done,), daemon=True)
        self._threads.append(t)
        t.start()
        self.submitted.put(list(frames))

    def _finish(self, on_done: Callable[[], None] | None) -> None:
        self.release.wait(5)
        time.sleep(0.02)  # the commit takes a moment
        with self._lock:
            self.done_at.append(time.monotonic())
        try:
            if on_done is not None:
                on_done()
        except BaseException as err:
            self.errors.append(err)

    def count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            self._counts[counter] += n

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def join(self) -> None:
        self.release.set()
        for t in self._threads:
            t.join(5)


@pytest.fixture
def udp() -> Iterator[tuple[SemtechUdpSource, FakeIntake, Forwarder]]:
    intake = FakeIntake()
    source = SemtechUdpSource("127.0.0.1", 0)
    source.start(intake)
    gw = None
    try:
        gw = Forwarder(source.address)
        yield source, intake, gw
    finally:
        if gw is not None:
            gw.sock.close()
        source.stop()
        intake.join()
    assert intake.errors == []


@pytest.fixture
def udp_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog on "akker.udp" itself: gateway.logs.setup(), run by an in-process CLI test, stops propagation."""
    logger = logging.getLogger("akker.udp")
    saved = logger.level, logger.propagate
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # or the root's caplog handler would record everything twice
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.level, logger.propagate = saved


def test_push_ack_only_after_the_pipeline_committed(udp: tuple[SemtechUdpSource, FakeIntake, Forwarder]) -> None:
    _, intake, gw = udp
    intake.release.clear()
    gw.send(push({"rxpk": [rxpk()]}, token=0xBEEF))
    (frame,) = intake.submitted.get(timeout=2)
    assert gw.nothing_within(0.15)  # submitted but not committed: no ACK yet
    assert intake.done_at == []
    intake.release.set()
    assert gw.recv() == b"\x02\xbe\xef\x01"
    acked_at = time.monotonic()
    assert intake.done_at[0] <= acked_at
    assert frame.phy == PHY_A
    assert frame.source == "udp"
    assert frame.rx.gateway == EUI_HEX
    assert frame.rx.freq_hz == 868_100_000
    assert (UplinkFrame.now() - frame.received_at).total_seconds() < 5
    assert intake.counts() == {"udp_datagrams": 1}


def test_token_and_version_are_echoed(udp: tuple[SemtechUdpSource, FakeIntake, Forwarder]) -> None:
    _, intake, gw = udp
    for token, version in ((0x0000, 2), (0xFFFF, 2), (0x0102, 1)):
        gw.send(push({"rxpk": [rxpk()]}, token=token, version=version))
        assert gw.recv() == bytes((version,)) + token.to_bytes(2, "big") + b"\x01"
    assert intake.submitted.qsize() == 3


def test_pull_data_is_answered_at_once_and_its_route_remembered(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder],
) -> None:
    source, intake, gw = udp
    intake.release.clear()  # a held pipeline must not delay the keep-alive
    gw.send(pull(0x4321))
    assert gw.recv() == b"\x02\x43\x21\x04"
    route = source.routes[EUI_HEX]
    assert route.address[:2] == gw.sock.getsockname()
    assert route.version == 2
    assert intake.counts() == {"udp_datagrams": 1, "udp_pull": 1}
    assert intake.submitted.empty()


def test_made_up_gateways_cost_bounded_memory_and_log(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder], udp_log: pytest.LogCaptureFixture
) -> None:
    # Seen in review: 200,000 PULL_DATA under made-up EUIs grew RSS from 39 to 66 MB and wrote an info
    # line each (3.2 times the input); one EUI from two alternating ports logged every datagram too.
    source, _, gw = udp
    n = MAX_ROUTES + 500
    for i in range(n):
        gw.send(header(0x02, i & 0xFFFF) + (0xAA555A0000100000 + i).to_bytes(8, "big"))
        assert len(gw.recv()) == 4  # PULL_ACK: each read before the next is sent
    assert len(source.routes) == MAX_ROUTES
    assert f"{0xAA555A0000100000 + n - 1:016x}" in source.routes  # the newest kept, the oldest gone
    lines = [r for r in udp_log.records if "gateway_route" in r.getMessage()]
    assert len(lines) <= 2, len(lines)


def test_malformed_datagrams_are_counted_and_not_acked(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder], udp_log: pytest.LogCaptureFixture
) -> None:
    source, intake, gw = udp
    bad = [header(0x00, version=3) + EUI + b"{}", b"", b"\x02\x00", push(b"{nope"), push({"rxpk": 5}), header(0x09)]
    for data in bad:
        gw.send(data)
    gw.send(pull(0x0007))  # loopback keeps order: its PULL_ACK comes after every refusal was handled
    assert gw.recv() == pull_ack(0x0007)
    assert gw.nothing_within(0.1)
    assert intake.submitted.empty()
    assert intake.counts() == {"udp_datagrams": len(bad) + 1, "udp_malformed": len(bad), "udp_pull": 1}
    source.stop()  # writes the summary of what the rate limit held back
    refused = [r.getMessage() for r in udp_log.records if r.getMessage().startswith("datagram_refused")]
    port = gw.sock.getsockname()[1]
    # The first in full, at once; the others only counted, in one summary line.
    assert len(refused) == 2
    assert all(f"from=127.0.0.1:{port} " in m and "\n" not in m for m in refused)
    assert "unknown protocol version 3" in refused[0]
    assert refused[1].startswith(f"datagram_refused count={len(bad)} in the last ")
    assert f"(first: from=127.0.0.1:{port} size=14 detail='unknown protocol version 3" in refused[1]
    assert {(r.name, r.levelno) for r in udp_log.records if r.getMessage() in refused} == {
        ("akker.udp", logging.WARNING)
    }


def test_one_bad_rxpk_among_good_ones(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder], udp_log: pytest.LogCaptureFixture
) -> None:
    _, intake, gw = udp
    items = [rxpk(PHY_A), rxpk(modu="FSK", datr=50000), rxpk(PHY_B, stat=-1)]
    gw.send(push({"rxpk": items}, token=0x0A0B))
    assert gw.recv() == b"\x02\x0a\x0b\x01"  # the datagram as a whole arrived: it is acknowledged
    frames = intake.submitted.get(timeout=2)
    assert [f.phy for f in frames] == [PHY_A, PHY_B]
    assert [f.rx.crc_ok for f in frames] == [True, False]  # a bad CRC is the pipeline's to count and drop
    assert frames[0].received_at == frames[1].received_at
    assert intake.counts() == {"udp_datagrams": 1, "udp_rxpk_invalid": 1}
    (msg,) = [r.getMessage() for r in udp_log.records if r.getMessage().startswith("rxpk_invalid")]
    assert f"gateway={EUI_HEX}" in msg and "rxpk[1]: modu 'FSK' is not supported" in msg


def test_oversize_input_is_counted_apart_and_warned_about_in_summary(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder], udp_log: pytest.LogCaptureFixture
) -> None:
    source, intake, gw = udp
    gw.send(push({"rxpk": [rxpk()] * (MAX_RXPK + 1)}, token=0x0001))
    items = [rxpk(PHY_A), rxpk(time="t" * 7_000), rxpk(modu="FSK")] + [rxpk(stat=2)] * 100 + [rxpk(codr="4" * 200)]
    gw.send(push({"rxpk": items}, token=0x0002))
    assert gw.recv() == push_ack(0x0002)  # the too-long datagram is never acknowledged, this one is
    assert [f.phy for f in intake.submitted.get(timeout=2)] == [PHY_A]
    assert intake.submitted.empty()
    assert intake.counts() == {
        "udp_datagrams": 2,
        "udp_oversize": 1,
        "udp_rxpk_oversize": 2,
        "udp_rxpk_invalid": 101,
    }
    source.stop()
    lines = [r.getMessage() for r in udp_log.records if r.levelno == logging.WARNING]
    assert lines == [
        f"datagram_refused from={_addr(gw)} size={len(push({'rxpk': [rxpk()] * (MAX_RXPK + 1)}))} "
        f"detail='{MAX_RXPK + 1} rxpk items, at most {MAX_RXPK}'",
        f"rxpk_invalid from={_addr(gw)} gateway={EUI_HEX} detail='rxpk[1]: time is 7000 characters, at most 64'",
        lines[2],
    ]
    assert lines[2].startswith("rxpk_invalid count=103 in the last ")
    assert lines[2].endswith(
        f"(first: from={_addr(gw)} gateway={EUI_HEX} detail='rxpk[1]: time is 7000 characters, at most 64')"
    )


def _addr(gw: Forwarder) -> str:
    host, port = gw.sock.getsockname()
    return f"{host}:{port}"


def test_stat_only_push_data_is_acked_through_the_pipeline(udp: tuple[SemtechUdpSource, FakeIntake, Forwarder]) -> None:
    _, intake, gw = udp
    intake.release.clear()
    gw.send(push({"stat": STAT}, token=0x5151))
    assert intake.submitted.get(timeout=2) == []
    assert gw.nothing_within(0.1)
    intake.release.set()
    assert gw.recv() == push_ack(0x5151)
    assert intake.counts() == {"udp_datagrams": 1, "udp_stat": 1}


def test_a_tx_ack_for_no_downlink_of_ours_is_counted_and_not_answered(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder],
) -> None:
    _, intake, gw = udp
    gw.send(header(0x05, 0x3333) + EUI + b'{"txpk_ack":{"error":"TOO_LATE"}}')
    gw.send(pull(0x0008))
    assert gw.recv() == pull_ack(0x0008)  # the first answer is to the PULL_DATA: nothing for the TX_ACK
    assert intake.counts() == {"udp_datagrams": 2, "udp_tx_ack": 1, "udp_pull": 1, "udp_tx_error_too_late": 1}
    assert intake.submitted.empty()


def test_ack_after_stop_is_dropped_quietly(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder], udp_log: pytest.LogCaptureFixture
) -> None:
    source, intake, gw = udp
    intake.release.clear()
    gw.send(push({"rxpk": [rxpk()]}))
    intake.submitted.get(timeout=2)
    started = time.monotonic()
    source.stop()
    assert time.monotonic() - started < 1.0
    intake.join()  # the pipeline commits after the sources stopped, then calls on_done
    assert intake.errors == []
    assert any(r.getMessage().startswith("push_ack_not_sent") for r in udp_log.records)
    assert gw.nothing_within(0.05)


def test_bind_failure_is_an_os_error_and_leaves_nothing_open() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        holder.bind(("127.0.0.1", 0))
        source = SemtechUdpSource("127.0.0.1", holder.getsockname()[1])
        with pytest.raises(OSError):
            source.start(FakeIntake())
        with pytest.raises(RuntimeError):
            _ = source.address
        source.stop()  # harmless when start failed
    finally:
        holder.close()


def test_started_twice_is_refused(udp: tuple[SemtechUdpSource, FakeIntake, Forwarder]) -> None:
    source, intake, _ = udp
    with pytest.raises(RuntimeError):
        source.start(intake)


# ---------------------------------------------------------------- downlinks (issue 14)


def test_a_downlink_goes_to_the_gateways_pull_data_address_and_its_tx_ack_reaches_the_caller(
    udp: tuple[SemtechUdpSource, FakeIntake, Forwarder],
) -> None:
    source, intake, gw = udp
    eui = "aa555a0000000101"
    assert source.send_downlink(eui, {"imme": True}) is None  # no PULL_DATA yet: no way to the gateway
    gw.send(b"\x02\x00\x07\x02" + bytes.fromhex(eui))
    assert gw.recv() == pull_ack(0x0007)
    verdicts: list[str | None] = []
    window = Window("rx1", eui, 4_000_123, 0, 868_300_000, 9)
    token = source.send_downlink(eui, txpk(window, b"\x60\x01\x02", 14), verdicts.append)
    assert token is not None
    resp = gw.recv()
    assert resp[0] == 2 and int.from_bytes(resp[1:3], "big") == token and resp[3] == 0x03
    sent = json.loads(resp[4:])["txpk"]
    assert sent["tmst"] == 4_000_123 and sent["freq"] == 868.3 and sent["datr"] == "SF9BW125" and sent["ipol"]
    assert base64.b64decode(sent["data"]) == b"\x60\x01\x02" and sent["size"] == 3 and not sent["imme"]
    ack = json.dumps({"txpk_ack": {"error": "TOO_LATE"}}).encode()
    gw.send(b"\x02" + token.to_bytes(2, "big") + b"\x05" + bytes.fromhex(eui) + ack)
    deadline = time.monotonic() + 2
    while not verdicts and time.monotonic() < deadline:
        time.sleep(0.01)
    assert verdicts == ["TOO_LATE"]
    assert intake.counts()["udp_tx_error_too_late"] == 1 and intake.counts()["udp_tx_ack"] == 1
