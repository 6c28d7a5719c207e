"""The Semtech UDP source: LoRa gateways running a packet forwarder push what they hear to us over UDP.

One socket, one thread. Datagrams are parsed by semtech_packets; good rxpk
items become UplinkFrames submitted to the pipeline, and the PUSH_ACK goes out
only from the pipeline's on_done, once the frames are committed, so an
acknowledged datagram is a stored one. PULL_DATA is answered at once and its
sender remembered: that address is the only way back to a gateway behind NAT.
send_downlink() sends a txpk there in a PULL_RESP and hands the TX_ACK's
verdict to its caller (gateway/network/). See docs/semtech-udp.md.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.bridge.frame import UplinkFrame
from gateway.bridge.log_limit import LogLimit
from gateway.bridge.sources import Intake
from gateway.bridge.sources.semtech_packets import (
    LimitError,
    PacketError,
    PullData,
    PushData,
    TxAck,
    parse_datagram,
    pull_ack,
    pull_resp,
    push_ack,
)

log = logging.getLogger("akker.udp")

_POLL_S = 0.1  # recvfrom timeout: the longest stop() waits for the loop to notice
_RCVBUF = 4 << 20  # bytes of datagrams the kernel may hold for us
_MAX_DATAGRAM = 65535  # a whole UDP datagram; a forwarder's PUSH_DATA is a few KB at most


@dataclass(frozen=True)
class GatewayRoute:
    """Where a gateway's last PULL_DATA came from: the address a downlink must be sent to."""

    address: tuple[Any, ...]  # as recvfrom gave it: (host, port) for IPv4, 4 items for IPv6
    version: int  # the protocol version it speaks, for the PULL_RESP
    seen_at: datetime


MAX_ROUTES = 1024  # gateways remembered for downlinks; a farm's, or a cooperative's, are far fewer


class SemtechUdpSource:
    name = "udp"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()  # the pipeline thread sends ACKs; stop() must not close the socket under it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Most recently heard last: a flood of made-up EUIs pushes out the oldest, never grows memory.
        self._routes: OrderedDict[str, GatewayRoute] = OrderedDict()
        # Anyone can send us datagrams: their warnings are limited per event, so a flood is a count, not a log.
        self._warnings = LogLimit(log)
        # PULL_RESPs waiting for their TX_ACK, by token: the callback hears the gateway's verdict (None: sent).
        self._tx_pending: OrderedDict[int, Callable[[str | None], None]] = OrderedDict()

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): with port 0 the one the system chose."""
        sock = self._sock
        if sock is None:
            raise RuntimeError("the UDP source is not started")
        host, port = sock.getsockname()[:2]
        return host, port

    @property
    def routes(self) -> dict[str, GatewayRoute]:
        """Every gateway that sent a PULL_DATA, by EUI."""
        with self._lock:
            return dict(self._routes)

    def start(self, intake: Intake) -> None:
        if self._thread is not None:
            raise RuntimeError("the UDP source is already started")
        family, _, _, _, sockaddr = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        # A burst from many gateways must wait in the kernel while the pipeline commits, not be dropped:
        # the protocol has no retries. The kernel caps this at net.core.rmem_max.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        try:
            sock.bind(sockaddr)
        except OSError:
            sock.close()
            raise
        sock.settimeout(_POLL_S)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(sock, intake), name="akker-udp", daemon=True)
        self._thread.start()
        log.info("listening address=%s", _fmt(sock.getsockname()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
        self._warnings.close()

    # -------------------------------------------------------------- the loop

    def _run(self, sock: socket.socket, intake: Intake) -> None:
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError as err:
                # e.g. an ICMP error for an earlier ACK surfacing here; wait a little so a lasting one cannot spin
                log.warning("receive_failed detail=%r", str(err))
                self._stop.wait(_POLL_S)
                continue
            try:
                self._handle(intake, data, addr)
            except Exception:  # a bug must cost one datagram, logged, not the source
                log.exception("internal_error from=%s size=%d", _fmt(addr), len(data))

    def _handle(self, intake: Intake, data: bytes, addr: tuple[Any, ...]) -> None:
        intake.count("udp_datagrams")
        try:
            packet = parse_datagram(data)
        except PacketError as err:
            intake.count("udp_oversize" if isinstance(err, LimitError) else "udp_malformed")
            self._warnings.warning("datagram_refused", "from=%s size=%d detail=%r", _fmt(addr), len(data), str(err))
            return
        if isinstance(packet, PushData):
            self._push(intake, packet, addr)
        elif isinstance(packet, PullData):
            intake.count("udp_pull")
            self._remember(packet, addr)
            self._send(pull_ack(packet.token, packet.version), addr, "pull_ack", packet.token)
        elif isinstance(packet, TxAck):
            intake.count("udp_tx_ack")
            if packet.error is not None:
                intake.count("udp_tx_error_" + "".join(c if c.isalnum() else "_" for c in packet.error.lower()))
                log.info("tx_refused gateway=%s token=%d error=%s", packet.gateway, packet.token, packet.error)
            with self._lock:
                done = self._tx_pending.pop(packet.token, None)
            if done is not None:
                done(packet.error)

    def send_downlink(
        self, gateway: str, txpk: dict[str, object], done: Callable[[str | None], None] | None = None
    ) -> int | None:
        """Send a txpk to a gateway in a PULL_RESP; its token, or None when the gateway sent no PULL_DATA yet.

        done(error) runs on the source's thread when the TX_ACK comes (error None: accepted; a version 1
        forwarder sends none).
        """
        with self._lock:
            route = self._routes.get(gateway)
            if route is None:
                return None
            token = secrets.randbelow(0x10000)
            if done is not None:
                self._tx_pending[token] = done
                while len(self._tx_pending) > MAX_ROUTES:
                    self._tx_pending.popitem(last=False)
        self._send(pull_resp(token, route.version, txpk), route.address, "pull_resp", token)
        return token

    def _push(self, intake: Intake, packet: PushData, addr: tuple[Any, ...]) -> None:
        received_at = UplinkFrame.now()
        frames: list[UplinkFrame] = []
        refused = 0
        for item in packet.rxpk:
            if isinstance(item, str):
                refused += 1
                self._warnings.warning("rxpk_invalid", "from=%s gateway=%s detail=%r", _fmt(addr), packet.gateway, item)
            else:
                frames.append(UplinkFrame(phy=item.phy, rx=item.rx, source="udp", received_at=received_at))
        if refused > packet.oversize:
            intake.count("udp_rxpk_invalid", refused - packet.oversize)
        if packet.oversize:
            intake.count("udp_rxpk_oversize", packet.oversize)
        if packet.stat is not None:
            intake.count("udp_stat")
            log.debug("stat gateway=%s stat=%s", packet.gateway, json.dumps(packet.stat))
        ack = push_ack(packet.token, packet.version)
        token = packet.token
        # Even with no frames the ACK goes through the pipeline, so ACKs leave in the order their datagrams came.
        intake.submit(frames, lambda: self._send(ack, addr, "push_ack", token))

    def _remember(self, packet: PullData, addr: tuple[Any, ...]) -> None:
        route = GatewayRoute(addr, packet.version, UplinkFrame.now())
        with self._lock:
            old = self._routes.pop(packet.gateway, None)
            self._routes[packet.gateway] = route
            while len(self._routes) > MAX_ROUTES:
                self._routes.popitem(last=False)
        if old is None or old.address != addr:
            # Anyone can send a PULL_DATA: a new route is news, a flood of them one summary per interval.
            self._warnings.log(
                logging.INFO, "gateway_route", "gateway=%s address=%s version=%d", packet.gateway, _fmt(addr),
                packet.version,
            )  # fmt: skip

    def _send(self, data: bytes, addr: tuple[Any, ...], what: str, token: int) -> None:
        """Send a datagram: an ACK from the loop (PULL_ACK) or the pipeline's thread (PUSH_ACK), or a PULL_RESP."""
        with self._lock:
            sock = self._sock
            if sock is None:
                # Stopping: the pipeline commits what it holds after the sources stop. The frames are
                # stored; the gateway only counts the datagram as unacknowledged, it never resends.
                log.info("%s_not_sent to=%s token=%d detail='source stopped'", what, _fmt(addr), token)
                return
            try:
                sock.sendto(data, addr)
            except OSError as err:
                self._warnings.warning(f"{what}_not_sent", "to=%s token=%d detail=%r", _fmt(addr), token, str(err))


def _fmt(addr: tuple[Any, ...]) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
