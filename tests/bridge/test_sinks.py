"""Delivery to every sink at least once, from the outbox, across outages: real Mosquitto, a real HTTP server."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from gateway.bridge import store
from gateway.bridge.delivery import Worker
from gateway.bridge.pipeline import Pipeline
from gateway.bridge.sinks.jsonl import JsonlSink
from gateway.bridge.sinks.mqtt import MqttSink, discovery_config, parse_url
from gateway.bridge.sinks.webhook import WebhookSink
from tests.bridge.broker import Mosquitto, Subscriber
from tests.bridge.fieldkit import frame, register, report_phy, sample


def stored(tmp_path: Path, sinks: list[str], n: int, first_fcnt: int = 0) -> Pipeline:
    db = tmp_path / "bridge.db"
    if not db.exists():
        register(db)
    p = Pipeline(db, sinks)
    out = p.process([frame(report_phy("north-1", f, [sample([f])])) for f in range(first_fcnt, first_fcnt + n)])
    assert out == ["accepted"] * n
    return p


def backlog(tmp_path: Path) -> dict[str, int]:
    return store.backlog(sqlite3.connect(tmp_path / "bridge.db"))


def test_mqtt_gets_every_record_across_a_broker_outage(tmp_path: Path, broker: Mosquitto) -> None:
    sub = Subscriber(broker)
    sink = MqttSink(broker.url, "barn", version="0.1.0")
    worker = Worker(sink, tmp_path / "bridge.db")
    p = stored(tmp_path, ["mqtt"], 20)
    worker.start()
    try:
        assert sub.wait(lambda: len(sub.on("akker/north-1/up")) >= 20)
        assert json.loads(sub.on("akker/gateway/barn/status")[-1])["state"] == "online"
        broker.stop()
        p.process([frame(report_phy("north-1", f, [sample([f])])) for f in range(20, 50)])
        worker.wake()
        assert backlog(tmp_path) == {"mqtt": 30}  # nothing confirmed while the broker is away
        broker.start()
        assert sub.wait(lambda: not backlog(tmp_path), 40), "the outbox did not drain after the broker came back"
        assert sub.wait(lambda: len({json.loads(m)["fcnt"] for m in sub.on("akker/north-1/up")}) == 50)
    finally:
        worker.stop()
        sub.close()
    messages = [json.loads(m) for m in sub.on("akker/north-1/up")]
    first = next(m for m in messages if m["fcnt"] == 7)
    assert first["node"] == "north-1" and first["dev_addr"] == "26011b01" and first["fport"] == 1
    assert first["data"]["samples"][0]["insect_count"] == [7]
    assert first["rx"][0]["gateway"] == "aa555a0000000001" and first["rx"][0]["frequency"] == 868_100_000
    assert first["received_at"].endswith("Z")
    assert store.counters(sqlite3.connect(tmp_path / "bridge.db"))["delivered_mqtt"] >= 50


def test_home_assistant_discovery_announces_each_node_once(tmp_path: Path, broker: Mosquitto) -> None:
    sub = Subscriber(broker, "#")
    worker = Worker(MqttSink(broker.url, "barn", ha_discovery=True), tmp_path / "bridge.db")
    stored(tmp_path, ["mqtt"], 3)
    worker.start()
    try:
        assert sub.wait(lambda: len(sub.on("akker/north-1/up")) == 3)
        assert sub.wait(lambda: len(sub.on("akker/north-1/state")) == 3)
    finally:
        worker.stop()
        sub.close()
    configs = {t for t, _p, _r in sub.messages if t.startswith("homeassistant/")}
    assert configs == {
        "homeassistant/sensor/akker_north-1/soil_moisture_1/config",
        "homeassistant/sensor/akker_north-1/air_temp/config",
        "homeassistant/sensor/akker_north-1/battery/config",
        "homeassistant/sensor/akker_north-1/trap_1/config",
    }
    assert json.loads(sub.on("akker/north-1/state")[-1]) == {
        "soil_moisture_1": 23.4,
        "trap_1": 2,
        "air_temp": 17.8,
        "battery": 3.87,
    }
    _topic, config = discovery_config("north-1", "air_temp", "barn")
    assert config["device_class"] == "temperature" and config["unit_of_measurement"] == "°C"
    assert config["state_topic"] == "akker/north-1/state" and config["unique_id"] == "akker_north-1_air_temp"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://localhost", ("localhost", 1883, False, None, None)),
        ("mqtts://broker.example:8884", ("broker.example", 8884, True, None, None)),
        ("mqtt://farm:s%40cret@10.0.0.2:1884", ("10.0.0.2", 1884, False, "farm", "s@cret")),
    ],
)
def test_broker_urls(url: str, expected: tuple[object, ...]) -> None:
    b = parse_url(url)
    assert (b.host, b.port, b.tls, b.username, b.password) == expected
    assert "cret" not in str(b)


@pytest.mark.parametrize("url", ["http://x", "mqtt://", "mqtt://host:99999", "localhost:1883"])
def test_bad_broker_urls_say_what_to_write(url: str) -> None:
    with pytest.raises(ValueError, match="MQTT URL"):
        parse_url(url)


def test_jsonl_appends_one_line_per_record_and_resumes_after_a_restart(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    stored(tmp_path, ["jsonl"], 5)
    worker = Worker(JsonlSink(out), tmp_path / "bridge.db")
    worker.start()
    worker.stop()
    stored(tmp_path, ["jsonl"], 3, first_fcnt=5)  # stored while no worker runs: waits in the outbox
    worker = Worker(JsonlSink(out), tmp_path / "bridge.db")
    worker.start()
    worker.stop()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["fcnt"] for m in lines] == list(range(8))
    assert backlog(tmp_path) == {}


class _Hook(BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    bodies: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.bodies.append(body)
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"answers": [], "bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/akker?token=secret", handler
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_retries_server_errors_and_skips_what_it_refuses(
    tmp_path: Path, hook: tuple[str, type[_Hook]], caplog: pytest.LogCaptureFixture
) -> None:
    url, handler = hook
    handler.answers = [503, 500, 200, 400, 200]  # two failures, fcnt 0 delivered, fcnt 1 refused for good
    stored(tmp_path, ["webhook"], 4)
    sink = WebhookSink(url)
    worker = Worker(sink, tmp_path / "bridge.db")
    worker.start()
    deadline = threading.Event()
    for _ in range(100):
        if not backlog(tmp_path):
            break
        deadline.wait(0.1)
    worker.stop()
    assert [b["fcnt"] for b in handler.bodies] == [0, 2, 3]
    assert sink.refused == 1 and backlog(tmp_path) == {}
    assert "secret" not in caplog.text


def test_a_sink_that_is_down_holds_back_only_itself(tmp_path: Path) -> None:
    good = tmp_path / "ok.jsonl"
    bad = tmp_path / "missing-folder" / "x.jsonl"
    stored(tmp_path, ["jsonl", "webhook"], 3)
    workers = [
        Worker(JsonlSink(good), tmp_path / "bridge.db"),
        Worker(WebhookSink("http://127.0.0.1:9/"), tmp_path / "bridge.db"),
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.stop(drain_s=1.0)
    assert len(good.read_text().splitlines()) == 3
    assert backlog(tmp_path) == {"webhook": 3}
    assert not bad.exists()


def _tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, made here (never a key checked into the repository)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def pem(path: Path, data: bytes) -> Path:
        path.write_bytes(data)
        return path

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "akker test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    enc = serialization.Encoding.PEM
    return (
        pem(folder / "ca.pem", ca.public_bytes(enc)),
        pem(folder / "server.pem", cert.public_bytes(enc)),
        pem(
            folder / "server.key",
            key.private_bytes(enc, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        ),
    )


def test_mqtts_with_a_password_delivers_and_a_wrong_password_never_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import subprocess

    ca, cert, key = _tls_files(tmp_path)
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "farm", "s3cret"], check=True, capture_output=True)
    passwd.chmod(0o600)
    broker = Mosquitto(
        tmp_path, f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\nallow_anonymous false\npassword_file {passwd}\n"
    )
    broker.start()
    logging.getLogger("akker").addHandler(caplog.handler)
    try:
        stored(tmp_path, ["mqtt"], 5)
        good = MqttSink(f"mqtts://farm:s3cret@127.0.0.1:{broker.port}", "barn", ca_file=str(ca))
        worker = Worker(good, tmp_path / "bridge.db")
        worker.start()
        for _ in range(200):
            if not backlog(tmp_path):
                break
            threading.Event().wait(0.05)
        worker.stop()
        assert backlog(tmp_path) == {}
        stored(tmp_path, ["mqtt"], 2, first_fcnt=5)
        bad = MqttSink(f"mqtts://farm:wrong@127.0.0.1:{broker.port}", "barn", ca_file=str(ca))
        worker = Worker(bad, tmp_path / "bridge.db")
        worker.start()
        assert not bad.wait_connected(3.0)
        worker.stop(drain_s=0.5)
        assert backlog(tmp_path) == {"mqtt": 2}  # refused by the broker: nothing confirmed, nothing lost
    finally:
        logging.getLogger("akker").removeHandler(caplog.handler)
        broker.stop()
    assert "refused the connection" in caplog.text
    assert "s3cret" not in caplog.text and "wrong" not in caplog.text
