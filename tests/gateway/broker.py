"""A real Mosquitto broker on a free loopback port, stoppable and restartable on the same port."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    def __init__(self, folder: Path, listener: str = "allow_anonymous true\n") -> None:
        """listener: the listener's settings (TLS files, password file); anonymous plain MQTT by default."""
        if not Path(MOSQUITTO).exists():
            raise RuntimeError("mosquitto is not installed: `apt-get install mosquitto` (.ci/run does it)")
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            # Persistence keeps a subscriber's QoS 1 session across a broker restart, as in production.
            # Run as whoever runs the tests: as root, mosquitto would switch to its own user and then
            # could not read the test's files nor save its persistence in the test's folder.
            f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\n{listener}persistence true\n"
            f"persistence_location {folder}/\nlog_dest stderr\n"
        )
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-500:]}") from None
                time.sleep(0.05)
        self.proc.kill()  # never left running behind a failed start
        self.proc.wait()
        self.proc = None
        raise RuntimeError("mosquitto did not open its port within 10 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


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
