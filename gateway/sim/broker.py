"""A real Mosquitto broker on a free loopback port, stoppable and restartable on the same port.

For the tests and `make bench`, which need a broker of their own beside the bridge.
"""

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
