"""`akker gateway run` settings: flags and TOML share one schema, and mistakes are named."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from gateway.bridge.config import FIELDS, BridgeConfig, ConfigError, add_arguments, resolve

DOCS = Path(__file__).resolve().parents[2] / "docs"


def parse(*argv: str) -> BridgeConfig:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return resolve(p.parse_args(argv))


def test_the_example_file_and_the_docs_cover_every_setting(tmp_path: Path) -> None:
    example = DOCS / "gateway.example.toml"
    keys = set(re.findall(r"^#? ?([a-z0-9_]+) = ", example.read_text(), re.M))
    assert keys == {f.name for f in FIELDS}
    cfg = parse("--config", str(example))
    assert cfg.udp_address() == ("0.0.0.0", 1700) and cfg.gateway_id == "barn"
    table = (DOCS / "gateway.md").read_text()
    for f in FIELDS:
        shown = f"`--{f.name.replace('_', '-')}`" if f.flag else f"`{f.name}` (no flag)"
        assert shown in table, f"docs/gateway.md lacks {shown}"


def test_the_network_settings_are_read(tmp_path: Path) -> None:
    conf = tmp_path / "g.toml"
    conf.write_text('db = "a.db"\nudp = ":1700"\ndev_addr_range = "26011000-260110ff"\nrx_delay_s = 2\n')
    cfg = parse("--config", str(conf), "--adr-margin-db", "6.5", "--downlinks-per-day", "4")
    assert cfg.dev_addrs() == (0x26011000, 0x260110FF) and cfg.rx_delay_s == 2
    assert (cfg.adr_margin_db, cfg.downlinks_per_day, cfg.rx1_dr_offset, cfg.rx2_data_rate) == (6.5, 4, 0, 0)


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "g.toml"
    conf.write_text('db = "a.db"\nudp = "127.0.0.1:1700"\nlog_level = "debug"\n')
    cfg = parse("--config", str(conf), "--udp", "127.0.0.1:1701", "--jsonl", "out.jsonl")
    assert (cfg.db, cfg.udp, cfg.log_level, cfg.jsonl) == (Path("a.db"), "127.0.0.1:1701", "debug", Path("out.jsonl"))
    assert cfg.gateway_id  # the host name by default


@pytest.mark.parametrize(
    ("toml", "flags", "message"),
    [
        ("", (), "no database"),
        ('db = "a.db"', (), "no source"),
        ('db = "a.db"\nudp = "1700"', (), "HOST:PORT"),
        ('db = "a.db"\nudp = ":1700"\nmqtt_url = "x"', (), "unknown setting 'mqtt_url'"),
        ('db = "a.db"\nudp = ":1700"\nbaudrate = "fast"', (), "baudrate must be a whole number"),
        ('db = "a.db"\nudp = ":1700"\nlog_level = "loud"', (), "log_level"),
        ('db = "a.db"\nudp = ":1700"\ngateway_id = "barn/2"', (), "gateway_id"),
        ('db = "a.db"\nudp = ":1700"\ngateway_id = "schüür"', (), "gateway_id"),
        ("db = ", (), "not valid TOML"),
        ('db = "a.db"\nudp = ":1700"\ndev_addr_range = "26011000"', (), "dev_addr_range '26011000': give FIRST-LAST"),
        ('db = "a.db"\nudp = ":1700"\ndev_addr_range = "00000100-000001fe"', (), "at least 256 addresses"),
        ('db = "a.db"\nudp = ":1700"', ("--dev-addr-range", "0000zz00-01ffffff"), "8 hex digits each"),
        ('db = "a.db"\nudp = ":1700"\nrx_delay_s = 0', (), "rx_delay_s = 0: use 1..15"),
        ('db = "a.db"\nudp = ":1700"', ("--rx2-data-rate", "6"), "rx2_data_rate = 6: use 0..5"),
        ('db = "a.db"\nudp = ":1700"', ("--downlinks-per-day", "0"), "downlinks_per_day = 0: use 1..1000"),
        ('db = "a.db"\nudp = ":1700"\nadr_margin_db = -1', (), "adr_margin_db = -1: use 0..30"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, toml: str, flags: tuple[str, ...], message: str) -> None:
    conf = tmp_path / "g.toml"
    conf.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse("--config", str(conf), *flags)


@pytest.mark.parametrize("http", [":8080", "8080", "127.0.0.1:8080"])
def test_a_bare_http_port_is_this_computer_only(http: str) -> None:
    assert parse("--db", "a.db", "--udp", ":1700", "--http", http).http_address() == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    ("toml", "flags", "message"),
    [
        ('http = "0.0.0.0:8080"', (), "--http-password-file FILE (make it with `akker dashboard passwd FILE`)"),
        ('http = "[::]:8080"', (), "--http-no-auth"),
        ('http = "0.0.0.0:8080"\nhttp_no_auth = true', ("--http-password-file", "p"), "not both"),
        ('http = "0.0.0.0:8080"\nhttp_no_auth = "yes"', (), "http_no_auth must be true or false"),
        ('http = "localhost"', (), "use HOST:PORT"),
    ],
)
def test_the_dashboard_beyond_this_computer_needs_a_password_or_an_explicit_no(
    tmp_path: Path, toml: str, flags: tuple[str, ...], message: str
) -> None:
    conf = tmp_path / "g.toml"
    conf.write_text(f'db = "a.db"\nudp = ":1700"\n{toml}\n')
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse("--config", str(conf), *flags)


def test_the_dashboard_beyond_this_computer_with_a_password_file_or_no_auth(tmp_path: Path) -> None:
    conf = tmp_path / "g.toml"
    conf.write_text('db = "a.db"\nudp = ":1700"\nhttp = "0.0.0.0:8080"\nhttp_password_file = "dash.passwd"\n')
    cfg = parse("--config", str(conf))
    assert cfg.http_address() == ("0.0.0.0", 8080) and cfg.http_password_file == Path("dash.passwd")
    cfg = parse("--db", "a.db", "--udp", ":1700", "--http", "0.0.0.0:8080", "--http-no-auth")
    assert cfg.http_no_auth is True and cfg.http_password_file is None
