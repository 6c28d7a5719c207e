"""No key or password on a command line, in a message or in a file others can read.

Seen: `akker nodes add --nwk-skey ... --app-skey ...` put session keys into
`ps` and shell history; `--mqtt mqtt://user:pass@...` did the same for the
broker's password; a wrong URL scheme echoed the whole URL with its password;
the JSON Lines file was created 0644.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from gateway.bridge.config import BridgeConfig
from gateway.bridge.registry import Registry, open_db
from gateway.bridge.sinks.mqtt import parse_url
from gateway.secrets_io import mask_url
from gateway.sim.forwarder import Forwarder, push_data, udp_free_port
from tests.bridge.broker import Mosquitto, Subscriber
from tests.bridge.fieldkit import NODES, report_phy
from tests.bridge.test_bridge_run import AKKER
from tests.processes import wait_for_log

NWK = "00112233445566778899aabbccddeeff"
APP = "ffeeddccbbaa99887766554433221100"
PASSWORD = "s3cret-Pa55"
AUTH = ("farm", PASSWORD)


def akker(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AKKER, *args], input=stdin, capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})}
    )


def add(db: Path, *keys: str, stdin: str | None = None, name: str = "north-3") -> subprocess.CompletedProcess[str]:
    return akker("nodes", "add", "--db", str(db), "--name", name, "--dev-addr", "26011bda", *keys, stdin=stdin)


def registered(db: Path, name: str = "north-3") -> tuple[bytes, bytes]:
    node = Registry(open_db(db)).by_name(name)
    assert node is not None
    return node.nwk_skey, node.app_skey


def test_keys_come_from_a_file_or_standard_input(tmp_path: Path) -> None:
    keys = tmp_path / "north-3.keys.json"
    keys.write_text(json.dumps({"nwk_skey": NWK, "app_skey": APP}))
    out = add(tmp_path / "a.db", "--keys-file", str(keys))
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert registered(tmp_path / "a.db") == (bytes.fromhex(NWK), bytes.fromhex(APP))
    out = add(tmp_path / "b.db", "--keys-file", "-", stdin=json.dumps({"nwk_skey": NWK, "app_skey": APP}))
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert registered(tmp_path / "b.db") == (bytes.fromhex(NWK), bytes.fromhex(APP))


def test_keys_on_the_command_line_still_work_with_a_warning_that_names_keys_file(tmp_path: Path) -> None:
    out = add(tmp_path / "a.db", "--nwk-skey", NWK, "--app-skey", APP)
    assert out.returncode == 0
    assert "warning" in out.stderr and "--keys-file" in out.stderr
    assert NWK not in out.stderr + out.stdout and APP not in out.stderr + out.stdout


def test_new_keys_are_written_once_to_a_private_file(tmp_path: Path) -> None:
    keys = tmp_path / "north-3.keys.json"
    out = add(tmp_path / "a.db", "--new-keys", str(keys))
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    written = json.loads(keys.read_text())
    assert registered(tmp_path / "a.db") == (bytes.fromhex(written["nwk_skey"]), bytes.fromhex(written["app_skey"]))
    assert written["nwk_skey"] not in out.stdout + out.stderr
    again = add(tmp_path / "a.db", "--new-keys", str(keys), name="north-4")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert json.loads(keys.read_text()) == written  # never overwritten
    clash = add(tmp_path / "a.db", "--new-keys", str(tmp_path / "other.json"))  # the name is taken
    assert clash.returncode == 2 and not (tmp_path / "other.json").exists()


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ("not json", "not JSON"),
        ('["x"]', "not a JSON object"),
        (json.dumps({"nwk_skey": NWK}), "either nwk_skey and app_skey"),
        (json.dumps({"nwk_skey": NWK, "app_skey": APP[:-2] + "zz"}), "app_skey must be 32 hex digits"),
        (json.dumps({"app_key": NWK}), "OTAA"),
    ],
)
def test_a_bad_keys_file_is_named_without_showing_what_it_holds(tmp_path: Path, content: str, phrase: str) -> None:
    keys = tmp_path / "k.json"
    keys.write_text(content)
    out = add(tmp_path / "a.db", "--keys-file", str(keys))
    assert out.returncode == 2 and out.stderr.startswith("akker: ") and phrase in out.stderr, out.stderr
    assert NWK not in out.stderr and APP[:-2] not in out.stderr and "Traceback" not in out.stderr


def test_no_message_or_repr_shows_a_password() -> None:
    url = f"mqtt://farm:{PASSWORD}@broker.example:1883"
    assert mask_url(url) == "mqtt://farm:****@broker.example:1883"
    # Seen in review: a '#' in the password ended urlsplit's user part, and the whole URL was shown.
    assert mask_url("mqt://bob:pa#ss99@h:1883") == "mqt://bob:****@h:1883"
    assert mask_url("ftp://al:hk#55@h/p") == "ftp://al:****@h/p"
    assert mask_url("https://alice:pw@h/p?token=tok3n42") == "https://alice:****@h/p?****"
    assert mask_url("mqtt://h:1883") == "mqtt://h:1883"
    assert PASSWORD not in repr(parse_url(url)) and PASSWORD not in str(parse_url(url))
    cfg = BridgeConfig(db=Path("x.db"), mqtt=url, mqtt_password=PASSWORD, webhook=f"https://u:{PASSWORD}@h/")
    assert PASSWORD not in repr(cfg)
    with pytest.raises(ValueError) as err:
        parse_url(f"http://farm:{PASSWORD}@broker.example")
    assert PASSWORD not in str(err.value) and "farm:****@" in str(err.value)


def test_a_wrong_url_scheme_never_echoes_the_password(tmp_path: Path) -> None:
    for flag in ("--mqtt", "--webhook"):
        for password in (PASSWORD, PASSWORD + "#x"):
            out = akker(
                "gateway", "run", "--db", str(tmp_path / "x.db"), "--udp", "127.0.0.1:0",
                flag, f"ftp://farm:{password}@broker.example",
            )  # fmt: skip
            assert out.returncode == 2 and "farm:****@" in out.stderr, out.stderr
            assert PASSWORD not in out.stderr


def run_bridge(tmp_path: Path, broker: Mosquitto, *args: str, **kw: object) -> str:
    """The bridge on a new store, with a umask that would make files 0644; three frames through it; its stderr.

    kw: env (added to the environment), auth (the test subscriber's user and password).
    """
    folder = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    folder.mkdir()
    db = folder / "farm.db"
    for name, (dev_addr, nwk, app) in NODES.items():
        keys = json.dumps({"nwk_skey": nwk.hex(), "app_skey": app.hex()})
        out = akker("nodes", "add", "--db", str(db), "--name", name, "--dev-addr", f"{dev_addr:08x}",
                    "--keys-file", "-", stdin=keys)  # fmt: skip
        assert out.returncode == 0, out.stderr
    port = udp_free_port()
    sub = Subscriber(broker, auth=kw.get("auth"))  # type: ignore[arg-type]
    forwarder = Forwarder(port)
    log = folder / "bridge.log"
    env = {**os.environ, **kw.get("env", {})}  # type: ignore[dict-item]
    with open(log, "wb") as out_file:
        proc = subprocess.Popen(
            [AKKER, "gateway", "run", "--db", str(db), "--udp", f"127.0.0.1:{port}",
             "--jsonl", str(folder / "out.jsonl"), *args],
            stderr=out_file, env=env, preexec_fn=lambda: os.umask(0o022),
        )  # fmt: skip
    try:
        wait_for_log(log, " running ", proc)
        for fcnt in range(3):
            forwarder.send(push_data(fcnt, report_phy("north-1", fcnt)))
        assert sub.wait(lambda: len(sub.on("akker/north-1/up")) >= 3), "not delivered: " + log.read_text()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        forwarder.close()
        sub.close()
    err = log.read_text()
    assert proc.returncode == 0, err
    return err


@pytest.fixture
def locked_broker(tmp_path: Path) -> Mosquitto:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "farm", PASSWORD], check=True, capture_output=True)
    passwd.chmod(0o600)
    broker = Mosquitto(tmp_path, f"allow_anonymous false\npassword_file {passwd}\n")
    broker.start()
    yield broker  # type: ignore[misc]
    broker.stop()


def test_the_broker_password_from_a_file_the_config_or_the_environment(
    tmp_path: Path, locked_broker: Mosquitto
) -> None:
    url = f"mqtt://farm@127.0.0.1:{locked_broker.port}"
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    err = run_bridge(tmp_path, locked_broker, "--mqtt", url, "--mqtt-password-file", str(secret), auth=AUTH)
    assert PASSWORD not in err and "warning" not in err, err
    config = tmp_path / "gateway.toml"
    config.write_text(f'mqtt = "{url}"\nmqtt_password = "{PASSWORD}"\n')
    config.chmod(0o600)
    err = run_bridge(tmp_path, locked_broker, "--config", str(config), auth=AUTH)
    assert PASSWORD not in err and "warning" not in err, err
    err = run_bridge(tmp_path, locked_broker, "--mqtt", url, env={"AKKER_MQTT_PASSWORD": PASSWORD}, auth=AUTH)
    assert PASSWORD not in err and "warning" not in err, err


def test_a_password_in_a_command_line_url_works_with_a_warning(tmp_path: Path, locked_broker: Mosquitto) -> None:
    err = run_bridge(
        tmp_path, locked_broker, "--mqtt", f"mqtt://farm:{PASSWORD}@127.0.0.1:{locked_broker.port}", auth=AUTH
    )
    assert PASSWORD not in err
    warning = next(line for line in err.splitlines() if "password on the command line" in line)
    assert "farm:****@" in warning and "--mqtt-password-file" in warning


def test_every_file_the_bridge_writes_is_private(tmp_path: Path, broker: Mosquitto) -> None:
    run_bridge(tmp_path, broker, "--mqtt", broker.url)
    written = [p for p in (tmp_path / "run0").iterdir() if p.name.startswith(("farm.db", "out.jsonl"))]
    assert {p.name for p in written} >= {"farm.db", "farm.db.health.json", "out.jsonl"}
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written}
    assert set(modes.values()) == {"0o600"}, modes
    assert len((tmp_path / "run0" / "out.jsonl").read_text().splitlines()) == 3
