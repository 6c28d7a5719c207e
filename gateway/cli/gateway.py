"""`akker gateway run`, `status`, `recover` and `channels`: the bridge from the shell (docs/gateway.md)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from gateway import logs
from gateway.bridge import status, store, store_faults
from gateway.bridge.config import BridgeConfig, ConfigError, add_arguments, resolve, warnings
from gateway.bridge.registry import RegistryError

from . import paths
from .errors import CliError
from .gateway_channels import add_channels_args, cmd_channels

if TYPE_CHECKING:
    from gateway.bridge.wiring import Bridge, Service

log = logging.getLogger("akker.bridge")


def add_gateway_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="receive, check, store and forward frames until SIGINT or SIGTERM")
    add_arguments(run)
    status = sub.add_parser("status", help="counters, rejections by reason, delivery and backlog per sink")
    status.add_argument("--db", required=True, type=Path, help="the bridge's SQLite database")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    channels = sub.add_parser("channels", help="what each gateway listens on; set a Semtech gateway's channels")
    add_channels_args(channels)
    recover = sub.add_parser("recover", help="copy what a damaged store still holds into a new one")
    recover.add_argument("--db", required=True, type=Path, help="the damaged store (only read)")
    recover.add_argument("--into", required=True, type=Path, help="the new store to create")
    recover.add_argument(
        "--sinks",
        default="",
        metavar="NAMES",
        help="the sinks the bridge delivers to, e.g. mqtt,jsonl: where the outbox cannot be read, their records "
        "are queued again",
    )


def cmd_gateway(args: argparse.Namespace) -> int:
    if args.action == "run":
        return _run(args)
    if args.action == "recover":
        return _recover(args)
    if args.action == "channels":
        return cmd_channels(args)
    return _status(args)


def _recover(args: argparse.Namespace) -> int:
    from gateway.bridge.store_recover import recover

    if not args.db.is_file():
        raise CliError(f"{args.db} does not exist: give the --db the bridge refused")
    os.umask(0o077)  # the new store holds the nodes' keys
    try:
        result = recover(args.db, args.into, [n for n in args.sinks.split(",") if n])
    except FileExistsError:
        raise CliError(f"{args.into} already exists: give --into a new file name") from None
    except sqlite3.DatabaseError as err:
        raise CliError(f"{args.db}: nothing can be read ({err}): start on a new --db") from None
    c = result.copied
    print(
        f"recovered {args.db} into {args.into}: {c.get('nodes', 0)} nodes, {c.get('records', 0)} records,"
        f" {c.get('outbox', 0)} outbox rows, {c.get('counters', 0)} counters"
    )
    lost = result.lost_ranges
    if lost.get("records") or lost.get("nodes"):
        ranges = f"{lost.get('records', 0)} record ranges, {lost.get('nodes', 0)} node ranges"
        print(f"lost: what sat in damaged pages ({ranges})")
    for sink, n in sorted(result.requeued.items()):
        print(f"the outbox of {sink} was partly unreadable: {n} records there go to it again (at least once)")
    if result.unsure:
        names = ",".join(result.unsure)
        print(
            f"the outbox was unreadable where it may have held records for {names}: if the bridge delivers"
            f" to them, recover again into a new file with --sinks {names} (or the sinks it uses)"
        )
    print(f"next: akker gateway run --db {args.into} ... (the same settings as before)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from gateway.bridge.wiring import Bridge, BridgeFailed

    try:
        cfg = resolve(args)
    except ConfigError as err:
        raise CliError(str(err)) from None
    paths.database(cfg.db, new=True)
    os.umask(0o077)  # whatever the bridge creates (store, outbox file, status) holds data or secrets
    logs.setup(cfg.log_level, cfg.log_format)
    for warning in warnings(args):
        log.warning("%s", warning)
    try:
        bridge = Bridge.build(cfg)
        bridge.services = _beside_the_bridge(cfg, bridge) + _server_downlinks(cfg, bridge)
        if cfg.network:
            bridge.services.append(_network(cfg, bridge))
        else:
            log.info("network off: this bridge only listens; OTAA nodes cannot join through it (docs/network.md)")
    except ValueError as err:  # a bad MQTT or webhook URL, an alert config that does not parse
        raise CliError(str(err)) from None
    try:
        bridge.run()
    except BridgeFailed as err:
        raise CliError(str(err)) from None
    except (RegistryError, sqlite3.Error) as err:
        raise CliError(f"database {cfg.db}: {err}") from None
    except OSError as err:  # a UDP port in use, a serial port that cannot be opened at start
        if cfg.serial and cfg.serial in str(err):
            from gateway.workshop.device import port_error

            raise CliError(f"--serial: {port_error(cfg.serial, err)}") from None
        raise CliError(f"{err}: check --udp (an address of this machine, a port no other program holds)") from None
    return 0


def _network(cfg: BridgeConfig, bridge: Bridge) -> Service:
    """The network service, told every batch the pipeline commits (gateway/network/service.py)."""
    from gateway.bridge.sources.semtech_udp import SemtechUdpSource
    from gateway.bridge.sources.serial_board import SerialBoardSource
    from gateway.network.service import NetworkService

    semtech = next((s for s in bridge.sources if isinstance(s, SemtechUdpSource)), None)
    from gateway.network.join_server import JoinSettings

    settings = JoinSettings(dev_addr_range=cfg.dev_addrs(), rx1_dr_offset=cfg.rx1_dr_offset,
                            rx2_data_rate=cfg.rx2_data_rate, rx_delay_s=cfg.rx_delay_s)  # fmt: skip
    service = NetworkService(cfg.db, semtech, bridge.pipeline.count, settings=settings,
                             registry_changed=bridge.pipeline.registry_changed, daily_limit=cfg.downlinks_per_day,
                             margin_db=cfg.adr_margin_db)  # fmt: skip
    service.board = next((s for s in bridge.sources if isinstance(s, SerialBoardSource)), None)
    bridge.pipeline.on_batch = service.on_batch
    mqtt = bridge.sink("mqtt")
    if mqtt is not None:  # commands from Home Assistant or Node-RED, and their states back
        from gateway.network.mqtt_commands import MqttCommands

        commands = MqttCommands(cfg.db, mqtt.subscribe, mqtt.publish_retained)  # type: ignore[attr-defined]
        service.on_command_changed = commands.changed
        bridge.services.append(commands)
    return service


def _server_downlinks(cfg: BridgeConfig, bridge: Bridge) -> list[Service]:
    """Commands for nodes on The Things Stack or ChirpStack go out through the source that reads them."""
    from gateway.bridge.sources.server_mqtt import ServerMqttSource
    from gateway.network.server_downlinks import ServerDownlinks

    out: list[Service] = []
    for src in bridge.sources:
        if isinstance(src, ServerMqttSource):
            app = cfg.ttn_app if src.network == "ttn" else cfg.chirpstack_app
            out.append(ServerDownlinks(cfg.db, src, str(app), cfg.ttn_tenant))
    return out


class _Named:
    """A service whose failure to start names the option that asked for it (not "check --udp")."""

    def __init__(self, service: Service, option: str) -> None:
        self.service, self.option = service, option

    def start(self) -> None:
        from gateway.bridge.wiring import BridgeFailed

        try:
            self.service.start()
        except OSError as err:
            raise BridgeFailed(f"{self.option}: {err.strerror or err}: is another program using it? give another"
                               " port") from None  # fmt: skip

    def stop(self) -> None:
        self.service.stop()


def _beside_the_bridge(cfg: BridgeConfig, bridge: Bridge) -> list[Service]:
    """The dashboard and the alert publisher: they read the store; the bridge knows nothing of them."""
    from gateway.farm import alert_config

    services: list[Service] = []
    rules = alert_config.load(cfg.alerts) if cfg.alerts else alert_config.default_config()
    http = cfg.http_address()
    if http:
        from gateway import listen
        from gateway.dashboard import auth
        from gateway.dashboard.server import DashboardServer

        password = auth.load_password_file(cfg.http_password_file) if cfg.http_password_file else None
        warning = listen.check_exposure(http[0], cfg.http_password_file, cfg.http_no_auth)
        if warning:
            log.warning("dashboard_without_password %s", warning)
        dashboard = DashboardServer(cfg.db, http[0], http[1], alerts_config=rules, password=password)
        services.append(_Named(dashboard, f"--http {cfg.http}"))
    mqtt = bridge.sink("mqtt")
    if mqtt is not None:
        from gateway.farm.alerts_mqtt import AlertPublisher

        services.append(AlertPublisher(cfg.db, rules, mqtt.publish_retained, cfg.alerts_every_s))  # type: ignore[attr-defined]
    return services


def _status(args: argparse.Namespace) -> int:
    paths.database(args.db, must_exist=True)
    try:
        db = store.connect_readonly(args.db)
    except FileNotFoundError:
        raise CliError(f"{args.db} does not exist: give the --db of `akker gateway run`") from None
    try:
        report = status.report(db, args.db)
    except sqlite3.Error as err:
        fault = store_faults.classify(err, args.db)
        if fault.kind in ("locked", "corrupt", "io"):
            raise CliError(f"{args.db}: {fault.words} ({err}): {fault.advice}") from None
        raise CliError(f"{args.db} is not a bridge database ({err}): give the --db of `akker gateway run`") from None
    finally:
        db.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    bridge = report["bridge"]
    assert isinstance(bridge, dict)
    if bridge.get("running"):
        print(f"bridge           running (pid {bridge['pid']}, since {bridge['started_at']})")
    elif bridge.get("killed"):
        print(f"bridge           not running: it was killed (started {bridge['started_at']})")
    elif bridge.get("stopped_at"):
        print(f"bridge           stopped at {bridge['stopped_at']}")
    else:
        print("bridge           never run on this store")
    store_state = report["store"]
    assert isinstance(store_state, dict)
    if store_state.get("state") != "ok":
        print(f"store            FAILING since {store_state['since']}: {store_state['reason']}")
    print(f"records stored   {report['records']}")
    print(f"frames received  {report['received']}")
    print(f"  accepted       {report['accepted']}")
    print(f"  duplicates     {report['duplicates']}")
    print(f"  repeats        {report['repeats']}")
    rejected = report["rejected"]
    assert isinstance(rejected, dict)
    print(f"  rejected       {sum(rejected.values())}")
    for reason, n in rejected.items():
        print(f"    {reason.replace('_', ' '):20} {n}")
    sinks = report["sinks"]
    assert isinstance(sinks, dict)
    for name, s in sinks.items():
        trouble = f", stalled since {s['since']}: {s['reason']}" if s.get("state") != "ok" else ""
        print(f"sink {name:11} delivered {s['delivered']}, backlog {s['backlog']}{trouble}")
    sources = report["sources"]
    assert isinstance(sources, dict)
    for name, n in sources.items():
        print(f"source {name:22} {n}")
    return 0
