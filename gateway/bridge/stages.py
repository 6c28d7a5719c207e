"""The stages every frame goes through, inside the pipeline's transaction (gateway/bridge/pipeline.py runs them).

In order, each a counted rejection when it fails (the outcomes are named in
gateway/bridge/uplink.py):

1. the radio's CRC (bad_crc)
2. deduplication: the same PHYPayload within the window merges its reception
   into the stored record; later, within REPEAT_WINDOW_S, it is the node's
   own repetition (NbTrans, counted as repeat); after that an old frame sent
   again (replay)
3. LoRaWAN data-frame syntax (malformed)
4. the node, by DevAddr, in the registry (unknown_dev_addr)
5. the MIC and the 32-bit frame counter (bad_mic, replay)
6. decryption and payload_codec.decode_uplink (codec_error: the authentic
   frame is stored with its error, never delivered)
7. derived values (catches since the previous report), then the record and an
   outbox row per sink.

A network server's uplink (ServerUplink) was checked and decrypted there: it is
found by DevEUI among that server's nodes (unknown_dev_eui), stored once
(duplicate), then goes through 6 and 7 like any other.

What it remembers between frames (registered nodes, recent PHYPayloads for
deduplication) only ever holds what a committed transaction stored.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from gateway.bridge import derive, store, uplink
from gateway.bridge.frame import ServerUplink, UplinkFrame, add_reception, iso_utc
from gateway.bridge.gateways import GatewayNotes
from gateway.bridge.log_limit import LogLimit
from gateway.bridge.registry import Node, Registry
from gateway.bridge.uplink import Refused

log = logging.getLogger("akker.pipeline")

DEDUP_WINDOW_S = 2.0  # receptions of one frame by several gateways arrive within this of each other
# A node repeats an unconfirmed frame NbTrans times (up to 15), each after its receive windows and its duty
# cycle's off time: at SF12 minutes apart. The same bytes later than this are a replay.
REPEAT_WINDOW_S = 900.0
_RECENT = 4096  # PHYPayloads remembered in memory for deduplication (the store answers beyond)
_NODE_RELOAD_S = 1.0  # at most this often, an unknown DevAddr reloads the registry (nodes added while running)


class Stages:
    def __init__(self, sinks: Sequence[str], dedup_window_s: float = DEDUP_WINDOW_S) -> None:
        self.sinks = list(sinks)
        self.dedup_window_s = dedup_window_s
        self.rejections = LogLimit(log)  # a flood of bad frames is one line per reason per interval
        self._nodes: dict[int, Node] = {}
        self._nodes_loaded = float("-inf")
        self._recent: OrderedDict[bytes, tuple[int, datetime]] = OrderedDict()  # committed frames only
        self._uncommitted: dict[bytes, tuple[int, datetime]] = {}  # this transaction's, until it commits
        self._writer: store.Writer | None = None
        self.gateways = GatewayNotes()

    def load_nodes(self, w: store.Writer) -> None:
        self._writer = w
        self._reload_nodes(force=True)

    def run(self, w: store.Writer, frames: Sequence[UplinkFrame]) -> list[str]:
        """Each frame's outcome; the caller's transaction is open. Call committed() or aborted() after it ends."""
        self._uncommitted = {}
        self._writer = w
        return [self._one_in_savepoint(w, frame) for frame in frames]

    def committed(self) -> None:
        self.gateways.committed()
        self._recent.update(self._uncommitted)
        self._uncommitted = {}
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def aborted(self) -> None:
        self.gateways.aborted()
        self._uncommitted = {}  # it names records that were just rolled back

    def _one_in_savepoint(self, w: store.Writer, frame: UplinkFrame) -> str:
        w.db.execute("SAVEPOINT frame")
        try:
            outcome = self._one(w, frame)
        except sqlite3.Error:
            raise  # the store, not the frame: the whole batch fails and is retried
        except Exception:  # a bug must cost one frame, counted and logged, not the bridge
            w.db.execute("ROLLBACK TO frame")
            w.db.execute("RELEASE frame")
            log.exception("internal error on a frame from %s", frame.rx.gateway)
            return uplink.INTERNAL_ERROR
        w.db.execute("RELEASE frame")
        # What each gateway listens on, for the network and provisioning (a server's gateways are its own);
        # outside the savepoint, which a frame's internal error rolls back.
        if frame.rx.crc_ok and not isinstance(frame, ServerUplink):
            self.gateways.note(w.db, frame)
        return outcome

    def _reject(self, reason: str, frame: UplinkFrame, detail: str) -> str:
        # A radio hears damaged packets all day (collisions, noise): counted, logged only when debugging.
        if reason == uplink.BAD_CRC:
            log.debug("rejected reason=bad_crc gateway=%s source=%s detail=%r", frame.rx.gateway, frame.source, detail)
        else:
            self.rejections.warning(
                f"rejected reason={reason}", "gateway=%s source=%s detail=%r", frame.rx.gateway, frame.source, detail
            )
        return "rejected_" + reason

    def registry_changed(self) -> None:
        """A node was added or joined while running: the next lookup reads the registry again, at once."""
        self._nodes_loaded = float("-inf")

    def _reload_nodes(self, force: bool = False) -> None:
        now = datetime.now().timestamp()
        if not force and now - self._nodes_loaded < _NODE_RELOAD_S:
            return
        assert self._writer is not None
        self._nodes = {n.dev_addr: n for n in Registry(self._writer.db).all()}
        self._nodes_loaded = now

    def _node(self, dev_addr: int) -> Node | None:
        node = self._nodes.get(dev_addr)
        if node is None:
            self._reload_nodes()
            node = self._nodes.get(dev_addr)
        return node

    def _merge_duplicate(self, w: store.Writer, frame: UplinkFrame) -> str | None:
        """DUPLICATE if the frame is stored already (its reception joins the record), REPEAT if it is the node's
        own retransmission of it (NbTrans), None if new; Refused(REPLAY) for the same bytes long after."""
        hit = self._uncommitted.get(frame.phy) or self._recent.get(frame.phy)
        if hit is not None:
            record_id, first = hit
            row = w.find_phy(frame.phy)
            rx = row[2] if row else "[]"
        else:
            row = w.find_phy(frame.phy)
            if row is None:
                return None
            record_id, first = row[0], datetime.fromisoformat(row[1].replace("Z", "+00:00"))
            rx = row[2]
        after_s = (frame.received_at - first).total_seconds()
        if after_s > REPEAT_WINDOW_S:
            raise Refused(uplink.REPLAY, "the same frame again, long after the node's own repetitions")
        if after_s > self.dedup_window_s:
            return uplink.REPEAT  # sent again after the node's receive windows: the first copy counts
        receptions = json.loads(rx)
        if add_reception(receptions, frame.rx):  # one per gateway EUI, at most MAX_RECEPTIONS
            w.set_rx(record_id, receptions)
        return uplink.DUPLICATE

    def _one(self, w: store.Writer, frame: UplinkFrame) -> str:
        """The stages of the module docstring, in order; a refusal is counted under its outcome."""
        if isinstance(frame, ServerUplink):
            return self._from_server(w, frame)
        try:
            if not frame.rx.crc_ok:
                raise Refused(uplink.BAD_CRC, "the radio's CRC failed")
            if len(frame.phy) == 23 and frame.phy[0] == 0x00:  # MHDR 0x00, 23 bytes: a JoinRequest
                return uplink.JOIN_REQUEST
            seen = self._merge_duplicate(w, frame)
            if seen is not None:
                return seen
            node = self._identify(frame)
            opened = uplink.open_and_decode(frame.phy, node, Registry(w.db).last_fcnt(node.dev_addr))
        except Refused as refused:
            return self._reject(refused.reason, frame, refused.detail)
        return self._keep(w, frame, opened)

    def _from_server(self, w: store.Writer, up: ServerUplink) -> str:
        """A network server's uplink: its node by DevEUI, stored once, decoded by our codec."""
        device = Registry(w.db).server_device(up.dev_eui.hex(), "dev_eui")
        if device is None or device.network != up.source:
            detail = f"DevEUI {up.dev_eui.hex()} is not registered as a node of {up.source}"
            return self._reject(uplink.UNKNOWN_DEV_EUI, up, detail)
        stored = w.db.execute("SELECT 1 FROM records WHERE dev_addr = ? AND fcnt = ?", (up.dev_addr, up.fcnt))
        if up.phy in self._uncommitted or w.find_phy(up.phy) is not None or stored.fetchone() is not None:
            return uplink.DUPLICATE  # the server's message again (a reconnect, a backfill)
        node = Node(device.name, up.dev_addr, b"", b"", device.board, None, device.created_at)
        return self._keep(w, up, uplink.decoded(node, up.fcnt, up.fport, up.payload))

    def _keep(self, w: store.Writer, frame: UplinkFrame, opened: uplink.Opened) -> str:
        """Stages 6 and 7 for an authentic uplink: derived values, the record, the outcome."""
        derived = self._derive(w, opened)
        self._store(w, frame, opened, derived)
        if opened.error is not None and opened.mac_only:
            # A node's empty uplink (FPending, a survey's LinkCheckReq) or MAC answers: authentic and
            # stored (its counter counts), no data for the sinks, and the network answers it.
            return uplink.MAC_ONLY
        if opened.error is not None:
            return self._reject(uplink.CODEC_ERROR, frame, opened.error)
        log.debug("accepted node=%s fcnt=%d fport=%s", opened.node.name, opened.fcnt, opened.fport)
        return uplink.ACCEPTED

    def _identify(self, frame: UplinkFrame) -> Node:
        """The registered node the frame's DevAddr names; its syntax is checked on the way."""
        dev_addr = uplink.header(frame.phy).dev_addr
        node = self._node(dev_addr)
        if node is None:
            raise Refused(uplink.UNKNOWN_DEV_ADDR, f"DevAddr {dev_addr:08x} is not registered")
        return node

    def _derive(self, w: store.Writer, opened: uplink.Opened) -> dict[str, object]:
        """Catches since the previous report, from each trap's cumulative count (gateway/bridge/derive.py)."""
        if opened.data is None or opened.data.get("type") != "report":
            return {}
        samples = opened.data["samples"]
        assert isinstance(samples, list)
        dev_addr = opened.node.dev_addr
        per_sample, counts = derive.report_catches(samples, w.trap_counts(dev_addr))
        if counts is not None:
            w.set_trap_counts(dev_addr, counts)
        return {"catches": per_sample}

    def _store(self, w: store.Writer, frame: UplinkFrame, opened: uplink.Opened, derived: dict[str, object]) -> None:
        """The record, an outbox row per sink (none for a frame that did not decode) and the node's counter."""
        node = opened.node
        record_id = w.insert(
            dev_addr=node.dev_addr,
            fcnt=opened.fcnt,
            node=node.name,
            fport=opened.fport,
            phy=frame.phy,
            received_at=iso_utc(frame.received_at),
            data=opened.data,
            derived=derived,
            error=opened.error,
            rx=[r.as_json() for r in frame.receptions] if isinstance(frame, ServerUplink) else [frame.rx.as_json()],
            sinks=self.sinks,
        )
        Registry(w.db).record_fcnt(node.dev_addr, opened.fcnt)  # a server's node has no row there: no-op
        self._uncommitted[frame.phy] = (record_id, frame.received_at)
