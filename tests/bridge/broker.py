"""The test side of MQTT: a QoS 1 subscriber; the broker itself is gateway/sim/broker.py."""

from __future__ import annotations

import time

from gateway.sim.broker import MOSQUITTO, Mosquitto, free_port

__all__ = ["MOSQUITTO", "Mosquitto", "Subscriber", "free_port"]


class Subscriber:
    """A QoS 1 subscriber with a persistent session: sees every message, across broker restarts."""

    def __init__(self, broker: Mosquitto, topic: str = "akker/#", auth: tuple[str, str] | None = None) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"test-sub-{broker.port}", clean_session=False
        )
        if auth is not None:
            self.client.username_pw_set(*auth)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the test subscriber could not subscribe within 10 s")

    def _on_message(self, _c: object, _u: object, m: object) -> None:
        with self._lock:
            self.messages.append((m.topic, m.payload, bool(m.retain)))  # type: ignore[attr-defined]

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _r in self.messages if t == topic]

    def wait(self, predicate: object, timeout_s: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
