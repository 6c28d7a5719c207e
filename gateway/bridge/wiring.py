"""The bridge: sources -> pipeline (store) -> delivery workers -> sinks, wired from one BridgeConfig.

build() creates every part without I/O; start() checks the store and opens
ports, sockets and connections; stop() shuts down, within STOP_S, in the order
that loses nothing: sources stop taking frames, the pipeline commits what it
holds (or, if the store refuses it, acknowledges none of it), the workers
deliver what they can and leave the rest in the outbox for the next run.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from firmware.version import VERSION_TEXT
from gateway.bridge import store, store_faults
from gateway.bridge.config import BridgeConfig
from gateway.bridge.delivery import Worker
from gateway.bridge.health import AlreadyRunning, Health
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.registry import Registry
from gateway.bridge.sinks import Sink, SinkUnusable
from gateway.bridge.sources import Source

log = logging.getLogger("akker.bridge")

# SIGTERM to exit: 10 s at most, promised in docs/gateway.md; the sinks' own goodbyes (MQTT's "offline") come
# after this. systemd waits 90 s, a person at Ctrl-C far less.
STOP_S = 8.0


class BridgeFailed(Exception):
    """The bridge cannot run, or cannot go on, on this store; the message says what to do."""


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
        self.health = Health(db_path, VERSION_TEXT)
        self.workers = [Worker(s, db_path, health=self.health) for s in sinks]
        self.pipeline = Pipeline(
            db_path,
            [s.name for s in sinks],
            dedup_window_s=dedup_window_s,
            on_commit=self._wake_workers,
            on_fatal=self._fatal,
            health=self.health,
        )
        self._stop = threading.Event()
        self._started: list[object] = []  # what start() got to, so that stop() stops only that
        self._failure: str | None = None

    @classmethod
    def build(cls, cfg: BridgeConfig) -> Bridge:
        sources: list[Source] = []
        if cfg.serial:
            from gateway.bridge.sources.serial_board import SerialBoardSource

            sources.append(SerialBoardSource(cfg.serial, cfg.baudrate))
        address = cfg.udp_address()
        if address:
            from gateway.bridge.sources.semtech_udp import SemtechUdpSource

            sources.append(SemtechUdpSource(*address))
        if cfg.ttn or cfg.chirpstack:
            from gateway.bridge.sources.server_mqtt import from_config

            sources.extend(from_config(cfg))
        sinks: list[Sink] = []
        if cfg.mqtt:
            from gateway.bridge.sinks.mqtt import MqttSink

            sinks.append(
                MqttSink(
                    cfg.mqtt,
                    cfg.gateway_id,
                    ca_file=str(cfg.mqtt_ca) if cfg.mqtt_ca else None,
                    ha_discovery=cfg.ha_discovery,
                    version=VERSION_TEXT,
                    password=cfg.mqtt_secret(),
                )
            )
        if cfg.jsonl:
            from gateway.bridge.sinks.jsonl import JsonlSink

            sinks.append(JsonlSink(cfg.jsonl))
        if cfg.webhook:
            from gateway.bridge.sinks.webhook import WebhookSink

            sinks.append(WebhookSink(cfg.webhook))
        return cls(cfg.db, sources, sinks, dedup_window_s=cfg.dedup_window_ms / 1000)

    def sink(self, name: str) -> Sink | None:
        return next((w.sink for w in self.workers if w.sink.name == name), None)

    def _wake_workers(self) -> None:
        for w in self.workers:
            w.wake()

    def _fatal(self, reason: str) -> None:
        self._failure = reason
        self.request_stop()

    def _check_store(self) -> int:
        """Refuse a damaged store before any frame can be acknowledged; the number of registered nodes."""
        try:
            if not store.check_integrity(self.db_path):
                log.warning(
                    "integrity_check_cut_short after %.0f s: the store is large; run `sqlite3 %s 'PRAGMA quick_check'`"
                    " while the bridge is stopped to check all of it",
                    store.INTEGRITY_CHECK_S,
                    self.db_path,
                )
            db = store.connect(self.db_path)  # create and migrate before any thread opens it
            try:
                registry = Registry(db)
                # An OTAA node that has not joined yet has no session in all(): count it by its root keys.
                joined = {n.name for n in registry.all()}
                servers = {d.name for d in registry.all_server_devices()}  # their network server's nodes
                return len(joined | {d.name for d in registry.all_otaa()} | servers)
            finally:
                db.close()
        except sqlite3.Error as err:
            fault = store_faults.classify(err, self.db_path)
            raise BridgeFailed(f"{self.db_path}: {fault.words} ({err}): {fault.advice}") from None

    def start(self) -> None:
        nodes = self._check_store()
        if nodes == 0:
            log.warning("no nodes registered: every frame will be rejected; add one with `akker nodes add`")
        try:
            self.health.start()
        except AlreadyRunning as err:
            raise BridgeFailed(f"{self.db_path}: {err}") from None
        except OSError as err:
            raise BridgeFailed(f"cannot write {self.health.path} ({err.strerror}): check that folder") from None
        self._started.append(self.health)
        self.pipeline.start()
        self._started.append(self.pipeline)
        for w in self.workers:
            try:
                w.start()
            except SinkUnusable as err:  # a --jsonl that cannot be written: the sink's message names it
                raise BridgeFailed(str(err)) from None
            self._started.append(w)
        for s in self.sources:
            s.start(self.pipeline)
            self._started.append(s)
        for service in self.services:
            service.start()
            self._started.append(service)
        log.info(
            "running version=%s sources=%s sinks=%s nodes=%d",
            VERSION_TEXT,
            ",".join(s.name for s in self.sources) or "-",
            ",".join(w.sink.name for w in self.workers) or "-",
            nodes,
        )

    def stop(self) -> None:
        """Stop what start() started, within STOP_S; the last line says what waits in the outbox."""
        deadline = time.monotonic() + STOP_S
        running = [x for x in self._started if x is not self.health]
        self.pipeline.request_stop()  # a store that refuses frames now must not hold the exit
        for service in self.services:
            if service in running:
                service.stop()
        for s in self.sources:
            if s in running:
                s.stop()
        if self.pipeline in running:
            self.pipeline.stop()
        workers = [w for w in self.workers if w in running]
        for w in workers:  # all at once: one stuck sink must not spend the others' time
            w.begin_stop(max(time.monotonic() + 0.5, deadline - 1.5))
        for w in workers:
            w.finish_stop(deadline - 1.0)
        if self.health not in self._started:
            return
        received = any(s in running for s in self.sources)
        waiting = self._outbox()
        self.health.stop(waiting)
        self._started.clear()
        if not received:
            return  # a start that failed before any source listened: nothing to account for
        lost = self.pipeline.given_up
        outbox = ", ".join(f"{n} for {sink}" for sink, n in waiting.items() if n) or "nothing"
        log.info(
            "stopped: every frame acknowledged is stored%s; waiting in the outbox: %s%s",
            f" ({lost} frames the store refused were not acknowledged)" if lost else "",
            outbox,
            " (delivered at the next start)" if outbox != "nothing" else "",
        )

    def _outbox(self) -> dict[str, int]:
        try:
            db = store.connect_readonly(self.db_path)
            try:
                return store.backlog(db)
            finally:
                db.close()
        except (OSError, sqlite3.Error) as err:
            log.warning("outbox_unknown detail=%r", str(err))
            return {}

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Start, wait for SIGINT or SIGTERM, stop cleanly; BridgeFailed if the store cannot go on."""
        previous = {sig: signal.signal(sig, lambda *_: self.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self._stop.wait(0.2):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._failure is not None:
            raise BridgeFailed(f"{self.db_path}: {self._failure}")
