"""Commands over MQTT: Home Assistant or Node-RED sends them, and hears what became of them.

A JSON command published on `akker/<node>/command/set` is checked by the same
codec as `akker nodes send` and queued the same way; a bad one, or one for a
node that is not registered, is refused with its reason. Every change of a
command's state is published, retained, on `akker/<node>/command` as
{"id", "command", "state", "reason"?}: refused at once; queued, sent,
acknowledged, applied and expired as the commands table shows them, whoever
changed it (`akker nodes send` in another process, the network, expiry),
read every POLL_S. At start, every command still under way is published again.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from gateway.bridge.registry import Registry, open_db

from .commands import LIVE, Command, CommandError, CommandQueue

log = logging.getLogger("akker.network")

SET_TOPIC = "akker/+/command/set"
POLL_S = 2.0


def state_topic(node: str) -> str:
    return f"akker/{node}/command"


class MqttCommands:
    def __init__(self, db_path: Path, subscribe: Callable[[str, Callable[[str, bytes], None]], None],
                 publish: Callable[[str, str], bool]) -> None:  # fmt: skip
        self.db_path = db_path
        self._subscribe = subscribe
        self._publish = publish
        self._lock = threading.Lock()  # the worker queues; the pipeline's thread reports states
        # paho's thread only hands messages over: publishing from it would wait for a PUBACK that the very
        # same thread has to read.
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=1000)
        self._worker: threading.Thread | None = None
        self._published: dict[int, str] = {}  # command id -> the state last published
        self._since: str | None = None  # updated_at of the newest change published; None: none yet
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def start(self) -> None:
        self._worker = threading.Thread(target=self._run, name="akker-mqtt-commands", daemon=True)
        self._worker.start()
        self._subscribe(SET_TOPIC, self._received)
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="akker-command-states", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)
            self._poller = None
        if self._worker is not None:
            self._inbox.put(None)
            self._worker.join(5)
            self._worker = None

    def _received(self, topic: str, payload: bytes) -> None:
        try:
            self._inbox.put_nowait((topic, payload))
        except queue.Full:
            log.warning("command_dropped topic=%s detail='too many waiting'", topic)

    def _run(self) -> None:
        while (item := self._inbox.get()) is not None:
            try:
                self.on_set(*item)
            except Exception:  # one bad message must not stop the commands
                log.exception("command_failed topic=%s", item[0])

    def on_set(self, topic: str, payload: bytes) -> None:
        node = topic.split("/")[1]
        with self._lock:
            db = open_db(self.db_path, check_same_thread=False)
            try:
                registry = Registry(db)
                if not (registry.by_name(node) or registry.otaa_by_name(node) or registry.server_device(node)):
                    self.refused(node, payload, f"no node named {node!r} is registered")
                    return
                try:
                    command = CommandQueue(db).add(node, payload.decode("utf-8", "replace"))
                except CommandError as err:
                    self.refused(node, payload, str(err))
                    return
            finally:
                db.close()
        log.info("command_queued node=%s id=%d via=mqtt", node, command.id)
        self.changed(command)

    def _poll(self) -> None:
        while True:
            try:
                self.publish_changes()
            except Exception:  # a locked or unreadable store now and then: the next round tries again
                log.exception("command_states_failed")
            if self._stop.wait(POLL_S):
                return

    def publish_changes(self) -> None:
        """Publish what changed in the commands table since the last call (the first: every live command)."""
        db = open_db(self.db_path, check_same_thread=False)
        try:
            got = CommandQueue(db).updated_since(self._since or "")
        finally:
            db.close()
        for command in got:
            if self._since is None and command.state not in LIVE:
                with self._lock:  # over before this start: its retained message says so already
                    self._published[command.id] = command.state
                continue
            self.changed(command)
        self._since = max([c.updated_at for c in got] + [self._since or ""])

    def changed(self, command: Command) -> None:
        """Publish a command's new state on its node's topic, unless that state is published already."""
        with self._lock:
            if self._published.get(command.id) == command.state:
                return
            self._published[command.id] = command.state
        body = {"id": command.id, "command": json.loads(command.command), "state": command.state}
        self._publish(state_topic(command.node), json.dumps(body))

    def refused(self, node: str, payload: bytes, reason: str) -> None:
        log.info("command_refused node=%s reason=%r", node, reason)
        body = {"id": None, "command": payload.decode("utf-8", "replace")[:200], "state": "refused", "reason": reason}
        self._publish(state_topic(node), json.dumps(body))
