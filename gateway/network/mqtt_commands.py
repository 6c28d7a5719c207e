"""Commands over MQTT: Home Assistant or Node-RED sends them, and hears what became of them.

A JSON command published on `akker/<node>/command/set` is checked by the same
codec as `akker nodes send` and queued the same way; a bad one, or one for a
node that is not registered, is refused with its reason. Every change of a
command's state (queued, sent, applied, refused) is published, retained, on
`akker/<node>/command` as {"id", "command", "state", "reason"?}.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from gateway.bridge.registry import Registry, open_db

from .commands import Command, CommandError, CommandQueue

log = logging.getLogger("akker.network")

SET_TOPIC = "akker/+/command/set"


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

    def start(self) -> None:
        self._worker = threading.Thread(target=self._run, name="akker-mqtt-commands", daemon=True)
        self._worker.start()
        self._subscribe(SET_TOPIC, self._received)

    def stop(self) -> None:
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
                if registry.by_name(node) is None and registry.otaa_by_name(node) is None:
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

    def changed(self, command: Command) -> None:
        """Publish a command's new state on its node's topic."""
        body = {"id": command.id, "command": json.loads(command.command), "state": command.state}
        self._publish(state_topic(command.node), json.dumps(body))

    def refused(self, node: str, payload: bytes, reason: str) -> None:
        log.info("command_refused node=%s reason=%r", node, reason)
        body = {"id": None, "command": payload.decode("utf-8", "replace")[:200], "state": "refused", "reason": reason}
        self._publish(state_topic(node), json.dumps(body))
