"""The dashboard's alerts on MQTT, published by the bridge: retained per node, so a subscriber sees the current state.

Every `every_s` seconds the bridge evaluates the alerts (gateway/farm/alerts.py,
the same rules as the dashboard's) on its store and publishes what changed:
`akker/<node>/alerts` holds the node's active alerts as a JSON list (an empty
list when they have cleared), retained, QoS 1.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from gateway.bridge import store
from gateway.bridge.registry import Registry
from gateway.farm import alerts
from gateway.farm.alert_config import AlertConfig

log = logging.getLogger("akker.alerts")


STOP_WAIT_S = 1.0  # the most stop() waits for a publish under way (each may wait 10 s for its PUBACK)


def alerts_topic(node: str) -> str:
    return f"akker/{node}/alerts"


class AlertPublisher:
    def __init__(
        self,
        db_path: Path,
        config: AlertConfig,
        publish: Callable[[str, str], bool],
        every_s: float = 60.0,
    ) -> None:
        """publish(topic, payload) sends retained at QoS 1 and says whether it could (the broker may be away)."""
        self.db_path = db_path
        self.config = config
        self.publish = publish
        self.every_s = every_s
        self._sent: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="akker-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """At once: a publish waiting on a silent broker is left to its own timeout in a daemon thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.publish_once(datetime.now(timezone.utc))
            except Exception:  # a bad evaluation must not end alerting for good
                log.exception("alert evaluation failed")

    def publish_once(self, now: datetime) -> int:
        """Evaluate and publish what changed; return how many topics were published."""
        db = store.connect_readonly(self.db_path)
        try:
            active = alerts.evaluate(db, self.config, now)
            names = Registry(db).names()
        finally:
            db.close()
        by_node: dict[str, list[dict[str, object]]] = {name: [] for name in names}
        for a in active:
            by_node.setdefault(str(a["node"]), []).append(a)
        published = 0
        for node, items in by_node.items():
            if self._stop.is_set():
                break  # what is left is published at the next start
            payload = json.dumps(items, default=str)
            if self._sent.get(node) == payload:
                continue
            if self.publish(alerts_topic(node), payload):
                self._sent[node] = payload
                published += 1
                if items:
                    log.info("alerts node=%s kinds=%s", node, ",".join(str(a["kind"]) for a in items))
        return published
