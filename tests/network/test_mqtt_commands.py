"""Commands over MQTT (gateway/network/mqtt_commands.py) against a real Mosquitto: queued, refused, reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.bridge.registry import Registry, open_db
from gateway.bridge.sinks.mqtt import MqttSink
from gateway.network.commands import CommandQueue
from gateway.network.mqtt_commands import MqttCommands
from tests.bridge.broker import Mosquitto, Subscriber

NWK = bytes(range(16))
APP = bytes(range(16, 32))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, MqttCommands, Subscriber]]:
    db = tmp_path / "farm.db"
    Registry(open_db(db)).add("north-1", 0x26011B01, NWK, APP)
    broker = Mosquitto(tmp_path)
    broker.start()
    sink = MqttSink(broker.url, "test-gw")
    sub = None
    try:
        commands = MqttCommands(db, sink.subscribe, sink.publish_retained)
        commands.start()
        sink.start()
        assert sink.wait_connected(10)
        sub = Subscriber(broker, "akker/+/command")
        yield db, commands, sub
    finally:
        if sub is not None:
            sub.close()
        sink.stop()
        broker.stop()


def publish(sub: Subscriber, node: str, body: str) -> None:
    sub.client.publish(f"akker/{node}/command/set", body, qos=1).wait_for_publish(5)


def test_a_command_from_mqtt_is_queued_and_its_state_published(setup: tuple[Path, MqttCommands, Subscriber]) -> None:
    db, _commands, sub = setup
    publish(sub, "north-1", json.dumps({"cmd": "set_batch", "samples": 4}))
    assert sub.wait(lambda: sub.on("akker/north-1/command"), 10)
    state = json.loads(sub.on("akker/north-1/command")[-1])
    assert state["state"] == "queued" and state["command"] == {"cmd": "set_batch", "samples": 4}
    (queued,) = CommandQueue(open_db(db)).for_node("north-1")
    assert queued.id == state["id"] and queued.fport == 21


@pytest.mark.parametrize(
    ("node", "body", "reason"),
    [
        ("north-1", '{"cmd": "set_batch", "samples": 40}', "out of range 1..8"),
        ("north-1", "four please", "not JSON"),
        ("ghost-7", '{"cmd": "reboot"}', "no node named 'ghost-7'"),
    ],
)
def test_a_bad_command_is_refused_with_its_reason_on_the_nodes_topic(
    setup: tuple[Path, MqttCommands, Subscriber], node: str, body: str, reason: str
) -> None:
    db, _commands, sub = setup
    publish(sub, node, body)
    topic = f"akker/{node}/command"
    assert sub.wait(lambda: sub.on(topic), 10)
    state = json.loads(sub.on(topic)[-1])
    assert state["state"] == "refused" and reason in state["reason"]
    assert CommandQueue(open_db(db)).for_node(node) == []


def states(sub: Subscriber, node: str) -> list[str]:
    return [json.loads(m)["state"] for m in sub.on(f"akker/{node}/command")]


def test_every_state_is_published_whoever_changed_it(setup: tuple[Path, MqttCommands, Subscriber]) -> None:
    # Issue 14: a command queued with `akker nodes send` (another process) and the moves to acknowledged and
    # expired were never published; only MQTT's own commands and the network's sent/applied were.
    db, _commands, sub = setup
    queue = CommandQueue(open_db(db))
    command = queue.add("north-1", {"cmd": "reboot"}, confirmed=True)
    assert sub.wait(lambda: "queued" in states(sub, "north-1"), 10)
    queue.move(command.id, "sent")
    assert sub.wait(lambda: "sent" in states(sub, "north-1"), 10)
    queue.move(command.id, "acknowledged")
    assert sub.wait(lambda: "acknowledged" in states(sub, "north-1"), 10)
    assert queue.expire(datetime.now(timezone.utc) + timedelta(days=8)) == 1
    assert sub.wait(lambda: "expired" in states(sub, "north-1"), 10)
    assert states(sub, "north-1") == ["queued", "sent", "acknowledged", "expired"]  # each once, in order
    last = json.loads(sub.on("akker/north-1/command")[-1])
    assert last == {"id": command.id, "command": {"cmd": "reboot"}, "state": "expired"}


def test_commands_under_way_are_published_again_at_start(tmp_path: Path) -> None:
    db = tmp_path / "farm.db"
    Registry(open_db(db)).add("north-1", 0x26011B01, NWK, APP)
    queue = CommandQueue(open_db(db))
    done = queue.add("north-1", {"cmd": "reboot"})
    queue.move(done.id, "applied")
    waiting = queue.add("north-1", {"cmd": "set_batch", "samples": 2})  # queued while the bridge was down
    published: list[tuple[str, str]] = []
    commands = MqttCommands(db, lambda _t, _cb: None, lambda t, body: published.append((t, body)) or True)
    commands.publish_changes()
    assert [(t, json.loads(b)["id"]) for t, b in published] == [("akker/north-1/command", waiting.id)]
    commands.publish_changes()
    assert len(published) == 1  # nothing changed since: nothing again
