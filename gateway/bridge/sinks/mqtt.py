"""The MQTT sink: each record on `akker/<node>/up` at QoS 1, the bridge's status retained with a last will.

A record counts as delivered only when the broker has acknowledged it (PUBACK).
paho-mqtt keeps the connection and reconnects; while the broker is away,
deliver() raises SinkDown and the records wait in the store's outbox, not in
memory. Every failed connection attempt is told to the delivery worker
(on_down), so a broker that is away is reported from the start, not only once
a record waits for it. With Home Assistant discovery on, each node's sensors
are announced (retained) under `homeassistant/sensor/...` and its newest
values published retained on `akker/<node>/state`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from firmware.version import VERSION_TEXT
from gateway.bridge.sinks import SinkDown
from gateway.bridge.sinks.mqtt_broker import parse_url, unreachable
from gateway.bridge.store import Record
from payload_codec.report_layout import ITEMS, KEY

log = logging.getLogger("akker.mqtt")

KEEPALIVE_S = 30
ACK_TIMEOUT_S = 10.0  # a batch's PUBACKs must all be back within this
_MAX_QUEUED = 1000  # paho's own queue, bounded: the outbox is the real queue


def up_topic(node: str) -> str:
    return f"akker/{node}/up"


def status_topic(gateway_id: str) -> str:
    return f"akker/gateway/{gateway_id}/status"


class MqttSink:
    name = "mqtt"

    def __init__(
        self,
        url: str,
        gateway_id: str,
        ca_file: str | None = None,
        ha_discovery: bool = False,
        version: str = VERSION_TEXT,
        password: str | None = None,
    ) -> None:
        self.broker = parse_url(url)
        if password is not None:  # from the config file, a password file or the environment
            self.broker = replace(self.broker, password=password)
        self.gateway_id = gateway_id
        self.ha_discovery = ha_discovery
        self.version = version
        self.on_ready: Callable[[], None] | None = None
        self.on_down: Callable[[str], None] | None = None
        self._trouble: str | None = None  # why the last connection attempt failed; None when connected or unknown
        self._refused = False  # the broker refused this attempt: the disconnect that follows adds nothing
        self._handlers: dict[str, Callable[[str, bytes], None]] = {}  # topic filter -> handler (subscribe())
        self._announced: set[str] = set()
        self._connected = threading.Event()
        self._closing = False
        self._lock = threading.Lock()
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"akker-bridge-{gateway_id}",
            clean_session=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(ca_certs=ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.will_set(status_topic(gateway_id), self._status("offline"), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(_MAX_QUEUED)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    def _status(self, state: str) -> str:
        return json.dumps({"state": state, "gateway": self.gateway_id, "version": self.version})

    # ------------------------------------------------------------ paho callbacks (its network thread)

    def _down(self, why: str) -> None:
        self._trouble = why
        if self.on_down is not None:
            self.on_down(why)  # the worker tells it, rate-limited, and keeps the health file
        else:
            log.warning("%s", why)

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        # paho calls this from inside its `except OSError:` around the connection attempt, and passes no
        # error: the one being handled is it, and says why (refused, unknown host, no answer, TLS).
        self._down(unreachable(self.broker, sys.exc_info()[1]))

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._refused = True
            self._down(f"broker {self.broker} refused the connection ({reason}): check the user and password of --mqtt")
            return
        self._trouble = None
        log.info("connected to %s", self.broker)
        client.publish(status_topic(self.gateway_id), self._status("online"), qos=1, retain=True)
        if self.ha_discovery:
            client.subscribe("homeassistant/status", qos=1)
        for pattern in list(self._handlers):  # again on every connection: a clean session forgets them
            client.subscribe(pattern, qos=1)
        self._connected.set()
        if self.on_ready is not None:
            self.on_ready()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        refused, self._refused = self._refused, False
        if self._closing:  # our own stop is no trouble
            if was:
                log.info("disconnected from %s: %s", self.broker, reason)
        elif was:
            self._down(f"lost the connection to broker {self.broker} ({reason}): reconnecting")
        elif not refused:  # something answers on that port, but not as a broker (or not in plain MQTT)
            tls = "" if self.broker.tls else " (mqtts:// for a TLS port)"
            self._down(f"{self.broker} does not answer as an MQTT broker ({reason}): check the port of --mqtt{tls}")

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        if message.topic == "homeassistant/status" and message.payload == b"online":
            with self._lock:
                self._announced.clear()  # Home Assistant restarted: announce every node again
        for pattern, handler in list(self._handlers.items()):
            if paho.topic_matches_sub(pattern, message.topic):
                handler(message.topic, message.payload)

    def subscribe(self, pattern: str, handler: Callable[[str, bytes], None]) -> None:
        """handler(topic, payload) for every message on pattern, on paho's thread (gateway/network/ uses it)."""
        self._handlers[pattern] = handler
        if self._connected.is_set():
            self.client.subscribe(pattern, qos=1)

    # ------------------------------------------------------------ Sink

    def start(self) -> None:
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        self._closing = True
        if self._connected.is_set():
            info = self.client.publish(status_topic(self.gateway_id), self._status("offline"), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # the last will says offline anyway
                info.wait_for_publish(1.0)  # the bridge's stop has 10 s in all
        self.client.disconnect()
        self.client.loop_stop()

    def publish_retained(self, topic: str, payload: str) -> bool:
        """Publish retained at QoS 1 and wait for the broker's PUBACK; False when the broker is away."""
        if not self._connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=1, retain=True)
        try:
            info.wait_for_publish(ACK_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def deliver(self, records: Sequence[Record]) -> Sequence[int]:
        if not self._connected.is_set():
            if self._trouble is None:
                return []  # the first connection is still under way: offered again when it is up (on_ready)
            raise SinkDown(self._trouble)
        pending: list[tuple[int, paho.MQTTMessageInfo]] = []
        for record in records:
            if self.ha_discovery:
                self._home_assistant(record)
            payload = json.dumps(record.message(), separators=(",", ":"))
            info = self.client.publish(up_topic(record.node), payload, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                break  # disconnected or paho's queue full: the rest goes in a later batch
            pending.append((record.id, info))
        deadline = time.monotonic() + ACK_TIMEOUT_S
        confirmed: list[int] = []
        for record_id, info in pending:
            # Wait in small steps: a broker gone mid-batch ends the wait at once, not at the deadline.
            while not info.is_published() and self._connected.is_set() and time.monotonic() < deadline:
                try:
                    info.wait_for_publish(0.05)
                except (RuntimeError, ValueError):
                    break
            if info.is_published():
                confirmed.append(record_id)
        if not confirmed and records:
            raise SinkDown(f"broker {self.broker} did not acknowledge within {ACK_TIMEOUT_S:.0f} s")
        return confirmed

    # ------------------------------------------------------------ Home Assistant discovery

    def _home_assistant(self, record: Record) -> None:
        values = latest_values(record)
        if not values:
            return
        with self._lock:
            new = record.node not in self._announced
            self._announced.add(record.node)
        if new:
            for key in values:
                topic, config = discovery_config(record.node, key, self.gateway_id)
                self.client.publish(topic, json.dumps(config), qos=1, retain=True)
        self.client.publish(f"akker/{record.node}/state", json.dumps(values), qos=1, retain=True)


# The report's fields by the key Home Assistant knows them by: published in every state message and
# sensor's unique_id, so renaming one would orphan the sensors a user has set up.
_HA_KEYS = {
    "soil_moisture_pct": "soil_moisture",
    "soil_temp_c": "soil_temp",
    "air_temp_c": "air_temp",
    "air_rh_pct": "air_humidity",
    "insect_count": "trap",
    "battery_v": "battery",
}
# Per value: (unit, device class, name). Keys are what latest_values() produces.
_HA_KINDS = {
    "soil_moisture": ("%", "moisture", "Soil moisture"),
    "soil_temp": ("°C", "temperature", "Soil temperature"),
    "air_temp": ("°C", "temperature", "Air temperature"),
    "air_humidity": ("%", "humidity", "Air humidity"),
    "battery": ("V", "voltage", "Battery"),
    "trap": (None, None, "Insect trap count"),
}


def latest_values(record: Record) -> dict[str, float | int]:
    """The newest sample of a report flattened to {"soil_moisture_1": 23.4, ...}; {} for other messages."""
    samples = record.data.get("samples")
    if record.data.get("type") != "report" or not isinstance(samples, list) or not samples:
        return {}
    newest = min(samples, key=lambda s: s.get("age_s", 0))
    out: dict[str, float | int] = {}
    # List fields (one value per probe or trap, numbered from 1) before single values: the order in which
    # the state message has always listed them.
    for field, items in zip(KEY, ITEMS, strict=True):
        if items:
            for i, v in enumerate(newest.get(field) or []):
                if v is not None:
                    out[f"{_HA_KEYS[field]}_{i + 1}"] = v
    for field, items in zip(KEY, ITEMS, strict=True):
        if not items and newest.get(field) is not None:
            out[_HA_KEYS[field]] = newest[field]
    return out


def discovery_config(node: str, key: str, gateway_id: str) -> tuple[str, dict[str, object]]:
    kind = key.rsplit("_", 1)[0] if key[-1].isdigit() else key
    unit, device_class, label = _HA_KINDS[kind]
    suffix = f" {key.rsplit('_', 1)[1]}" if key[-1].isdigit() else ""
    config: dict[str, object] = {
        "name": label + suffix,
        "unique_id": f"akker_{node}_{key}",
        "state_topic": f"akker/{node}/state",
        "value_template": f"{{{{ value_json.{key} }}}}",
        "availability_topic": status_topic(gateway_id),
        "availability_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
        "state_class": "total_increasing" if kind == "trap" else "measurement",
        "device": {"identifiers": [f"akker_{node}"], "name": node, "manufacturer": "Akker", "model": "sensor node"},
    }
    if unit:
        config["unit_of_measurement"] = unit
    if device_class:
        config["device_class"] = device_class
    return f"homeassistant/sensor/akker_{node}/{key}/config", config
