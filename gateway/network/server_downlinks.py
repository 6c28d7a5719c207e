"""Commands for nodes on a network server: enqueued through its MQTT integration, their states from its events.

`akker nodes send` (or MQTT `akker/<node>/command/set`) queues a command as for
any node (commands.py). For a node added with `--network`, this service, beside
a bridge run with `--ttn` or `--chirpstack`, hands each queued command to that
server every POLL_S, once (attempts 1), and follows what the server says of it:

- The Things Stack: pushed on `v3/{app}@{tenant}/devices/{device id}/down/push`
  with our correlation id `akker:cmd:<id>`, which comes back in its
  `down/sent` (sent), `down/ack` (acknowledged) and `down/failed` (expired)
  events. Its topic names the device by its id, which the bridge learns from
  the node's uplinks: until the first one, the command waits.
- ChirpStack v4: `application/{app}/device/{dev_eui}/command/down` with our own
  queue-item id, a UUID made of the command's id, which comes back in its
  `txack` (sent) and `ack` (acknowledged, or expired when not acknowledged) events.

Applied (the node's status names the command) follows from the node's uplinks, as
for the bridge's own nodes.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path

from gateway.bridge.registry import Registry, ServerDevice, open_db
from gateway.bridge.sources.server_mqtt import ServerMqttSource

from .commands import Command, CommandQueue

log = logging.getLogger("akker.network")

POLL_S = 2.0
_TTS_EVENTS = {"downlink_sent": "sent", "downlink_ack": "acknowledged", "downlink_failed": "expired"}


def queue_item_id(command_id: int) -> str:
    """ChirpStack's queue-item id for a command: a UUID it accepts, from which the command's id reads back."""
    return f"00000000-0000-4000-8000-{command_id:012x}"


class ServerDownlinks:
    def __init__(self, db_path: Path, source: ServerMqttSource, app: str, tenant: str = "ttn") -> None:
        self.db_path = db_path
        self.source = source
        self.app, self.tenant = app, tenant
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the poll thread and paho's event callbacks both write commands
        if source.network == "ttn":
            source.listen(f"v3/{app}@{tenant}/devices/+/down/+", self._tts_event)
        else:
            for event in ("txack", "ack"):  # not event/+, which would take the up events from the source
                source.listen(f"application/{app}/device/+/event/{event}", self._chirpstack_event)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name=f"akker-{self.source.network}-downlinks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.push_queued()
            except Exception:  # a locked store now and then: the next round tries again
                log.exception("server_downlinks_failed network=%s", self.source.network)

    def push_queued(self) -> int:
        """Hand each node's oldest queued command to the server, once; how many went."""
        pushed = 0
        with self._lock:
            db = open_db(self.db_path, check_same_thread=False)
            try:
                queue = CommandQueue(db)
                for device in Registry(db).all_server_devices():
                    command = queue.next_queued(device.name) if device.network == self.source.network else None
                    if command is None or queue.attempts(command.id) > 0:
                        continue  # nothing, or handed over already: the server's events move it on
                    down = self._down(device, command)
                    if down is not None and self.source.publish(*down):
                        queue.handed_over(command.id)
                        log.info("command_enqueued node=%s id=%d network=%s", device.name, command.id, device.network)
                        pushed += 1
            finally:
                db.close()
        return pushed

    def _down(self, device: ServerDevice, c: Command) -> tuple[str, str] | None:
        data = base64.b64encode(c.payload).decode()
        if device.network == "chirpstack":
            eui = device.dev_eui.hex()
            body = {"devEui": eui, "confirmed": c.confirmed, "fPort": c.fport, "data": data, "id": queue_item_id(c.id)}
            return f"application/{self.app}/device/{eui}/command/down", json.dumps(body)
        device_id = self.source.device_ids.get(device.dev_eui.hex())
        if device_id is None:
            return None  # not heard from yet: its device id is unknown
        down = {"f_port": c.fport, "frm_payload": data, "priority": "NORMAL", "confirmed": c.confirmed,
                "correlation_ids": [f"akker:cmd:{c.id}"]}  # fmt: skip
        return f"v3/{self.app}@{self.tenant}/devices/{device_id}/down/push", json.dumps({"downlinks": [down]})

    def _tts_event(self, _topic: str, payload: bytes) -> None:
        msg = json.loads(payload)
        for key, state in _TTS_EVENTS.items():
            if key in msg:
                inner = msg[key].get("downlink", {}) if key == "downlink_failed" else msg[key]
                ids = [*msg.get("correlation_ids", []), *inner.get("correlation_ids", [])]
                for cid in ids:
                    if str(cid).startswith("akker:cmd:") and str(cid)[10:].isdigit():
                        self._move(int(str(cid)[10:]), state)
                        return

    def _chirpstack_event(self, topic: str, payload: bytes) -> None:
        kind = topic.rsplit("/", 1)[-1]
        if kind not in ("txack", "ack"):
            return
        msg = json.loads(payload)
        item = str(msg.get("queueItemId", ""))
        if not item.startswith("00000000-0000-4000-8000-"):
            return  # not one of ours (queued in ChirpStack's console, say)
        if kind == "txack":
            self._move(int(item[-12:], 16), "sent")
        else:
            self._move(int(item[-12:], 16), "acknowledged" if msg.get("acknowledged") else "expired")

    def _move(self, command_id: int, state: str) -> None:
        with self._lock:
            db = open_db(self.db_path, check_same_thread=False)
            try:
                queue = CommandQueue(db)
                command = queue.get(command_id)
                if command is None or command.state in ("applied", "expired") or command.state == state:
                    return
                if state == "sent" and command.state == "acknowledged":
                    return  # events may come out of order: never back
                queue.move(command_id, state)
                log.info("command_%s id=%d network=%s", state, command_id, self.source.network)
            finally:
                db.close()
