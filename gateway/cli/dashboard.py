"""`akker dashboard`: the farm dashboard on a bridge database, read-only, until SIGINT or SIGTERM.

`akker dashboard passwd FILE` writes the password file that --http-password-file
reads. See docs/dashboard.md.
"""

from __future__ import annotations

import argparse
import getpass
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from gateway import listen
from gateway.bridge import store
from gateway.dashboard import auth
from gateway.dashboard.clock import latest_record_clock, utc_now
from gateway.dashboard.server import DashboardServer
from gateway.farm import alert_config, queries

from . import paths
from .errors import CliError

DEFAULT_HTTP = "127.0.0.1:8080"


def add_dashboard_args(p: argparse.ArgumentParser) -> None:
    # --db is checked by cmd_dashboard, not argparse: `akker dashboard passwd FILE` has no database.
    p.add_argument(
        "--db", type=Path, metavar="PATH", help="the bridge's SQLite database (opened read-only); required to serve"
    )
    where = f"where to serve (default {DEFAULT_HTTP}; a port alone is 127.0.0.1; 0.0.0.0:8080 for the network)"
    p.add_argument("--http", default=DEFAULT_HTTP, metavar="[HOST:]PORT", help=where)
    p.add_argument(
        "--http-password-file",
        type=Path,
        metavar="FILE",
        help="ask every visitor for the password whose hash FILE holds (make it with `akker dashboard passwd FILE`)",
    )
    p.add_argument(
        "--http-no-auth",
        action="store_true",
        help="serve beyond this computer without a password (a warning): only on a network you trust",
    )
    p.add_argument(
        "--alerts", type=Path, metavar="FILE", help="alert config: fields, their nodes and thresholds (TOML)"
    )
    when = "show the farm as at TIME (ISO 8601), or 'latest': the newest record's time (a simulated farm)"
    p.add_argument("--now", metavar="TIME", help=when)
    actions = p.add_subparsers(title="actions", dest="action", metavar="[passwd FILE]", required=False)
    what = "write a password file for --http-password-file (asks twice; reads standard input when not a terminal)"
    pw = actions.add_parser("passwd", help=what, description=what)
    pw.add_argument("file", type=Path, metavar="FILE", help="the file to write (mode 0600; replaced if it exists)")


def parse_now(text: str | None, db: Path) -> Callable[[], datetime]:
    if text is None:
        return utc_now
    if text == "latest":
        return latest_record_clock(db)
    try:
        fixed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--now {text!r}: use an ISO 8601 time such as 2026-06-01T12:00Z, or 'latest'") from None
    if fixed.tzinfo is None:
        raise CliError(f"--now {text!r}: give the time zone too, e.g. 2026-06-01T12:00Z or +02:00")
    return lambda: fixed


def read_new_password() -> str:
    """Twice on a terminal, without echo; one line from standard input otherwise (a script, a pipe)."""
    try:
        if not sys.stdin.isatty():
            return sys.stdin.readline().rstrip("\r\n")
        first = getpass.getpass("new dashboard password: ")
        if first and getpass.getpass("the same password again: ") != first:
            raise CliError("the two passwords differ: run it again")
        return first
    except EOFError:
        return ""


def cmd_passwd(path: Path) -> int:
    try:
        auth.write_password_file(path, read_new_password())
    except auth.AccessError as err:
        raise CliError(f"{err}: nothing written") from None
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror}: give a path in a folder you may write") from None
    print(f"wrote {path} (mode 0600): serve with --http 0.0.0.0:8080 --http-password-file {path}")
    return 0


def _akker_database(path: Path) -> bool:
    """A bridge's store, or a registry alone (`akker nodes add` or `provision` before any bridge ran)."""
    try:
        db = store.connect_readonly(path)
        try:
            tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return queries.has_store(db) or "nodes" in tables
        finally:
            db.close()
    except sqlite3.Error:
        return False


def cmd_dashboard(args: argparse.Namespace) -> int:
    if args.action == "passwd":
        return cmd_passwd(args.file)
    if args.db is None:
        raise CliError("give --db PATH, the bridge's database (or `akker dashboard passwd FILE` for a password file)")
    paths.database(args.db)
    if args.db.exists() and args.db.stat().st_size and not _akker_database(args.db):
        raise CliError(f"--db {args.db} is not an Akker database: give the --db of `akker gateway run`")
    try:
        host, port = listen.parse_http(args.http)
    except auth.AccessError as err:
        raise CliError(f"--http {err}") from None
    try:
        warning = listen.check_exposure(host, args.http_password_file, args.http_no_auth)
        password = auth.load_password_file(args.http_password_file) if args.http_password_file else None
    except auth.AccessError as err:
        raise CliError(str(err)) from None
    try:
        config = alert_config.load(args.alerts) if args.alerts else alert_config.default_config()
    except alert_config.AlertConfigError as err:
        raise CliError(str(err)) from None
    server = DashboardServer(
        args.db, host, port, alerts_config=config, now=parse_now(args.now, args.db), password=password
    )
    try:
        server.start()
    except OSError as err:
        raise CliError(f"cannot serve on {args.http}: {err.strerror or err}: is another program using it?") from None
    if not args.db.exists():
        print(
            f"akker: {args.db} does not exist yet: the dashboard shows it once the bridge has made it", file=sys.stderr
        )
    if warning:
        print(f"akker: warning: {warning}", file=sys.stderr)
    print(f"dashboard of {args.db} on {server.url} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
