"""A network server's MQTT integration as a source: The Things Stack's or ChirpStack's uplinks into the pipeline.

The subscription is QoS 1 under a fixed client id with a persistent session
(clean_session false), so a broker that keeps messages while the bridge is down
hands them over when it is back: Mosquitto behind ChirpStack does, when
ChirpStack publishes at QoS 1. The Things Stack's own MQTT server publishes at
QoS 0 and keeps nothing for a client that is away (docs/integrations.md says
what to use instead). A message is acknowledged to the broker only once the
pipeline has committed it (paho's manual ack), so one in flight when the bridge
dies comes again, and is then stored once (its identity, server_messages.py).
What is not an uplink of ours is counted (`<network>_malformed`) and dropped,
as is one the parser trips over in a way it does not foresee (logged as
`<network>_unforeseen`, to be taught to server_messages.py);
a join is counted (`<network>_joins`) and logged, since the server answers it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.bridge.config import BridgeConfig
from gateway.bridge.frame import ServerUplink
from gateway.bridge.log_limit import LogLimit
from gateway.bridge.sinks.mqtt import parse_url

from . import Intake
from .server_messages import MessageError, chirpstack_uplink, tts_uplink

log = logging.getLogger("akker.servers")

PARSERS: dict[str, Callable[[bytes], ServerUplink]] = {"ttn": tts_uplink, "chirpstack": chirpstack_uplink}


def ttn_topic(app: str, tenant: str) -> str:
    """The Things Stack's uplink topic for every device of an application (and its MQTT user name)."""
    return f"v3/{app}@{tenant}/devices/+/up"


def chirpstack_topic(app: str) -> str:
    """ChirpStack v4's up events of every device of an application."""
    return f"application/{app}/device/+/event/up"


def from_config(cfg: BridgeConfig) -> list[ServerMqttSource]:
    """The sources `akker gateway run --ttn ... / --chirpstack ...` asks for; the client id stays the same."""
    ca = str(cfg.mqtt_ca) if cfg.mqtt_ca else None
    client_id = f"akker-{cfg.gateway_id}"
    out = []
    if cfg.ttn and cfg.ttn_app:
        topic = ttn_topic(cfg.ttn_app, cfg.ttn_tenant)
        user = f"{cfg.ttn_app}@{cfg.ttn_tenant}"
        out.append(ServerMqttSource("ttn", cfg.ttn, topic, client_id, user, cfg.server_secret("ttn"), ca))
    if cfg.chirpstack and cfg.chirpstack_app:
        topic = chirpstack_topic(cfg.chirpstack_app)
        secret = cfg.server_secret("chirpstack")
        out.append(ServerMqttSource("chirpstack", cfg.chirpstack, topic, client_id, None, secret, ca))
    return out


class ServerMqttSource:
    def __init__(
        self,
        network: str,
        url: str,
        topic: str,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.network = network
        self.name = f"{network}_mqtt"
        self.broker = parse_url(url)
        self.topic = topic
        self.client_id = client_id
        self.username = username or self.broker.username
        self._password = password
        self.ca_file = ca_file
        self._client: paho.Client | None = None
        self._parse = PARSERS[network]
        self._warnings = LogLimit(log)
        self._listeners: dict[str, Callable[[str, bytes], None]] = {}
        self.device_ids: dict[str, str] = {}  # DevEUI hex -> The Things Stack's device id, learned from uplinks

    def start(self, intake: Intake) -> None:
        client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=False, protocol=paho.MQTTv311, manual_ack=True)  # fmt: skip
        if self.username:
            client.username_pw_set(self.username, self._password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.ca_file)
        client.on_connect = self._connected
        client.on_message = lambda c, _u, m: self._message(intake, c, m)
        self._listeners[self.topic[: -len("up")] + "join"] = lambda topic, _p: self._joined(intake, topic)
        for topic, handler in self._listeners.items():
            client.message_callback_add(topic, lambda c, _u, m, h=handler: self._event(c, m, h))
        client.reconnect_delay_set(1, 30)
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()
        self._client = client
        log.info("subscribing network=%s broker=%s topic=%s", self.network, self.broker, self.topic)

    def listen(self, topic: str, handler: Callable[[str, bytes], None]) -> None:
        """Before start(): also subscribe to topic (the server's downlink events); handler runs on paho's thread."""
        self._listeners[topic] = handler

    def publish(self, topic: str, body: str) -> bool:
        """Send a message to the server at QoS 1 (a downlink to enqueue); False when not connected."""
        client = self._client
        if client is None or not client.is_connected():
            return False
        return client.publish(topic, body, qos=1).rc == paho.MQTT_ERR_SUCCESS

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._warnings.close()

    def _connected(self, client: paho.Client, _u: object, _flags: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            self._warnings.warning(f"{self.network}_refused", "broker=%s reason=%s", self.broker, reason)
            return
        client.subscribe([(self.topic, 1), *((t, 1) for t in self._listeners)])
        log.info("connected network=%s broker=%s", self.network, self.broker)

    def _joined(self, intake: Intake, topic: str) -> None:
        intake.count(f"{self.network}_joins")
        log.info("joined network=%s device=%s", self.network, topic.split("/")[3])

    def _event(self, client: paho.Client, msg: paho.MQTTMessage, handler: Callable[[str, bytes], None]) -> None:
        try:
            handler(msg.topic, msg.payload)
        except Exception:  # one odd event must not stop the source
            log.exception("event_failed network=%s topic=%s", self.network, msg.topic)
        client.ack(msg.mid, msg.qos)

    def _message(self, intake: Intake, client: paho.Client, msg: paho.MQTTMessage) -> None:
        def ack() -> None:
            client.ack(msg.mid, msg.qos)

        try:
            up = self._parse(msg.payload)
        except MessageError as err:
            intake.count(f"{self.network}_malformed")
            self._warnings.warning(f"{self.network}_malformed", "topic=%s detail=%r", msg.topic, str(err))
            ack()
            return
        except Exception as err:  # a shape the parser does not foresee: escaping, it would end paho's thread
            intake.count(f"{self.network}_malformed")
            # The type and the parser's line only: an exception's text may quote the payload.
            where = traceback.extract_tb(err.__traceback__)[-1]
            self._warnings.warning(f"{self.network}_unforeseen", "topic=%s error=%s at=%s:%d", msg.topic,
                                   type(err).__name__, Path(where.filename).name, where.lineno)  # fmt: skip
            ack()
            return
        intake.count(f"{self.network}_uplinks")
        if self.network == "ttn":  # its downlink topic names the device by its id, which only uplinks tell
            self.device_ids[up.dev_eui.hex()] = msg.topic.split("/")[3]
        intake.submit([up], on_done=ack)
