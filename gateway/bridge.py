"""The bridge: sources -> pipeline (store) -> delivery workers -> sinks, wired from one BridgeConfig.

build() creates every part without I/O; start() opens ports, sockets and
connections; stop() shuts down in the order that loses nothing: sources stop
taking frames, the pipeline commits what it holds, the workers deliver what
they can in a few seconds and leave the rest in the outbox for the next run.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from firmware.version import VERSION
from gateway import store
from gateway.bridge_config import BridgeConfig
from gateway.delivery import Worker
from gateway.pipeline import Pipeline
from gateway.registry import Registry
from gateway.sinks import Sink
from gateway.sources import Source

log = logging.getLogger("akker.bridge")

VERSION_TEXT = ".".join(str(v) for v in VERSION)


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Bridge:
    def __init__(
        self,
        db_path: Path,
        sources: Sequence[Source],
        sinks: Sequence[Sink],
        dedup_window_s: float = 2.0,
        services: Sequence[Service] = (),
    ) -> None:
        self.db_path = db_path
        self.sources = list(sources)
        self.services = list(services)  # the dashboard, the alert publisher: started last, stopped first
        self.workers = [Worker(s, db_path) for s in sinks]
        self.pipeline = Pipeline(
            db_path, [s.name for s in sinks], dedup_window_s=dedup_window_s, on_commit=self._wake_workers
        )
        self._stop = threading.Event()

    @classmethod
    def build(cls, cfg: BridgeConfig) -> Bridge:
        sources: list[Source] = []
        if cfg.serial:
            from gateway.sources.serial_board import SerialBoardSource

            sources.append(SerialBoardSource(cfg.serial, cfg.baudrate))
        address = cfg.udp_address()
        if address:
            from gateway.sources.semtech_udp import SemtechUdpSource

            sources.append(SemtechUdpSource(*address))
        sinks: list[Sink] = []
        if cfg.mqtt:
            from gateway.sinks.mqtt import MqttSink

            sinks.append(
                MqttSink(
                    cfg.mqtt,
                    cfg.gateway_id,
                    ca_file=str(cfg.mqtt_ca) if cfg.mqtt_ca else None,
                    ha_discovery=cfg.ha_discovery,
                    version=VERSION_TEXT,
                )
            )
        if cfg.jsonl:
            from gateway.sinks.jsonl import JsonlSink

            sinks.append(JsonlSink(cfg.jsonl))
        if cfg.webhook:
            from gateway.sinks.webhook import WebhookSink

            sinks.append(WebhookSink(cfg.webhook))
        services: list[Service] = []
        rules = None
        if cfg.http or cfg.mqtt:
            from gateway.dashboard import alerts

            rules = alerts.load(cfg.alerts) if cfg.alerts else alerts.default_config()
        http = cfg.http_address()
        if http:
            from gateway.dashboard.server import DashboardServer

            services.append(DashboardServer(cfg.db, http[0], http[1], alerts_config=rules))
        mqtt = next((s for s in sinks if s.name == "mqtt"), None)
        if mqtt is not None and rules is not None:
            from gateway.alerts_mqtt import AlertPublisher

            services.append(AlertPublisher(cfg.db, rules, mqtt.publish_retained, cfg.alerts_every_s))  # type: ignore[attr-defined]
        return cls(cfg.db, sources, sinks, dedup_window_s=cfg.dedup_window_ms / 1000, services=services)

    def _wake_workers(self) -> None:
        for w in self.workers:
            w.wake()

    def start(self) -> None:
        db = store.connect(self.db_path)  # create and migrate before any thread opens it
        nodes = len(Registry(db).all())
        db.close()
        if nodes == 0:
            log.warning("no nodes registered: every frame will be rejected; add one with `akker nodes add`")
        self.pipeline.start()
        for w in self.workers:
            w.start()
        for s in self.sources:
            s.start(self.pipeline)
        for service in self.services:
            service.start()
        log.info(
            "running version=%s sources=%s sinks=%s nodes=%d",
            VERSION_TEXT,
            ",".join(s.name for s in self.sources) or "-",
            ",".join(w.sink.name for w in self.workers) or "-",
            nodes,
        )

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        for s in self.sources:
            s.stop()
        self.pipeline.stop()
        for w in self.workers:
            w.stop()
        log.info("stopped: every frame received is stored; undelivered records wait in the outbox")

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Start, wait for SIGINT or SIGTERM, stop cleanly."""
        previous = {sig: signal.signal(sig, lambda *_: self.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
